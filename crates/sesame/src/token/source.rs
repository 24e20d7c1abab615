//! [`TokenSource`]: one cell per cache key that hands out a valid access token, renews it
//! ahead of expiry, and sends exactly one refresh however many tasks (and, with the file
//! store, processes) need it at once. The protocol is written up in
//! `docs/design/token-cache.md`.
//!
//! - Fast path: a read lock and a clock read; no await, no network.
//! - Renew window (fewer than `renew_before` or half the lifetime left, minus jitter):
//!   the first task to notice refreshes; the others keep using the still-valid token.
//!   A failed refresh keeps the old token (soft fail) and is not retried before
//!   `min_retry_interval`.
//! - Expired or missing: every task waits on the refresh lock; the first one refreshes,
//!   the others find the new token when they get the lock.
//! - Across processes the refresher takes the store's lock and **re-reads the store**
//!   under it: another process may have refreshed, or rotated the refresh token.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;

use super::clock::{Clock, SystemClock};
use super::store::{MemoryStore, TokenStore};
use super::{CacheKey, Token};
use crate::secret::{AccessToken, RefreshToken};
use crate::{Error, ErrorKind, Result};

/// How a [`TokenSource`] gets tokens: a new grant, or a refresh.
#[async_trait]
pub trait Grant: Send + Sync + fmt::Debug {
    /// Obtains a new token without a refresh token. Grants that need a person return an
    /// [`ErrorKind::LoginRequired`] error unless a login handler is available.
    async fn obtain(&self) -> Result<Token>;
    /// Exchanges a refresh token for a new token.
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<Token>;
    /// Whether [`obtain`](Grant::obtain) can run without a person (client credentials,
    /// password): then a refused refresh falls back to it.
    fn unattended(&self) -> bool;

    /// A narrowing of this grant ([`TokenSource::narrowed`]): `fetch` asks the provider
    /// with a refresh token (or with none). The default runs it on this host with `rt`,
    /// the caller's freshest. A grant whose refresh token is shared beyond this host (the
    /// cluster store) runs it under the same coordination as its refreshes: presenting a
    /// rotating refresh token spends it, wherever the narrowing happens. `key` is the
    /// narrowed token's cache key; a token found there valid for `min_valid` may be
    /// returned without calling `fetch`.
    async fn narrow(
        &self,
        key: &CacheKey,
        min_valid: Duration,
        rt: Option<RefreshToken>,
        fetch: NarrowFetch<'_>,
    ) -> Result<Narrowed> {
        let _ = (key, min_valid);
        Ok(Narrowed {
            token: fetch(rt).await?,
            grant: None,
        })
    }
}

/// The provider call of a narrowing: given the refresh token to present (`None`: the grant
/// has none), the narrowed token.
pub type NarrowFetch<'a> =
    Box<dyn FnOnce(Option<RefreshToken>) -> futures_util::future::BoxFuture<'a, Result<Token>> + Send + 'a>;

/// What [`Grant::narrow`] gives back.
#[derive(Debug)]
pub struct Narrowed {
    /// The narrowed token (its refresh token, if any, is the grant's rotated one).
    pub token: Token,
    /// The grant's token as it stands after the narrowing, when the grant knows it better
    /// than this host's store (the cluster's record, with the rotated refresh token).
    pub grant: Option<Token>,
}

/// When to renew.
#[derive(Debug, Clone)]
pub struct RenewPolicy {
    /// Renew when fewer seconds than this remain (profile key `renew_before`, default 60).
    pub renew_before: Duration,
    /// After a failed renewal, wait at least this long before the next attempt while the
    /// old token is still usable.
    pub min_retry_interval: Duration,
    /// Spread renewals of many clients over up to a tenth of the lifetime (at most 30 s).
    pub jitter: bool,
}

impl Default for RenewPolicy {
    fn default() -> Self {
        RenewPolicy {
            renew_before: Duration::from_secs(60),
            min_retry_interval: Duration::from_secs(10),
            jitter: true,
        }
    }
}

#[derive(Clone)]
struct Cached {
    token: Arc<Token>,
    generation: u64,
    /// Unix second from which a renewal is attempted while the token is still valid.
    renew_at: i64,
    /// Rejected by a server (401) or replaced by force: never handed out again.
    rejected: bool,
}

