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

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_cache_semantics::{AfterResponse, BeforeRequest, CacheOptions, CachePolicy};
use reqwest::header::{CONTENT_LOCATION, HeaderMap, HeaderName, HeaderValue, LOCATION};
use reqwest::{Method, ResponseBuilderExt, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::credential::Credential;
use crate::{Error, Result};

/// Default cap of a store, bytes.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;
/// Default largest body stored, bytes.
pub const DEFAULT_MAX_ENTRY: usize = 16 * 1024 * 1024;
/// Largest metadata block read from a cache file.
const MAX_META: usize = 1024 * 1024;
const MAGIC: &[u8; 10] = b"SESAMEHC1\n";

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
        Self::with_store(Box::new(MemoryStore::new(max_bytes)))
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

/// A salted hash of who is asking: see [`identity`].
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Identity(Vec<u8>);

/// The identity of a request: the credential that was attached (its description and the
/// headers it wrote) and any credential-like header set by hand (`Authorization`, `Cookie`,
/// API keys, the session's `credential_headers`); "anonymous" when there is neither. Only
/// a hash of the values is kept.
pub(crate) fn identity(
    credential: Option<&dyn Credential>,
    cred_headers: &HeaderMap,
    request_headers: &HeaderMap,
    credential_headers: &[HeaderName],
) -> Identity {
    let mut h = Sha256::new();
    let mut anonymous = true;
    if let Some(c) = credential {
        anonymous = false;
        h.update(b"credential\0");
        let info = c.info();
        h.update(info.kind.as_bytes());
        for (k, v) in &info.details {
            h.update(b"\0");
            h.update(k.as_bytes());
            h.update(b"=");
            h.update(v.as_bytes());
        }
    }
    let mut pairs: Vec<(&str, &[u8])> = cred_headers
        .iter()
        .chain(
            request_headers
                .iter()
                .filter(|(k, _)| crate::redact::is_sensitive_header(k, credential_headers)),
        )
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    pairs.sort();
    for (k, v) in pairs {
        anonymous = false;
        h.update(b"\0h:");
        h.update(k.as_bytes());
        h.update(b":");
        h.update(v);
    }
    if anonymous {
        return Identity(b"anonymous".to_vec());
    }
    Identity(h.finalize().to_vec())
}

/// Where an entry lives: the URL's key and the identity's key.
#[derive(Clone, Debug)]
pub(crate) struct Key {
    url: String,
    ident: String,
}

impl Key {
    fn new(url: &Url, identity: &Identity, salt: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(salt);
        h.update(&identity.0);
        Key {
            url: url_key(url),
            ident: hex::encode(&h.finalize()[..16]),
        }
    }

    fn file_name(&self) -> String {
        format!("{}-{}.hc", self.url, self.ident)
    }
}

fn url_key(url: &Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    let mut h = Sha256::new();
    h.update(b"GET ");
    h.update(u.as_str().as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// A stored response.
#[derive(Clone)]
pub(crate) struct Entry {
    url: String,
    status: StatusCode,
    headers: HeaderMap,
    /// The request headers the response was selected with (no credential headers).
    req_headers: HeaderMap,
    policy: CachePolicy,
    stored_at: SystemTime,
    body: Bytes,
}

impl Entry {
    /// Whether the request selects the same representation (`Vary`), for the
    /// `expires_after` path that does not ask the policy.
    fn vary_matches(&self, req: &http::request::Parts) -> bool {
        let vary: Vec<String> = self
            .headers
            .get_all("vary")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if vary.iter().any(|v| v == "*") {
            return false;
        }
        vary.iter()
            .all(|name| req.headers.get(name.as_str()) == self.req_headers.get(name.as_str()))
    }

    fn size(&self) -> u64 {
        self.body.len() as u64 + 1024
    }
}

/// `If-None-Match` / `If-Modified-Since` from a stored response's validators.
fn conditional_headers(stored: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    if let Some(v) = stored.get("etag") {
        out.insert("if-none-match", v.clone());
    }
    if let Some(v) = stored.get("last-modified") {
        out.insert("if-modified-since", v.clone());
    }
    out
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

fn no_cache_requested(h: &HeaderMap) -> bool {
    h.get_all("cache-control")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("no-cache") || v.to_ascii_lowercase().contains("max-age=0"))
        || h.get("pragma")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("no-cache"))
}

fn has_validator(h: &HeaderMap) -> bool {
    h.contains_key("etag") || h.contains_key("last-modified")
}

/// Response headers minus those that carry credentials.
fn storable_headers(h: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(h.len());
    for (k, v) in h {
        if !crate::redact::is_sensitive_header(k, &[]) {
            out.append(k.clone(), v.clone());
        }
    }
    out
}

fn request_parts(
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    credential_headers: &[HeaderName],
) -> Option<http::request::Parts> {
    let mut u = url.clone();
    u.set_fragment(None);
    let uri: http::Uri = u.as_str().parse().ok()?;
    let (mut parts, ()) = http::Request::builder()
        .method(method.clone())
        .uri(uri)
        .body(())
        .ok()?
        .into_parts();
    for (k, v) in headers {
        if !crate::redact::is_sensitive_header(k, credential_headers) {
            parts.headers.append(k.clone(), v.clone());
        }
    }
    Some(parts)
}

fn response_parts(status: StatusCode, headers: &HeaderMap) -> http::response::Parts {
    let (mut parts, ()) = http::Response::builder()
        .status(status)
        .body(())
        .expect("a status and no headers make a response")
        .into_parts();
    parts.headers = headers.clone();
    parts
}

fn build_response(url: &Url, status: StatusCode, headers: HeaderMap, body: Bytes) -> reqwest::Response {
    let mut r = http::Response::builder()
        .status(status)
        .url(url.clone())
        .body(body)
        .expect("a status and a URL make a response");
    *r.headers_mut() = headers;
    reqwest::Response::from(r)
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

// ---------------------------------------------------------------------------------- stores

trait Store: Send + Sync {
    fn get(&self, key: &Key) -> Option<Entry>;
    fn put(&self, key: &Key, entry: &Entry) -> Result<()>;
    fn remove(&self, key: &Key);
    /// Removes every identity's entry for a URL key; returns how many.
    fn remove_url(&self, url_key: &str) -> u64;
    fn touch(&self, key: &Key);
    fn clear(&self) -> Result<()>;
    fn size(&self) -> u64;
    fn salt(&self) -> &[u8];
    fn describe(&self) -> String;
    fn clone_box(&self) -> Box<dyn Store>;
}

struct MemSlot {
    entry: Entry,
    used: u64,
}

#[derive(Clone)]
struct MemoryStore {
    inner: Arc<Mutex<MemInner>>,
    salt: Arc<[u8; 32]>,
}

struct MemInner {
    map: HashMap<String, HashMap<String, MemSlot>>,
    bytes: u64,
    max: u64,
    tick: u64,
}

impl MemoryStore {
    fn new(max: u64) -> Self {
        MemoryStore {
            inner: Arc::new(Mutex::new(MemInner {
                map: HashMap::new(),
                bytes: 0,
                max,
                tick: 0,
            })),
            salt: Arc::new(rand::random()),
        }
    }
}

impl MemInner {
    fn evict(&mut self) {
        while self.bytes > self.max {
            let oldest = self
                .map
                .iter()
                .flat_map(|(u, m)| m.iter().map(move |(i, s)| (s.used, u.clone(), i.clone())))
                .min();
            let Some((_, u, i)) = oldest else { break };
            if let Some(m) = self.map.get_mut(&u) {
                if let Some(s) = m.remove(&i) {
                    self.bytes -= s.entry.size();
                }
                if m.is_empty() {
                    self.map.remove(&u);
                }
            }
        }
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &Key) -> Option<Entry> {
        let g = self.inner.lock().expect("http cache");
        g.map.get(&key.url)?.get(&key.ident).map(|s| s.entry.clone())
    }
    fn put(&self, key: &Key, entry: &Entry) -> Result<()> {
        let mut g = self.inner.lock().expect("http cache");
        if entry.size() > g.max {
            return Ok(());
        }
        g.tick += 1;
        let used = g.tick;
        let old = g.map.entry(key.url.clone()).or_default().insert(
            key.ident.clone(),
            MemSlot {
                entry: entry.clone(),
                used,
            },
        );
        if let Some(o) = old {
            g.bytes -= o.entry.size();
        }
        g.bytes += entry.size();
        g.evict();
        Ok(())
    }
    fn remove(&self, key: &Key) {
        let mut g = self.inner.lock().expect("http cache");
        let removed = g.map.get_mut(&key.url).and_then(|m| m.remove(&key.ident));
        if let Some(s) = removed {
            g.bytes -= s.entry.size();
        }
    }
    fn remove_url(&self, url_key: &str) -> u64 {
        let mut g = self.inner.lock().expect("http cache");
        match g.map.remove(url_key) {
            Some(m) => {
                let n = m.len() as u64;
                for s in m.values() {
                    g.bytes -= s.entry.size();
                }
                n
            }
            None => 0,
        }
    }
    fn touch(&self, key: &Key) {
        let mut g = self.inner.lock().expect("http cache");
        g.tick += 1;
        let t = g.tick;
        if let Some(s) = g.map.get_mut(&key.url).and_then(|m| m.get_mut(&key.ident)) {
            s.used = t;
        }
    }
    fn clear(&self) -> Result<()> {
        let mut g = self.inner.lock().expect("http cache");
        g.map.clear();
        g.bytes = 0;
        Ok(())
    }
    fn size(&self) -> u64 {
        self.inner.lock().expect("http cache").bytes
    }
    fn salt(&self) -> &[u8] {
        &self.salt[..]
    }
    fn describe(&self) -> String {
        "memory".into()
    }
    fn clone_box(&self) -> Box<dyn Store> {
        Box::new(self.clone())
    }
}

/// The metadata block of a cache file.
#[derive(Serialize, Deserialize)]
struct Meta {
    version: u32,
    url_key: String,
    ident: String,
    url: String,
    status: u16,
    headers: Vec<(String, String)>,
    #[serde(default)]
    req_headers: Vec<(String, String)>,
    policy: CachePolicy,
    stored_at: u64,
    body_len: u64,
    body_sha256: String,
}

#[derive(Clone)]
struct DiskStore {
    dir: PathBuf,
    max: u64,
    salt: Arc<Vec<u8>>,
}

impl DiskStore {
    fn open(dir: PathBuf, max: u64) -> Result<Self> {
        create_private_dir(&dir)?;
        let salt = load_or_create_salt(&dir)?;
        Ok(DiskStore {
            dir,
            max,
            salt: Arc::new(salt),
        })
    }

    fn path(&self, key: &Key) -> PathBuf {
        self.dir.join(key.file_name())
    }

    fn read(&self, path: &Path, key: &Key) -> Option<Entry> {
        let mut f = File::open(path).ok()?;
        let len = f.metadata().ok()?.len();
        if len > (DEFAULT_MAX_ENTRY.max(64 * 1024 * 1024) + MAX_META + 64) as u64 {
            return None;
        }
        let mut data = Vec::with_capacity(len as usize);
        f.read_to_end(&mut data).ok()?;
        let e = decode_entry(&data)?;
        (e.0.url_key == key.url && e.0.ident == key.ident).then_some(e.1)
    }

    fn evict(&self) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else { return };
        let mut files = Vec::new();
        let mut total = 0u64;
        let now = SystemTime::now();
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let Ok(meta) = e.metadata() else { continue };
            if name.starts_with(".tmp-") {
                // A writer that died: remove after a while.
                if meta
                    .modified()
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|d| d > Duration::from_secs(600))
                {
                    let _ = std::fs::remove_file(e.path());
                }
                continue;
            }
            if !name.ends_with(".hc") {
                continue;
            }
            total += meta.len();
            files.push((meta.modified().unwrap_or(UNIX_EPOCH), meta.len(), e.path()));
        }
        if total <= self.max {
            return;
        }
        files.sort();
        let target = self.max / 10 * 9;
        for (_, len, path) in files {
            if total <= target {
                break;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => total = total.saturating_sub(len),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => total = total.saturating_sub(len),
                Err(_) => {}
            }
        }
    }
}

