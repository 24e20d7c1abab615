//! The server-side web-app login: the authorization code grant of a confidential (or
//! public) client whose redirect URI is the web application's own callback route
//! ([RFC 6749 §4.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1)), split over two
//! HTTP requests of the application:
//!
//! 1. [`start`]: the authorization URL to redirect the end user to, and a [`PendingLogin`]
//!    the application keeps in its (server-side) session until the callback;
//! 2. [`finish`]: on the callback route, the parameters the provider sent are checked
//!    against the pending login and the code is exchanged.
//!
//! The same rules as the loopback login ([`super::authorization_code`]): PKCE S256 (the
//! verifier never leaves the pending login), a random `state` compared in constant time,
//! a `nonce` checked in the ID token, RFC 9207 `iss` (required when the provider
//! advertises it), the provider's `error` reported as such, a repeated parameter refused,
//! and a pushed authorization request (RFC 9126) when the provider offers one. What is
//! different: nothing listens here (the application serves the callback), and the pending
//! login is serializable, with a lifetime ([`PendingLogin::max_age`]).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use super::authorization_code::{authorization_url, pkce_challenge};
use super::pkce::random_token;
use super::{OAuthClient, OAuthError};
use crate::token::Token;
use crate::{Error, ErrorKind, Result};

/// How long a pending login stays usable when the caller sets no other limit: the time a
/// person has for a login ([`DEFAULT_LOGIN_TIMEOUT`]).
pub const DEFAULT_MAX_AGE: std::time::Duration = DEFAULT_LOGIN_TIMEOUT;

/// Seconds a person has to finish a login when the profile sets no `login_timeout`.
pub const DEFAULT_LOGIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// A web-app login between the redirect to the provider and the callback. It holds the
/// PKCE verifier: keep it on the server (the application's session store), never in a
/// cookie or page the browser can read. [`to_json`](Self::to_json) /
/// [`from_json`](Self::from_json) carry it between the two requests.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    /// `sesame-web-login-1`: refuse a record of another shape.
    v: String,
    issuer: String,
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: Option<String>,
    verifier: String,
    require_iss: bool,
    /// Unix seconds.
    created: i64,
}

const VERSION: &str = "sesame-web-login-1";

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl PendingLogin {
    /// The record as JSON (it contains the PKCE verifier: keep it server-side).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A record written by [`to_json`](Self::to_json).
    pub fn from_json(s: &str) -> Result<Self> {
        let p: PendingLogin = serde_json::from_str(s)
            .map_err(|_| Error::config("not a pending web login (the value made by authorization_url)"))?;
        if p.v != VERSION {
            return Err(Error::config(
                "not a pending web login (the value made by authorization_url)",
            ));
        }
        Ok(p)
    }

    /// The `state` sent (the application may use it to find the pending login).
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The redirect URI the code was requested for.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
}

/// Starts a web-app login: the URL to redirect the end user to and the pending login.
/// `state` and `nonce` are random (32 bytes) unless given; a `nonce` is sent only with the
/// `openid` scope.
pub async fn start(
    client: &OAuthClient,
    redirect_uri: &str,
    state: Option<&str>,
    nonce: Option<&str>,
) -> Result<(Url, PendingLogin)> {
    let endpoint = client.named_endpoint("authorization_endpoint")?;
    let uri = Url::parse(redirect_uri)
        .map_err(|e| Error::config(format!("redirect_uri `{redirect_uri}` is not a URL: {e}")))?;
    if uri.fragment().is_some() || !matches!(uri.scheme(), "http" | "https") {
        return Err(Error::config(format!(
            "redirect_uri `{redirect_uri}` must be an http(s) URL without a fragment (RFC 6749 §3.1.2)"
        )));
    }
    for (what, v) in [("state", state), ("nonce", nonce)] {
        if v.is_some_and(|v| v.len() < 16 || v.len() > 512) {
            return Err(Error::config(format!(
                "{what} must be 16 to 512 characters (an unguessable value); leave it out for a random one"
            )));
        }
    }
    let state = state.map(str::to_owned).unwrap_or_else(|| random_token(32));
    let wants_openid = client.config().scopes.iter().any(|s| s == "openid");
    let nonce = wants_openid.then(|| nonce.map(str::to_owned).unwrap_or_else(|| random_token(32)));
    let verifier = SecretString::from(random_token(32));
    let url = authorization_url(
        client,
        endpoint,
        redirect_uri,
        &state,
        nonce.as_deref(),
        &pkce_challenge(verifier.expose_secret()),
    );
    let url = super::par::authorization_url(client, url).await?;
    let meta = client.metadata();
    Ok((
        url,
        PendingLogin {
            v: VERSION.into(),
            issuer: meta.issuer.clone(),
            client_id: client.config().client_id.clone(),
            redirect_uri: redirect_uri.to_string(),
            state,
            nonce,
            verifier: verifier.expose_secret().to_string(),
            require_iss: meta.authorization_response_iss_parameter_supported,
            created: client.clock().now(),
        },
    ))
}