struct State {
    current: Option<Cached>,
    loaded_from_store: bool,
    last_failure: Option<i64>,
    /// A token rejected by a server: not to be re-adopted from the store.
    rejected: Option<AccessToken>,
}

/// Counters for tests and `status`.
#[derive(Debug, Default)]
pub struct SourceStats {
    /// Network renewals (grants and refreshes) this source sent.
    pub renewals: AtomicU64,
    /// Tokens adopted from the store that another process had renewed.
    pub adopted: AtomicU64,
}

/// A single-flight, renewing token cache for one grant and cache key. Cheap to clone.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    key: CacheKey,
    grant: Arc<dyn Grant>,
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    policy: RenewPolicy,
    state: RwLock<State>,
    refresh_lock: tokio::sync::Mutex<()>,
    generation: AtomicU64,
    stats: SourceStats,
    jitter_seed: Mutex<u64>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("key", &self.inner.key.hash())
            .field("grant", &self.inner.grant)
            .field("store", &self.inner.store.describe())
            .finish()
    }
}

/// Builds a [`TokenSource`].
#[must_use]
pub struct TokenSourceBuilder {
    key: CacheKey,
    grant: Arc<dyn Grant>,
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    policy: RenewPolicy,
}

impl TokenSourceBuilder {
    /// The store (default: memory).
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = store;
        self
    }
    /// The clock (default: system).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// The renew policy.
    pub fn policy(mut self, policy: RenewPolicy) -> Self {
        self.policy = policy;
        self
    }
    /// Builds it.
    pub fn build(self) -> TokenSource {
        TokenSource {
            inner: Arc::new(Inner {
                key: self.key,
                grant: self.grant,
                store: self.store,
                clock: self.clock,
                policy: self.policy,
                state: RwLock::new(State {
                    current: None,
                    loaded_from_store: false,
                    last_failure: None,
                    rejected: None,
                }),
                refresh_lock: tokio::sync::Mutex::new(()),
                generation: AtomicU64::new(0),
                stats: SourceStats::default(),
                jitter_seed: Mutex::new(rand::random()),
            }),
        }
    }
}

/// A token handed out, with the generation to quote in [`TokenSource::reject`].
#[derive(Clone, Debug)]
pub struct Lease {
    /// The token.
    pub token: Arc<Token>,
    /// Its generation in this source.
    pub generation: u64,
}

impl TokenSource {
    /// A builder for a source of `grant`'s tokens under `key`.
    pub fn builder(key: CacheKey, grant: Arc<dyn Grant>) -> TokenSourceBuilder {
        TokenSourceBuilder {
            key,
            grant,
            store: Arc::new(MemoryStore::default()),
            clock: Arc::new(SystemClock),
            policy: RenewPolicy::default(),
        }
    }

    /// The cache key.
    pub fn key(&self) -> &CacheKey {
        &self.inner.key
    }