impl Store for DiskStore {
    fn get(&self, key: &Key) -> Option<Entry> {
        let path = self.path(key);
        if !path.exists() {
            return None;
        }
        match self.read(&path, key) {
            Some(e) => Some(e),
            None => {
                tracing::debug!(file = %path.display(), "http cache: ignoring an unreadable or corrupt entry");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }
    fn put(&self, key: &Key, entry: &Entry) -> Result<()> {
        let data = encode_entry(key, entry)?;
        if data.len() as u64 > self.max {
            return Ok(());
        }
        write_atomic(&self.dir, &self.path(key), &data)?;
        self.evict();
        Ok(())
    }
    fn remove(&self, key: &Key) {
        let _ = std::fs::remove_file(self.path(key));
    }
    fn remove_url(&self, url_key: &str) -> u64 {
        let prefix = format!("{url_key}-");
        let Ok(rd) = std::fs::read_dir(&self.dir) else { return 0 };
        let mut n = 0;
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".hc") && std::fs::remove_file(e.path()).is_ok() {
                n += 1;
            }
        }
        n
    }
    fn touch(&self, key: &Key) {
        if let Ok(f) = OpenOptions::new().write(true).open(self.path(key)) {
            let _ = f.set_modified(SystemTime::now());
        }
    }
    fn clear(&self) -> Result<()> {
        let rd =
            std::fs::read_dir(&self.dir).map_err(|e| Error::io(format!("cannot list {}", self.dir.display()), e))?;
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().ends_with(".hc") {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(())
    }
    fn size(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".hc"))
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }
    fn salt(&self) -> &[u8] {
        &self.salt
    }
    fn describe(&self) -> String {
        format!("file {}", self.dir.display())
    }
    fn clone_box(&self) -> Box<dyn Store> {
        Box::new(self.clone())
    }
}

