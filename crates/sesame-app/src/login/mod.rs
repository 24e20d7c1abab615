//! Logging a person in, as the `sesame` command and the Python package both do it: when a
//! login may start at all, how it is shown on a text stream ([`TextLoginUi`]), and the
//! login itself ([`login`]) for a profile's credential, stored in its token cache.
//!
//! The flows (browser, device, fallback, one login per cache key) are in
//! [`sesame::credential::interactive`]; this module is what sits between them and a front end.
//!
//! # When sesame logs a person in
//!
//! A login needs a person, so sesame only starts one when a person can take part:
//!
//! | situation | an explicit login (`sesame login`, `Session.login()`) | a command that needs a token (`sesame token`, …) |
//! |---|---|---|
//! | `--no-input` | login required | login required |
//! | stdin and stderr are terminals | logs in | logs in |
//! | not both terminals, `$BROWSER` set | logs in (the `$BROWSER` program completes it) | login required |
//! | not both terminals, `$BROWSER` set, `--no-browser` | login required | login required |
//! | not both terminals, no `$BROWSER` | login required | login required |
//!
//! The reasoning, as a careful `gh auth login` user would expect: a script, a cron job or
//! CI (no terminal) must never hang on a login nobody will finish, so it gets "login
//! required" at once with advice. Asking for a login while naming the program that opens
//! URLs (`BROWSER=… sesame login`) is an explicit request to run the browser flow through
//! that program, terminal or not; browser automation and sesame's own tests use exactly
//! that. An implicit login (a token that ran out in the middle of `sesame token`) happens
//! only in front of a terminal. `$(sesame token)` in a terminal still logs in: only stdout
//! is captured there, and prompts go to stderr.
//!
//! # When sesame opens a browser
//!
//! The URL (or the device code) is always printed first. Then a browser is opened unless
//! `--no-browser` (then sesame just waits for the redirect), `$SSH_CONNECTION` is set (a
//! browser there would not reach this machine's 127.0.0.1), or — on Linux and the BSDs —
//! there is no display (`$DISPLAY` and `$WAYLAND_DISPLAY` unset) and no `$BROWSER`.
//! `$BROWSER` (a `:`-separated list of commands; `%s` stands for the URL, else the URL is
//! appended) is preferred to the platform opener (`xdg-open`, `open`, `start`). The browser
//! runs in its own process group so that Ctrl-C in the terminal stops sesame, not the
//! browser. If no browser can be opened (SSH, no display, the command failed or exited
//! with an error within a second) the library falls back to the device flow when the
//! provider supports it, while the printed URL keeps working.
//!
//! In the device flow the code is shown first (gh style), then where to enter it, then a
//! QR code of the complete verification URI when the output is a terminal; a browser is
//! opened at that URI under the same rules.

mod logout;
mod text_ui;

use std::io::IsTerminal;
use std::sync::Arc;

pub use logout::{LoggedOut, logout, revoke};
pub use text_ui::{
    Stderr, TextLoginUi, TextOutput, UiSettings, browser_commands, device_code_html, render_qr, render_qr_svg,
};

use std::time::Duration;

use crate::config::{AuthKind, Ports, Profile, expand_home};
use sesame::credential::OAuth;
use sesame::credential::interactive::DEFAULT_LOGIN_TIMEOUT;
use sesame::credential::{BrowserLaunch, InteractiveLogin, LoginMethod, LoginOptions, LoginUi};
use sesame::oauth::landing::LandingPages;
use sesame::oauth::loopback::DEFAULT_REDIRECT_URI;
use sesame::token::Token;
use sesame::{Error, Result};

/// The login options a profile sets: `auth = "device"` → device flow, else browser;
/// `redirect_uri`, `redirect_ports`, `login_timeout`, `success_page`, `failure_page`
/// (`~` expanded).
pub fn login_options(p: &Profile) -> Result<LoginOptions> {
    let method = if p.auth == Some(AuthKind::Device) {
        LoginMethod::Device
    } else {
        LoginMethod::Browser
    };
    let timeout = match p.login_timeout {
        Some(0) => return Err(Error::config("`login_timeout` must be at least 1 second")),
        Some(s) => Duration::from_secs(s),
        None => DEFAULT_LOGIN_TIMEOUT,
    };
    let redirect_ports = match &p.redirect_ports {
        Some(Ports::One(p)) => vec![*p],
        Some(Ports::Many(v)) => v.clone(),
        None => Vec::new(),
    };
    let success = p.success_page.as_deref().map(expand_home);
    let failure = p.failure_page.as_deref().map(expand_home);
    Ok(LoginOptions {
        method,
        redirect_uri: p.redirect_uri.clone().unwrap_or_else(|| DEFAULT_REDIRECT_URI.into()),
        redirect_ports,
        timeout,
        pages: LandingPages::from_files(success.as_deref(), failure.as_deref())?,
        ..LoginOptions::default()
    })
}

