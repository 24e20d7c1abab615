//! The HTTP client of the OAuth layer: the adapter that lets the `oauth2` and
//! `openidconnect` crates run on sesame's reqwest 0.13 (they would otherwise pull a second
//! reqwest), plus the few JSON requests those crates do not cover.
//!
//! Every call has the profile's timeouts, follows no redirects (an authorization server
//! that redirects a token request is misconfigured or hostile), verifies TLS with the
//! profile's roots, and reads at most [`MAX_BODY`] of any reply (docs/session-rules.md#timeouts-and-size-caps).
//!
//! Retries follow the session's [`RetryPolicy`]: GETs (discovery, JWKS, WebFinger,
//! userinfo) like any idempotent request; POSTs (token, introspection, revocation,
//! registration) only when the server cannot have acted on them — the connection was never
//! made, or 503/429 *with* `Retry-After` — because a token request may not be repeatable
//! (single-use codes, rotating refresh tokens whose replay revokes the grant). See
//! [`RetryPolicy::classify_token_post`]. The timeout bounds each call as a whole,
//! retries included.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use super::OAuthError;
use crate::redact::{SecretMask, redact_url};
use crate::tls::TlsOptions;
use crate::transport::retry::RetryPolicy;
use crate::{Error, ErrorKind, Result};

/// Largest body read from an authorization server, discovery or JWKS endpoint.
pub const MAX_BODY: usize = 1024 * 1024;

/// An HTTP client for authorization servers. Cheap to clone.
#[derive(Clone, Debug)]
pub struct OAuthHttp {
    client: reqwest::Client,
    timeout: Duration,
    retry: RetryPolicy,
    /// [`TlsOptions::fingerprint`] of the client: the process-wide discovery and JWKS
    /// caches are keyed by it (with the URL).
    tls_id: std::sync::Arc<str>,
}

/// A transport failure of the OAuth client, with the sesame error kind it maps to.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
#[doc(hidden)]
pub struct HttpFailure {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
}

/// A reply read under the size cap.
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body (at most [`MAX_BODY`]).
    pub body: Vec<u8>,
    /// The secrets the request sent: masked in every error built from this reply.
    pub(crate) mask: SecretMask,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body of a token reply holds access, refresh and ID tokens: only its size.
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("content_type", &self.media_type())
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Reply {
    /// A reply (for parsers and tests; replies from the network come from [`OAuthHttp::send`]).
    pub fn new(status: StatusCode, headers: HeaderMap, body: Vec<u8>) -> Self {
        Reply {
            status,
            headers,
            body,
            mask: SecretMask::new(),
        }
    }

    /// The body's summary for a message, with the request's secrets masked (before the
    /// summary, which may wrap or cut a long value, and after it, which may unescape one).
    pub(crate) fn summary(&self) -> String {
        let ct = self.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let body = self.mask.mask_bytes(&self.body);
        self.mask.mask(&crate::message::summarize(ct, &body))
    }

    /// The media type, lower-case, without parameters.
    pub fn media_type(&self) -> String {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase())
            .unwrap_or_default()
    }

    /// Whether the body is declared as JSON.
    pub fn is_json(&self) -> bool {
        let m = self.media_type();
        m == "application/json" || m.ends_with("+json")
    }
}