fn encode_entry(key: &Key, e: &Entry) -> Result<Vec<u8>> {
    let meta = Meta {
        version: 1,
        url_key: key.url.clone(),
        ident: key.ident.clone(),
        url: e.url.clone(),
        status: e.status.as_u16(),
        headers: header_pairs(&e.headers),
        req_headers: header_pairs(&e.req_headers),
        policy: e.policy.clone(),
        stored_at: e.stored_at.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        body_len: e.body.len() as u64,
        body_sha256: hex::encode(Sha256::digest(&e.body)),
    };
    let json = serde_json::to_vec(&meta).map_err(|e| Error::new(crate::ErrorKind::Io, e.to_string()))?;
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + json.len() + e.body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&e.body);
    Ok(out)
}

fn header_pairs(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_string(), v.to_string())))
        .collect()
}

fn header_map(pairs: &[(String, String)]) -> Option<HeaderMap> {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).ok()?,
            HeaderValue::from_str(v).ok()?,
        );
    }
    Some(h)
}

/// Decodes a cache file; `None` for anything malformed (never panics).
fn decode_entry(data: &[u8]) -> Option<(Meta, Entry)> {
    let rest = data.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < 4 {
        return None;
    }
    let (len, rest) = rest.split_at(4);
    let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
    if len > MAX_META || len > rest.len() {
        return None;
    }
    let (json, body) = rest.split_at(len);
    let meta: Meta = serde_json::from_slice(json).ok()?;
    if meta.version != 1 || meta.body_len != body.len() as u64 || hex::encode(Sha256::digest(body)) != meta.body_sha256
    {
        return None;
    }
    let status = StatusCode::from_u16(meta.status).ok()?;
    let entry = Entry {
        url: meta.url.clone(),
        status,
        headers: header_map(&meta.headers)?,
        req_headers: header_map(&meta.req_headers)?,
        policy: meta.policy.clone(),
        stored_at: UNIX_EPOCH + Duration::from_secs(meta.stored_at.min(u32::MAX as u64 * 4)),
        body: Bytes::copy_from_slice(body),
    };
    Some((meta, entry))
}

