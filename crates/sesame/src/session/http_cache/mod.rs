//! A private HTTP response cache ([RFC 9111](https://www.rfc-editor.org/rfc/rfc9111)) for
//! GET, on when the profile says `http_cache = true`.
//!
//! - **Freshness** is decided by the maintained crate `http-cache-semantics` (as a private,
//!   single-user cache: `private` responses are stored, `s-maxage` is ignored): `max-age`,
//!   `Expires`, `no-cache`, `no-store`, `Vary`, request `Cache-Control`, heuristics from
//!   `Last-Modified`. `expires_after` (as itkdb offers) overrides the server's freshness
//!   lifetime: a stored response is then fresh for that long after it was stored — but a
//!   `no-store` response is still never stored.
//! - **Keys** are method + URL + a salted hash of the *credential identity*: the credential
//!   headers actually attached to the request and the credential's description (which names
//!   the client certificate, for X.509). Two identities never share an entry, and a request
//!   sent without a credential (anonymous, or outside the credential's scope) has its own.
//!   A renewed OAuth token is a new identity (its old entries age out).
//! - **Revalidation**: a stale entry with an `ETag` or `Last-Modified` is revalidated with
//!   `If-None-Match` / `If-Modified-Since`; a 304 serves the stored body with the updated
//!   headers.
//! - **Invalidation**: a successful (2xx/3xx) unsafe request (POST, PUT, PATCH, DELETE, …)
//!   removes every entry of its URL — for every identity — and of the same-origin
//!   `Location` / `Content-Location` it names (RFC 9111 §4.4).
//! - **What is stored**: 200, 203 and 204 responses to GET requests that carry no `Range`
//!   or conditional header of their own, whose body is at most
//!   [`max_entry_bytes`](HttpCache::max_entry_bytes) (larger bodies stream through
//!   untouched). Redirects are not stored, so every hop is judged afresh by the session.
//!   Request headers that carry credentials are never stored, nor response headers that
//!   do (`Set-Cookie`, …): a served entry lacks them.
//! - **Stores**: in memory, or on disk (`$SESAME_CACHE_DIR/http`, else
//!   `~/.cache/sesame/http`): folder 0700, one file per entry, 0600, written to a
//!   temporary file and renamed (a reader in another process sees the old entry or the
//!   new one, never a torn one); each file carries its key and a checksum of the body and
//!   is ignored (and removed) if either does not match. The store is capped in bytes;
//!   the least recently used entries go first.
//!
//! This file is the cache's public face and its request flow (lookup, completion,
//! invalidation); what a key, an entry and a store are live in their own files so that
//! the flow reads without the byte-level details of hashing, encoding and files.

mod entry;
mod key;
mod store;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_cache_semantics::{AfterResponse, BeforeRequest, CacheOptions, CachePolicy};
use reqwest::header::{CONTENT_LOCATION, HeaderMap, HeaderName, HeaderValue, LOCATION};
use reqwest::{Method, ResponseBuilderExt, StatusCode};
use url::Url;

use crate::{Error, Result};
use entry::{
    Entry, build_response, conditional_headers, has_validator, is_safe, no_cache_requested, request_parts,
    response_parts, storable_headers,
};
#[doc(hidden)]
pub use entry::{fuzz_entry, fuzz_sample_entry};
pub(crate) use key::{Identity, identity};
use key::{Key, url_key};
use store::{DiskStore, MemoryEntries, Store};

/// Default cap of a store, bytes.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;
/// Default largest body stored, bytes.
pub const DEFAULT_MAX_ENTRY: usize = 16 * 1024 * 1024;

/// What the cache did, counted since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Requests answered from the cache without contacting the server.
    pub hits: u64,
    /// Cacheable requests that found no usable entry (sent to the server).
    pub misses: u64,
    /// Stale entries the server confirmed with 304 (body served from the cache).
    pub revalidated: u64,
    /// Responses stored.
    pub stored: u64,
    /// Entries removed by unsafe requests.
    pub invalidated: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    revalidated: AtomicU64,
    stored: AtomicU64,
    invalidated: AtomicU64,
}

/// A response cache. Cheap to clone; clones share the store and the counters.
#[derive(Clone)]
pub struct HttpCache {
    inner: Arc<CacheInner>,
}

