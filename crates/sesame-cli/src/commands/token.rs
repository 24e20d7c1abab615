//! `sesame token`: a valid access token on stdout. With a cached token that has more than
//! `--min-valid` seconds left this reads one file and prints: no network, no TLS set-up.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sesame::Error;
use sesame::credential::Credential;

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
    if sesame::oauth::dpop::is_bound(&token) && !args.id_token {
        let Some(proof) = &args.dpop_proof else {
            return Err(sesame::oauth::dpop::bound_token_error("printed as a bearer token"));
        };
        return print_dpop_headers(&cred, proof).await;
    }
    if args.dpop_proof.is_some() {
        return Err(Error::config(
            "--dpop-proof needs a DPoP-bound token: set `dpop = true` in the profile",
        ));
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
        let written = sesame_app::bearer_file::write(p, token.access_token.expose())?;
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

/// `Authorization: DPoP …` and `DPoP: <proof>` for one request, as the session would
/// send them.
async fn print_dpop_headers(cred: &Arc<dyn Credential>, proof: &[String]) -> Result<i32, Error> {
    let [method, url] = proof else {
        return Err(Error::config("--dpop-proof takes METHOD and URL"));
    };
    let method = sesame::session::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| Error::config(format!("--dpop-proof: `{method}` is not an HTTP method")))?;
    let url = url::Url::parse(url).map_err(|e| Error::config(format!("--dpop-proof: `{url}` is not a URL: {e}")))?;
    let mut headers = sesame::session::header::HeaderMap::new();
    cred.attach(
        &sesame::credential::AuthRequest {
            method: &method,
            url: &url,
        },
        &mut headers,
    )
    .await?;
    for name in ["authorization", "dpop"] {
        let v = headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::config("the credential attached no DPoP proof"))?;
        let label = if name == "dpop" { "DPoP" } else { "Authorization" };
        crate::out::line(format!("{label}: {v}"));
    }
    Ok(exit::OK)
}