/// Decodes a cache file and asks its policy about a request, for the fuzzers: malformed
/// input must be refused, never panic.
#[doc(hidden)]
pub fn fuzz_entry(data: &[u8]) -> bool {
    let Some((_, e)) = decode_entry(data) else { return false };
    if let Ok(url) = Url::parse(&e.url)
        && let Some(parts) = request_parts(&Method::GET, &url, &HeaderMap::new(), &[])
    {
        let _ = e.policy.before_request(&parts, SystemTime::now());
        let _ = e.vary_matches(&parts);
        let res = response_parts(StatusCode::NOT_MODIFIED, &e.headers);
        let _ = e.policy.after_response(&parts, &res, SystemTime::now());
    }
    true
}

/// A well-formed cache file, as a seed for the fuzzers.
#[doc(hidden)]
pub fn fuzz_sample_entry() -> Vec<u8> {
    let url = Url::parse("https://api.example/v1/items?page=2").expect("a URL");
    let mut req = HeaderMap::new();
    req.insert("accept", HeaderValue::from_static("application/json"));
    let parts = request_parts(&Method::GET, &url, &req, &[]).expect("parts");
    let mut h = HeaderMap::new();
    h.insert("cache-control", HeaderValue::from_static("private, max-age=60"));
    h.insert("etag", HeaderValue::from_static("W/\"v1\""));
    h.insert("vary", HeaderValue::from_static("accept"));
    h.insert(
        "last-modified",
        HeaderValue::from_static("Mon, 02 Nov 2026 10:00:00 GMT"),
    );
    let res = response_parts(StatusCode::OK, &h);
    let policy = CachePolicy::new_options(&parts, &res, SystemTime::now(), CacheOptions::default());
    let key = Key::new(&url, &Identity(b"anonymous".to_vec()), b"salt");
    let entry = Entry {
        url: url.to_string(),
        status: StatusCode::OK,
        headers: h,
        req_headers: parts.headers.clone(),
        policy,
        stored_at: SystemTime::now(),
        body: Bytes::from_static(b"{\"items\":[1,2,3]}"),
    };
    encode_entry(&key, &entry).expect("encodes")
}

