//! The claim protocol (docs/design/cluster-cache.md): a [`Grant`] in front of the
//! provider's grant, called by a host's local lock holder only. It adopts a newer token
//! from the cluster's record, or claims the refresh with a check-and-set write; only the
//! winner calls the provider and writes the new record; the others wait for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::auth::Auth;
use super::kv::{Kv, KvError, Versioned};
use super::settings::{ClusterFallback, OpenBaoSettings};
use super::{Failure, Transport};
use crate::secret::RefreshToken;
use crate::token::file_store::{Decoded, from_json, to_json};
use crate::token::{CacheKey, Clock, Grant, NarrowFetch, Narrowed, Token, TokenStore};
use crate::{Error, ErrorKind, Result};

/// Counters (tests, benchmarks, `status`).
#[derive(Debug, Default)]
pub struct ClusterStats {
    /// Claims this process won (each is followed by one call to the provider).
    pub claims_won: AtomicU64,
    /// Tokens taken from the cluster's record (another host refreshed).
    pub adopted: AtomicU64,
    /// Times this process waited for another host's claim (polls).
    pub polls: AtomicU64,
    /// Refreshes done locally because the cluster was unreachable (`cluster_fallback = "local"`).
    pub local_fallbacks: AtomicU64,
    /// Write replies lost (uncertain writes) that were settled by re-reading.
    pub uncertain_writes: AtomicU64,
}

impl ClusterStats {
    /// HTTP requests this process sent to the cluster.
    pub fn requests(c: &super::OpenBaoCache) -> u64 {
        c.inner.kv.transport.requests.load(Ordering::Relaxed)
    }
}

/// What `sesame status` shows about the cluster's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordStatus {
    /// The KV version.
    pub version: u64,
    /// The host that wrote the current token (`<host>:<pid>`).
    pub refreshed_by: Option<String>,
    /// When, Unix seconds.
    pub refreshed_at: Option<i64>,
    /// A claim in progress: who, and until when (Unix seconds).
    pub refreshing: Option<(String, i64)>,
    /// The access token's expiry, Unix seconds.
    pub expires_at: Option<i64>,
}

pub(crate) struct Cluster {
    pub settings: OpenBaoSettings,
    pub kv: Kv,
    pub stats: ClusterStats,
    host_id: String,
    warned_down: AtomicBool,
    /// The clock that dates claims and records (Unix seconds shared between hosts).
    clock: Arc<dyn Clock>,
}

/// The record as stored (KV data).
struct Record {
    token: Option<Token>,
    refreshing_by: String,
    claim: String,
    until: i64,
    refreshed_by: String,
    refreshed_at: i64,
}

impl Record {
    fn decode(key: &CacheKey, v: &Value) -> Record {
        let token = match v.get("token") {
            Some(t) if t.is_object() => match from_json(key, t.to_string().as_bytes()) {
                Decoded::Token(t) => Some(t),
                Decoded::Corrupt => {
                    tracing::warn!("the cluster's token record is corrupt; it will be replaced");
                    None
                }
                Decoded::NotOurs(why) => {
                    tracing::warn!("the cluster's token record is not used: {why}; it will be replaced");
                    None
                }
            },
            _ => None,
        };
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        Record {
            token,
            refreshing_by: s("refreshing_by"),
            claim: s("claim"),
            until: v.get("until").and_then(Value::as_i64).unwrap_or(0),
            refreshed_by: s("refreshed_by"),
            refreshed_at: v.get("refreshed_at").and_then(Value::as_i64).unwrap_or(0),
        }
    }

    fn encode(&self, key: &CacheKey) -> Result<Value> {
        let token = match &self.token {
            Some(t) => serde_json::from_slice::<Value>(&to_json(key, t)?).map_err(|e| Error::decode(e.to_string()))?,
            None => Value::Null,
        };
        Ok(json!({
            "token": token,
            "refreshing_by": self.refreshing_by,
            "claim": self.claim,
            "until": self.until,
            "refreshed_by": self.refreshed_by,
            "refreshed_at": self.refreshed_at,
        }))
    }