/// What a web login ended with: the tokens and the verified ID token's claims.
#[derive(Debug, Clone)]
pub struct WebLoginOutcome {
    /// The tokens.
    pub token: Token,
    /// The ID token's claims (verified: signature, `iss`, `aud`, `exp`, `nonce`), when the
    /// `openid` scope was requested.
    pub claims: Option<serde_json::Value>,
}

impl WebLoginOutcome {
    /// The end user's `sub`, if there is an ID token.
    pub fn subject(&self) -> Option<&str> {
        self.claims.as_ref()?.get("sub")?.as_str()
    }
}

/// The parameters of a callback: the query of the URL the provider redirected to (a whole
/// URL, a path with a query, or the query alone). Several values of one name are kept, to
/// be refused by [`finish`].
pub fn callback_params(callback: &str) -> Vec<(String, String)> {
    let query = match callback.split_once('?') {
        Some((_, q)) => q,
        None if callback.contains('=') => callback,
        None => "",
    };
    let query = query.split('#').next().unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// Finishes a web login on the application's callback: checks `params` (see
/// [`callback_params`]) against `pending` — `state` (constant time), `iss` (RFC 9207), the
/// provider's `error`, no repeated parameter, the pending login's age — then exchanges the
/// code with the PKCE verifier and verifies the ID token with the `nonce`. `max_age`: how
/// old the pending login may be.
pub async fn finish(
    client: &OAuthClient,
    pending: &PendingLogin,
    params: &[(String, String)],
    max_age: std::time::Duration,
) -> Result<WebLoginOutcome> {
    let refused = |message: String| -> Error {
        OAuthError::Malformed {
            endpoint: "authorization response".into(),
            message,
        }
        .into()
    };
    let meta = client.metadata();
    if pending.issuer != meta.issuer || pending.client_id != client.config().client_id {
        return Err(Error::config(format!(
            "this pending login was started for client `{}` at `{}`, not this session's client `{}` at `{}`",
            pending.client_id,
            pending.issuer,
            client.config().client_id,
            meta.issuer
        )));
    }
    let age = client.clock().now() - pending.created;
    if age < 0 || age as u64 > max_age.as_secs() {
        return Err(Error::new(
            ErrorKind::LoginRequired,
            format!(
                "the pending login is {age} s old (at most {} s): start the login again",
                max_age.as_secs()
            ),
        )
        .with_hint(crate::Hint::UserLogin));
    }
    let one = |name: &str| -> Result<Option<&str>> {
        let mut it = params.iter().filter(|(k, _)| k == name);
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() {
            return Err(refused(format!("the parameter `{name}` is repeated")));
        }
        Ok(first)
    };
    let state_ok =
        matches!(one("state")?, Some(s) if super::loopback::constant_time_eq(s.as_bytes(), pending.state.as_bytes()));
    if !state_ok {
        return Err(refused(
            "its `state` is missing or is not the pending login's (a forged or stale callback): refusing the code"
                .into(),
        ));
    }
    let (code, error, description, uri, iss) = (
        one("code")?,
        one("error")?,
        one("error_description")?,
        one("error_uri")?,
        one("iss")?,
    );
    match iss {
        None if pending.require_iss => {
            return Err(refused(format!(
                "it has no `iss`, but the provider `{}` advertises authorization_response_iss_parameter_supported (RFC 9207): refusing the code",
                pending.issuer
            )));
        }
        Some(iss) if iss != pending.issuer => {
            return Err(refused(format!(
                "its `iss` `{}` is not the provider's issuer `{}` (RFC 9207): refusing the code",
                super::error::clean(iss, 200),
                pending.issuer
            )));
        }
        _ => {}
    }
    if let Some(error) = error {
        return Err(OAuthError::provider("authorization endpoint", None, error, description, uri).into());
    }
    let Some(code) = code.filter(|c| !c.is_empty()) else {
        return Err(refused("it carries neither a code nor an error".into()));
    };
    let code = SecretString::from(code.to_string());
    let token = client
        .exchange_code(
            code.expose_secret(),
            &pending.verifier,
            &pending.redirect_uri,
            pending.nonce.as_deref(),
        )
        .await?;
    // `exchange_code` verified the ID token; its claims are read from a second check
    // (the key set is cached, no request).
    let claims = match &token.id_token {
        Some(raw) => Some(
            client
                .verify_id_token(
                    raw.expose(),
                    pending.nonce.as_deref(),
                    Some(token.access_token.expose()),
                )
                .await?,
        ),
        None => None,
    };
    Ok(WebLoginOutcome { token, claims })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::oauth::{ClientConfig, OAuthHttp, ProviderMetadata};

    fn client(require_iss: bool) -> OAuthClient {
        let meta: ProviderMetadata = serde_json::from_value(serde_json::json!({
            "issuer": "https://idp.example",
            "authorization_endpoint": "https://idp.example/auth",
            // Nothing listens there: a code that passed the checks fails at transport.
            "token_endpoint": "http://127.0.0.1:9/token",
            "authorization_response_iss_parameter_supported": require_iss,
        }))
        .unwrap();
        let mut cfg = ClientConfig::confidential("web", "s3cret-web");
        cfg.scopes = vec!["openid".into()];
        OAuthClient::new(cfg, Arc::new(meta), OAuthHttp::default_client().unwrap())
    }

    #[tokio::test]
    async fn pending_round_trips_and_hides_the_verifier() {
        let c = client(true);
        let (url, p) = start(&c, "https://app.example/cb", None, None).await.unwrap();
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["state"], p.state());
        assert_eq!(q["redirect_uri"], "https://app.example/cb");
        assert_eq!(q["code_challenge"], pkce_challenge(&p.verifier));
        assert_eq!(q["nonce"], p.nonce.clone().unwrap());
        let back = PendingLogin::from_json(&p.to_json()).unwrap();
        assert_eq!(back.verifier, p.verifier);
        assert!(!format!("{p:?}").contains(&p.verifier));
        assert!(!format!("{p:?}").contains(&p.state));
        assert!(PendingLogin::from_json("{}").is_err());
        assert!(PendingLogin::from_json(r#"{"v":"other"}"#).is_err());
    }

    #[tokio::test]
    async fn the_callback_is_checked_before_the_code_is_used() {
        let c = client(true);
        let (_, p) = start(&c, "https://app.example/cb", None, Some("a-nonce-of-enough-length"))
            .await
            .unwrap();
        let st = p.state().to_string();
        let iss = "https://idp.example";
        let age = std::time::Duration::from_secs(300);
        let cases: Vec<(String, &str)> = vec![
            (format!("/cb?code=c&iss={iss}"), "state"),
            (format!("/cb?code=c&state=wrong&iss={iss}"), "state"),
            (format!("/cb?code=c&state={st}&state={st}&iss={iss}"), "repeated"),
            (format!("/cb?code=c&state={st}"), "RFC 9207"),
            (format!("/cb?code=c&state={st}&iss=https://evil.example"), "RFC 9207"),
            (format!("/cb?error=access_denied&state={st}&iss={iss}"), "access_denied"),
            (format!("/cb?state={st}&iss={iss}"), "neither"),
        ];
        for (cb, want) in cases {
            let err = finish(&c, &p, &callback_params(&cb), age).await.unwrap_err();
            assert!(err.to_string().contains(want), "{cb}: {err}");
            assert_ne!(err.kind(), ErrorKind::Transport, "{cb}: the code was not sent");
        }
        // All checks passed: the exchange is attempted (and fails on the closed port).
        let ok = format!("https://app.example/cb?code=c&state={st}&iss={iss}");
        let err = finish(&c, &p, &callback_params(&ok), age).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
        // Too old.
        let mut old = p.clone();
        old.created -= 10;
        let err2 = finish(&c, &old, &callback_params(&ok), std::time::Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(err2.kind(), ErrorKind::LoginRequired, "{err2}");
        // Another client's pending login.
        let other = OAuthClient::new(
            ClientConfig::public("other"),
            Arc::new(c.metadata().clone()),
            OAuthHttp::default_client().unwrap(),
        );
        let err = finish(&other, &p, &callback_params(&ok), age).await.unwrap_err();
        assert!(err.to_string().contains("not this session's client"), "{err}");
    }

    #[tokio::test]
    async fn a_pending_login_ages_by_the_client_clock() {
        let clock = crate::token::ManualClock::new(1_000_000_000);
        let c = client(true).with_clock(Arc::new(clock.clone()));
        let (_, p) = start(&c, "https://app.example/cb", None, None).await.unwrap();
        assert_eq!(p.created, 1_000_000_000, "started at the client's clock reading");
        let ok = format!("code=c&state={}&iss=https://idp.example", p.state());
        let age = std::time::Duration::from_secs(300);
        clock.advance(300);
        let err = finish(&c, &p, &callback_params(&ok), age).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport, "still young enough: {err}");
        clock.advance(1);
        let err = finish(&c, &p, &callback_params(&ok), age).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LoginRequired, "too old by the clock: {err}");
    }

    #[tokio::test]
    async fn without_rfc9207_a_callback_without_iss_is_accepted() {
        let c = client(false);
        let (_, p) = start(&c, "https://app.example/cb", None, None).await.unwrap();
        let cb = format!("code=c&state={}", p.state());
        let err = finish(&c, &p, &callback_params(&cb), DEFAULT_MAX_AGE)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    }

    #[tokio::test]
    async fn short_or_bad_inputs_are_config_errors() {
        let c = client(false);
        assert!(start(&c, "not a url", None, None).await.is_err());
        assert!(start(&c, "https://app.example/cb#frag", None, None).await.is_err());
        assert!(start(&c, "https://app.example/cb", Some("short"), None).await.is_err());
    }
}
