//! What every command needs: the configuration, the resolved profile and a session.

use sesame::{Error, Session};
use sesame_app::config::{self, Config, ResolvedProfile};

use crate::cli::{Global, ProfileFlags};

#[allow(dead_code)] // `global` and `config` serve the login and token commands
pub struct Context {
    pub global: Global,
    pub config: Config,
    pub resolved: ResolvedProfile,
}

impl Context {
    pub fn load(global: Global, flags: &ProfileFlags) -> Result<Context, Error> {
        let config = Config::load(global.config.as_deref())?;
        if !global.quiet {
            for w in &config.warnings {
                eprintln!("sesame: {w}");
            }
        }
        let overrides = flags.to_profile().map_err(Error::config)?;
        let resolved = config.resolve(global.profile.as_deref(), overrides)?;
        if resolved.insecure() {
            insecure_warning(&resolved.name);
        }
        Ok(Context {
            global,
            config,
            resolved,
        })
    }

    /// The error for a command that needs a credential the profile does not give: auth =
    /// none, or `force_noauth`, which sends nothing whatever the kind.
    pub fn no_credential(&self, advice: &str) -> Error {
        let name = &self.resolved.name;
        if self.resolved.profile.force_noauth == Some(true) {
            Error::config(format!(
                "profile `{name}` sets force_noauth (--force-noauth), so it has no credential; remove it"
            ))
        } else {
            Error::config(format!("profile `{name}` has no credential (auth = none); {advice}"))
        }
    }

    /// The profile's credential alone (no HTTP client, no TLS set-up): what `token` needs.
    pub fn credential(&self) -> Result<Option<std::sync::Arc<dyn sesame::Credential>>, Error> {
        config::credential_for(&self.resolved, &config::BuildOptions::default())
    }

    /// Build options that let an interactive credential (`auth = "oidc"` / `"device"`) log
    /// a person in when it has no usable token — only when one can take part: a terminal on
    /// stdin and stderr and no `--no-input` (see [`sesame_app::login`] for the rules). Otherwise
    /// the credential reports "login required" (exit 4).
    pub fn interactive_options(&self) -> Result<config::BuildOptions, Error> {
        use sesame::credential::InteractiveLogin;
        use sesame_app::config::AuthKind;
        use sesame_app::login::{Caller, Facts, TextLoginUi, require_person};
        let mut opts = config::BuildOptions::default();
        let interactive = matches!(self.resolved.profile.auth, Some(AuthKind::Oidc | AuthKind::Device));
        let facts = Facts::current(self.global.no_input);
        if interactive && require_person(&facts, Caller::Implicit).is_ok() {
            let ui = std::sync::Arc::new(TextLoginUi::stderr(facts, self.ui_settings(false)));
            let login = InteractiveLogin::new(ui, sesame_app::login::login_options(&self.resolved.profile)?);
            opts.login = Some(std::sync::Arc::new(login));
        }
        Ok(opts)
    }

    /// How a login is shown: `-q` and `-v` as given, and `--no-browser`.
    pub fn ui_settings(&self, no_browser: bool) -> sesame_app::login::UiSettings {
        sesame_app::login::UiSettings {
            no_browser,
            quiet: self.global.quiet,
            verbose: self.global.verbose > 0,
        }
    }

    /// [`Context::session`] that logs in on a terminal when it needs to.
    #[allow(dead_code)] // for commands that may log in (`token`, `request`)
    pub fn session_interactive(&self) -> Result<Session, Error> {
        config::session_builder_with(&self.resolved, &self.interactive_options()?)?.build()
    }

    /// [`Context::credential`] that logs in on a terminal when it needs to.
    pub fn credential_interactive(&self) -> Result<Option<std::sync::Arc<dyn sesame::Credential>>, Error> {
        config::credential_for(&self.resolved, &self.interactive_options()?)
    }
}

/// docs/session-rules.md#tls: `insecure` warns on every use. Every command that uses a profile loads it
/// here, once per process, so this is the one place; `-q` does not silence it (it hides
/// progress, not a risk the user may have forgotten — an old `SESAME_INSECURE=1` in a shell
/// profile, say — while a client secret or token goes over an unverified connection).
fn insecure_warning(profile: &str) {
    eprintln!(
        "sesame: warning: TLS certificate verification is DISABLED for profile `{profile}` (insecure = true, --insecure or SESAME_INSECURE): \
         anyone on the network path can read or change the traffic, including the credentials sent; use it only with test servers"
    );
}
