//! [`RequestBuilder`] and the send loop: scope check, credential attachment, redirects and
//! the single 401 retry.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use url::Url;

use super::http_cache::Lookup;
use super::redirect::{NextMethod, next_method};
use super::{RedirectPolicy, Response, Session};
use crate::credential::{AuthRequest, Rejection};
use crate::redact::{redact_headers, redact_url};
use crate::{Error, Result};

/// A request body. Bodies are kept as bytes so that a request can be resent after a 401
/// or a 307/308 redirect.
#[derive(Debug, Clone, Default)]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// Bytes, sent as they are.
    Bytes(Bytes),
}

/// A request being prepared. Built from [`Session::request`] and friends.
#[must_use = "a request does nothing until .send() is awaited"]
pub struct RequestBuilder {
    session: Session,
    method: Method,
    url: Result<Url>,
    headers: HeaderMap,
    body: Body,
    timeout: Option<Duration>,
    error: Option<Error>,
    error_for_status: Option<bool>,
    idempotent: bool,
    retries: Option<u32>,
}

impl std::fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("url", &self.url.as_ref().map(redact_url).ok())
            .field(
                "headers",
                &redact_headers(&self.headers, self.session.inner().credential_headers()),
            )
            .finish_non_exhaustive()
    }
}

impl RequestBuilder {
    pub(crate) fn new(session: Session, method: Method, url: Result<Url>) -> Self {
        RequestBuilder {
            session,
            method,
            url,
            headers: HeaderMap::new(),
            body: Body::Empty,
            timeout: None,
            error: None,
            error_for_status: None,
            idempotent: false,
            retries: None,
        }
    }

