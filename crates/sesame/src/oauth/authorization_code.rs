//! The authorization code grant for a native app ([RFC 6749 §4.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1),
//! [RFC 8252](https://www.rfc-editor.org/rfc/rfc8252)) with PKCE S256
//! ([RFC 7636](https://www.rfc-editor.org/rfc/rfc7636)), `state` and `nonce`.
//!
//! [`BrowserLogin::start`] binds the loopback listener (see [`super::loopback`]) and builds
//! the authorization URL; the caller shows it and opens a browser; [`BrowserLogin::finish`]
//! waits for the redirect and exchanges the code (the ID token, `nonce` included, is
//! verified by [`OAuthClient::exchange_code`]). The caller bounds the wait with its own
//! timeout; dropping the future closes the listener.
//!
//! The authorization request carries `response_type=code`, `client_id`, `redirect_uri`,
//! `scope`, `state` (32 random bytes), `nonce` (with `openid`), `code_challenge` +
//! `code_challenge_method=S256` (the verifier: 32 random bytes, never `plain`), each
//! configured `audience` (and `resource` when the profile says so: providers fix the
//! audience of a user flow at this step), and `prompt=consent` when `offline_access` is
//! requested (OpenID Connect Core §11 makes it the condition for offline access).

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use url::Url;

use super::OAuthClient;
use super::landing::LandingPages;
use super::loopback::{CallbackCheck, LoopbackListener};
use super::pkce::random_token;
use crate::token::Token;
use crate::{ErrorKind, Result};

/// The S256 code challenge of a PKCE verifier: `BASE64URL(SHA256(verifier))`.
pub fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A browser login in progress: the listener is bound and the URL is ready to be opened.
pub struct BrowserLogin {
    url: Url,
    listener: LoopbackListener,
    state: SecretString,
    nonce: Option<SecretString>,
    verifier: SecretString,
    pages: LandingPages,
    issuer: String,
    require_iss: bool,
}

impl std::fmt::Debug for BrowserLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserLogin")
            .field("redirect_uri", &self.listener.redirect_uri())
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl BrowserLogin {
    /// Binds the loopback listener for `redirect_uri` (trying `ports` when given) and
    /// builds the authorization URL for `client`.
    pub async fn start(client: &OAuthClient, redirect_uri: &str, ports: &[u16], pages: LandingPages) -> Result<Self> {
        // Check the endpoint before binding anything.
        let endpoint = client.named_endpoint("authorization_endpoint")?;
        let listener = LoopbackListener::bind(redirect_uri, ports).await?;
        let state = SecretString::from(random_token(32));
        let verifier = SecretString::from(random_token(32));
        let wants_openid = client.config().scopes.iter().any(|s| s == "openid");
        let nonce = wants_openid.then(|| SecretString::from(random_token(32)));
        let url = authorization_url(
            client,
            endpoint,
            listener.redirect_uri(),
            state.expose_secret(),
            nonce.as_ref().map(|n| n.expose_secret()),
            &pkce_challenge(verifier.expose_secret()),
        );
        // RFC 9126: pushed first when the profile or the provider asks for it.
        let url = super::par::authorization_url(client, url).await?;
        Ok(BrowserLogin {
            url,
            listener,
            state,
            nonce,
            verifier,
            pages,
            issuer: client.metadata().issuer.clone(),
            require_iss: client.metadata().authorization_response_iss_parameter_supported,
        })
    }

    /// The URL to open in a browser. It holds no secret (the verifier stays here; `state`
    /// and `nonce` are single-use values the browser must see anyway).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The redirect URI (with the bound port).
    pub fn redirect_uri(&self) -> &str {
        self.listener.redirect_uri()
    }

    /// Waits for the redirect, then exchanges the code (PKCE verifier, redirect URI) and
    /// verifies the ID token with the `nonce`. Unbounded: wrap it in a timeout.
    pub async fn finish(self, client: &OAuthClient) -> Result<Token> {
        let redirect_uri = self.listener.redirect_uri().to_string();
        let code = self
            .listener
            .wait(CallbackCheck {
                state: self.state,
                issuer: self.issuer,
                require_iss: self.require_iss,
                pages: self.pages,
            })
            .await?;
        let nonce = self.nonce.as_ref().map(|n| n.expose_secret());
        let verifier = self.verifier.expose_secret();
        match client
            .exchange_code(code.expose(), verifier, &redirect_uri, nonce)
            .await
        {
            // The pooled connection from discovery sat idle while the person logged in and
            // the provider may have closed it just as it was reused (keep-alive race): one
            // retry on a fresh connection. Safe for a single-use code: had the provider
            // used it, the retry fails with `invalid_grant`.
            Err(e) if e.kind() == ErrorKind::Transport => {
                tracing::debug!(error = %e, "code exchange failed on the connection; retrying once");
                client
                    .exchange_code(code.expose(), verifier, &redirect_uri, nonce)
                    .await
            }
            other => other,
        }
    }
}