/// Who asks for a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// `sesame login` itself.
    LoginCommand {
        /// `--no-browser` was given.
        no_browser: bool,
    },
    /// A program's explicit login call (`Session.login()` in Python).
    LoginCall {
        /// Open no browser (`mode="no-browser"`).
        no_browser: bool,
    },
    /// Another command that found no usable token.
    Implicit,
}

/// The facts the rules look at (read once from the process; built by hand in tests).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Prompts are forbidden (`--no-input`).
    pub no_input: bool,
    /// Standard input is a terminal.
    pub stdin_tty: bool,
    /// The output the login is shown on (stderr) is a terminal.
    pub stderr_tty: bool,
    /// `$BROWSER`, when set and not blank.
    pub browser: Option<String>,
    /// `$SSH_CONNECTION` is set.
    pub ssh: bool,
    /// A display is there (always on platforms other than Linux and the BSDs).
    pub display: bool,
}

impl Facts {
    /// The process's facts, with the terminals of its standard streams.
    pub fn current(no_input: bool) -> Facts {
        Facts::with_terminals(
            no_input,
            std::io::stdin().is_terminal(),
            std::io::stderr().is_terminal(),
        )
    }

    /// The environment's facts with terminals told by the caller (the Python package asks
    /// `sys.stdin` and `sys.stderr`).
    pub fn with_terminals(no_input: bool, stdin_tty: bool, stderr_tty: bool) -> Facts {
        let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
        Facts {
            no_input,
            stdin_tty,
            stderr_tty,
            browser: std::env::var("BROWSER").ok().filter(|b| !b.trim().is_empty()),
            ssh: set("SSH_CONNECTION"),
            display: !cfg!(all(unix, not(target_os = "macos"))) || set("DISPLAY") || set("WAYLAND_DISPLAY"),
        }
    }
}

/// Whether a login may start; `Err` is a "login required" error that says why.
pub fn require_person(facts: &Facts, caller: Caller) -> Result<()> {
    if facts.no_input {
        return Err(Error::login_required(
            "no valid token, and logging in needs a person but prompts are turned off (no input)",
        )
        .with_hint(sesame::Hint::LoginInTerminal));
    }
    if facts.stdin_tty && facts.stderr_tty {
        return Ok(());
    }
    match caller {
        Caller::LoginCommand { no_browser: false } | Caller::LoginCall { no_browser: false }
            if facts.browser.is_some() =>
        {
            Ok(())
        }
        Caller::LoginCommand { .. } | Caller::LoginCall { .. } => Err(Error::login_required(
            "logging in needs a person, and there is none to ask: stdin and stderr are not both terminals and $BROWSER is not set (or no browser may be opened); setting $BROWSER to a program that completes the login in a browser also works",
        )
        .with_hint(sesame::Hint::LoginInTerminal)),
        Caller::Implicit => Err(Error::login_required(
            "no valid token, and no terminal to log in from",
        )
        .with_hint(sesame::Hint::LoginInTerminal)),
    }
}

/// Whether a browser may be opened; `Err` is the reason for the person.
pub fn browser_policy(facts: &Facts, no_browser: bool) -> std::result::Result<(), BrowserLaunch> {
    if no_browser {
        return Err(BrowserLaunch::Declined);
    }
    if facts.ssh {
        return Err(BrowserLaunch::Unavailable(
            "not opening a browser in an SSH session ($SSH_CONNECTION is set)".into(),
        ));
    }
    if !facts.display && facts.browser.is_none() {
        return Err(BrowserLaunch::Unavailable(
            "not opening a browser: there is no display ($DISPLAY and $WAYLAND_DISPLAY are unset) and $BROWSER is not set"
                .into(),
        ));
    }
    Ok(())
}

/// Whether a credential kind logs a person in (`oidc`, `device`).
pub fn is_interactive_kind(kind: &str) -> bool {
    matches!(kind, "oidc" | "device")
}

