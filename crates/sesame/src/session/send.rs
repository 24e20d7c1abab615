//! The send path of [`RequestBuilder::send`](super::RequestBuilder::send), one stage per
//! function, each at most 50 lines (`tests/send_path_size.rs` fails otherwise):
//!
//! ```text
//! for each hop:  attach (scope) → cache lookup → attempts (retry) → auth exchange (401)
//!                → redirect (redirect.rs) → cache store → status
//! ```
//!
//! A hop is one URL: the first, a redirect target, or the same URL resent once after a
//! 401. Every hop is judged afresh (scope, credential, cache), so a hop that leaves the
//! scope carries no credential header, whichever header the credential used.

use std::borrow::Cow;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use tokio::time::Instant;
use url::Url;

use super::clients::in_runtime;
use super::http_cache::{Lookup, identity};
use super::request::Body;
use super::{Inner, Response, RetryPolicy, redirect};
use crate::credential::exchange::{AuthExchange, challenge};
use crate::redact::{redact_headers, redact_url};
use crate::{Error, Result};

/// The request as it goes from hop to hop (a redirect may change each part).
pub(super) struct Parts {
    pub(super) method: Method,
    pub(super) url: Url,
    /// The caller's headers (credential headers are attached per hop, never kept here).
    pub(super) headers: HeaderMap,
    pub(super) body: Body,
}

/// What the caller asked of this request beyond the session's settings.
pub(super) struct Options {
    pub(super) timeout: Option<Duration>,
    pub(super) retries: Option<u32>,
    pub(super) idempotent: bool,
    pub(super) error_for_status: Option<bool>,
}

/// One call of `send`: every hop, attempt and resend of one request.
pub(super) struct Call<'s> {
    inner: &'s Inner,
    req: Parts,
    exchange: AuthExchange<'s>,
    retry: Cow<'s, RetryPolicy>,
    idempotent: bool,
    check_status: bool,
    /// The end of the whole call: retries, redirects and the 401 resend included.
    deadline: Option<Instant>,
    /// The timeout the client applies to each attempt by itself: the session's, unless
    /// this request has its own.
    client_timeout: Option<Duration>,
    hops: usize,
}

/// The credential headers attached to one hop.
struct Hop {
    scoped: bool,
    credential: HeaderMap,
}

/// How much of the whole-call deadline may be gone before an attempt and still let the
/// client's own (session) timeout stand for the rest: the call then ends at most this much
/// after its deadline. Anything later (a retry, a redirect, the 401 resend, a slow token
/// renewal) gets exactly what is left.
const CLIENT_TIMEOUT_SLACK: Duration = Duration::from_millis(1);

impl<'s> Call<'s> {
    pub(super) fn new(inner: &'s Inner, mut req: Parts, o: Options) -> Self {
        userinfo_to_basic(&mut req.url, &mut req.headers);
        let retry = match o.retries {
            Some(n) => Cow::Owned(inner.retry.clone().with_max_retries(n)),
            None => Cow::Borrowed(&inner.retry),
        };
        Call {
            inner,
            req,
            exchange: AuthExchange::new(inner.credential.as_deref(), inner.scope.as_ref()),
            retry,
            idempotent: o.idempotent,
            check_status: o.error_for_status.unwrap_or(inner.error_for_status),
            deadline: o.timeout.or(inner.timeout).and_then(|t| Instant::now().checked_add(t)),
            client_timeout: inner.timeout.filter(|_| o.timeout.is_none()),
            hops: 0,
        }
    }

    pub(super) async fn run(mut self) -> Result<Response> {
        loop {
            let hop = self.attach().await?;
            let lookup = self.cache_lookup(&hop);
            if let Lookup::Fresh(r) = lookup {
                tracing::debug!(url = %redact_url(&self.req.url), "served from the HTTP cache");
                return Ok(Response::new(r, self.req.method, self.req.url));
            }
            let resp = self.attempts(&hop, &lookup).await?;
            self.observe(&resp);
            if self.authenticate(&resp).await? {
                continue;
            }
            if redirect::follow(self.inner, &mut self.req, &mut self.hops, &resp)? {
                continue;
            }
            let resp = self.cache_store(lookup, resp).await?;
            return self.finish(hop, resp).await;
        }
    }

    /// Stage 1, scope and attach: the credential's headers when the hop is in scope.
    async fn attach(&mut self) -> Result<Hop> {
        if self.inner.insecure {
            tracing::warn!(target: "sesame::insecure", url = %redact_url(&self.req.url), "sending without TLS certificate verification (insecure = true)");
        }
        let mut credential = HeaderMap::new();
        let scoped = in_runtime(
            self.inner.credential_runtime.as_ref(),
            self.exchange.attach(&self.req.method, &self.req.url, &mut credential),
        )
        .await?;
        Ok(Hop { scoped, credential })
    }

    /// Stage 2, the response cache (GET): keyed by who is asking, so identities never share.
    fn cache_lookup(&self, hop: &Hop) -> Lookup {
        let Some(cache) = &self.inner.http_cache else {
            return Lookup::Bypass;
        };
        let who = identity(
            self.exchange.attached(),
            &hop.credential,
            &self.req.headers,
            self.inner.credential_headers(),
        );
        let r = &self.req;
        cache.lookup(&r.method, &r.url, &r.headers, &who, self.inner.credential_headers())
    }

    /// The headers of one attempt: the caller's, the credential's, the cache's conditional
    /// ones.
    fn outgoing(&self, hop: &Hop, lookup: &Lookup) -> HeaderMap {
        let mut all = self.req.headers.clone();
        for (k, v) in &hop.credential {
            all.insert(k.clone(), v.clone());
        }
        if let Some(c) = lookup.conditional_headers() {
            for (k, v) in c {
                all.insert(k.clone(), v.clone());
            }
        }
        all
    }

