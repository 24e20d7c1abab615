//! JSON Web Key Sets ([RFC 7517](https://www.rfc-editor.org/rfc/rfc7517#section-5)),
//! cached per process, per `jwks_uri` and per TLS trust of the client that fetched them.
//!
//! Keys are reused for [`JWKS_TTL`]. A token signed with a `kid` the cached set lacks
//! triggers one refetch — so that key rotation at the provider does not break sesame —
//! but at most once per [`REFETCH_MIN_INTERVAL`], so that tokens with made-up `kid`s
//! cannot make sesame hammer the provider.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use openidconnect::JsonWebKey;
use openidconnect::core::CoreJsonWebKeySet;
use url::Url;

use super::OAuthHttp;
use crate::Result;

/// How long a fetched key set is trusted without refetching.
pub const JWKS_TTL: Duration = Duration::from_secs(3600);
/// Least time between two refetches triggered by unknown key ids.
pub const REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Entry {
    set: Option<Arc<CoreJsonWebKeySet>>,
    fetched: Option<Instant>,
    /// Last refetch caused by an unknown `kid` (the rate limit applies to these only, so a
    /// rotation right after the first fetch is still followed).
    kid_refetched: Option<Instant>,
    fetches: u64,
}

/// `(jwks_uri, TLS trust)` → entry. Keyed by URI alone, keys fetched by an `insecure`
/// client (from whoever answered) would verify tokens for a client that checks
/// certificates.
type Registry = Mutex<HashMap<(String, Arc<str>), Arc<tokio::sync::Mutex<Entry>>>>;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Default::default)
}

fn entry(uri: &str, tls: &str) -> Arc<tokio::sync::Mutex<Entry>> {
    registry()
        .lock()
        .expect("jwks registry")
        .entry((uri.to_string(), tls.into()))
        .or_default()
        .clone()
}

/// The key set at `uri` that should contain `kid` (if given): cached, fetched when stale,
/// refetched once (rate-limited) when `kid` is unknown.
pub async fn keys_for(http: &OAuthHttp, uri: &Url, kid: Option<&str>) -> Result<Arc<CoreJsonWebKeySet>> {
    let e = entry(uri.as_str(), http.tls_identity());
    // One fetch at a time per URI: concurrent verifications share the result.
    let mut g = e.lock().await;
    let stale = g.fetched.is_none_or(|t| t.elapsed() > JWKS_TTL);
    let missing = match (&g.set, kid) {
        (Some(set), Some(k)) => !has_kid(set, k),
        _ => false,
    };
    let may_refetch = g.kid_refetched.is_none_or(|t| t.elapsed() >= REFETCH_MIN_INTERVAL);
    if g.set.is_none() || stale || (missing && may_refetch) {
        if missing {
            tracing::debug!(kid, jwks = %uri, "unknown key id: refetching the JWKS");
            g.kid_refetched = Some(Instant::now());
        }
        let set: CoreJsonWebKeySet = http.get_json(uri, None, "JWKS").await?;
        g.set = Some(Arc::new(set));
        g.fetched = Some(Instant::now());
        g.fetches += 1;
    }
    Ok(g.set.clone().expect("set just fetched"))
}

/// How many times the key set at `uri` was fetched in this process, by clients of any TLS
/// trust (for tests).
pub async fn fetch_count(uri: &Url) -> u64 {
    let entries: Vec<_> = registry()
        .lock()
        .expect("jwks registry")
        .iter()
        .filter(|((u, _), _)| u == uri.as_str())
        .map(|(_, e)| e.clone())
        .collect();
    let mut n = 0;
    for e in entries {
        n += e.lock().await.fetches;
    }
    n
}

/// Whether a key set has a key with this id.
pub fn has_kid(set: &CoreJsonWebKeySet, kid: &str) -> bool {
    set.keys()
        .iter()
        .any(|k| k.key_id().is_some_and(|id| id.as_str() == kid))
}
