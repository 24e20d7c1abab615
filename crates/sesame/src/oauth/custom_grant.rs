//! A custom JSON grant, for token services that are not OAuth token endpoints — like the
//! ITk production database's `grantToken`, which takes a JSON body with two access codes
//! and answers with a JSON document holding the bearer token. The endpoint, the body and
//! which member of the reply is the token are configurable; the transport rules (TLS, no
//! redirects, timeouts, 1 MiB cap, errors that never quote the body) are sesame's.

use std::fmt;

use async_trait::async_trait;
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::Value;
use url::Url;

use super::OAuthError;
use super::http::{OAuthHttp, provider_error};
use crate::redact::redact_url;
use crate::secret::{AccessToken, RefreshToken};
use crate::token::{Clock, Grant, SystemClock, Token};
use crate::{Error, Result};

/// Reads the body when a token must be obtained (its secrets come from files or variables).
type ReadBody = std::sync::Arc<dyn Fn() -> Result<Value> + Send + Sync>;

/// The body to send: given whole, or read when it is needed, so that a cached token is
/// usable without the access codes at hand (as with the password grant).
#[derive(Clone)]
enum Body {
    Fixed(Value),
    Deferred(ReadBody),
}

/// A JSON grant: POST `body` to `endpoint`, read the token at `token_pointer`.
#[derive(Clone)]
pub struct CustomJsonGrant {
    http: OAuthHttp,
    endpoint: Url,
    body: Body,
    token_pointer: String,
    expires_in_pointer: Option<String>,
    expires_at_pointer: Option<String>,
    /// The clock that dates the tokens (and bounds a reply's `expires_at`).
    clock: std::sync::Arc<dyn Clock>,
}

impl fmt::Debug for CustomJsonGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body carries secrets (access codes, passwords): never shown.
        f.debug_struct("CustomJsonGrant")
            .field("endpoint", &redact_url(&self.endpoint))
            .field("token_pointer", &self.token_pointer)
            .finish_non_exhaustive()
    }
}

impl CustomJsonGrant {
    /// A grant posting `body` (already holding its secrets) to `endpoint`; the token is the
    /// string at JSON pointer `token_pointer` (RFC 6901, e.g. `/id_token`) of the reply.
    pub fn new(http: OAuthHttp, endpoint: Url, body: Value, token_pointer: impl Into<String>) -> Self {
        CustomJsonGrant {
            http,
            endpoint,
            body: Body::Fixed(body),
            token_pointer: token_pointer.into(),
            expires_in_pointer: None,
            expires_at_pointer: None,
            clock: std::sync::Arc::new(SystemClock),
        }
    }

    /// [`CustomJsonGrant::new`] with a body read by `read` each time a token is obtained
    /// (never for a cached token).
    pub fn deferred(
        http: OAuthHttp,
        endpoint: Url,
        read: impl Fn() -> Result<Value> + Send + Sync + 'static,
        token_pointer: impl Into<String>,
    ) -> Self {
        let mut g = Self::new(http, endpoint, Value::Null, token_pointer);
        g.body = Body::Deferred(std::sync::Arc::new(read));
        g
    }

    /// Where the reply says how many seconds the token lives (`/expires_in`).
    pub fn expires_in_at(mut self, pointer: impl Into<String>) -> Self {
        self.expires_in_pointer = Some(pointer.into());
        self
    }

    /// Where the reply says when the token expires, Unix seconds (`/expires_at`).
    pub fn expires_at_at(mut self, pointer: impl Into<String>) -> Self {
        self.expires_at_pointer = Some(pointer.into());
        self
    }

    /// Dates the tokens by `clock` (tests: controlled time).
    pub fn with_clock(mut self, clock: std::sync::Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn label(&self) -> String {
        format!("token service {}", redact_url(&self.endpoint))
    }
}

fn mask_strings(v: &Value, mask: &mut crate::redact::SecretMask) {
    match v {
        Value::String(s) => mask.add(s),
        Value::Array(a) => a.iter().for_each(|x| mask_strings(x, mask)),
        Value::Object(o) => o.values().for_each(|x| mask_strings(x, mask)),
        _ => {}
    }
}

#[async_trait]
impl Grant for CustomJsonGrant {
    async fn obtain(&self) -> Result<Token> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let value = match &self.body {
            Body::Fixed(v) => v.clone(),
            Body::Deferred(read) => read()?,
        };
        let body = serde_json::to_vec(&value).map_err(|e| Error::config(format!("grant body: {e}")))?;
        // Which members are secret is the service's business: every string sent is masked
        // in errors built from the reply.
        let mut mask = crate::redact::SecretMask::new();
        mask_strings(&value, &mut mask);
        let reply = self
            .http
            .send_masked(Method::POST, &self.endpoint, headers, Some(body), mask)
            .await?;
        if !reply.status.is_success() {
            if let Some(e) = provider_error(&reply, &self.label()) {
                return Err(e.into());
            }
            let summary = if reply.media_type().starts_with("text/") || reply.is_json() {
                reply.summary()
            } else {
                format!("[{} bytes]", reply.body.len())
            };
            return Err(OAuthError::Malformed {
                endpoint: self.label(),
                message: format!("HTTP {}: {summary}", reply.status.as_u16()),
            }
            .into());
        }
        let v: Value = serde_json::from_slice(&reply.body).map_err(|_| OAuthError::Malformed {
            endpoint: self.label(),
            message: "the reply is not JSON".into(),
        })?;
        let token = v
            .pointer(&self.token_pointer)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::Malformed {
                endpoint: self.label(),
                message: format!("no string token at `{}` in the reply", self.token_pointer),
            })?
            .to_string();
        let now = self.clock.now();
        let num = |p: &Option<String>| {
            p.as_deref().and_then(|p| v.pointer(p)).and_then(|x| {
                x.as_i64()
                    .or_else(|| x.as_f64().map(|f| f as i64))
                    .or_else(|| super::client::parse_seconds(x.as_str()?))
            })
        };
        // The same bounds as a token endpoint's reply: at most a year, and a time in the
        // past (or `expires_in` ≤ 0) means "expires now".
        let latest = now.saturating_add(super::client::MAX_EXPIRES_IN);
        let expires_at = match num(&self.expires_at_pointer) {
            Some(at) => at.clamp(now, latest),
            None => super::client::expiry(now, num(&self.expires_in_pointer), &token).unwrap_or(now),
        };
        Ok(Token {
            access_token: AccessToken::new(token),
            token_type: "Bearer".into(),
            expires_at: Some(expires_at),
            issued_at: now,
            refresh_token: None,
            id_token: None,
            scopes: vec![],
            issuer: Some(self.endpoint.origin().ascii_serialization()),
        })
    }

    async fn refresh(&self, _rt: &RefreshToken) -> Result<Token> {
        self.obtain().await
    }

    fn unattended(&self) -> bool {
        true
    }
}
