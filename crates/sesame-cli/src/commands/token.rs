//! `sesame token`: a valid access token on stdout. With a cached token that has more than
//! `--min-valid` seconds left this reads one file and prints: no network, no TLS set-up.

use std::time::Duration;

use serde_json::json;
use sesame::Error;

use crate::cli::TokenArgs;
use crate::context::Context;
use crate::exit;

pub async fn run(ctx: &Context, args: TokenArgs) -> Result<i32, Error> {
    let cred = ctx
        .credential_interactive()?
        .ok_or_else(|| ctx.no_credential("set `auth` in the profile or pass --auth"))?;
    let min_valid = Duration::from_secs(ctx.resolved.profile.min_valid.unwrap_or(60));
    let mut token = match cred.token(min_valid, args.force_refresh).await? {
        Some(t) => t,
        None => {
            return Err(Error::config(format!(
                "auth = \"{}\" is not a token credential; `sesame token` needs a token kind (bearer, oidc, client-credentials, …)",
                cred.info().kind
            )));
        }
    };
    if !args.scopes.is_empty() || !args.audiences.is_empty() {
        // Down-scoping (the library's use-case): cached under its own key while valid.
        let oauth = cred
            .as_oauth()
            .ok_or_else(|| Error::config("--scope/--audience need an OAuth credential"))?;
        token = (*oauth.narrowed(&args.scopes, &args.audiences, min_valid).await?).clone();
    }
    let value = if args.id_token {
        token
            .id_token
            .as_ref()
            .map(|t| t.expose().to_string())
            .ok_or_else(|| Error::config("the cached grant has no ID token (log in with the `openid` scope)"))?
    } else {
        token.access_token.expose().to_string()
    };
    if let Some(path) = &args.write_bearer_file {
        let p = if path.as_os_str().is_empty() {
            None
        } else {
            Some(path.as_path())
        };
        let written = sesame::bearer_file::write(p, token.access_token.expose())?;
        tracing::info!(path = %written.display(), "wrote the bearer token file");
    }
    let out = if args.header {
        format!("Authorization: Bearer {value}")
    } else if args.env {
        format!("export BEARER_TOKEN={value}")
    } else if args.json {
        json!({
            "access_token": value,
            "token_type": token.token_type,
            "expires_at": token.expires_at,
            "scopes": token.scopes,
            "issuer": token.issuer,
        })
        .to_string()
    } else {
        value
    };
    crate::out::line(out);
    Ok(exit::OK)
}
