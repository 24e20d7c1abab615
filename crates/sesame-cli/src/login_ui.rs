//! How the CLI presents a login: the library's [`LoginUi`] on stderr, and the rules for
//! when sesame may involve a person at all.
//!
//! # When sesame logs a person in
//!
//! A login needs a person, so sesame only starts one when a person can take part:
//!
//! | situation | `sesame login` | a command that needs a token (`sesame token`, …) |
//! |---|---|---|
//! | `--no-input` | exit 4 | exit 4 |
//! | stdin and stderr are terminals | logs in | logs in |
//! | not both terminals, `$BROWSER` set | logs in (the `$BROWSER` program completes it) | exit 4 |
//! | not both terminals, `$BROWSER` set, `--no-browser` | exit 4 | exit 4 |
//! | not both terminals, no `$BROWSER` | exit 4 | exit 4 |
//!
//! The reasoning, as a careful `gh auth login` user would expect: a script, a cron job or
//! CI (no terminal) must never hang on a login nobody will finish, so it gets exit 4 at
//! once with advice. Typing `sesame login` while naming the program that opens URLs
//! (`BROWSER=… sesame login`) is an explicit request to run the browser flow through that
//! program, terminal or not; browser automation and sesame's own tests use exactly that.
//! An implicit login (a token that ran out in the middle of `sesame token`) happens only
//! in front of a terminal. `$(sesame token)` in a terminal still logs in: only stdout is
//! captured there, and prompts go to stderr.
//!
//! # When sesame opens a browser
//!
//! The URL (or the device code) is always printed to stderr first. Then a browser is
//! opened unless `--no-browser` (then sesame just waits for the redirect), `$SSH_CONNECTION`
//! is set (a browser there would not reach this machine's 127.0.0.1), or — on Linux and the
//! BSDs — there is no display (`$DISPLAY` and `$WAYLAND_DISPLAY` unset) and no `$BROWSER`.
//! `$BROWSER` (a `:`-separated list of commands; `%s` stands for the URL, else the URL is
//! appended) is preferred to the platform opener (`xdg-open`, `open`, `start`). The browser
//! runs in its own process group so that Ctrl-C in the terminal stops sesame, not the
//! browser. If no browser can be opened (SSH, no display, the command failed or exited
//! with an error within a second) the library falls back to the device flow when the
//! provider supports it, while the printed URL keeps working.
//!
//! In the device flow the code is shown first (gh style), then where to enter it, then a
//! QR code of the complete verification URI when stderr is a terminal; a browser is opened
//! at that URI under the same rules.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use sesame::Error;
use sesame::oauth::{BrowserLaunch, DevicePrompt, LoginUi, Waiting};
use url::Url;

use crate::cli::Global;

/// Who asks for a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// `sesame login` itself.
    LoginCommand {
        /// `--no-browser` was given.
        no_browser: bool,
    },
    /// Another command that found no usable token.
    Implicit,
}

/// The facts the rules look at (read once from the process; built by hand in tests).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub no_input: bool,
    pub stdin_tty: bool,
    pub stderr_tty: bool,
    pub browser: Option<String>,
    pub ssh: bool,
    pub display: bool,
}

impl Facts {
    pub fn current(global: &Global) -> Facts {
        let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
        Facts {
            no_input: global.no_input,
            stdin_tty: std::io::stdin().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
            browser: std::env::var("BROWSER").ok().filter(|b| !b.trim().is_empty()),
            ssh: set("SSH_CONNECTION"),
            display: !cfg!(all(unix, not(target_os = "macos"))) || set("DISPLAY") || set("WAYLAND_DISPLAY"),
        }
    }
}

/// Whether a login may start; `Err` is a "login required" error (exit 4) that says why.
pub fn require_person(facts: &Facts, caller: Caller) -> Result<(), Error> {
    if facts.no_input {
        return Err(Error::login_required(
            "logging in needs a person and --no-input forbids prompts: run `sesame login` in a terminal first",
        ));
    }
    if facts.stdin_tty && facts.stderr_tty {
        return Ok(());
    }
    match caller {
        Caller::LoginCommand { no_browser: false } if facts.browser.is_some() => Ok(()),
        Caller::LoginCommand { .. } => Err(Error::login_required(
            "`sesame login` needs a terminal (stdin and stderr are not both terminals): run it in a terminal, or set $BROWSER to a program that completes the login in a browser",
        )),
        Caller::Implicit => Err(Error::login_required(
            "no valid token and no terminal to log in from: run `sesame login` in a terminal first",
        )),
    }
}