    fn claimed_by_other(&self, now: i64) -> bool {
        !self.claim.is_empty() && self.until > now
    }
}

impl Cluster {
    pub fn new(settings: OpenBaoSettings, clock: Arc<dyn Clock>) -> Result<Self> {
        let transport = Transport::new(&settings)?;
        let auth = Auth::new(settings.auth.clone());
        let kv = Kv::new(transport, auth, &settings.mount);
        let host_id = settings.host_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .or_else(|| std::env::var("HOSTNAME").ok())
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "host".into());
            format!("{host}:{}", std::process::id())
        });
        Ok(Cluster {
            settings,
            kv,
            stats: ClusterStats::default(),
            host_id,
            warned_down: AtomicBool::new(false),
            clock,
        })
    }

    fn path(&self, key: &CacheKey) -> String {
        let prefix = self.settings.path.trim_matches('/');
        if prefix.is_empty() {
            key.hash().to_string()
        } else {
            format!("{prefix}/{}", key.hash())
        }
    }

    async fn read(&self, key: &CacheKey) -> std::result::Result<Option<(u64, Record)>, KvError> {
        Ok(self
            .kv
            .read(&self.path(key))
            .await?
            .map(|Versioned { version, data }| (version, Record::decode(key, &data))))
    }

    pub async fn status(&self, key: &CacheKey) -> Result<Option<RecordStatus>> {
        let r = self.read(key).await.map_err(kv_error)?;
        Ok(r.map(|(version, rec)| RecordStatus {
            version,
            refreshed_by: Some(rec.refreshed_by.clone()).filter(|s| !s.is_empty()),
            refreshed_at: Some(rec.refreshed_at).filter(|&t| t > 0),
            refreshing: (!rec.claim.is_empty()).then(|| (rec.refreshing_by.clone(), rec.until)),
            expires_at: rec.token.as_ref().and_then(|t| t.expires_at),
        }))
    }

    pub async fn publish(&self, key: &CacheKey, token: &Token) -> Result<u64> {
        for _ in 0..10 {
            let version = self.read(key).await.map_err(kv_error)?.map_or(0, |(v, _)| v);
            let rec = self.fresh_record(token.clone());
            match self.kv.write_cas(&self.path(key), &rec.encode(key)?, version).await {
                Ok(v) => return Ok(v),
                Err(KvError::CasMismatch) | Err(KvError::Cluster(Failure::Uncertain(_))) => continue,
                Err(e) => return Err(kv_error(e)),
            }
        }
        Err(Error::new(
            ErrorKind::Transport,
            "could not write the token to the OpenBao cluster: the record kept changing",
        ))
    }

    fn fresh_record(&self, token: Token) -> Record {
        Record {
            token: Some(token),
            refreshing_by: String::new(),
            claim: String::new(),
            until: 0,
            refreshed_by: self.host_id.clone(),
            refreshed_at: self.clock.now(),
        }
    }

    fn warn_down(&self, e: &Error, fallback: ClusterFallback) {
        if !self.warned_down.swap(true, Ordering::Relaxed) {
            match fallback {
                ClusterFallback::Local => tracing::warn!(
                    error = %e,
                    "the OpenBao cluster is unreachable; refreshing on this host only (cluster_fallback = \"local\")"
                ),
                ClusterFallback::Fail => tracing::warn!(
                    error = %e,
                    "the OpenBao cluster is unreachable; not refreshing (cluster_fallback = \"fail\"): the cached token is used while it is valid"
                ),
            }
        }
    }
}

fn kv_error(e: KvError) -> Error {
    match e {
        KvError::CasMismatch => Error::new(ErrorKind::Transport, "the OpenBao record changed while it was written"),
        KvError::Cluster(f) => f.into_error(),
        KvError::Fatal(e) => e,
    }
}