impl OAuthHttp {
    /// A client with these TLS options and timeouts.
    pub fn new(tls: &TlsOptions, timeout: Duration, connect_timeout: Duration) -> Result<Self> {
        let b = reqwest::Client::builder()
            .user_agent(crate::USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            // Calls to a provider are minutes apart (a login, a refresh): an idle pooled
            // connection would be closed by the server's keep-alive timer just as it is
            // reused ("connection reset"). Keep them only briefly.
            .pool_idle_timeout(Duration::from_secs(2));
        let b = tls.apply(b)?;
        let client = b
            .build()
            .map_err(|e| Error::config(format!("cannot build the OAuth HTTP client: {}", e.without_url())))?;
        Ok(OAuthHttp {
            client,
            timeout,
            retry: RetryPolicy::default(),
            tls_id: tls.fingerprint().into(),
        })
    }

    /// The same client with another retry policy.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Which trust this client verifies servers with ([`TlsOptions::fingerprint`]).
    pub fn tls_identity(&self) -> &str {
        &self.tls_id
    }

    /// Default TLS, 30 s timeout, 10 s connect timeout.
    pub fn default_client() -> Result<Self> {
        Self::new(&TlsOptions::default(), Duration::from_secs(30), Duration::from_secs(10))
    }

    /// Sends a request and reads the reply under the cap. The values of sensitive headers
    /// are masked in errors built from the reply.
    pub async fn send(&self, method: Method, url: &Url, headers: HeaderMap, body: Option<Vec<u8>>) -> Result<Reply> {
        self.send_masked(method, url, headers, body, SecretMask::new()).await
    }

    /// [`send`](Self::send), also masking `mask` (the secrets in the body) in errors built
    /// from the reply.
    pub(crate) async fn send_masked(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
        mut mask: SecretMask,
    ) -> Result<Reply> {
        mask.add_headers(&headers);
        tracing::debug!(method = %method, url = %redact_url(url), "oauth request");
        let body = body.map(Bytes::from);
        let deadline = tokio::time::Instant::now().checked_add(self.timeout);
        let idempotent = RetryPolicy::is_idempotent(&method);
        let what = format!("{method} {}", redact_url(url));
        let mut resp = self
            .retry
            .run(
                &what,
                deadline,
                |_| {
                    let mut rb = self
                        .client
                        .request(method.clone(), url.clone())
                        .headers(headers.clone());
                    if let Some(b) = &body {
                        rb = rb.body(b.clone());
                    }
                    if let Some(d) = deadline {
                        rb = rb.timeout(d.saturating_duration_since(tokio::time::Instant::now()));
                    }
                    rb.send()
                },
                |outcome| {
                    if idempotent {
                        self.retry.classify(&method, false, outcome)
                    } else {
                        self.retry.classify_token_post(outcome)
                    }
                },
            )
            .await
            .map_err(|e| Error::from_reqwest(e, method.as_str(), url))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        if resp.content_length().is_some_and(|l| l > MAX_BODY as u64) {
            return Err(OAuthError::Malformed {
                endpoint: redact_url(url),
                message: format!(
                    "reply of {} bytes exceeds the 1 MiB limit",
                    resp.content_length().unwrap_or(0)
                ),
            }
            .into());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| Error::from_reqwest(e, method.as_str(), url))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(OAuthError::Malformed {
                    endpoint: redact_url(url),
                    message: "reply exceeds the 1 MiB limit".into(),
                }
                .into());
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(status = status.as_u16(), url = %redact_url(url), bytes = body.len(), "oauth reply");
        Ok(Reply {
            status,
            headers,
            body,
            mask,
        })
    }

    /// GETs a JSON document (discovery, JWKS, WebFinger, userinfo) and parses it strictly.
    /// `what` names the document in errors.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &Url, bearer: Option<&str>, what: &str) -> Result<T> {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/json, application/jrd+json;q=0.9"),
        );
        if let Some(t) = bearer {
            let mut v = HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|_| Error::config("token is not a valid header value"))?;
            v.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, v);
        }
        let reply = self.send(Method::GET, url, headers, None).await?;
        parse_json_reply(&reply, url, what)
    }
}

/// Parses a JSON reply, turning non-2xx statuses and non-JSON bodies into clear errors.
pub(crate) fn parse_json_reply<T: DeserializeOwned>(reply: &Reply, url: &Url, what: &str) -> Result<T> {
    let endpoint = format!("{what} {}", redact_url(url));
    if !reply.status.is_success() {
        return Err(status_error(reply, &endpoint).into());
    }
    require_json(reply, &endpoint)?;
    serde_json::from_slice(&reply.body).map_err(|e| {
        OAuthError::Malformed {
            endpoint,
            message: format!(
                "JSON does not match the expected document: {}",
                super::error::clean(&e.to_string(), 300)
            ),
        }
        .into()
    })
}