/// Creates the folder 0700, and refuses an existing one that another account owns or can
/// write: it could plant responses (served as the API's) or read cached bodies.
fn create_private_dir(dir: &Path) -> Result<()> {
    crate::permissions::ensure_private_dir(dir, "HTTP cache folder")
}

fn load_or_create_salt(dir: &Path) -> Result<Vec<u8>> {
    let path = dir.join("salt");
    let read = || std::fs::read(&path).ok().filter(|s| s.len() == 32);
    if let Some(s) = read() {
        return Ok(s);
    }
    let salt: [u8; 32] = rand::random();
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(format!("cannot create a file in {}", dir.display()), e))?;
    tmp.write_all(&salt)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io("cannot write the HTTP cache salt", e))?;
    // The first writer wins and the others read its salt; a damaged salt file is replaced
    // (the entries keyed with it become unreachable and age out).
    match tmp.persist_noclobber(&path) {
        Ok(_) => Ok(salt.to_vec()),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => match read() {
            Some(s) => Ok(s),
            None => {
                e.file
                    .persist(&path)
                    .map_err(|e| Error::io(format!("cannot replace {}", path.display()), e.error))?;
                Ok(salt.to_vec())
            }
        },
        Err(e) => Err(Error::io(format!("cannot create {}", path.display()), e.error)),
    }
}