struct CacheInner {
    store: Box<dyn Store>,
    expires_after: Option<Duration>,
    max_entry: usize,
    clock: Arc<dyn Fn() -> SystemTime + Send + Sync>,
    counters: Counters,
}

impl fmt::Debug for HttpCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCache")
            .field("store", &self.inner.store.describe())
            .field("expires_after", &self.inner.expires_after)
            .field("max_entry", &self.inner.max_entry)
            .finish()
    }
}

impl HttpCache {
    fn with_store(store: Box<dyn Store>) -> Self {
        HttpCache {
            inner: Arc::new(CacheInner {
                store,
                expires_after: None,
                max_entry: DEFAULT_MAX_ENTRY,
                clock: Arc::new(SystemTime::now),
                counters: Counters::default(),
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut CacheInner)) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(i) => f(i),
            None => {
                // Shared already: the settings apply to this handle only, never to the others.
                let i = &self.inner;
                let mut fresh = CacheInner {
                    store: i.store.clone_box(),
                    expires_after: i.expires_after,
                    max_entry: i.max_entry,
                    clock: i.clock.clone(),
                    counters: Counters::default(),
                };
                f(&mut fresh);
                self.inner = Arc::new(fresh);
            }
        }
        self
    }

    /// A cache in memory, capped at `max_bytes` of bodies.
    pub fn memory(max_bytes: u64) -> Self {
        Self::with_store(Box::new(MemoryEntries::new(max_bytes)))
    }

    /// A cache in files under `dir` (created 0700), capped at `max_bytes` in total.
    pub fn disk(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<Self> {
        Ok(Self::with_store(Box::new(DiskStore::open(dir.into(), max_bytes)?)))
    }

    /// The default on-disk cache: `$SESAME_CACHE_DIR/http`, else `$XDG_CACHE_HOME/sesame/http`,
    /// else `~/.cache/sesame/http`, capped at [`DEFAULT_MAX_BYTES`].
    pub fn default_disk() -> Result<Self> {
        Self::disk(crate::token::FileStore::default_dir()?.join("http"), DEFAULT_MAX_BYTES)
    }

    /// Responses are fresh for `d` after they were stored, whatever the server said about
    /// freshness (`no-store` responses are still never stored).
    pub fn expires_after(self, d: Option<Duration>) -> Self {
        self.edit(|i| i.expires_after = d)
    }

    /// The largest body stored (larger ones stream through uncached).
    pub fn max_entry_bytes(self, n: usize) -> Self {
        self.edit(|i| i.max_entry = n)
    }

    /// The clock used for freshness (tests).
    pub fn clock(self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.edit(|i| i.clock = Arc::new(now))
    }

    /// What the cache did so far.
    pub fn stats(&self) -> CacheStats {
        let c = &self.inner.counters;
        CacheStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            revalidated: c.revalidated.load(Ordering::Relaxed),
            stored: c.stored.load(Ordering::Relaxed),
            invalidated: c.invalidated.load(Ordering::Relaxed),
        }
    }

    /// Removes every entry.
    pub fn clear(&self) -> Result<()> {
        self.inner.store.clear()
    }

    /// Bytes the store holds now (bodies and metadata).
    pub fn size(&self) -> u64 {
        self.inner.store.size()
    }

    fn now(&self) -> SystemTime {
        (self.inner.clock)()
    }

