//! The cluster token store: one token record per cache key in an OpenBao (or Vault) KV v2
//! mount, shared by every host of a batch cluster, so that the whole cluster sends one
//! refresh per expiry. The protocol and its failure cases are in
//! `docs/design/cluster-cache.md`.
//!
//! - [`OpenBaoSettings`] (settings.rs): node URLs, mount, path prefix, [`OpenBaoAuth`],
//!   in-flight bound, [`ClusterFallback`].
//! - kv.rs: KV v2 reads and check-and-set writes over the nodes, failing over; writes and
//!   reads carry the last `X-Vault-Index` with `X-Vault-Inconsistent: forward-active-node`.
//! - auth.rs: the OpenBao token (token file or variable, AppRole, JWT), renewed before its
//!   TTL ends and obtained again when lost.
//! - claim.rs: [`OpenBaoCache::grant`], the claim protocol as a [`Grant`] behind the local
//!   store: the local lock holder is the only process of a host that calls it.

mod auth;
mod claim;
mod kv;
mod settings;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

pub use claim::{ClusterStats, RecordStatus};
pub use settings::{ClusterFallback, OpenBaoAuth, OpenBaoSettings, SecretFrom};

use super::{CacheKey, Grant};
use crate::{Error, ErrorKind, Result};

/// Largest response body read from a node (records and login replies are a few KiB).
const MAX_BODY: usize = 1024 * 1024;

/// The cluster store of one profile: cheap to clone, one per process is enough.
#[derive(Clone)]
pub struct OpenBaoCache {
    inner: Arc<claim::Cluster>,
}

impl std::fmt::Debug for OpenBaoCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl OpenBaoCache {
    /// A cluster store with these settings (no network until first use).
    pub fn new(settings: OpenBaoSettings) -> Result<Self> {
        Self::new_with_clock(settings, Arc::new(super::SystemClock))
    }

    /// The same on another clock, which dates claims and records (tests: controlled time).
    /// Hosts compare these dates, so in production every host uses the system clock.
    pub fn new_with_clock(settings: OpenBaoSettings, clock: Arc<dyn super::Clock>) -> Result<Self> {
        Ok(OpenBaoCache {
            inner: Arc::new(claim::Cluster::new(settings, clock)?),
        })
    }

    /// `grant` wrapped in the claim protocol for `key`: give the result to the
    /// [`TokenSource`](super::TokenSource) in place of `grant`, with the local
    /// [`FileStore`](super::FileStore) as its store. Its `refresh`/`obtain` first look at
    /// the cluster's record (a newer token there is adopted), else claim the refresh; only
    /// the winner calls `grant`.
    ///
    /// `local` is that same local store: under the lock its holder holds, it tells which
    /// token this host has already (the record's token is adopted only if it differs).
    pub fn grant(&self, key: &CacheKey, grant: Arc<dyn Grant>, local: Arc<dyn super::TokenStore>) -> Arc<dyn Grant> {
        Arc::new(claim::ClusterGrant::new(self.inner.clone(), key.clone(), grant, local))
    }

    /// The record's version, who refreshed it last and when, and a claim in progress (for
    /// `sesame status`). `None`: no record yet.
    pub async fn status(&self, key: &CacheKey) -> Result<Option<RecordStatus>> {
        self.inner.status(key).await
    }

    /// Stores a token obtained elsewhere (an interactive login) as the cluster's record.
    pub async fn publish(&self, key: &CacheKey, token: &super::Token) -> Result<u64> {
        self.inner.publish(key, token).await
    }

    /// Counters (requests to the cluster, claims won, adoptions).
    pub fn stats(&self) -> &ClusterStats {
        &self.inner.stats
    }

    /// `openbao http://a:8200,http://b:8200 secret/sesame`.
    pub fn describe(&self) -> String {
        let s = &self.inner.settings;
        let addrs: Vec<String> = s
            .addrs
            .iter()
            .map(|u| u.as_str().trim_end_matches('/').to_string())
            .collect();
        format!("openbao {} {}/{}", addrs.join(","), s.mount, s.path)
    }
}

/// What a node said.
#[derive(Debug)]
pub(crate) struct Reply {
    pub node: String,
    pub status: u16,
    pub json: Value,
}

impl Reply {
    /// `errors` of an OpenBao error reply, joined.
    pub fn errors(&self) -> String {
        match self.json["errors"].as_array() {
            Some(a) if !a.is_empty() => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "),
            _ => format!("HTTP {}", self.status),
        }
    }
}

/// Why a request got no usable reply.
#[derive(Debug)]
pub(crate) enum Failure {
    /// No node could be reached (or none had an active node) within the give-up window.
    Unreachable(Error),
    /// A write was sent but its reply was lost (connection dropped, timeout, 5xx): it may
    /// have landed. Re-read before deciding.
    Uncertain(Error),
}

impl Failure {
    pub fn into_error(self) -> Error {
        match self {
            Failure::Unreachable(e) | Failure::Uncertain(e) => e,
        }
    }
}

/// HTTP to the nodes: failover, bounded concurrency, consistency headers, capped bodies.
pub(crate) struct Transport {
    nodes: Vec<Url>,
    http: reqwest::Client,
    preferred: AtomicUsize,
    index: std::sync::Mutex<Option<String>>,
    permits: tokio::sync::Semaphore,
    give_up_after: Duration,
    requests: std::sync::atomic::AtomicU64,
}