/// The claim protocol for one cache key. See the module documentation.
pub(crate) struct ClusterGrant {
    cluster: Arc<Cluster>,
    key: CacheKey,
    inner: Arc<dyn Grant>,
    local: Arc<dyn TokenStore>,
}

impl std::fmt::Debug for ClusterGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterGrant")
            .field("key", &self.key.hash())
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

enum Step {
    Done(Token),
    Fallback(Error),
}

impl ClusterGrant {
    pub fn new(cluster: Arc<Cluster>, key: CacheKey, inner: Arc<dyn Grant>, local: Arc<dyn TokenStore>) -> Self {
        ClusterGrant {
            cluster,
            key,
            inner,
            local,
        }
    }

    async fn run(&self, rt: Option<&RefreshToken>) -> Result<Token> {
        match self.protocol(rt).await? {
            Step::Done(t) => Ok(t),
            Step::Fallback(e) => {
                let fallback = self.cluster.settings.fallback.unwrap_or(if rt.is_some() {
                    ClusterFallback::Fail
                } else {
                    ClusterFallback::Local
                });
                self.cluster.warn_down(&e, fallback);
                match fallback {
                    ClusterFallback::Local => {
                        self.cluster.stats.local_fallbacks.fetch_add(1, Ordering::Relaxed);
                        match rt {
                            Some(rt) => self.inner.refresh(rt).await,
                            None => self.inner.obtain().await,
                        }
                    }
                    ClusterFallback::Fail => Err(e.context("not refreshing (cluster_fallback = \"fail\")")),
                }
            }
        }
    }

    /// The token this host holds now (the local store, under the lock the caller holds).
    fn local_access(&self) -> Option<String> {
        self.local
            .load(&self.key)
            .ok()
            .flatten()
            .map(|t| t.access_token.expose().to_string())
    }

