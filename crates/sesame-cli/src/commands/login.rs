//! `sesame login [--browser|--device] [--no-browser]`: runs the profile's grant and stores
//! the tokens in the cache; one line on stderr says who is logged in and for how long.
//!
//! - `auth = "oidc"`: the browser flow (authorization code + PKCE, loopback redirect),
//!   falling back to the device flow when no browser can be opened; `auth = "device"`: the
//!   device flow. `--browser` / `--device` pick the flow whatever the profile says;
//!   `--no-browser` prints the URL (or the code) and opens nothing.
//! - `auth = "client-credentials"` / `"password"`: a new token, no person needed.
//! - When a person is needed but cannot take part (see [`sesame_app::login`]): exit 4.
//! - Two logins for the same profile at once run one flow; the second uses its token.
//! - Ctrl-C stops it (exit 130) and closes the loopback listener.
//!
//! The login itself is [`sesame_app::login::login`], which the Python package's
//! `Session.login()` runs too; this file only reads the flags and prints the result.

use std::sync::Arc;

use sesame::Error;
use sesame::credential::LoginMethod;
use sesame_app::login::{Caller, Facts, LoginRequest, TextLoginUi};

use crate::cli::LoginArgs;
use crate::context::Context;
use crate::exit;

pub async fn run(ctx: &Context, args: LoginArgs) -> Result<i32, Error> {
    // No login handler in the credential: the login runs here, under the cache lock. Only
    // the credential is built (docs/configuration.md#what-a-profile-needs): a login needs
    // the provider, not the API's base URL.
    let name = &ctx.resolved.name;
    let credential = ctx.credential()?;
    let Some(oauth) = credential.as_ref().and_then(|c| c.as_oauth()) else {
        let kind = credential
            .as_ref()
            .map(|c| c.info().kind)
            .unwrap_or_else(|| "none".into());
        return Err(Error::config(format!(
            "profile `{name}` uses auth = \"{kind}\", which has nothing to log in to: `sesame login` works with auth = \"oidc\" or \"device\" (and \"client-credentials\" or \"password\")"
        )));
    };
    let kind = credential.as_ref().map(|c| c.info().kind).unwrap_or_default();
    let method = if args.device {
        Some(LoginMethod::Device)
    } else if args.browser {
        Some(LoginMethod::Browser)
    } else {
        None
    };
    let facts = Facts::current(ctx.global.no_input);
    let ui = Arc::new(TextLoginUi::stderr(facts.clone(), ctx.ui_settings(args.no_browser)));
    let request = LoginRequest {
        method,
        caller: Caller::LoginCommand {
            no_browser: args.no_browser,
        },
        facts,
        ui,
        page_handler: None,
    };
    let done = sesame_app::login::login(oauth, &kind, name, &ctx.resolved.profile, request).await?;
    if !ctx.global.quiet {
        eprintln!("{}", sesame_app::login::summary(oauth, name, &done.token, done.adopted));
    }
    Ok(exit::OK)
}