impl Transport {
    fn new(s: &OpenBaoSettings) -> Result<Self> {
        let b = reqwest::Client::builder()
            .user_agent(crate::USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(s.timeout)
            .connect_timeout(s.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30));
        let http = s
            .tls
            .apply(b)?
            .build()
            .map_err(|e| Error::config(format!("cannot build the OpenBao HTTP client: {}", e.without_url())))?;
        Ok(Transport {
            nodes: s.addrs.clone(),
            http,
            preferred: AtomicUsize::new(0),
            index: std::sync::Mutex::new(None),
            permits: tokio::sync::Semaphore::new(s.max_in_flight.max(1)),
            // An election after the active node dies takes 2.4–4.2 s with fast timing and
            // ~14 s with OpenBao's defaults: wait through it before calling the cluster down.
            give_up_after: s.max_wait.min(Duration::from_secs(20)),
            requests: Default::default(),
        })
    }

    fn node_names(&self) -> String {
        self.nodes
            .iter()
            .map(|u| u.as_str().trim_end_matches('/'))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Sends `method path` (under `/v1/`) to the preferred node, failing over to the
    /// others on connection errors, 5xx and 412 (index not reached), for up to the
    /// give-up window. `write`: the request changes state, so a reply lost after sending
    /// is [`Failure::Uncertain`] rather than retried.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&SecretString>,
        write: bool,
    ) -> std::result::Result<Reply, Failure> {
        let start = Instant::now();
        let mut delay = Duration::from_millis(100);
        let mut last: Option<Error> = None;
        loop {
            let first = self.preferred.load(Ordering::Relaxed);
            for k in 0..self.nodes.len() {
                let i = (first + k) % self.nodes.len();
                let node = &self.nodes[i];
                match self.send_one(node, &method, path, body, token).await {
                    // 5xx: sealed, no active node, or the forward failed; 412: the node has
                    // not reached our index; 3xx: a standby that cannot forward points at
                    // the active node (another address of the list): not applied, try on.
                    Ok(r) if r.status >= 500 || r.status == 412 || (300..400).contains(&r.status) => {
                        let e = Error::new(
                            ErrorKind::Transport,
                            format!(
                                "OpenBao node {} answered {} to {method} /v1/{path}: {} (check that the node is unsealed and the cluster has an active node)",
                                r.node,
                                r.status,
                                r.errors()
                            ),
                        );
                        if write && r.status >= 500 && r.status != 503 {
                            return Err(Failure::Uncertain(e));
                        }
                        last = Some(e);
                    }
                    Ok(r) => {
                        self.preferred.store(i, Ordering::Relaxed);
                        return Ok(r);
                    }
                    Err((sent, e)) => {
                        if write && sent {
                            return Err(Failure::Uncertain(e));
                        }
                        last = Some(e);
                    }
                }
            }
            if start.elapsed() >= self.give_up_after {
                let why = last.map(|e| e.to_string()).unwrap_or_default();
                return Err(Failure::Unreachable(Error::new(
                    ErrorKind::Transport,
                    format!(
                        "no OpenBao node answered for {:?} ({}): {why}. Check openbao_addr and that the cluster is up and unsealed",
                        self.give_up_after,
                        self.node_names()
                    ),
                )));
            }
            let jitter = Duration::from_millis(rand::random::<u64>() % (delay.as_millis() as u64 / 2 + 1));
            tokio::time::sleep(delay + jitter).await;
            delay = (delay * 2).min(Duration::from_secs(1));
        }
    }

    /// One attempt on one node. `Err((sent, e))`: `sent` = the request may have reached it.
    async fn send_one(
        &self,
        node: &Url,
        method: &reqwest::Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&SecretString>,
    ) -> std::result::Result<Reply, (bool, Error)> {
        let name = node.as_str().trim_end_matches('/').to_string();
        let url = node
            .join(&format!("v1/{path}"))
            .map_err(|e| (false, Error::config(format!("OpenBao URL {name}/v1/{path}: {e}"))))?;
        let _permit = self.permits.acquire().await.expect("semaphore never closed");
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut rq = self
            .http
            .request(method.clone(), url)
            .header("X-Vault-Inconsistent", "forward-active-node")
            .header("X-Vault-Request", "true");
        if let Some(ix) = self.index.lock().expect("index").clone() {
            rq = rq.header("X-Vault-Index", ix);
        }
        if let Some(t) = token {
            let mut v = reqwest::header::HeaderValue::from_str(t.expose_secret()).map_err(|_| {
                (
                    false,
                    Error::config("the OpenBao token has characters a header cannot carry"),
                )
            })?;
            v.set_sensitive(true);
            rq = rq.header("X-Vault-Token", v);
        }
        if let Some(b) = body {
            rq = rq.json(b);
        }
        let what = |e: reqwest::Error| {
            let kind = if e.is_timeout() {
                ErrorKind::Timeout
            } else {
                ErrorKind::Transport
            };
            Error::new(
                kind,
                format!(
                    "OpenBao node {name}: {method} /v1/{path} failed: {} (check that the node is running and reachable)",
                    e.without_url()
                ),
            )
        };
        let mut resp = match rq.send().await {
            Ok(r) => r,
            Err(e) => return Err((!e.is_connect(), what(e))),
        };
        if let Some(ix) = resp.headers().get("X-Vault-Index").and_then(|v| v.to_str().ok()) {
            *self.index.lock().expect("index") = Some(ix.to_string());
        }
        let status = resp.status().as_u16();
        let mut buf = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if buf.len() + c.len() > MAX_BODY {
                        return Err((
                            true,
                            Error::decode(format!(
                                "OpenBao node {name}: reply to /v1/{path} is larger than {MAX_BODY} bytes"
                            )),
                        ));
                    }
                    buf.extend_from_slice(&c);
                }
                Ok(None) => break,
                Err(e) => return Err((true, what(e))),
            }
        }
        let json = if buf.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&buf).unwrap_or(Value::Null)
        };
        Ok(Reply {
            node: name,
            status,
            json,
        })
    }
}