/// An explicit login ([`login`]): which flow, whether a browser may be opened, who asks,
/// and how it is shown.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    /// The flow, whatever the profile says (`--browser`, `--device`); `None`: the profile's.
    pub method: Option<LoginMethod>,
    /// `sesame login` or a program's call (for the rules and their messages).
    pub caller: Caller,
    /// The facts the rules look at.
    pub facts: Facts,
    /// How the login is shown.
    pub ui: Arc<dyn LoginUi>,
    /// A program's code hook for the browser's landing pages, over the profile's
    /// `success_page`/`failure_page` templates.
    pub page_handler: Option<sesame::oauth::landing::PageHandler>,
}

/// What [`login`] did.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    /// The stored token.
    pub token: Arc<Token>,
    /// A person logged in (`oidc`, `device`); else an unattended grant ran.
    pub interactive: bool,
    /// The token came from a login that finished while this one waited (no flow ran here).
    pub adopted: bool,
}

/// Logs in with `oauth` (the credential of `profile`, of auth kind `kind`) and stores the
/// token in its cache: a person's login (browser or device flow, see
/// [`sesame::credential::interactive`]) for `oidc` and `device` when [`require_person`] allows,
/// else a new token from the unattended grant (`client-credentials`, `password`).
pub async fn login(
    oauth: &OAuth,
    kind: &str,
    profile_name: &str,
    profile: &Profile,
    request: LoginRequest,
) -> Result<LoggedIn> {
    if !is_interactive_kind(kind) {
        if request.method.is_some() {
            return Err(Error::config(format!(
                "choosing the browser or device flow applies to auth = \"oidc\" or \"device\"; profile `{profile_name}` uses auth = \"{kind}\", which needs no person"
            )));
        }
        let lease = oauth.source().force_refresh().await?;
        return Ok(LoggedIn {
            token: lease.token,
            interactive: false,
            adopted: false,
        });
    }
    // An explicit device login needs no terminal here: the person approves on another
    // device, so showing the URL and code (on whatever the output is) and polling is the
    // whole job. Only `no_input` (never wait for a person) still forbids it.
    let explicit_device = request.method == Some(LoginMethod::Device) && request.caller != Caller::Implicit;
    if !explicit_device || request.facts.no_input {
        require_person(&request.facts, request.caller)?;
    }
    let mut options = login_options(profile)?;
    if let Some(m) = request.method {
        options.method = m;
    }
    if let Some(h) = request.page_handler {
        options.pages = options.pages.with_handler(h);
    }
    let login = InteractiveLogin::new(request.ui, options);
    let client = oauth.client().await?;
    let outcome = login.login_and_store(oauth.source(), client).await?;
    if profile.cache.as_deref() == Some("openbao") && !outcome.adopted {
        // The other hosts of the cluster get the person's grant from the shared record
        // (a login stores locally first; docs/design/cluster-cache.md).
        let cluster = crate::config::cluster_store_of(profile_name, profile)?;
        cluster.publish(oauth.source().key(), &outcome.lease.token).await?;
    }
    Ok(LoggedIn {
        token: outcome.lease.token,
        interactive: true,
        adopted: outcome.adopted,
    })
}

/// The one-line success message: `sesame: logged in to ISSUER as WHO (profile `P`); access
/// token valid for 5 min, refresh token stored`.
pub fn summary(oauth: &OAuth, profile_name: &str, token: &Token, adopted: bool) -> String {
    let claims = token
        .id_token
        .as_ref()
        .and_then(|t| sesame::token::jwt_claims(t.expose()))
        .or_else(|| sesame::token::jwt_claims(token.access_token.expose()));
    let who = claims.as_ref().and_then(|c| {
        ["preferred_username", "email", "sub"]
            .iter()
            .find_map(|k| c.get(*k).and_then(|v| v.as_str()))
            .map(|s| s.chars().filter(|c| !c.is_control()).take(100).collect::<String>())
    });
    let issuer = token
        .issuer
        .clone()
        .unwrap_or_else(|| oauth.source().key().issuer.clone());
    let mut line = format!("sesame: logged in to {issuer}");
    if let Some(w) = who {
        line.push_str(&format!(" as {w}"));
    }
    line.push_str(&format!(" (profile `{profile_name}`)"));
    if let Some(left) = token.seconds_left(oauth.source().clock().now()) {
        line.push_str(&format!("; access token valid for {}", duration(left)));
    }
    if token.refresh_token.is_some() {
        line.push_str(", refresh token stored");
    }
    if adopted {
        line.push_str(" (from the login that finished while this one waited)");
    }
    line
}

