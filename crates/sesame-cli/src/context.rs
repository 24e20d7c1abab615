//! What every command needs: the configuration, the resolved profile and a session.

use sesame::config::{self, Config, ResolvedProfile};
use sesame::{Error, Session};

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
        Ok(Context {
            global,
            config,
            resolved,
        })
    }

    /// The profile's credential alone (no HTTP client, no TLS set-up): what `token` needs.
    pub fn credential(&self) -> Result<Option<std::sync::Arc<dyn sesame::Credential>>, Error> {
        config::credential_for(&self.resolved, &config::BuildOptions::default())
    }

    /// The session of the resolved profile; in the CLI, HTTP errors are typed errors.
    pub fn session(&self) -> Result<Session, Error> {
        config::session_builder(&self.resolved)?.build()
    }
}