    async fn protocol(&self, rt: Option<&RefreshToken>) -> Result<Step> {
        let c = &self.cluster;
        let path = c.path(&self.key);
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        let held = self.local_access();
        loop {
            if started.elapsed() > c.settings.max_wait {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "waited {:?} for another host's refresh in the OpenBao cluster ({}); the record's `refreshing_by` names the host that holds the claim",
                        c.settings.max_wait, path
                    ),
                ));
            }
            let now = c.clock.now();
            let (version, rec) = match c.read(&self.key).await {
                Ok(Some((v, r))) => (v, Some(r)),
                Ok(None) => (0, None),
                Err(KvError::Cluster(f)) => return Ok(Step::Fallback(f.into_error())),
                Err(e) => return Err(kv_error(e)),
            };
            // A token this host does not hold yet, with some life left: adopt it.
            if let Some(t) = rec.as_ref().and_then(|r| r.token.as_ref())
                && held.as_deref() != Some(t.access_token.expose())
                && usable(t, now)
            {
                c.stats.adopted.fetch_add(1, Ordering::Relaxed);
                return Ok(Step::Done(t.clone()));
            }
            if rec.as_ref().is_some_and(|r| r.claimed_by_other(now)) {
                c.stats.polls.fetch_add(1, Ordering::Relaxed);
                sleep_jittered(&mut delay).await;
                continue;
            }
            let (claim_version, claim) = match self.claim(&path, version, rec.as_ref(), now).await {
                Ok(Some(won)) => won,
                Ok(None) => {
                    // Another host wrote first: look again (soon, jittered).
                    sleep_jittered(&mut Duration::from_millis(50)).await;
                    continue;
                }
                Err(KvError::Cluster(f)) => return Ok(Step::Fallback(f.into_error())),
                Err(e) => return Err(kv_error(e)),
            };
            // The freshest refresh token is the record's (another host may have rotated it).
            let freshest = claim
                .token
                .as_ref()
                .and_then(|t| t.refresh_token.clone())
                .or_else(|| rt.cloned());
            let result = match &freshest {
                Some(rt) => self.inner.refresh(rt).await,
                None => self.inner.obtain().await,
            };
            return match result {
                Ok(token) => {
                    let rec = c.fresh_record(token.clone());
                    let landed = |r: &Record| {
                        r.token.as_ref().map(|t| t.access_token.expose()) == Some(token.access_token.expose())
                    };
                    self.write_record(&path, claim_version, &rec, landed, "the new token", claim.until)
                        .await;
                    Ok(Step::Done(token))
                }
                Err(e) => {
                    // Release the claim so that another host need not wait for it to expire.
                    self.release(&path, claim, claim_version).await;
                    Err(e)
                }
            };
        }
    }

    /// Claims the refresh of the grant's record (seen at `version` as `rec`) with a
    /// check-and-set write: `Some((claim_version, claim))` when this host won, `None` when
    /// another host wrote first. A claim whose reply was lost may have landed: re-read and
    /// look for our nonce before deciding.
    async fn claim(
        &self,
        path: &str,
        version: u64,
        rec: Option<&Record>,
        now: i64,
    ) -> std::result::Result<Option<(u64, Record)>, KvError> {
        let c = &self.cluster;
        let nonce = hex::encode(rand::random::<[u8; 12]>());
        let claim = Record {
            token: rec.and_then(|r| r.token.clone()),
            refreshing_by: c.host_id.clone(),
            claim: nonce.clone(),
            until: now + c.settings.claim_ttl.as_secs() as i64,
            refreshed_by: rec.map(|r| r.refreshed_by.clone()).unwrap_or_default(),
            refreshed_at: rec.map_or(0, |r| r.refreshed_at),
        };
        let body = claim.encode(&self.key).map_err(KvError::Fatal)?;
        let won = match c.kv.write_cas(path, &body, version).await {
            Ok(v) => Some(v),
            Err(KvError::CasMismatch) => None,
            Err(KvError::Cluster(Failure::Uncertain(e))) => {
                c.stats.uncertain_writes.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, "claim write uncertain; re-reading");
                match c.read(&self.key).await? {
                    Some((v, r)) if r.claim == nonce => Some(v),
                    _ => None,
                }
            }
            Err(e) => return Err(e),
        };
        if won.is_some() {
            c.stats.claims_won.fetch_add(1, Ordering::Relaxed);
        }
        Ok(won.map(|v| (v, claim)))
    }

    /// Gives the claim back (record unchanged otherwise), so that another host need not
    /// wait for it to expire. Best effort: an unanswered release expires with its `until`.
    async fn release(&self, path: &str, claim: Record, claim_version: u64) {
        if let Ok(v) = released(claim).encode(&self.key) {
            let _ = self.cluster.kv.write_cas(path, &v, claim_version).await;
        }
    }

    /// Writes `rec` over our claim (version `claim_version`) until it lands or the claim
    /// expires at `until`. A lost reply or a version mismatch is settled by re-reading:
    /// `landed` tells whether the record read back is ours. A failure here does not fail
    /// the caller (it has its token); it is logged, naming `what` was not stored.
    async fn write_record(
        &self,
        path: &str,
        claim_version: u64,
        rec: &Record,
        landed: impl Fn(&Record) -> bool,
        what: &str,
        until: i64,
    ) {
        let c = &self.cluster;
        let Ok(body) = rec.encode(&self.key) else { return };
        let mut delay = Duration::from_millis(100);
        loop {
            match c.kv.write_cas(path, &body, claim_version).await {
                Ok(_) => return,
                Err(KvError::CasMismatch) | Err(KvError::Cluster(Failure::Uncertain(_))) => {
                    c.stats.uncertain_writes.fetch_add(1, Ordering::Relaxed);
                    match c.read(&self.key).await {
                        Ok(Some((_, r))) if landed(&r) => return,
                        Ok(Some((v, _))) if v == claim_version => {}
                        Ok(_) => {
                            tracing::warn!(
                                "the OpenBao record changed while this host held the claim (it expired?); {what} is kept on this host"
                            );
                            return;
                        }
                        Err(_) => {}
                    }
                }
                Err(KvError::Cluster(Failure::Unreachable(_))) => {}
                Err(KvError::Fatal(e)) => {
                    tracing::warn!(error = %e, "could not store {what} in the OpenBao cluster");
                    return;
                }
            }
            if c.clock.now() > until {
                tracing::warn!("could not store {what} in the OpenBao cluster before the claim expired");
                return;
            }
            sleep_jittered(&mut delay).await;
        }
    }
}

