//! What a stored response is, and how it turns into bytes and back. Kept apart from the
//! stores because both stores, the fuzzers and the request flow share one representation,
//! and the on-disk format (read from files another process may have damaged) must be
//! checked in one place.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_cache_semantics::{CacheOptions, CachePolicy};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, ResponseBuilderExt, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use super::key::{Identity, Key};
use crate::{Error, Result};

/// Largest metadata block read from a cache file.
pub(super) const MAX_META: usize = 1024 * 1024;
const MAGIC: &[u8; 10] = b"SESAMEHC1\n";

/// A stored response.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(super) url: String,
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    /// The request headers the response was selected with (no credential headers).
    pub(super) req_headers: HeaderMap,
    pub(super) policy: CachePolicy,
    pub(super) stored_at: SystemTime,
    pub(super) body: Bytes,
}

impl Entry {
    /// Whether the request selects the same representation (`Vary`), for the
    /// `expires_after` path that does not ask the policy.
    pub(super) fn vary_matches(&self, req: &http::request::Parts) -> bool {
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

    pub(super) fn size(&self) -> u64 {
        self.body.len() as u64 + 1024
    }
}

/// `If-None-Match` / `If-Modified-Since` from a stored response's validators.
pub(super) fn conditional_headers(stored: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    if let Some(v) = stored.get("etag") {
        out.insert("if-none-match", v.clone());
    }
    if let Some(v) = stored.get("last-modified") {
        out.insert("if-modified-since", v.clone());
    }
    out
}

pub(super) fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

pub(super) fn no_cache_requested(h: &HeaderMap) -> bool {
    h.get_all("cache-control")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("no-cache") || v.to_ascii_lowercase().contains("max-age=0"))
        || h.get("pragma")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("no-cache"))
}

pub(super) fn has_validator(h: &HeaderMap) -> bool {
    h.contains_key("etag") || h.contains_key("last-modified")
}

/// Response headers minus those that carry credentials.
pub(super) fn storable_headers(h: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(h.len());
    for (k, v) in h {
        if !crate::redact::is_sensitive_header(k, &[]) {
            out.append(k.clone(), v.clone());
        }
    }
    out
}

pub(super) fn request_parts(
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

pub(super) fn response_parts(status: StatusCode, headers: &HeaderMap) -> http::response::Parts {
    let (mut parts, ()) = http::Response::builder()
        .status(status)
        .body(())
        .expect("a status and no headers make a response")
        .into_parts();
    parts.headers = headers.clone();
    parts
}

pub(super) fn build_response(url: &Url, status: StatusCode, headers: HeaderMap, body: Bytes) -> reqwest::Response {
    let mut r = http::Response::builder()
        .status(status)
        .url(url.clone())
        .body(body)
        .expect("a status and a URL make a response");
    *r.headers_mut() = headers;
    reqwest::Response::from(r)
}

/// The metadata block of a cache file.
#[derive(Serialize, Deserialize)]
pub(super) struct Meta {
    version: u32,
    pub(super) url_key: String,
    pub(super) ident: String,
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

pub(super) fn encode_entry(key: &Key, e: &Entry) -> Result<Vec<u8>> {
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
pub(super) fn decode_entry(data: &[u8]) -> Option<(Meta, Entry)> {
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A fresh entry with a validator, for the store tests too.
    pub(in super::super) fn entry(body: &[u8]) -> (Key, Entry) {
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
}
