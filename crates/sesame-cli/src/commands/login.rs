//! `sesame login [--browser|--device] [--no-browser]`: runs the profile's grant and stores
//! the tokens in the cache; one line on stderr says who is logged in and for how long.
//!
//! - `auth = "oidc"`: the browser flow (authorization code + PKCE, loopback redirect),
//!   falling back to the device flow when no browser can be opened; `auth = "device"`: the
//!   device flow. `--browser` / `--device` pick the flow whatever the profile says;
//!   `--no-browser` prints the URL (or the code) and opens nothing.
//! - `auth = "client-credentials"` / `"password"`: a new token, no person needed.
//! - When a person is needed but cannot take part (see [`crate::login_ui`]): exit 4.
//! - Two logins for the same profile at once run one flow; the second uses its token.
//! - Ctrl-C stops it (exit 130) and closes the loopback listener.

use std::sync::Arc;

use sesame::config;
use sesame::credential::OAuth;
use sesame::oauth::{InteractiveLogin, LoginMethod, LoginOptions};
use sesame::token::Token;
use sesame::{Error, Session};

use crate::cli::LoginArgs;
use crate::context::Context;
use crate::exit;
use crate::login_ui::{Caller, CliLoginUi, Facts, require_person};

pub async fn run(ctx: &Context, args: LoginArgs) -> Result<i32, Error> {
    // No login handler in the session: the login runs here, under the cache lock.
    let session: Session = config::session_builder(&ctx.resolved)?.build()?;
    let name = &ctx.resolved.name;
    let credential = session.credential().cloned();
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
    let interactive = kind == "oidc" || kind == "device";
    if !interactive {
        if args.browser || args.device {
            return Err(Error::config(format!(
                "--browser and --device apply to auth = \"oidc\" or \"device\"; profile `{name}` uses auth = \"{kind}\", which needs no person"
            )));
        }
        let lease = oauth.source().force_refresh().await?;
        report(ctx, oauth, &lease.token, false);
        return Ok(exit::OK);
    }

    require_person(
        &Facts::current(&ctx.global),
        Caller::LoginCommand {
            no_browser: args.no_browser,
        },
    )?;
    let mut options = LoginOptions::from_profile(&ctx.resolved.profile)?;
    if args.device {
        options.method = LoginMethod::Device;
    } else if args.browser {
        options.method = LoginMethod::Browser;
    }
    let ui = Arc::new(CliLoginUi::new(&ctx.global, args.no_browser));
    let login = InteractiveLogin::new(ui.clone(), options);
    let client = oauth.client().await?;
    let outcome = login.login_and_store(oauth.source(), client).await?;
    drop(login);
    drop(ui);
    report(ctx, oauth, &outcome.lease.token, outcome.adopted);
    Ok(exit::OK)
}

/// The one-line success message on stderr.
fn report(ctx: &Context, oauth: &OAuth, token: &Token, adopted: bool) {
    if ctx.global.quiet {
        return;
    }
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
    line.push_str(&format!(" (profile `{}`)", ctx.resolved.name));
    if let Some(left) = token.seconds_left(sesame::token::now_unix()) {
        line.push_str(&format!("; access token valid for {}", duration(left)));
    }
    if token.refresh_token.is_some() {
        line.push_str(", refresh token stored");
    }
    if adopted {
        line.push_str(" (from the login that finished while this one waited)");
    }
    eprintln!("{line}");
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