/// The authorization request URL (all parameters in the query of `endpoint`, whose own
/// query is kept).
pub fn authorization_url(
    client: &OAuthClient,
    mut endpoint: Url,
    redirect_uri: &str,
    state: &str,
    nonce: Option<&str>,
    code_challenge: &str,
) -> Url {
    let cfg = client.config();
    {
        let mut q = endpoint.query_pairs_mut();
        q.append_pair("response_type", "code");
        q.append_pair("client_id", &cfg.client_id);
        q.append_pair("redirect_uri", redirect_uri);
        if !cfg.scopes.is_empty() {
            q.append_pair("scope", &cfg.scopes.join(" "));
        }
        q.append_pair("state", state);
        if let Some(n) = nonce {
            q.append_pair("nonce", n);
        }
        q.append_pair("code_challenge", code_challenge);
        q.append_pair("code_challenge_method", "S256");
        for a in &cfg.audience {
            q.append_pair("audience", a);
            if cfg.resource {
                q.append_pair("resource", a);
            }
        }
        if cfg.scopes.iter().any(|s| s == "offline_access") {
            q.append_pair("prompt", "consent");
        }
    }
    endpoint
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::oauth::{ClientConfig, OAuthHttp, ProviderMetadata};

    #[test]
    fn rfc7636_appendix_b_challenge() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[tokio::test]
    async fn the_url_carries_every_parameter() {
        let mut cfg = ClientConfig::public("cli");
        cfg.scopes = vec!["openid".into(), "offline_access".into()];
        cfg.audience = vec!["https://api.example".into()];
        cfg.resource = true;
        let meta = ProviderMetadata {
            issuer: "https://idp.example".into(),
            authorization_endpoint: Some("https://idp.example/auth?tenant=t1".into()),
            ..Default::default()
        };
        let client = OAuthClient::new(cfg, Arc::new(meta), OAuthHttp::default_client().unwrap());
        let login = BrowserLogin::start(&client, "http://127.0.0.1:0/callback", &[], LandingPages::builtin())
            .await
            .unwrap();
        let q: HashMap<String, String> = login.url().query_pairs().into_owned().collect();
        assert_eq!(q["tenant"], "t1");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "cli");
        assert_eq!(q["redirect_uri"], login.redirect_uri());
        assert_eq!(q["scope"], "openid offline_access");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], pkce_challenge(login.verifier.expose_secret()));
        assert_eq!(q["audience"], "https://api.example");
        assert_eq!(q["resource"], "https://api.example");
        assert_eq!(q["prompt"], "consent");
        assert!(q["state"].len() >= 43 && q["nonce"].len() >= 43);
        assert_ne!(q["state"], q["nonce"]);
        let dbg = format!("{login:?}");
        assert!(
            !dbg.contains(&q["state"]) && !dbg.contains(login.verifier.expose_secret()),
            "{dbg}"
        );
    }

    /// The whole flow against a fake provider whose token endpoint resets the first
    /// connection (the keep-alive race): the exchange is retried once and succeeds.
    #[tokio::test]
    async fn callback_then_exchange_survives_a_reset_connection() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", server.local_addr().unwrap().port());
        let hits = Arc::new(AtomicUsize::new(0));
        let seen = hits.clone();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = server.accept().await.unwrap();
                let mut buf = vec![0u8; 8192];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                    s.set_zero_linger().unwrap();
                    drop(s); // RST after the request arrived
                    continue;
                }
                assert!(
                    req.contains("grant_type=authorization_code") && req.contains("code_verifier="),
                    "{req}"
                );
                let body = r#"{"access_token":"at-1","token_type":"Bearer","expires_in":60}"#;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            }
        });
        let meta = ProviderMetadata {
            issuer: base.clone(),
            authorization_endpoint: Some(format!("{base}/auth")),
            token_endpoint: Some(format!("{base}/token")),
            ..Default::default()
        };
        let client = OAuthClient::new(
            ClientConfig::public("cli"),
            Arc::new(meta),
            OAuthHttp::default_client().unwrap(),
        );
        let login = BrowserLogin::start(&client, "http://127.0.0.1:0/callback", &[], LandingPages::builtin())
            .await
            .unwrap();
        let q: HashMap<String, String> = login.url().query_pairs().into_owned().collect();
        let callback = format!("{}?code=c-1&state={}&iss={}", login.redirect_uri(), q["state"], base);
        let browser = tokio::spawn(async move {
            let r = reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap()
                .get(callback)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        });
        let token = login.finish(&client).await.unwrap();
        assert_eq!(token.access_token.expose(), "at-1");
        assert_eq!(browser.await.unwrap(), 200);
        assert_eq!(hits.load(Ordering::SeqCst), 2, "one reset, one retry");
    }

    /// RFC 9207: a provider whose metadata sets `authorization_response_iss_parameter_supported`
    /// always sends `iss`; a callback without it (or with another issuer) is refused and its
    /// code never reaches the token endpoint. The bundled provider sets the flag and the
    /// real browser login still works (`sesame-cli/tests/login.rs`).
    #[tokio::test]
    async fn provider_advertising_rfc9207_requires_iss_in_the_callback() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", server.local_addr().unwrap().port());
        let exchanges = Arc::new(AtomicUsize::new(0));
        let seen = exchanges.clone();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = server.accept().await.unwrap();
                let mut buf = vec![0u8; 8192];
                let _ = s.read(&mut buf).await;
                seen.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"access_token":"at-9207","token_type":"Bearer","expires_in":60}"#;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            }
        });
        let meta: ProviderMetadata = serde_json::from_value(serde_json::json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/auth"),
            "token_endpoint": format!("{base}/token"),
            "authorization_response_iss_parameter_supported": true,
        }))
        .unwrap();
        let client = OAuthClient::new(
            ClientConfig::public("cli"),
            Arc::new(meta),
            OAuthHttp::default_client().unwrap(),
        );
        let browser = reqwest::Client::builder().no_proxy().build().unwrap();
        let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        for (iss, ok) in [
            (None, false),
            (Some("https://evil.example"), false),
            (Some(base.as_str()), true),
        ] {
            let login = BrowserLogin::start(&client, "http://127.0.0.1:0/callback", &[], LandingPages::builtin())
                .await
                .unwrap();
            let q: HashMap<String, String> = login.url().query_pairs().into_owned().collect();
            let mut callback = format!("{}?code=c-9207&state={}", login.redirect_uri(), enc(&q["state"]));
            if let Some(i) = iss {
                callback.push_str(&format!("&iss={}", enc(i)));
            }
            let b = browser.clone();
            let page = tokio::spawn(async move { b.get(callback).send().await.unwrap().text().await.unwrap() });
            let before = exchanges.load(Ordering::SeqCst);
            let result = login.finish(&client).await;
            let page = page.await.unwrap();
            if ok {
                assert_eq!(result.unwrap().access_token.expose(), "at-9207");
                assert_eq!(exchanges.load(Ordering::SeqCst), before + 1);
            } else {
                let err = result.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::OAuth, "{err}");
                assert!(err.to_string().contains("RFC 9207"), "{iss:?}: {err}");
                assert!(page.contains("invalid_issuer"), "{page}");
                assert_eq!(exchanges.load(Ordering::SeqCst), before, "the code was not exchanged");
            }
        }
        // Without the flag, a callback without `iss` is accepted (providers before RFC 9207).
        let mut plain = (*client.metadata()).clone();
        plain.authorization_response_iss_parameter_supported = false;
        let client = OAuthClient::new(
            ClientConfig::public("cli"),
            Arc::new(plain),
            OAuthHttp::default_client().unwrap(),
        );
        let login = BrowserLogin::start(&client, "http://127.0.0.1:0/callback", &[], LandingPages::builtin())
            .await
            .unwrap();
        let q: HashMap<String, String> = login.url().query_pairs().into_owned().collect();
        let callback = format!("{}?code=c-old&state={}", login.redirect_uri(), enc(&q["state"]));
        tokio::spawn(async move { browser.get(callback).send().await.map(|_| ()) });
        assert!(login.finish(&client).await.is_ok());
    }

    #[tokio::test]
    async fn no_authorization_endpoint_is_a_clear_error() {
        let meta = ProviderMetadata::explicit("https://idp.example");
        let client = OAuthClient::new(
            ClientConfig::public("cli"),
            Arc::new(meta),
            OAuthHttp::default_client().unwrap(),
        );
        let err = BrowserLogin::start(&client, "http://127.0.0.1:0/callback", &[], LandingPages::builtin())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("authorization_endpoint"), "{err}");
    }
}