/// `claim` with its claim cleared: the record as it was, free for any host to claim.
fn released(mut claim: Record) -> Record {
    claim.claim.clear();
    claim.refreshing_by.clear();
    claim.until = 0;
    claim
}

/// Valid for at least a tenth of its lifetime (at least a second).
fn usable(t: &Token, now: i64) -> bool {
    match t.expires_at {
        None => true,
        Some(exp) => {
            let lifetime = (exp - t.issued_at).max(1);
            exp - now > (lifetime / 10).max(1)
        }
    }
}

async fn sleep_jittered(delay: &mut Duration) {
    let base = delay.as_millis() as u64;
    let ms = base / 2 + rand::random::<u64>() % (base + 1);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    *delay = (*delay * 3 / 2).min(Duration::from_secs(1));
}

impl ClusterGrant {
    /// A narrowing ([`TokenSource::narrowed`](crate::token::TokenSource::narrowed)) under
    /// the grant's claim: presenting the shared refresh token spends it when the provider
    /// rotates refresh tokens, so it is done like a refresh — by the host that holds the
    /// claim of the grant's record, with the record's (freshest) refresh token — and a
    /// rotated refresh token goes back into the record before the claim is released.
    /// The narrowed token itself (without a refresh token) is shared under its own key:
    /// a host finding it there valid for `min_valid` takes it without asking the provider.
    async fn narrow_protocol<'f>(
        &self,
        nkey: &CacheKey,
        min_valid: Duration,
        rt: Option<RefreshToken>,
        fetch: NarrowFetch<'f>,
    ) -> Result<std::result::Result<Narrowed, (Error, NarrowFetch<'f>, Option<RefreshToken>)>> {
        let c = &self.cluster;
        let path = c.path(&self.key);
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        let valid = |t: &Token| t.valid_for(min_valid, c.clock.now());
        let shared = |r: std::result::Result<Option<(u64, Record)>, KvError>| match r {
            Ok(Some((_, rec))) => Ok(rec.token.filter(valid)),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        loop {
            if started.elapsed() > c.settings.max_wait {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "waited {:?} for another host's refresh in the OpenBao cluster ({path}) before narrowing",
                        c.settings.max_wait
                    ),
                ));
            }
            match shared(c.read(nkey).await) {
                Ok(Some(t)) => {
                    c.stats.adopted.fetch_add(1, Ordering::Relaxed);
                    return Ok(Ok(Narrowed { token: t, grant: None }));
                }
                Ok(None) => {}
                Err(KvError::Cluster(f)) => return Ok(Err((f.into_error(), fetch, rt))),
                Err(e) => return Err(kv_error(e)),
            }
            let now = c.clock.now();
            let (version, rec) = match c.read(&self.key).await {
                Ok(Some((v, r))) => (v, Some(r)),
                Ok(None) => (0, None),
                Err(KvError::Cluster(f)) => return Ok(Err((f.into_error(), fetch, rt))),
                Err(e) => return Err(kv_error(e)),
            };
            if rec.as_ref().is_some_and(|r| r.claimed_by_other(now)) {
                c.stats.polls.fetch_add(1, Ordering::Relaxed);
                sleep_jittered(&mut delay).await;
                continue;
            }
            let (claim_version, claim) = match self.claim(&path, version, rec.as_ref(), now).await {
                Ok(Some(won)) => won,
                Ok(None) => {
                    sleep_jittered(&mut Duration::from_millis(50)).await;
                    continue;
                }
                Err(KvError::Cluster(f)) => return Ok(Err((f.into_error(), fetch, rt))),
                Err(e) => return Err(kv_error(e)),
            };
            // A host that narrowed while we waited for the claim has shared its token.
            if let Ok(Some(t)) = shared(c.read(nkey).await) {
                self.release(&path, claim, claim_version).await;
                return Ok(Ok(Narrowed { token: t, grant: None }));
            }
            let freshest = claim.token.as_ref().and_then(|t| t.refresh_token.clone()).or(rt);
            let result = fetch(freshest.clone()).await;
            let narrowed = match result {
                Ok(t) => t,
                Err(e) => {
                    self.release(&path, claim, claim_version).await;
                    return Err(e);
                }
            };
            // The grant's record, with the refresh token the provider rotated to (if it did).
            let rotated = narrowed.refresh_token.clone().filter(|n| freshest.as_ref() != Some(n));
            let mut grant = claim.token.clone();
            match (&mut grant, rotated) {
                (Some(g), Some(n)) => {
                    g.refresh_token = Some(n);
                    let rec = released(c.fresh_record(g.clone()));
                    let landed = |r: &Record| {
                        r.token.as_ref().and_then(|t| t.refresh_token.as_ref()) == g.refresh_token.as_ref()
                    };
                    self.write_record(
                        &path,
                        claim_version,
                        &rec,
                        landed,
                        "the rotated refresh token",
                        claim.until,
                    )
                    .await;
                }
                _ => self.release(&path, claim, claim_version).await,
            }
            let mut share = narrowed.clone();
            share.refresh_token = None;
            if let Err(e) = c.publish(nkey, &share).await {
                tracing::debug!(error = %e, "could not share the narrowed token through the OpenBao cluster");
            }
            let mut token = narrowed;
            token.refresh_token = None;
            return Ok(Ok(Narrowed {
                token,
                // The grant as the record has it now (possibly newer than this host's).
                grant: grant.filter(|g| {
                    self.local
                        .load(&self.key)
                        .ok()
                        .flatten()
                        .is_none_or(|l| l.access_token != g.access_token || l.refresh_token != g.refresh_token)
                }),
            }));
        }
    }
}