fn duration(secs: i64) -> String {
    let s = secs.max(0);
    if s >= 7200 {
        format!("{} h", s / 3600)
    } else if s >= 120 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn options_from_profile() {
        let p = Profile {
            auth: Some(AuthKind::Device),
            redirect_uri: Some("http://localhost:0/cb".into()),
            redirect_ports: Some(Ports::Many(vec![8400, 8401])),
            login_timeout: Some(42),
            ..Default::default()
        };
        let o = login_options(&p).unwrap();
        assert_eq!(o.method, LoginMethod::Device);
        assert_eq!(o.redirect_uri, "http://localhost:0/cb");
        assert_eq!(o.redirect_ports, vec![8400, 8401]);
        assert_eq!(o.timeout, Duration::from_secs(42));
        let o = login_options(&Profile::default()).unwrap();
        assert_eq!((o.method, o.timeout), (LoginMethod::Browser, DEFAULT_LOGIN_TIMEOUT));
        let zero = Profile {
            login_timeout: Some(0),
            ..Default::default()
        };
        assert!(login_options(&zero).is_err());
    }
    use super::*;

    fn facts() -> Facts {
        Facts {
            display: true,
            ..Default::default()
        }
    }

    #[test]
    fn the_terminal_rules() {
        let login = Caller::LoginCommand { no_browser: false };
        let call = Caller::LoginCall { no_browser: false };
        let tty = Facts {
            stdin_tty: true,
            stderr_tty: true,
            ..facts()
        };
        assert!(require_person(&tty, login).is_ok());
        assert!(require_person(&tty, call).is_ok());
        assert!(require_person(&tty, Caller::Implicit).is_ok());
        let no_input = Facts {
            no_input: true,
            ..tty.clone()
        };
        let e = require_person(&no_input, login).unwrap_err();
        assert!(
            e.is_login_required() && e.to_string().contains("prompts are turned off"),
            "{e}"
        );
        assert_eq!(e.hint(), Some(sesame::Hint::LoginInTerminal));
        // No terminal: only an explicit login with $BROWSER.
        let pipe = facts();
        assert!(require_person(&pipe, login).unwrap_err().is_login_required());
        let e = require_person(&pipe, call).unwrap_err();
        assert!(e.is_login_required() && e.to_string().contains("$BROWSER"), "{e}");
        assert_eq!(e.hint(), Some(sesame::Hint::LoginInTerminal));
        assert!(require_person(&pipe, Caller::Implicit).unwrap_err().is_login_required());
        let pipe_browser = Facts {
            browser: Some("b".into()),
            ..facts()
        };
        assert!(require_person(&pipe_browser, login).is_ok());
        assert!(require_person(&pipe_browser, call).is_ok());
        assert!(require_person(&pipe_browser, Caller::LoginCommand { no_browser: true }).is_err());
        assert!(require_person(&pipe_browser, Caller::LoginCall { no_browser: true }).is_err());
        assert!(require_person(&pipe_browser, Caller::Implicit).is_err());
        let half = Facts {
            stderr_tty: true,
            ..facts()
        };
        assert!(
            require_person(&half, Caller::Implicit).is_err(),
            "stdin must be a terminal too"
        );
    }

    #[test]
    fn the_browser_rules() {
        assert_eq!(browser_policy(&facts(), true), Err(BrowserLaunch::Declined));
        assert!(matches!(
            browser_policy(&Facts { ssh: true, browser: Some("b".into()), ..facts() }, false),
            Err(BrowserLaunch::Unavailable(r)) if r.contains("SSH")
        ));
        let headless = Facts {
            display: false,
            ..facts()
        };
        assert!(
            matches!(browser_policy(&headless, false), Err(BrowserLaunch::Unavailable(r)) if r.contains("display"))
        );
        let headless_browser = Facts {
            display: false,
            browser: Some("b".into()),
            ..facts()
        };
        assert_eq!(
            browser_policy(&headless_browser, false),
            Ok(()),
            "$BROWSER counts as a way to open"
        );
        assert_eq!(browser_policy(&facts(), false), Ok(()));
    }

    #[test]
    fn durations() {
        assert_eq!(duration(7300), "2 h");
        assert_eq!(duration(300), "5 min");
        assert_eq!(duration(-3), "0 s");
    }
}