    /// Looks a request up. `headers` are the request's headers *without* credential
    /// headers; `identity` is from [`identity`]; `credential_headers` names the hand-set
    /// headers that carry credentials beyond the conventional ones (never stored).
    pub(crate) fn lookup(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        identity: &Identity,
        credential_headers: &[HeaderName],
    ) -> Lookup {
        if *method != Method::GET {
            return Lookup::Bypass;
        }
        // Requests that manage caching or ranges themselves pass through.
        for h in [
            "range",
            "if-none-match",
            "if-modified-since",
            "if-match",
            "if-unmodified-since",
            "if-range",
        ] {
            if headers.contains_key(h) {
                return Lookup::Bypass;
            }
        }
        let Some(parts) = request_parts(method, url, headers, credential_headers) else {
            return Lookup::Bypass;
        };
        let key = Key::new(url, identity, self.inner.store.salt());
        let Some(entry) = self.inner.store.get(&key) else {
            self.inner.counters.misses.fetch_add(1, Ordering::Relaxed);
            return Lookup::Miss { key, parts };
        };
        let now = self.now();
        let req_no_cache = no_cache_requested(headers);
        if let Some(d) = self.inner.expires_after
            && !req_no_cache
            && entry.vary_matches(&parts)
            && now.duration_since(entry.stored_at).unwrap_or(Duration::ZERO) < d
        {
            self.inner.counters.hits.fetch_add(1, Ordering::Relaxed);
            self.inner.store.touch(&key);
            let age = now.duration_since(entry.stored_at).unwrap_or(Duration::ZERO);
            let mut h = entry.headers.clone();
            h.insert("age", HeaderValue::from(age.as_secs()));
            return Lookup::Fresh(build_response(url, entry.status, h, entry.body));
        }
        match entry.policy.before_request(&parts, now) {
            BeforeRequest::Fresh(p) if self.inner.expires_after.is_none() => {
                self.inner.counters.hits.fetch_add(1, Ordering::Relaxed);
                self.inner.store.touch(&key);
                Lookup::Fresh(build_response(url, p.status, p.headers, entry.body))
            }
            // Stale (or past `expires_after`) but for this request: revalidate if it can be.
            BeforeRequest::Stale { matches: true, .. } | BeforeRequest::Fresh(_) => {
                self.inner.counters.misses.fetch_add(1, Ordering::Relaxed);
                let conditional = conditional_headers(&entry.headers);
                if conditional.is_empty() {
                    return Lookup::Miss { key, parts };
                }
                Lookup::Stale {
                    key,
                    parts,
                    entry: Box::new(entry),
                    conditional,
                }
            }
            BeforeRequest::Stale { matches: false, .. } => {
                self.inner.counters.misses.fetch_add(1, Ordering::Relaxed);
                Lookup::Miss { key, parts }
            }
        }
    }

    /// Handles the final response of a request: serves a 304 from the stored entry, stores
    /// what may be stored, invalidates after unsafe requests. Returns the response for the
    /// caller.
    pub(crate) async fn complete(
        &self,
        lookup: Lookup,
        method: &Method,
        url: &Url,
        resp: reqwest::Response,
    ) -> Result<reqwest::Response> {
        let status = resp.status();
        if *method != Method::GET {
            return Ok(resp);
        }
        let (key, parts, stale) = match lookup {
            Lookup::Bypass | Lookup::Fresh(_) => return Ok(resp),
            Lookup::Miss { key, parts } => (key, parts, None),
            Lookup::Stale { key, parts, entry, .. } => (key, parts, Some(entry)),
        };
        let now = self.now();
        if status == StatusCode::NOT_MODIFIED {
            let Some(entry) = stale else { return Ok(resp) };
            let res_parts = response_parts(status, resp.headers());
            return match entry.policy.after_response(&parts, &res_parts, now) {
                AfterResponse::NotModified(policy, p) => {
                    self.inner.counters.revalidated.fetch_add(1, Ordering::Relaxed);
                    let headers = storable_headers(&p.headers);
                    let updated = Entry {
                        url: url.to_string(),
                        status: entry.status,
                        headers,
                        req_headers: parts.headers.clone(),
                        policy,
                        stored_at: now,
                        body: entry.body.clone(),
                    };
                    if let Err(e) = self.inner.store.put(&key, &updated) {
                        tracing::debug!(error = %e, "http cache: cannot update an entry");
                    }
                    Ok(build_response(url, p.status, p.headers, entry.body))
                }
                AfterResponse::Modified(..) => {
                    self.inner.store.remove(&key);
                    Ok(resp)
                }
            };
        }
        if !matches!(status.as_u16(), 200 | 203 | 204) {
            return Ok(resp);
        }
        let res_parts = response_parts(status, &storable_headers(resp.headers()));
        let policy = CachePolicy::new_options(
            &parts,
            &res_parts,
            now,
            CacheOptions {
                shared: false,
                ..Default::default()
            },
        );
        let useful = policy.is_storable()
            && (self.inner.expires_after.is_some_and(|d| !d.is_zero())
                || !policy.is_stale(now)
                || has_validator(&res_parts.headers));
        if !useful {
            if stale.is_some() {
                self.inner.store.remove(&key);
            }
            return Ok(resp);
        }
        if resp.content_length().is_some_and(|l| l > self.inner.max_entry as u64) {
            return Ok(resp);
        }
        match read_bounded(resp, self.inner.max_entry, method, url).await? {
            Bounded::Whole { headers, body } => {
                let entry = Entry {
                    url: url.to_string(),
                    status,
                    headers: storable_headers(&headers),
                    req_headers: parts.headers.clone(),
                    policy,
                    stored_at: now,
                    body: body.clone(),
                };
                match self.inner.store.put(&key, &entry) {
                    Ok(()) => {
                        self.inner.counters.stored.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => tracing::debug!(error = %e, "http cache: cannot store a response"),
                }
                Ok(build_response(url, status, headers, body))
            }
            Bounded::TooLarge(r) => Ok(r),
        }
    }

    /// After a response to an unsafe request (anything but GET, HEAD, OPTIONS, TRACE) with a
    /// 2xx or 3xx status: removes the URL's entries (RFC 9111 §4.4).
    pub(crate) fn invalidate_after(&self, method: &Method, url: &Url, status: StatusCode, headers: &HeaderMap) {
        if !is_safe(method) && (status.is_success() || status.is_redirection()) {
            self.invalidate(url, headers);
        }
    }

    fn invalidate(&self, url: &Url, headers: &HeaderMap) {
        let mut targets = vec![url.clone()];
        for h in [LOCATION, CONTENT_LOCATION] {
            if let Some(u) = headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| url.join(v).ok())
                && u.origin() == url.origin()
            {
                targets.push(u);
            }
        }
        for t in targets {
            let n = self.inner.store.remove_url(&url_key(&t));
            if n > 0 {
                tracing::debug!(url = %crate::redact::redact_url(&t), entries = n, "http cache: invalidated");
                self.inner.counters.invalidated.fetch_add(n, Ordering::Relaxed);
            }
        }
    }
}