/// Whether a browser may be opened; `Err` is the reason for the person.
fn browser_policy(facts: &Facts, no_browser: bool) -> Result<(), BrowserLaunch> {
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

/// The CLI's login UI: everything on stderr.
#[derive(Debug)]
pub struct CliLoginUi {
    facts: Facts,
    no_browser: bool,
    quiet: bool,
    verbose: u8,
    /// A progress line is on screen (it ends without a newline).
    progress_shown: Mutex<bool>,
}

impl CliLoginUi {
    pub fn new(global: &Global, no_browser: bool) -> Self {
        Self::with_facts(Facts::current(global), global, no_browser)
    }

    pub fn with_facts(facts: Facts, global: &Global, no_browser: bool) -> Self {
        CliLoginUi {
            facts,
            no_browser,
            quiet: global.quiet,
            verbose: global.verbose,
            progress_shown: Mutex::new(false),
        }
    }

    /// Writes lines to stderr, first clearing a progress line.
    fn say(&self, text: &str) {
        let mut shown = self.progress_shown.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr().lock();
        if *shown {
            let _ = write!(err, "\r\x1b[2K");
            *shown = false;
        }
        let _ = writeln!(err, "{text}");
    }

    fn clear_progress(&self) {
        let mut shown = self.progress_shown.lock().unwrap_or_else(|e| e.into_inner());
        if *shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            *shown = false;
        }
    }

    async fn run_browser_env(&self, value: &str, url: &Url) -> BrowserLaunch {
        let mut failures = Vec::new();
        for argv in browser_commands(value, url.as_str()) {
            let shown = argv[0].clone();
            let mut cmd = tokio::process::Command::new(&argv[0]);
            cmd.args(&argv[1..])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(if self.verbose > 0 {
                    std::process::Stdio::inherit()
                } else {
                    std::process::Stdio::null()
                })
                .kill_on_drop(false);
            #[cfg(unix)]
            cmd.process_group(0);
            let mut child = match cmd.spawn() {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("`{shown}`: {e}"));
                    continue;
                }
            };
            // A launcher returns at once; a browser keeps running. Either is fine; an exit
            // with an error within a second is a failure.
            match tokio::time::timeout(Duration::from_secs(1), child.wait()).await {
                Err(_) => return BrowserLaunch::Opened,
                Ok(Ok(status)) if status.success() => return BrowserLaunch::Opened,
                Ok(Ok(status)) => failures.push(format!("`{shown}` exited with {status}")),
                Ok(Err(e)) => failures.push(format!("`{shown}`: {e}")),
            }
        }
        BrowserLaunch::Failed(format!(
            "could not open a browser with $BROWSER ({})",
            failures.join("; ")
        ))
    }
}

impl Drop for CliLoginUi {
    fn drop(&mut self) {
        // Ctrl-C drops the login: leave the terminal on a fresh line.
        self.clear_progress();
    }
}

#[async_trait]
impl LoginUi for CliLoginUi {
    fn show_authorization_url(&self, url: &Url) {
        self.say(&format!("To log in, open this URL in a browser:\n\n    {url}\n"));
    }

    async fn open_browser(&self, url: &Url) -> BrowserLaunch {
        if let Err(why) = browser_policy(&self.facts, self.no_browser) {
            return why;
        }
        let launch = match &self.facts.browser {
            Some(b) => self.run_browser_env(b, url).await,
            None => {
                let target = url.to_string();
                let opened = tokio::time::timeout(
                    Duration::from_secs(10),
                    tokio::task::spawn_blocking(move || {
                        webbrowser::open_browser_with_options(
                            webbrowser::Browser::Default,
                            &target,
                            webbrowser::BrowserOptions::new().with_suppress_output(true),
                        )
                    }),
                )
                .await;
                match opened {
                    Ok(Ok(Ok(()))) => BrowserLaunch::Opened,
                    Ok(Ok(Err(e))) => BrowserLaunch::Failed(format!("could not open a browser: {e}")),
                    Ok(Err(e)) => BrowserLaunch::Failed(format!("could not open a browser: {e}")),
                    Err(_) => {
                        BrowserLaunch::Failed("could not open a browser: the opener did not return within 10 s".into())
                    }
                }
            }
        };
        if launch == BrowserLaunch::Opened && !self.quiet {
            self.say("Opened it in your browser; finish the login there.");
        }
        launch
    }

    fn show_device_code(&self, prompt: &DevicePrompt<'_>) {
        let mut text = format!(
            "! First copy your one-time code: {}\n  Then open {} and enter it",
            prompt.user_code, prompt.verification_uri
        );
        if let Some(complete) = prompt.verification_uri_complete {
            text.push_str(&format!("\n  (or open {complete} — the code is filled in)"));
            if self.facts.stderr_tty
                && let Some(qr) = render_qr(complete)
            {
                text.push_str("\n  or scan this QR code with a phone:\n\n");
                text.push_str(&qr);
                text.push('\n');
            }
        }
        text.push_str(&format!("\n  The code expires in {}.", human(prompt.expires_in)));
        self.say(&text);
    }