/// Writes `data` to `path` atomically: a 0600 temporary file in `dir`, fsync, rename.
fn write_atomic(dir: &Path, path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(format!("cannot create a temporary file in {}", dir.display()), e))?;
    tmp.write_all(data)
        .map_err(|e| Error::io(format!("cannot write {}", tmp.path().display()), e))?;
    tmp.as_file()
        .sync_data()
        .map_err(|e| Error::io(format!("cannot fsync {}", tmp.path().display()), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(format!("cannot replace {}", path.display()), e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: &[u8]) -> (Key, Entry) {
        let url = Url::parse("https://api.example/x?q=1").unwrap();
        let parts = request_parts(&Method::GET, &url, &HeaderMap::new(), &[]).unwrap();
        let mut h = HeaderMap::new();
        h.insert("cache-control", HeaderValue::from_static("max-age=60"));
        h.insert("etag", HeaderValue::from_static("\"v1\""));
        let res = response_parts(StatusCode::OK, &h);
        let policy = CachePolicy::new_options(&parts, &res, SystemTime::now(), CacheOptions::default());
        let key = Key::new(&url, &Identity(vec![1, 2, 3]), b"salt");
        (
            key,
            Entry {
                url: url.to_string(),
                status: StatusCode::OK,
                headers: h,
                req_headers: HeaderMap::new(),
                policy,
                stored_at: SystemTime::now(),
                body: Bytes::copy_from_slice(body),
            },
        )
    }

    #[test]
    fn files_round_trip_and_corruption_is_refused() {
        let (key, e) = entry(b"hello");
        let data = encode_entry(&key, &e).unwrap();
        let (meta, back) = decode_entry(&data).unwrap();
        assert_eq!(meta.url_key, key.url);
        assert_eq!(&back.body[..], b"hello");
        assert!(fuzz_entry(&data));
        for cut in [0, 5, 10, 14, data.len() / 2, data.len() - 1] {
            assert!(decode_entry(&data[..cut]).is_none(), "truncated at {cut}");
        }
        let mut flipped = data.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(decode_entry(&flipped).is_none(), "checksum");
    }

    #[test]
    fn a_damaged_salt_is_replaced_and_then_shared() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("salt"), b"short").unwrap();
        let a = DiskStore::open(d.path().to_path_buf(), 1 << 20).unwrap();
        assert_eq!(a.salt().len(), 32);
        let b = DiskStore::open(d.path().to_path_buf(), 1 << 20).unwrap();
        assert_eq!(a.salt(), b.salt(), "a second process keys entries the same way");
    }

    #[test]
    fn a_corrupt_file_is_a_miss_and_is_removed() {
        let d = tempfile::tempdir().unwrap();
        let store = DiskStore::open(d.path().to_path_buf(), 1 << 20).unwrap();
        let (key, e) = entry(b"body");
        store.put(&key, &e).unwrap();
        assert!(store.get(&key).is_some());
        let path = store.path(&key);
        let mut data = std::fs::read(&path).unwrap();
        data.truncate(data.len() - 2);
        std::fs::write(&path, &data).unwrap();
        assert!(store.get(&key).is_none());
        assert!(!path.exists());
    }

    #[test]
    fn memory_store_evicts_least_recently_used() {
        let s = MemoryStore::new(3 * 1024 + 3 * 10);
        let url = |i: u32| Url::parse(&format!("https://h/{i}")).unwrap();
        let keys: Vec<Key> = (0..4).map(|i| Key::new(&url(i), &Identity(vec![0]), b"s")).collect();
        let (_, e) = entry(b"0123456789");
        for k in &keys[..3] {
            s.put(k, &e).unwrap();
        }
        s.touch(&keys[0]);
        s.put(&keys[3], &e).unwrap();
        assert!(s.get(&keys[0]).is_some(), "recently used stays");
        assert!(s.get(&keys[1]).is_none(), "least recently used goes");
        assert!(s.size() <= 3 * 1024 + 30);
    }
}
