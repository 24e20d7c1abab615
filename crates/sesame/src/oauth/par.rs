//! Pushed authorization requests ([RFC 9126](https://www.rfc-editor.org/rfc/rfc9126)).
//!
//! Instead of carrying the whole authorization request through the browser (where any
//! extension, proxy log or shoulder can read and alter it), the client posts it to the
//! provider with its own authentication and opens only `client_id` + the `request_uri` the
//! provider hands back. With a DPoP profile the request also carries `dpop_jkt` (RFC 9449
//! §10), binding the authorization code to the profile's key.
//!
//! Used when the profile says `par = true` (the provider must then offer it), when the
//! provider requires it (`require_pushed_authorization_requests`), or, with `par` unset,
//! whenever the provider's metadata has a `pushed_authorization_request_endpoint`.

use serde::Deserialize;
use url::Url;

use super::{OAuthClient, OAuthError};
use crate::Result;
use crate::redact::redact_url;

/// The URL to open for the authorization request `url` (built by
/// [`super::authorization_code::authorization_url`]): `url` itself, or, when the request is
/// pushed, the authorization endpoint with `client_id` and `request_uri` only.
pub async fn authorization_url(client: &OAuthClient, url: Url) -> Result<Url> {
    let meta = client.metadata();
    let offered = meta.pushed_authorization_request_endpoint.is_some();
    let push = match client.par() {
        Some(false) if !meta.require_pushed_authorization_requests => false,
        Some(true) if !offered => {
            return Err(OAuthError::Setup(
                "the profile requires pushed authorization requests (`par = true`) but the provider's metadata has no `pushed_authorization_request_endpoint`".into(),
            )
            .into());
        }
        _ => offered,
    };
    if !push {
        return Ok(url);
    }
    let endpoint = client.named_endpoint("pushed_authorization_request_endpoint")?;
    let label = format!("pushed authorization request endpoint {}", redact_url(&endpoint));
    // Client authentication adds `client_id` to the body, except HTTP Basic, which carries
    // it in the header only: then it stays, as the authorization request needs it (RFC 9126
    // §2.1; oidc-provider refuses the push without it).
    let basic = matches!(client.config().auth, super::ClientAuth::Basic);
    let mut form: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| basic || k != "client_id")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some(d) = client.dpop() {
        let key = d.key(&meta.dpop_signing_alg_values_supported)?;
        form.push(("dpop_jkt".into(), key.thumbprint().to_string()));
    }
    let reply = client.post_authenticated(&endpoint, form, true).await?;
    if !reply.status.is_success() {
        return Err(super::http::status_error(&reply, &label).into());
    }
    super::http::require_json(&reply, &label)?;
    #[derive(Deserialize)]
    struct Pushed {
        request_uri: String,
    }
    let pushed: Pushed = serde_json::from_slice(&reply.body).map_err(|_| OAuthError::Malformed {
        endpoint: label.clone(),
        message: "the reply has no `request_uri`".into(),
    })?;
    if pushed.request_uri.is_empty() || pushed.request_uri.len() > 2048 {
        return Err(OAuthError::Malformed {
            endpoint: label,
            message: "unusable `request_uri`".into(),
        }
        .into());
    }
    // The endpoint as configured (its own query kept), plus the two parameters.
    let mut open = client.named_endpoint("authorization_endpoint")?;
    open.query_pairs_mut()
        .append_pair("client_id", &client.config().client_id)
        .append_pair("request_uri", &pushed.request_uri);
    tracing::debug!("authorization request pushed (RFC 9126)");
    Ok(open)
}