    fn fail(&mut self, e: Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Adds a header (kept on redirects within the origin; `Authorization`, `Cookie` and
    /// other credential-like headers set here are dropped on redirects that leave it).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            (Ok(n), Ok(mut v)) => {
                if self.session.inner().is_hand_set_credential_header(&n) {
                    v.set_sensitive(true);
                }
                self.headers.append(n, v);
            }
            (Err(_), _) => self.fail(Error::config(format!("`{name}` is not a valid header name"))),
            (_, Err(_)) => self.fail(Error::config(format!(
                "the value of header `{name}` has characters not allowed in a header"
            ))),
        }
        self
    }

    /// Adds typed headers.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        for (k, v) in headers.iter() {
            self.headers.append(k.clone(), v.clone());
        }
        self
    }

    /// Appends query parameters.
    pub fn query<T: Serialize + ?Sized>(mut self, query: &T) -> Self {
        if let Ok(url) = self.url.as_mut() {
            match serde_urlencoded::to_string(query) {
                Ok(q) if !q.is_empty() => {
                    let merged = match url.query() {
                        Some(existing) if !existing.is_empty() => format!("{existing}&{q}"),
                        _ => q,
                    };
                    url.set_query(Some(&merged));
                }
                Ok(_) => {}
                Err(e) => self.fail(Error::config(format!("cannot encode query parameters: {e}"))),
            }
        }
        self
    }

    /// A raw body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Body::Bytes(body.into());
        self
    }

    /// A JSON body (`Content-Type: application/json` unless set).
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(v) => {
                self.body = Body::Bytes(v.into());
                if !self.headers.contains_key(CONTENT_TYPE) {
                    self.headers
                        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
            }
            Err(e) => self.fail(Error::config(format!("cannot encode the JSON body: {e}"))),
        }
        self
    }

    /// A form body (`application/x-www-form-urlencoded`).
    pub fn form<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_urlencoded::to_string(value) {
            Ok(v) => {
                self.body = Body::Bytes(v.into());
                self.headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
            }
            Err(e) => self.fail(Error::config(format!("cannot encode the form body: {e}"))),
        }
        self
    }

    /// Total time for this request, overriding the session's.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Overrides the session's `error_for_status` for this request.
    pub fn error_for_status(mut self, on: bool) -> Self {
        self.error_for_status = Some(on);
        self
    }

    /// Marks a non-idempotent request (POST, PATCH) as safe to repeat, so that it is
    /// retried like a GET (e.g. an API that de-duplicates by an `Idempotency-Key`).
    pub fn idempotent(mut self, on: bool) -> Self {
        self.idempotent = on;
        self
    }

    /// Retries for this request, overriding the session's.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = Some(n);
        self
    }

    /// The URL this request will go to (after joining the base URL).
    pub fn url(&self) -> Option<&Url> {
        self.url.as_ref().ok()
    }

    /// Sends the request, following redirects per the session's policy.
    pub async fn send(self) -> Result<Response> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut url = self.url?;
        let session = self.session;
        let inner = session.inner();
        let mut method = self.method;
        let mut headers = self.headers;
        let mut body = self.body;
        let mut retried_after_401 = false;
        let mut hops = 0usize;
        let retry = match self.retries {
            Some(n) => inner.retry.clone().with_max_retries(n),
            None => inner.retry.clone(),
        };
        // The timeout bounds the whole call: retries, redirects and the 401 resend included.
        // The timeout the client applies to each attempt by itself: the session's, unless
        // this request has its own.
        let client_timeout = inner.timeout.filter(|_| self.timeout.is_none());
        let deadline = self
            .timeout
            .or(inner.timeout)
            .and_then(|t| tokio::time::Instant::now().checked_add(t));
        loop {
            let scoped = inner.covers(&url);
            let mut cred_headers = HeaderMap::new();
            let attachment = match (&inner.credential, scoped) {
                (Some(c), true) => {
                    let req = AuthRequest {
                        method: &method,
                        url: &url,
                    };
                    Some(c.attach(&req, &mut cred_headers).await?)
                }
                _ => None,
            };
            let client = if scoped {
                &inner.client_scoped
            } else {
                &inner.client_plain
            };
            if inner.insecure {
                tracing::warn!(target: "sesame::insecure", url = %redact_url(&url), "sending without TLS certificate verification (insecure = true)");
            }
            let mut all = headers.clone();
            for (k, v) in cred_headers.iter() {
                let mut v = v.clone();
                v.set_sensitive(true);
                all.insert(k.clone(), v);
            }
            // The response cache (GET): keyed by who is asking, so identities never share.
            let lookup = match &inner.http_cache {
                Some(cache) => {
                    let who = super::http_cache::identity(
                        attachment.as_ref().and(inner.credential.as_deref()),
                        &cred_headers,
                        &headers,
                        inner.credential_headers(),
                    );
                    cache.lookup(&method, &url, &headers, &who, inner.credential_headers())
                }
                None => Lookup::Bypass,
            };
            if let Lookup::Fresh(r) = lookup {
                tracing::debug!(url = %redact_url(&url), "served from the HTTP cache");
                return Ok(Response::new(r, method));
            }
            if let Some(c) = lookup.conditional_headers() {
                for (k, v) in c.iter() {
                    all.insert(k.clone(), v.clone());
                }
            }
            if tracing::enabled!(tracing::Level::DEBUG) {
                let mut cred_names: Vec<HeaderName> = cred_headers.keys().cloned().collect();
                cred_names.extend(inner.credential_headers().iter().cloned());
                tracing::debug!(
                    method = %method,
                    url = %redact_url(&url),
                    credential = scoped && attachment.is_some(),
                    headers = %redact_headers(&all, &cred_names),
                    "request"
                );
            }
            // Formatted (and the URL redacted) only when a retry is logged.
            let what = RequestLabel {
                method: &method,
                url: &url,
            };
            let resp = retry
                .run(
                    what,
                    deadline,
                    |_| {
                        let mut rb = client.request(method.clone(), url.clone()).headers(all.clone());
                        if let Body::Bytes(b) = &body {
                            rb = rb.body(b.clone());
                        }
                        if let Some(d) = deadline {
                            let left = d.saturating_duration_since(tokio::time::Instant::now());
                            // The client applies the session's timeout to every request by
                            // itself; a per-request timeout (which costs reqwest an extensions
                            // map and a timer re-registration per request) is set only when
                            // less than that is left (retries, redirects, the 401 resend, a
                            // slow token renewal) or the request has its own.
                            if client_timeout.is_none_or(|t| left + CLIENT_TIMEOUT_SLACK < t) {
                                rb = rb.timeout(left);
                            }
                        }
                        rb.send()
                    },
                    |outcome| retry.classify(&method, self.idempotent, outcome),
                )
                .await
                .map_err(|e| Error::from_reqwest(e, method.as_str(), &url))?;
            let status = resp.status();
            tracing::debug!(status = status.as_u16(), url = %redact_url(&url), "response");
            if let Some(cache) = &inner.http_cache {
                cache.invalidate_after(&method, &url, status, resp.headers());
            }
            if let Some(c) = attachment.as_ref().and(inner.credential.as_deref()) {
                crate::oauth::dpop::observe(c, &url, resp.headers());
            }

            if status == StatusCode::UNAUTHORIZED
                && !retried_after_401
                && let (Some(cred), Some(att)) = (&inner.credential, &attachment)
            {
                let challenge = resp
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let req = AuthRequest {
                    method: &method,
                    url: &url,
                };
                if cred.rejected(&req, att, challenge.as_deref()).await? == Rejection::Retry {
                    tracing::debug!(url = %redact_url(&url), "credential renewed after 401; resending once");
                    retried_after_401 = true;
                    continue;
                }
            }

            if status.is_redirection()
                && inner.redirect != RedirectPolicy::None
                && let Some(next) = redirect_target(&resp, &url)
            {
                let cross_origin = !same_origin(&url, &next);
                let allowed = match inner.redirect {
                    RedirectPolicy::None => false,
                    RedirectPolicy::SameOrigin => !cross_origin,
                    RedirectPolicy::All => true,
                };
                if let (true, Some(rule)) = (allowed, next_method(status, &method)) {
                    hops += 1;
                    if hops > inner.max_redirects {
                        return Err(Error::new(
                            crate::ErrorKind::Transport,
                            format!(
                                "{} {}: more than {} redirects; the server may be redirecting in a loop",
                                method,
                                redact_url(&url),
                                inner.max_redirects
                            ),
                        ));
                    }
                    if let NextMethod::Get = rule {
                        method = Method::GET;
                        body = Body::Empty;
                        headers.remove(CONTENT_TYPE);
                        headers.remove(reqwest::header::CONTENT_LENGTH);
                    }
                    if cross_origin {
                        // Hand-set credential headers stay with their origin (curl does
                        // the same for Authorization and Cookie).
                        let drop: Vec<HeaderName> = headers
                            .keys()
                            .filter(|k| inner.is_hand_set_credential_header(k))
                            .cloned()
                            .collect();
                        for k in drop {
                            headers.remove(&k);
                        }
                    }
                    tracing::debug!(
                        status = status.as_u16(),
                        from = %redact_url(&url),
                        to = %redact_url(&next),
                        cross_origin,
                        "following redirect"
                    );
                    url = next;
                    continue;
                }
            }

            let resp = match &inner.http_cache {
                Some(cache) => cache.complete(lookup, &method, &url, resp).await?,
                None => resp,
            };
            // Every credential this request carried (attached or hand-set) is masked in the
            // error built from the reply. Only the values are kept here (a refcount each);
            // the mask is worked out if an error is built.
            let sent: Vec<HeaderValue> = all
                .iter()
                .filter(|(k, v)| v.is_sensitive() || crate::redact::is_sensitive_header(k, &[]))
                .map(|(_, v)| v.clone())
                .collect();
            let response = Response::new(resp, method.clone()).with_sent_credentials(sent);
            let check = self.error_for_status.unwrap_or(inner.error_for_status);
            if check && status.as_u16() >= 400 {
                return Err(response.into_error().await);
            }
            return Ok(response);
        }
    }
}

fn redirect_target(resp: &reqwest::Response, current: &Url) -> Option<Url> {
    let loc = resp.headers().get(LOCATION)?.to_str().ok()?;
    let next = current.join(loc).ok()?;
    matches!(next.scheme(), "http" | "https").then_some(next)
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host() == b.host() && a.port_or_known_default() == b.port_or_known_default()
}

/// How much of the whole-call deadline may be gone before an attempt and still let the
/// client's own (session) timeout stand for the rest: the call then ends at most this much
/// after its deadline. Anything later (a retry, a redirect, the 401 resend, a slow token
/// renewal) gets exactly what is left.
const CLIENT_TIMEOUT_SLACK: Duration = Duration::from_millis(1);

/// `METHOD url` (redacted) for log lines, formatted only when one is written.
struct RequestLabel<'a> {
    method: &'a Method,
    url: &'a Url,
}

impl std::fmt::Display for RequestLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, redact_url(self.url))
    }
}