#[async_trait]
impl Grant for ClusterGrant {
    async fn obtain(&self) -> Result<Token> {
        self.run(None).await
    }
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<Token> {
        self.run(Some(refresh_token)).await
    }
    fn unattended(&self) -> bool {
        self.inner.unattended()
    }
    async fn narrow(
        &self,
        key: &CacheKey,
        min_valid: Duration,
        rt: Option<RefreshToken>,
        fetch: NarrowFetch<'_>,
    ) -> Result<Narrowed> {
        match self.narrow_protocol(key, min_valid, rt, fetch).await? {
            Ok(n) => Ok(n),
            Err((e, fetch, rt)) => {
                // The cluster is unreachable: as for a refresh, a refresh token is not spent
                // on this host alone unless the profile says so.
                let fallback = self.cluster.settings.fallback.unwrap_or(if rt.is_some() {
                    ClusterFallback::Fail
                } else {
                    ClusterFallback::Local
                });
                self.cluster.warn_down(&e, fallback);
                match fallback {
                    ClusterFallback::Local => {
                        self.cluster.stats.local_fallbacks.fetch_add(1, Ordering::Relaxed);
                        Ok(Narrowed {
                            token: fetch(rt).await?,
                            grant: None,
                        })
                    }
                    ClusterFallback::Fail => Err(e.context("not narrowing (cluster_fallback = \"fail\")")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::ManualClock;

    #[test]
    fn records_are_dated_by_the_injected_clock() {
        let settings = OpenBaoSettings::new(&["http://127.0.0.1:1"], OpenBaoSettings::default_token_auth()).unwrap();
        let clock = ManualClock::new(1_000_000_000);
        let c = Cluster::new(settings, Arc::new(clock.clone())).unwrap();
        clock.advance(5);
        let rec = c.fresh_record(Token::bare("t"));
        assert_eq!(rec.refreshed_at, 1_000_000_005);
    }
}