    /// Stage 3, the attempts under the retry policy. The first attempt takes the headers
    /// built for it; a retry builds them again (rare) rather than every request paying
    /// for a copy kept in case.
    async fn attempts(&self, hop: &Hop, lookup: &Lookup) -> Result<reqwest::Response> {
        let mut first = Some(self.outgoing(hop, lookup));
        if tracing::enabled!(tracing::Level::DEBUG)
            && let Some(all) = &first
        {
            self.log_request(hop, all);
        }
        let client = match hop.scoped {
            true => &self.inner.clients.scoped,
            false => &self.inner.clients.plain,
        };
        let r = &self.req;
        let what = RequestLabel {
            method: &r.method,
            url: &r.url,
        };
        self.retry
            .run(
                what,
                self.deadline,
                |_| {
                    let headers = first.take().unwrap_or_else(|| self.outgoing(hop, lookup));
                    client.execute(self.request(headers))
                },
                |outcome| self.retry.classify(&r.method, self.idempotent, outcome),
            )
            .await
            .map_err(|e| Error::from_reqwest(e, r.method.as_str(), &r.url))
    }

    /// One attempt's `reqwest::Request`, built directly (no `RequestBuilder`: its header
    /// merge and URL user-info handling are done here, once per call).
    fn request(&self, headers: HeaderMap) -> reqwest::Request {
        let mut req = reqwest::Request::new(self.req.method.clone(), self.req.url.clone());
        *req.headers_mut() = headers;
        if let Body::Bytes(b) = &self.req.body {
            *req.body_mut() = Some(b.clone().into());
        }
        // The client applies the session's timeout to every attempt by itself; a
        // per-request timeout (an extensions map and a second timer per request) is set
        // only when less than that is left (retries, redirects, the 401 resend, a slow
        // token renewal) or the request has its own.
        if let Some(d) = self.deadline {
            let left = d.saturating_duration_since(Instant::now());
            if self.client_timeout.is_none_or(|t| left + CLIENT_TIMEOUT_SLACK < t) {
                *req.timeout_mut() = Some(left);
            }
        }
        req
    }

    fn log_request(&self, hop: &Hop, all: &HeaderMap) {
        let mut names: Vec<HeaderName> = hop.credential.keys().cloned().collect();
        names.extend(self.inner.credential_headers().iter().cloned());
        tracing::debug!(
            method = %self.req.method,
            url = %redact_url(&self.req.url),
            credential = self.exchange.attached().is_some(),
            headers = %redact_headers(all, &names),
            "request"
        );
    }

    /// What every response tells the session: the log, the cache's invalidation, a DPoP
    /// nonce for the credential that went with it.
    fn observe(&self, resp: &reqwest::Response) {
        let status = resp.status();
        tracing::debug!(status = status.as_u16(), url = %redact_url(&self.req.url), "response");
        if let Some(cache) = &self.inner.http_cache {
            cache.invalidate_after(&self.req.method, &self.req.url, status, resp.headers());
        }
        if let Some(c) = self.exchange.attached() {
            crate::credential::oauth::observe_dpop(c, &self.req.url, resp.headers());
        }
    }

    /// Stage 4, the auth exchange: whether to attach again and resend (once, after a 401).
    async fn authenticate(&mut self, resp: &reqwest::Response) -> Result<bool> {
        let (r, status) = (&self.req, resp.status());
        if status != StatusCode::UNAUTHORIZED {
            return Ok(false);
        }
        let step = in_runtime(
            self.inner.credential_runtime.as_ref(),
            self.exchange
                .on_response(&r.method, &r.url, status, challenge(resp.headers())),
        )
        .await?;
        Ok(step.resend())
    }

    /// Stage 6, the cache store: a storable response is kept (and a 304 served from the
    /// entry it revalidated).
    async fn cache_store(&self, lookup: Lookup, resp: reqwest::Response) -> Result<reqwest::Response> {
        match &self.inner.http_cache {
            Some(cache) => cache.complete(lookup, &self.req.method, &self.req.url, resp).await,
            None => Ok(resp),
        }
    }

    /// Stage 7, the status: the response, or the error built from it. Every credential
    /// this request carried (attached or hand-set) is masked in that error; the mask is
    /// worked out only if one is built.
    async fn finish(self, hop: Hop, resp: reqwest::Response) -> Result<Response> {
        let status = resp.status();
        let mut sent = hop.credential;
        for (k, v) in &self.req.headers {
            if v.is_sensitive() || crate::redact::is_sensitive_header(k, &[]) {
                sent.append(k.clone(), v.clone());
            }
        }
        let response = Response::new(resp, self.req.method, self.req.url).with_sent_credentials(sent);
        if self.check_status && status.as_u16() >= 400 {
            return Err(response.into_error().await);
        }
        Ok(response)
    }
}

/// URL user-info (`https://user:pass@host/`) becomes a hand-set `Authorization: Basic`
/// header (unless the caller set `Authorization`), and leaves the URL: like any hand-set
/// credential header it stays within the origin, is masked in logs and errors, and keys
/// the HTTP cache.
fn userinfo_to_basic(url: &mut Url, headers: &mut HeaderMap) {
    if url.username().is_empty() && url.password().is_none() {
        return;
    }
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let (user, password) = (decode(url.username()), url.password().map(decode));
    let _ = url.set_username("");
    let _ = url.set_password(None);
    if !headers.contains_key(AUTHORIZATION) {
        let v: HeaderValue = crate::transport::headers::basic_header(&user, password.as_deref().unwrap_or(""));
        headers.insert(AUTHORIZATION, v);
    }
}

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