fn looks_json(reply: &Reply) -> bool {
    reply.is_json()
        || (reply.media_type().is_empty() && reply.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'))
}

fn not_json(reply: &Reply, endpoint: String) -> OAuthError {
    let mt = reply.media_type();
    // An HTML page is safe to summarize (it is a login or error page); other bodies may
    // carry secrets in an unexpected form, so only their type and size are shown.
    let detail = if mt == "text/html" || mt == "text/plain" {
        reply.summary()
    } else {
        format!(
            "[{} bytes of {}]",
            reply.body.len(),
            if mt.is_empty() { "unknown type" } else { &mt }
        )
    };
    OAuthError::Malformed {
        endpoint,
        message: format!(
            "expected JSON, got {}: {detail}",
            if mt.is_empty() { "no Content-Type" } else { &mt }
        ),
    }
    .masked(&reply.mask)
}

/// The error for a reply with a status ≥ 300: the provider's OAuth error if the body is
/// one, else the status with a summary of the body.
pub(crate) fn status_error(reply: &Reply, endpoint: &str) -> OAuthError {
    provider_error(reply, endpoint).unwrap_or_else(|| OAuthError::Malformed {
        endpoint: endpoint.to_string(),
        message: format!("HTTP {}: {}", reply.status.as_u16(), reply.summary()),
    })
}

/// Errors unless the reply is JSON (declared, or a bare object without a content type).
pub(crate) fn require_json(reply: &Reply, endpoint: &str) -> Result<()> {
    if looks_json(reply) {
        Ok(())
    } else {
        Err(not_json(reply, endpoint.to_string()).into())
    }
}

/// An RFC 6749 §5.2 error body, if the reply is one.
pub(crate) fn provider_error(reply: &Reply, endpoint: &str) -> Option<OAuthError> {
    #[derive(serde::Deserialize)]
    struct ErrBody {
        error: String,
        error_description: Option<String>,
        error_uri: Option<String>,
    }
    let b: ErrBody = serde_json::from_slice(&reply.body).ok()?;
    Some(
        OAuthError::provider(
            endpoint,
            Some(reply.status.as_u16()),
            &b.error,
            b.error_description.as_deref(),
            b.error_uri.as_deref(),
        )
        .masked(&reply.mask),
    )
}

impl<'c> AsyncHttpClient<'c> for OAuthHttp {
    type Error = HttpFailure;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<HttpResponse, HttpFailure>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = Url::parse(&parts.uri.to_string()).map_err(|e| HttpFailure {
                kind: ErrorKind::Config,
                message: format!("invalid endpoint URL: {e}"),
            })?;
            let reply = self
                .send(parts.method, &url, parts.headers, Some(body))
                .await
                .map_err(|e| HttpFailure {
                    kind: e.kind(),
                    message: e.to_string(),
                })?;
            // oauth2 insists on application/json; give a clear message for HTML instead of
            // its generic one.
            if !looks_json(&reply) && reply.body.iter().any(|b| !b.is_ascii_whitespace()) {
                let e = not_json(&reply, format!("token endpoint {}", redact_url(&url)));
                return Err(HttpFailure {
                    kind: ErrorKind::OAuth,
                    message: e.to_string(),
                });
            }
            let mut builder = oauth2::http::Response::builder().status(reply.status);
            for (k, v) in reply.headers.iter() {
                builder = builder.header(k, v);
            }
            // A JSON body without a JSON content type (some providers) is labelled, so
            // that oauth2's own check passes.
            if !reply.is_json() {
                builder = builder.header(CONTENT_TYPE, "application/json");
            }
            builder.body(reply.body).map_err(|e| HttpFailure {
                kind: ErrorKind::Transport,
                message: e.to_string(),
            })
        })
    }
}