    fn progress(&self, waiting: Waiting, remaining: Duration) {
        if self.quiet || !self.facts.stderr_tty {
            return;
        }
        let what = match waiting {
            Waiting::Browser => "Waiting for the login in the browser",
            Waiting::Device => "Waiting for the code to be approved",
            Waiting::BrowserOrDevice => "Waiting for the login (browser or device code)",
        };
        let mut shown = self.progress_shown.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{what}… {} left (Ctrl-C to cancel)", clock(remaining));
        let _ = err.flush();
        *shown = true;
    }

    fn notice(&self, message: &str) {
        self.say(&format!("sesame: {message}"));
    }

    fn finished(&self) {
        self.clear_progress();
    }
}

/// The commands of a `$BROWSER` value: `:`-separated; each split like a shell would
/// (quotes, backslashes) unless it names an existing file as a whole; `%s` is replaced by
/// the URL (`%%` is a literal `%`), else the URL is appended.
pub fn browser_commands(value: &str, url: &str) -> Vec<Vec<String>> {
    value
        .split(':')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .filter_map(|c| {
            let words = if std::path::Path::new(c).is_file() {
                vec![c.to_string()]
            } else {
                split_words(c)?
            };
            if words.is_empty() {
                return None;
            }
            let mut substituted = false;
            let mut argv: Vec<String> = words
                .into_iter()
                .map(|w| {
                    if w.contains("%s") {
                        substituted = true;
                    }
                    w.replace("%s", "\u{0}").replace("%%", "%").replace('\u{0}', url)
                })
                .collect();
            if !substituted {
                argv.push(url.to_string());
            }
            Some(argv)
        })
        .collect()
}

/// Splits a command line into words: whitespace separates, '…' and "…" quote, `\` escapes.
/// `None` for an unterminated quote.
fn split_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        x => cur.push(x),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => cur.push(chars.next()?),
                        x => cur.push(x),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

/// A QR code of `data` in Unicode half blocks, light modules drawn (for dark terminals),
/// with the quiet zone; `None` if the data does not fit.
pub fn render_qr(data: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::L).ok()?;
    let image = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    Some(image.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n"))
}

/// `4:05`, `1:02:03`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// `10 minutes`, `90 seconds`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 120 && s.is_multiple_of(60) {
        format!("{} minutes", s / 60)
    } else if s >= 120 {
        format!("about {} minutes", s.div_ceil(60))
    } else {
        format!("{s} seconds")
    }
}

#[cfg(test)]
mod tests {
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
        let tty = Facts {
            stdin_tty: true,
            stderr_tty: true,
            ..facts()
        };
        assert!(require_person(&tty, login).is_ok());
        assert!(require_person(&tty, Caller::Implicit).is_ok());
        let no_input = Facts {
            no_input: true,
            ..tty.clone()
        };
        let e = require_person(&no_input, login).unwrap_err();
        assert!(e.is_login_required() && e.to_string().contains("--no-input"), "{e}");
        // No terminal: only an explicit login with $BROWSER.
        let pipe = facts();
        assert!(require_person(&pipe, login).unwrap_err().is_login_required());
        assert!(require_person(&pipe, Caller::Implicit).unwrap_err().is_login_required());
        let pipe_browser = Facts {
            browser: Some("b".into()),
            ..facts()
        };
        assert!(require_person(&pipe_browser, login).is_ok());
        assert!(require_person(&pipe_browser, Caller::LoginCommand { no_browser: true }).is_err());
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
    fn browser_variable_forms() {
        let u = "http://127.0.0.1:1/auth?a=1&b=2";
        assert_eq!(
            browser_commands("firefox", u),
            vec![vec!["firefox".to_string(), u.into()]]
        );
        assert_eq!(
            browser_commands("w3m -o x=1 %s:lynx", u),
            vec![
                vec!["w3m".to_string(), "-o".into(), "x=1".into(), u.into()],
                vec!["lynx".to_string(), u.into()]
            ]
        );
        assert_eq!(
            browser_commands("'/opt/my browser/run' --url=%s 100%%", u),
            vec![vec![
                "/opt/my browser/run".to_string(),
                format!("--url={u}"),
                "100%".into()
            ]]
        );
        assert!(browser_commands("'unterminated", u).is_empty());
        assert!(browser_commands(" : ", u).is_empty());
    }

    #[test]
    fn qr_and_times() {
        let qr = render_qr("http://127.0.0.1:39999/device?user_code=WDJB-MJHT").unwrap();
        let lines: Vec<&str> = qr.lines().collect();
        assert!(lines.len() > 10 && lines.iter().all(|l| l.chars().count() == lines[0].chars().count()));
        assert!(qr.contains('█') || qr.contains('▀') || qr.contains('▄'));
        assert_eq!(clock(Duration::from_secs(245)), "4:05");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
        assert_eq!(human(Duration::from_secs(600)), "10 minutes");
        assert_eq!(human(Duration::from_secs(90)), "90 seconds");
    }
}