    /// The clock its expiry decisions follow (and that those who date its tokens use).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.inner.store
    }

    /// Counters.
    pub fn stats(&self) -> &SourceStats {
        &self.inner.stats
    }

    /// The token held now, without renewing or loading (for `status`).
    pub fn peek(&self) -> Option<Arc<Token>> {
        self.inner
            .state
            .read()
            .expect("token state")
            .current
            .as_ref()
            .map(|c| c.token.clone())
    }

    /// A token valid for at least `min_valid`: cached when possible, renewed when needed.
    pub async fn token(&self, min_valid: Duration) -> Result<Lease> {
        self.get(|_| min_valid, false).await
    }

    /// Like [`token`](Self::token), with the margin chosen from the token held now (valid,
    /// expired or rejected; `None` when there is none) in the same look at the cache: for
    /// a margin that depends on the token's lifetime, without reading the cache twice.
    pub async fn token_with_margin(&self, min_valid: impl FnOnce(Option<&Token>) -> Duration) -> Result<Lease> {
        self.get(min_valid, false).await
    }

    /// A new token, whatever the cache holds (`--force-refresh`).
    pub async fn force_refresh(&self) -> Result<Lease> {
        self.get(|_| Duration::ZERO, true).await
    }

    /// The cached token, from memory or the store, if it is valid for `min_valid`; never
    /// any network (for `sesame token`'s fast path and for `status`).
    pub fn cached(&self, min_valid: Duration) -> Result<Option<Lease>> {
        self.load_once()?;
        let now = self.inner.clock.now();
        let st = self.inner.state.read().expect("token state");
        Ok(st
            .current
            .as_ref()
            .filter(|c| !c.rejected && c.token.valid_for(min_valid, now))
            .map(|c| Lease {
                token: c.token.clone(),
                generation: c.generation,
            }))
    }

    /// A server rejected the token of `generation` (401). It is dropped only if it is
    /// still the current one (compare-and-swap), so that a late 401 for an old token does
    /// not discard a fresh one. Returns whether it was current.
    pub fn reject(&self, generation: u64) -> bool {
        let mut st = self.inner.state.write().expect("token state");
        let is_current = st
            .current
            .as_ref()
            .is_some_and(|c| c.generation == generation && !c.rejected);
        if is_current {
            let c = st.current.as_mut().expect("current");
            c.rejected = true;
            st.rejected = Some(c.token.access_token.clone());
        }
        is_current
    }

    /// Forgets the token here and in the store (`logout`).
    pub fn clear(&self) -> Result<()> {
        let mut st = self.inner.state.write().expect("token state");
        st.current = None;
        st.loaded_from_store = true;
        drop(st);
        self.inner.store.delete(&self.inner.key)
    }

    /// A token narrowed from this source's grant (RFC 6749 §6 refresh with fewer scopes, or
    /// an RFC 8707 audience), cached under its own key ([`CacheKey::narrowed`]) so that
    /// asking again while it is valid costs one file read, not a provider round trip.
    ///
    /// `fetch` gets the freshest refresh token (`None`: the grant has none) and asks the
    /// provider. It runs under this source's in-process and store locks: with rotating
    /// refresh tokens a narrowing and a renewal of the grant must never present the same
    /// refresh token twice (the provider would revoke the grant). A refresh token that
    /// rotated on the way becomes the grant's; the narrowed record keeps none (one copy of
    /// a rotating refresh token, in the grant's record).
    pub async fn narrowed<'a, F, Fut>(&'a self, key: &CacheKey, min_valid: Duration, fetch: F) -> Result<Arc<Token>>
    where
        F: FnOnce(Option<RefreshToken>) -> Fut + Send + 'a,
        Fut: std::future::Future<Output = Result<Token>> + Send + 'a,
    {
        let usable = |t: &Option<Token>| {
            t.as_ref()
                .filter(|t| t.valid_for(min_valid, self.inner.clock.now()))
                .cloned()
        };
        if let Some(t) = usable(&self.inner.store.load(key)?) {
            return Ok(Arc::new(t));
        }
        let _in_process = self.inner.refresh_lock.lock().await;
        let store = self.inner.store.clone();
        let parent = self.inner.key.clone();
        let _store_lock = tokio::task::spawn_blocking(move || store.lock(&parent))
            .await
            .map_err(|e| Error::new(ErrorKind::Io, format!("token cache lock task failed: {e}")))??;
        // Another process may have narrowed meanwhile.
        if let Some(t) = usable(&self.inner.store.load(key)?) {
            return Ok(Arc::new(t));
        }
        let grant = self
            .inner
            .store
            .load(&self.inner.key)?
            .or_else(|| self.peek().map(|t| (*t).clone()));
        let refresh_token = grant.as_ref().and_then(|g| g.refresh_token.clone());
        let fetch: NarrowFetch<'a> = Box::new(move |rt| Box::pin(fetch(rt)));
        let Narrowed {
            token: narrowed,
            grant: updated,
        } = self
            .inner
            .grant
            .narrow(key, min_valid, refresh_token.clone(), fetch)
            .await?;
        if let Some(g) = updated {
            // The grant's record as the coordination left it (a rotated refresh token).
            self.inner.store.save(&self.inner.key, &g)?;
            self.set_current(g);
        } else if let (Some(mut g), Some(new_rt)) = (grant, &narrowed.refresh_token)
            && refresh_token.as_ref() != Some(new_rt)
        {
            g.refresh_token = Some(new_rt.clone());
            self.inner.store.save(&self.inner.key, &g)?;
            self.set_current(g);
        }
        let mut record = narrowed;
        record.refresh_token = None;
        self.inner.store.save(key, &record)?;
        Ok(Arc::new(record))
    }

    /// Installs a token obtained elsewhere (an interactive login) and stores it.
    pub fn install(&self, token: Token) -> Result<Lease> {
        self.inner.store.save(&self.inner.key, &token)?;
        Ok(self.set_current(token))
    }

    fn load_once(&self) -> Result<()> {
        if self.inner.state.read().expect("token state").loaded_from_store {
            return Ok(());
        }
        let stored = self.inner.store.load(&self.inner.key)?;
        let mut st = self.inner.state.write().expect("token state");
        if !st.loaded_from_store {
            st.loaded_from_store = true;
            if st.current.is_none()
                && let Some(t) = stored
            {
                drop(st);
                self.set_current(t);
            }
        }
        Ok(())
    }

    fn set_current(&self, token: Token) -> Lease {
        let generation = self.inner.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let renew_at = self.renew_at(&token);
        let token = Arc::new(token);
        let mut st = self.inner.state.write().expect("token state");
        st.current = Some(Cached {
            token: token.clone(),
            generation,
            renew_at,
            rejected: false,
        });
        st.last_failure = None;
        Lease { token, generation }
    }

    /// The second at which renewal starts: `max(renew_before, lifetime/2)` before expiry
    /// (only half the lifetime when `renew_before` exceeds it, so short-lived tokens are
    /// not renewed on every use), minus jitter.
    fn renew_at(&self, t: &Token) -> i64 {
        let Some(exp) = t.expires_at else { return i64::MAX };
        let lifetime = (exp - t.issued_at).max(1);
        let rb = self.inner.policy.renew_before.as_secs() as i64;
        let threshold = if rb < lifetime {
            rb.max(lifetime / 2)
        } else {
            lifetime / 2
        };
        let jitter = if self.inner.policy.jitter {
            let span = (lifetime / 10).min(30);
            if span > 0 {
                let mut seed = self.inner.jitter_seed.lock().expect("jitter");
                *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((*seed >> 33) % (span as u64 + 1)) as i64
            } else {
                0
            }
        } else {
            0
        };
        exp - threshold - jitter
    }

    async fn get(&self, min_valid: impl FnOnce(Option<&Token>) -> Duration, force: bool) -> Result<Lease> {
        self.load_once()?;
        let now = self.inner.clock.now();
        let (snapshot, failed_recently) = {
            let st = self.inner.state.read().expect("token state");
            let failed = st
                .last_failure
                .is_some_and(|f| now < f + self.inner.policy.min_retry_interval.as_secs() as i64);
            (st.current.clone(), failed)
        };
        let min_valid = min_valid(snapshot.as_ref().map(|c| &*c.token));
        if let (false, Some(c)) = (force, &snapshot)
            && !c.rejected
            && c.token.valid_for(min_valid, now)
        {
            let lease = Lease {
                token: c.token.clone(),
                generation: c.generation,
            };
            if now < c.renew_at || failed_recently {
                return Ok(lease);
            }
            // In the renew window: one task renews, the others carry on.
            let Ok(guard) = self.inner.refresh_lock.try_lock() else {
                return Ok(lease);
            };
            return match self.renew(&guard, min_valid, false, Some(c.generation)).await {
                Ok(l) => Ok(l),
                Err(e) => {
                    let now = self.inner.clock.now();
                    // A renewal that cannot even start here (the client secret's
                    // variable is not set in this shell, say) must not cost the caller a
                    // token that still works: it fails once the token is no longer valid.
                    if c.token.valid_for(min_valid, now) && (!is_permanent(&e) || is_local_setup(&e)) {
                        tracing::warn!(error = %e, "token renewal failed; using the current token until it expires");
                        self.inner.state.write().expect("token state").last_failure = Some(now);
                        Ok(lease)
                    } else {
                        Err(e)
                    }
                }
            };
        }
        let seen = snapshot.map(|c| c.generation);
        // Expired, missing, rejected or forced: wait for the one refresh.
        let guard = self.inner.refresh_lock.lock().await;
        let renewed_meanwhile = {
            let now = self.inner.clock.now();
            let st = self.inner.state.read().expect("token state");
            st.current
                .as_ref()
                .filter(|c| !c.rejected && c.token.valid_for(min_valid, now) && (!force || Some(c.generation) != seen))
                .map(|c| Lease {
                    token: c.token.clone(),
                    generation: c.generation,
                })
        };
        if let Some(lease) = renewed_meanwhile {
            return Ok(lease);
        }
        self.renew(&guard, min_valid, force, seen).await
    }

    /// Renews under the in-process refresh lock: takes the store lock, re-reads the store,
    /// adopts what another process wrote if it will do, else asks the grant.
    async fn renew(
        &self,
        _in_process: &tokio::sync::MutexGuard<'_, ()>,
        min_valid: Duration,
        force: bool,
        seen: Option<u64>,
    ) -> Result<Lease> {
        let store = self.inner.store.clone();
        let key = self.inner.key.clone();
        let store_lock = tokio::task::spawn_blocking(move || store.lock(&key))
            .await
            .map_err(|e| Error::new(ErrorKind::Io, format!("token cache lock task failed: {e}")))??;
        let now = self.inner.clock.now();
        let stored = self.inner.store.load(&self.inner.key)?;
        let (current_token, rejected) = {
            let st = self.inner.state.read().expect("token state");
            (st.current.as_ref().map(|c| c.token.clone()), st.rejected.clone())
        };
        if let Some(s) = &stored {
            let is_rejected = rejected.as_ref() == Some(&s.access_token);
            let is_ours = current_token.as_ref().is_some_and(|c| c.access_token == s.access_token);
            let fresh_enough = s.valid_for(min_valid, now) && self.renew_at(s) > now;
            if !is_rejected && fresh_enough && (!is_ours || (!force && seen.is_none())) {
                tracing::debug!("adopting a token renewed by another process");
                self.inner.stats.adopted.fetch_add(1, Ordering::Relaxed);
                let lease = self.set_current(stored.expect("stored"));
                drop(store_lock);
                return Ok(lease);
            }
        }
        // The freshest refresh token: the store's (another process may have rotated it),
        // else ours.
        let refresh_token = stored
            .as_ref()
            .and_then(|s| s.refresh_token.clone())
            .or_else(|| current_token.as_ref().and_then(|c| c.refresh_token.clone()));
        self.inner.stats.renewals.fetch_add(1, Ordering::Relaxed);
        let result = match &refresh_token {
            Some(rt) => match self.inner.grant.refresh(rt).await {
                Ok(t) => Ok(t),
                // A missing secret is not the provider refusing the refresh token.
                Err(e) if is_permanent(&e) && !is_local_setup(&e) => {
                    tracing::info!(error = %e, "refresh refused");
                    if self.inner.grant.unattended() {
                        self.inner.grant.obtain().await
                    } else {
                        Err(
                            Error::login_required(format!("{e}; the refresh token is no longer accepted"))
                                .with_hint(crate::Hint::Login),
                        )
                    }
                }
                Err(e) => Err(e),
            },
            None => self.inner.grant.obtain().await,
        };
        let token = result?;
        self.inner.store.save(&self.inner.key, &token)?;
        let lease = self.set_current(token);
        drop(store_lock);
        Ok(lease)
    }
}

/// A failure before anything was sent: the configuration cannot make the request (a
/// client secret that is not available, an unusable secret file).
fn is_local_setup(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Config | ErrorKind::Credential)
}

/// Permanent failures (the grant is refused) are not soft-failed or retried; transient
/// ones (network, timeouts, 5xx, `temporarily_unavailable`) are.
pub fn is_permanent(e: &Error) -> bool {
    match e.kind() {
        ErrorKind::Transport | ErrorKind::Timeout | ErrorKind::Io => false,
        ErrorKind::Http => !e.is_server_error(),
        ErrorKind::OAuth => !matches!(
            e.oauth_error_code(),
            Some("temporarily_unavailable" | "server_error") | None
        ),
        _ => true,
    }
}