/// The outcome of a lookup, handed back to [`HttpCache::complete`].
pub(crate) enum Lookup {
    /// The request is not one the cache handles.
    Bypass,
    /// No usable entry: send, then maybe store.
    Miss { key: Key, parts: http::request::Parts },
    /// A stale entry: send with the conditional headers, a 304 serves the entry.
    Stale {
        key: Key,
        parts: http::request::Parts,
        entry: Box<Entry>,
        conditional: HeaderMap,
    },
    /// Served from the cache.
    Fresh(reqwest::Response),
}

impl Lookup {
    /// Headers to add to the request (revalidation).
    pub(crate) fn conditional_headers(&self) -> Option<&HeaderMap> {
        match self {
            Lookup::Stale { conditional, .. } => Some(conditional),
            _ => None,
        }
    }
}

enum Bounded {
    Whole { headers: HeaderMap, body: Bytes },
    TooLarge(reqwest::Response),
}

/// Reads a body of at most `max` bytes; a larger one is handed back as a response that
/// streams what was read followed by the rest.
async fn read_bounded(mut resp: reqwest::Response, max: usize, method: &Method, url: &Url) -> Result<Bounded> {
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    loop {
        let chunk = resp
            .chunk()
            .await
            .map_err(|e| Error::from_reqwest(e, method.as_str(), url))?;
        let Some(chunk) = chunk else { break };
        total += chunk.len();
        chunks.push(chunk);
        if total > max {
            let status = resp.status();
            let headers = resp.headers().clone();
            let head = futures_util::stream::iter(chunks.into_iter().map(Ok::<Bytes, reqwest::Error>));
            let stream = futures_util::StreamExt::chain(head, resp.bytes_stream());
            let mut r = http::Response::builder()
                .status(status)
                .url(url.clone())
                .body(reqwest::Body::wrap_stream(stream))
                .expect("a status and a URL make a response");
            *r.headers_mut() = headers;
            return Ok(Bounded::TooLarge(reqwest::Response::from(r)));
        }
    }
    let headers = resp.headers().clone();
    let mut body = bytes::BytesMut::with_capacity(total);
    for c in chunks {
        body.extend_from_slice(&c);
    }
    Ok(Bounded::Whole {
        headers,
        body: body.freeze(),
    })
}
