//! `sesame-bench`: the Rust half of `bench/run` (the driver is `bench/driver.py`).
//!
//! Subcommands (each prints one JSON line on stdout; everything else goes to stderr):
//!
//! - `server [--introspect ISSUER] [--token-file F] [--max-seconds S]`: the one HTTP/1.1
//!   keep-alive server every contender talks to, on 127.0.0.1, one thread (like nginx with
//!   one worker). `Authorization: Bearer <token>` (or `DPoP <token>` with a `DPoP` proof
//!   header, whose signature is not checked) → 200 `{"ok":true}`, else 401. A token is
//!   accepted when it is in `--token-file` or, with `--introspect`, when the provider's
//!   introspection endpoint says it is active (asked once per token, then remembered until
//!   the token's `exp`: the per-request check is one hash lookup for every contender).
//!   Prints `{"port":N}`, exits when stdin closes or after `--max-seconds` (default 3600).
//! - `load --contender raw|sesame --url U --n N [--concurrency C] [--warmup W]
//!   [--token-file F] [--profile P] [--flavour multi|current]`: N authenticated GETs,
//!   sequential (C = 1) or with C in flight (C tasks on one client/session), on tokio's
//!   multi-thread runtime (default) or its current-thread one.
//! - `token-loop --profile P [--n N]`: Work C, `credential.token(60 s, false)` on a warm cache.
//! - `dpop-proof [--alg ES256|EdDSA|RS256] [--n N]`: the per-request cost of DPoP (RFC
//!   9449): one fresh proof (claims, `ath`, signature) for a 700-byte token, N times, no
//!   network; compared with building the `Bearer` header value alone.
//! - `spawn --n N [--warmup W] -- CMD ARGS…`: Work D/E, runs a command N times, wall time and
//!   peak RSS (`wait4` rusage) of each run.
//! - `soak --profile P --url U [--interval-ms 100] [--seconds 300]`: one GET every interval
//!   through a sesame `Session` whose tokens expire every few seconds.
//!
//! - `openbao [--out FILE]`: issue 17's cluster benchmark (bench/src/openbao.rs): H host
//!   processes (this binary as `openbao-host`) × T tasks on one grant through a real
//!   3-node OpenBao cluster, and the same herd without it.
//!
//! Every loop is bounded (request counts, run counts, deadlines); the load generators only
//! ever target the URL they are given, which the driver sets to 127.0.0.1.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

mod openbao;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first().cloned() else {
        eprintln!("usage: sesame-bench server|load|token-loop|spawn|soak [options]");
        std::process::exit(2);
    };
    let opts = Opts::parse(&args[1..]);
    let result = match cmd.as_str() {
        "server" => server::run(&opts),
        "load" => load(&opts),
        "token-loop" => token_loop(&opts),
        "dpop-proof" => dpop_proof(&opts),
        "spawn" => spawn(&opts),
        "soak" => soak(&opts),
        "openbao" => openbao::run(&opts),
        "openbao-host" => openbao::host(&opts),
        other => Err(format!("unknown subcommand `{other}`").into()),
    };
    if let Err(e) = result {
        eprintln!("sesame-bench {cmd}: {e}");
        std::process::exit(1);
    }
}

/// `--key value` options, and everything after `--` as a command line.
struct Opts {
    kv: HashMap<String, String>,
    rest: Vec<String>,
}

impl Opts {
    fn parse(args: &[String]) -> Opts {
        let mut kv = HashMap::new();
        let mut rest = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if a == "--" {
                rest = args[i + 1..].to_vec();
                break;
            }
            if let Some(k) = a.strip_prefix("--") {
                let v = args.get(i + 1).cloned().unwrap_or_default();
                kv.insert(k.to_string(), v);
                i += 2;
            } else {
                eprintln!("sesame-bench: ignoring stray argument `{a}`");
                i += 1;
            }
        }
        Opts { kv, rest }
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.kv.get(k).map(String::as_str)
    }
    fn req(&self, k: &str) -> Result<&str, BoxError> {
        self.get(k).ok_or_else(|| format!("--{k} is required").into())
    }
    fn num(&self, k: &str, default: u64) -> Result<u64, BoxError> {
        match self.get(k) {
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{k} must be a number, got `{v}`").into()),
            None => Ok(default),
        }
    }
}

pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `VmHWM` (peak resident set) and `VmRSS` of this process, KiB.
fn memory_kib() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn runtime() -> Result<tokio::runtime::Runtime, BoxError> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// `--flavour multi` (default) or `current`: applications use both, and the hand-offs differ.
fn runtime_of(o: &Opts) -> Result<tokio::runtime::Runtime, BoxError> {
    match o.get("flavour").unwrap_or("multi") {
        "multi" => runtime(),
        "current" => Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?),
        other => Err(format!("--flavour must be multi or current, not `{other}`").into()),
    }
}

/// A sesame `Session` built from a profile of the configuration file (`$SESAME_CONFIG`),
/// exactly as an application would.
fn sesame_session(profile: &str) -> Result<sesame::Session, BoxError> {
    let cfg = sesame_app::config::Config::load(None)?;
    let resolved = cfg.profile(Some(profile))?;
    Ok(sesame_app::config::session_builder(&resolved)?.build()?)
}

// ------------------------------------------------------------------------------- load

/// One contender's client: the same call shape for both, so the loop is the same code.
#[derive(Clone)]
enum Client {
    Raw(reqwest::Client),
    /// Analysis only: the floor with a per-request `RequestBuilder::timeout` (what sesame
    /// sets on every attempt) instead of a client-wide one.
    RawPerRequestTimeout(reqwest::Client),
    Sesame(sesame::Session),
}

impl Client {
    /// One GET, body read to the end. `Ok(status)` or an error text.
    async fn get(&self, url: &str) -> Result<u16, String> {
        match self {
            Client::Raw(c) => {
                let r = c.get(url).send().await.map_err(|e| e.to_string())?;
                let s = r.status().as_u16();
                r.bytes().await.map_err(|e| e.to_string())?;
                Ok(s)
            }
            Client::RawPerRequestTimeout(c) => {
                let r = c
                    .get(url)
                    .timeout(Duration::from_secs(60))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let s = r.status().as_u16();
                r.bytes().await.map_err(|e| e.to_string())?;
                Ok(s)
            }
            Client::Sesame(s) => {
                let r = s.get(url).send().await.map_err(|e| e.to_string())?;
                let st = r.status().as_u16();
                r.bytes().await.map_err(|e| e.to_string())?;
                Ok(st)
            }
        }
    }
}

fn load(o: &Opts) -> Result<(), BoxError> {
    let contender = o.req("contender")?.to_string();
    let url = o.req("url")?.to_string();
    let n = o.num("n", 10_000)? as usize;
    let conc = o.num("concurrency", 1)?.max(1) as usize;
    let warmup = o.num("warmup", 200)? as usize;
    let flavour = o.get("flavour").unwrap_or("multi").to_string();
    let rt = runtime_of(o)?;
    let client = match contender.as_str() {
        // `raw-timeout` and `raw-request-timeout` (analysis only): the floor plus the 60 s
        // timeout a sesame session has by default, set on the client or on each request.
        "raw" | "raw-timeout" | "raw-request-timeout" => {
            let token = std::fs::read_to_string(o.req("token-file")?)?.trim().to_string();
            let mut h = reqwest::header::HeaderMap::new();
            let mut v = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))?;
            v.set_sensitive(true);
            h.insert(reqwest::header::AUTHORIZATION, v);
            let mut b = reqwest::Client::builder().default_headers(h);
            if contender == "raw-timeout" {
                b = b.timeout(Duration::from_secs(60));
            }
            if contender == "raw-request-timeout" {
                Client::RawPerRequestTimeout(b.build()?)
            } else {
                Client::Raw(b.build()?)
            }
        }
        "sesame" => {
            let _guard = rt.enter();
            Client::Sesame(sesame_session(o.req("profile")?)?)
        }
        other => return Err(format!("unknown contender `{other}`").into()),
    };
    let out = rt.block_on(async move {
        let failures = Arc::new(AtomicU64::new(0));
        let first_error: Arc<Mutex<Option<String>>> = Arc::default();
        let record = {
            let failures = failures.clone();
            let first_error = first_error.clone();
            move |r: Result<u16, String>| {
                let bad = match r {
                    Ok(200) => None,
                    Ok(s) => Some(format!("status {s}")),
                    Err(e) => Some(e),
                };
                if let Some(e) = bad {
                    failures.fetch_add(1, Ordering::Relaxed);
                    first_error.lock().unwrap().get_or_insert(e);
                }
            }
        };
        // Warm-up: connections opened, token loaded from the cache (each task warms its own
        // connection in the concurrent case).
        let per_task_warm = warmup.div_ceil(conc).max(1);
        let started;
        let busy0;
        let mut lat: Vec<u64>;
        if conc == 1 {
            for _ in 0..warmup {
                record(client.get(&url).await);
            }
            failures.store(0, Ordering::Relaxed);
            lat = Vec::with_capacity(n);
            busy0 = machine_busy_jiffies();
            started = Instant::now();
            for _ in 0..n {
                let t = Instant::now();
                let r = client.get(&url).await;
                lat.push(t.elapsed().as_nanos() as u64);
                record(r);
            }
        } else {
            let barrier = Arc::new(tokio::sync::Barrier::new(conc + 1));
            let next = Arc::new(AtomicUsize::new(0));
            let mut tasks = Vec::with_capacity(conc);
            for _ in 0..conc {
                let (client, url, barrier, next, record) = (
                    client.clone(),
                    url.clone(),
                    barrier.clone(),
                    next.clone(),
                    record.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    for _ in 0..per_task_warm {
                        record(client.get(&url).await);
                    }
                    barrier.wait().await;
                    let mut lat = Vec::with_capacity(n / conc + 16);
                    while next.fetch_add(1, Ordering::Relaxed) < n {
                        let t = Instant::now();
                        let r = client.get(&url).await;
                        lat.push(t.elapsed().as_nanos() as u64);
                        record(r);
                    }
                    lat
                }));
            }
            barrier.wait().await;
            // Warm-up failures are reported by the first_error text but not counted.
            failures.store(0, Ordering::Relaxed);
            busy0 = machine_busy_jiffies();
            started = Instant::now();
            lat = Vec::with_capacity(n);
            for t in tasks {
                lat.extend(t.await.expect("load task"));
            }
        }
        let elapsed = started.elapsed();
        let machine_cpu_us = match (busy0, machine_busy_jiffies()) {
            // /proc/stat counts in USER_HZ, 100 per second on every Linux.
            (Some(a), Some(b)) => Some((b - a) as f64 * 10_000.0 / n as f64),
            _ => None,
        };
        lat.sort_unstable();
        let (hwm, rss) = memory_kib();
        json!({
            "contender": contender,
            "machine_cpu_us_per_req": machine_cpu_us,
            "flavour": flavour,
            "n": n,
            "concurrency": conc,
            "elapsed_s": elapsed.as_secs_f64(),
            "rps": n as f64 / elapsed.as_secs_f64(),
            "median_us": percentile(&lat, 0.5) as f64 / 1000.0,
            "p90_us": percentile(&lat, 0.9) as f64 / 1000.0,
            "p99_us": percentile(&lat, 0.99) as f64 / 1000.0,
            "failures": failures.load(Ordering::Relaxed),
            "first_error": *first_error.lock().unwrap(),
            "vmhwm_kib": hwm,
            "vmrss_kib": rss,
        })
    });
    println!("{out}");
    Ok(())
}

/// CPU time the whole machine spent busy so far (every process: the client, its runtime, the
/// server), in USER_HZ ticks from /proc/stat: the measured window's CPU per request, to add
/// up against another shape's (bench/driver.py's executor ceiling).
fn machine_busy_jiffies() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<u64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    (f.len() >= 8).then(|| f[0] + f[1] + f[2] + f[5] + f[6] + f[7])
}

// ------------------------------------------------------------------------- token loop

/// Work C: `credential.token(min_valid, false)` with a warm cache, in process. Timed in
/// batches (a clock read per call would be a large share of the call).
fn dpop_proof(o: &Opts) -> Result<(), BoxError> {
    use sesame::oauth::dpop::{DpopAlg, DpopKey};
    let n = o.num("n", 20_000)? as usize;
    let alg = match o.kv.get("alg").map(String::as_str).unwrap_or("ES256") {
        "ES256" => DpopAlg::Es256,
        "EdDSA" => DpopAlg::EdDsa,
        "RS256" => DpopAlg::Rs256,
        other => return Err(format!("unknown alg {other}").into()),
    };
    let key = DpopKey::generate(alg)?;
    let token = "x".repeat(704);
    let url = url_of("http://127.0.0.1:8080/api/items?page=2")?;
    let batches = 20usize;
    let per = (n / batches).max(1);
    let mut proof_ns = Vec::with_capacity(batches);
    let mut bearer_ns = Vec::with_capacity(batches);
    let started = Instant::now();
    for _ in 0..batches {
        let t = Instant::now();
        for _ in 0..per {
            std::hint::black_box(key.proof("GET", &url, Some(&token), None, now_unix())?);
        }
        proof_ns.push(t.elapsed().as_nanos() as u64 / per as u64);
        let t = Instant::now();
        for _ in 0..per {
            std::hint::black_box(format!("Bearer {token}"));
        }
        bearer_ns.push(t.elapsed().as_nanos() as u64 / per as u64);
    }
    let total = started.elapsed();
    proof_ns.sort_unstable();
    bearer_ns.sort_unstable();
    let median = percentile(&proof_ns, 0.5);
    println!(
        "{}",
        json!({
            "alg": alg.as_str(),
            "proofs": per * batches,
            "median_ns_per_proof": median,
            "proofs_per_s_one_core": 1_000_000_000u64 / median.max(1),
            "median_ns_bearer_header": percentile(&bearer_ns, 0.5),
            "wall_s": total.as_secs_f64(),
        })
    );
    Ok(())
}

fn url_of(s: &str) -> Result<sesame::Url, BoxError> {
    Ok(sesame::Url::parse(s)?)
}

fn token_loop(o: &Opts) -> Result<(), BoxError> {
    let n = o.num("n", 200_000)? as usize;
    let batches = 50usize;
    let per = (n / batches).max(1);
    let rt = runtime()?;
    let session = {
        let _g = rt.enter();
        sesame_session(o.req("profile")?)?
    };
    let cred = session.credential().cloned().ok_or("the profile has no credential")?;
    let out = rt.block_on(async move {
        let min_valid = Duration::from_secs(60);
        // Warm: loads the file cache once.
        let t = cred.token(min_valid, false).await?.ok_or("not a token credential")?;
        let len = t.access_token.expose().len();
        let mut per_call = Vec::with_capacity(batches);
        let started = Instant::now();
        for _ in 0..batches {
            let t = Instant::now();
            for _ in 0..per {
                let tok = cred.token(min_valid, false).await?;
                std::hint::black_box(tok);
            }
            per_call.push(t.elapsed().as_nanos() as u64 / per as u64);
        }
        let total = started.elapsed();
        per_call.sort_unstable();
        let (hwm, _) = memory_kib();
        Ok::<_, BoxError>(json!({
            "contender": "sesame",
            "calls": per * batches,
            "median_ns": percentile(&per_call, 0.5),
            "mean_ns": total.as_nanos() as u64 / (per * batches) as u64,
            "token_len": len,
            "vmhwm_kib": hwm,
        }))
    })?;
    println!("{out}");
    Ok(())
}

// ------------------------------------------------------------------------------ spawn

/// Runs a command `--n` times (after `--warmup` untimed runs): wall time and the peak RSS of
/// each run from `wait4`'s rusage. The first run is checked (exit 0); later runs write their
/// stdout to /dev/null.
fn spawn(o: &Opts) -> Result<(), BoxError> {
    use std::process::{Command, Stdio};
    let n = o.num("n", 30)? as usize;
    let warmup = o.num("warmup", 3)? as usize;
    let cmd = o.rest.clone();
    if cmd.is_empty() {
        return Err("spawn needs a command after --".into());
    }
    let check = Command::new(&cmd[0]).args(&cmd[1..]).stdin(Stdio::null()).output()?;
    if !check.status.success() {
        return Err(format!(
            "`{}` failed ({}): {}",
            cmd.join(" "),
            check.status,
            String::from_utf8_lossy(&check.stderr).trim()
        )
        .into());
    }
    let mut wall = Vec::with_capacity(n);
    let mut rss = Vec::with_capacity(n);
    for i in 0..warmup + n {
        let t = Instant::now();
        let child = Command::new(&cmd[0])
            .args(&cmd[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()?;
        let pid = child.id() as libc::pid_t;
        let mut status = 0;
        // SAFETY: rusage is a plain C struct, zero is a valid value; wait4 on our own child.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        let dt = t.elapsed();
        std::mem::forget(child); // already reaped
        if r != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            return Err(format!("`{}` failed on run {i}", cmd.join(" ")).into());
        }
        if i >= warmup {
            wall.push(dt.as_nanos() as u64);
            rss.push(ru.ru_maxrss as u64); // KiB on Linux
        }
    }
    wall.sort_unstable();
    rss.sort_unstable();
    println!(
        "{}",
        json!({
            "command": cmd.join(" "),
            "runs": n,
            "median_ms": percentile(&wall, 0.5) as f64 / 1e6,
            "p10_ms": percentile(&wall, 0.1) as f64 / 1e6,
            "p90_ms": percentile(&wall, 0.9) as f64 / 1e6,
            "min_ms": wall[0] as f64 / 1e6,
            "maxrss_kib_median": percentile(&rss, 0.5),
            "maxrss_kib_max": rss[rss.len() - 1],
        })
    );
    Ok(())
}

// ------------------------------------------------------------------------------- soak

/// One GET every `--interval-ms` for `--seconds` through a sesame `Session` built from the
/// profile; counts failures (anything but 200) and the renewals the token source sent.
fn soak(o: &Opts) -> Result<(), BoxError> {
    let url = o.req("url")?.to_string();
    let interval = Duration::from_millis(o.num("interval-ms", 100)?);
    let seconds = o.num("seconds", 300)?;
    let rt = runtime()?;
    let session = {
        let _g = rt.enter();
        sesame_session(o.req("profile")?)?
    };
    let out = rt.block_on(async move {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let max_requests = (seconds * 1000 / interval.as_millis().max(1) as u64) + 1;
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut sent, mut failed) = (0u64, 0u64);
        let mut errors: Vec<String> = Vec::new();
        let mut lat = Vec::new();
        let mut tokens_seen = std::collections::HashSet::new();
        while Instant::now() < deadline && sent < max_requests {
            tick.tick().await;
            sent += 1;
            let t = Instant::now();
            let r = session.get(&url).send().await;
            lat.push(t.elapsed().as_nanos() as u64);
            match r {
                Ok(resp) if resp.status().as_u16() == 200 => {
                    let _ = resp.bytes().await;
                }
                Ok(resp) => {
                    failed += 1;
                    let s = resp.status().as_u16();
                    let body = resp.text().await.unwrap_or_default();
                    if errors.len() < 20 {
                        errors.push(format!(
                            "request {sent}: status {s}: {}",
                            body.chars().take(200).collect::<String>()
                        ));
                    }
                }
                Err(e) => {
                    failed += 1;
                    if errors.len() < 20 {
                        errors.push(format!("request {sent}: {e}"));
                    }
                }
            }
            if let Some(t) = session.credential().and_then(|c| c.cached_token()) {
                tokens_seen.insert(t.access_token.expose().to_string());
            }
        }
        lat.sort_unstable();
        json!({
            "requests": sent,
            "failed": failed,
            "errors": errors,
            "distinct_tokens": tokens_seen.len(),
            "median_ms": percentile(&lat, 0.5) as f64 / 1e6,
            "p99_ms": percentile(&lat, 0.99) as f64 / 1e6,
            "max_ms": lat.last().copied().unwrap_or(0) as f64 / 1e6,
        })
    });
    println!("{out}");
    Ok(())
}

// ----------------------------------------------------------------------------- server

mod server {
    use super::*;
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::body::Incoming;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper::{Request, Response, StatusCode};
    use hyper_util::rt::TokioIo;

    #[derive(Default)]
    struct Counters {
        ok: AtomicU64,
        unauthorized: AtomicU64,
        introspections: AtomicU64,
        connections: AtomicU64,
        dpop: AtomicU64,
    }

    struct State {
        /// token → valid until (Unix seconds; i64::MAX for static tokens, a past time for
        /// tokens the provider called inactive, remembered for a second).
        tokens: Mutex<HashMap<Box<[u8]>, i64>>,
        introspect: Option<(String, String)>, // (endpoint, basic auth value)
        http: reqwest::Client,
        counters: Counters,
    }

    pub fn run(o: &Opts) -> Result<(), BoxError> {
        let max_seconds = o.num("max-seconds", 3600)?;
        let mut tokens = HashMap::new();
        if let Some(f) = o.get("token-file") {
            for l in std::fs::read_to_string(f)?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
            {
                tokens.insert(l.as_bytes().into(), i64::MAX);
            }
        }
        let introspect = match o.get("introspect") {
            Some(issuer) => {
                use base64_lite::encode;
                let client = o.get("introspect-client").unwrap_or("rs-client:rs-secret");
                Some((
                    format!("{}/token/introspection", issuer.trim_end_matches('/')),
                    format!("Basic {}", encode(client.as_bytes())),
                ))
            }
            None => None,
        };
        let state = Arc::new(State {
            tokens: Mutex::new(tokens),
            introspect,
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?,
            counters: Counters::default(),
        });
        // One thread, like nginx with one worker.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let port = listener.local_addr()?.port();
            println!("{}", json!({ "port": port }));
            // Exit when stdin closes (the driver died or is done) or after max_seconds.
            let stdin_closed = tokio::task::spawn_blocking(|| {
                let mut buf = [0u8; 64];
                let mut stdin = std::io::stdin();
                while let Ok(n) = stdin.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
            });
            let accept = async {
                loop {
                    let (stream, _) = match listener.accept().await {
                        Ok(s) => s,
                        Err(e) => {
                            eprintln!("accept: {e}");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    state.counters.connections.fetch_add(1, Ordering::Relaxed);
                    let st = state.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req| handle(st.clone(), req));
                        let _ = http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            };
            tokio::select! {
                _ = stdin_closed => {},
                _ = tokio::time::sleep(Duration::from_secs(max_seconds)) => eprintln!("server: --max-seconds reached"),
                _ = accept => {},
            }
            Ok::<_, BoxError>(())
        })?;
        // The stdin reader thread may still block; exit without waiting for it.
        std::process::exit(0);
    }

    fn reply(status: StatusCode, body: &'static [u8]) -> Response<Full<Bytes>> {
        let mut r = Response::new(Full::new(Bytes::from_static(body)));
        *r.status_mut() = status;
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static("Bearer realm=\"sesame-bench\""),
            );
        }
        r
    }

    async fn handle(st: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
        if req.uri().path() == "/_bench/stats" {
            let c = &st.counters;
            let body = json!({
                "ok": c.ok.load(Ordering::Relaxed),
                "unauthorized": c.unauthorized.load(Ordering::Relaxed),
                "introspections": c.introspections.load(Ordering::Relaxed),
                "connections": c.connections.load(Ordering::Relaxed),
                "dpop": c.dpop.load(Ordering::Relaxed),
            })
            .to_string();
            return Ok(Response::new(Full::new(Bytes::from(body))));
        }
        let auth = req.headers().get(hyper::header::AUTHORIZATION).map(|v| v.as_bytes());
        // `DPoP <token>` counts only with a proof beside it. The proof's signature is not
        // verified here: this server measures the client, and a proof check would make the
        // one server thread the bottleneck of the DPoP rows only (the tests verify proofs).
        let token = match auth {
            Some(a) if a.starts_with(b"Bearer ") => Some(&a[7..]),
            Some(a) if a.starts_with(b"DPoP ") => {
                let proof = req.headers().get("dpop").map(|v| v.as_bytes());
                if proof.is_some_and(|p| p.iter().filter(|&&b| b == b'.').count() == 2) {
                    st.counters.dpop.fetch_add(1, Ordering::Relaxed);
                    Some(&a[5..])
                } else {
                    None
                }
            }
            _ => None,
        };
        let ok = match token {
            None => false,
            Some(t) => check(&st, t).await,
        };
        if ok {
            st.counters.ok.fetch_add(1, Ordering::Relaxed);
            Ok(reply(StatusCode::OK, b"{\"ok\":true}"))
        } else {
            st.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
            Ok(reply(StatusCode::UNAUTHORIZED, b"{\"error\":\"invalid_token\"}"))
        }
    }

    async fn check(st: &State, token: &[u8]) -> bool {
        let now = now_unix();
        let known = st.tokens.lock().unwrap().get(token).copied();
        match known {
            Some(until) if until == i64::MAX || until > now => return true,
            // Refused recently, or expired: expired tokens are refused; refused ones are
            // asked again after a second.
            Some(until) if until < 0 && -until > now => return false,
            Some(until) if until > 0 && until <= now => return false,
            _ => {}
        }
        let Some((endpoint, auth)) = &st.introspect else {
            return false;
        };
        let Ok(tok) = std::str::from_utf8(token) else {
            return false;
        };
        st.counters.introspections.fetch_add(1, Ordering::Relaxed);
        let answer = st
            .http
            .post(endpoint)
            .header("Authorization", auth)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("token={}", form_escape(tok)))
            .send()
            .await;
        let v: serde_json::Value = match answer {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(e) => {
                eprintln!("introspection failed: {e}");
                return false;
            }
        };
        let active = v.get("active").and_then(|a| a.as_bool()).unwrap_or(false);
        let exp = v.get("exp").and_then(|e| e.as_i64()).unwrap_or(now + 60);
        // Negative: refused until -value.
        let until = if active && exp > now { exp } else { -(now + 1) };
        st.tokens.lock().unwrap().insert(token.into(), until);
        until > now
    }

    fn form_escape(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }

    mod base64_lite {
        pub fn encode(input: &[u8]) -> String {
            const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
            for c in input.chunks(3) {
                let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
                let n = ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
                out.push(T[(n >> 18) as usize & 63] as char);
                out.push(T[(n >> 12) as usize & 63] as char);
                out.push(if c.len() > 1 {
                    T[(n >> 6) as usize & 63] as char
                } else {
                    '='
                });
                out.push(if c.len() > 2 { T[n as usize & 63] as char } else { '=' });
            }
            out
        }
    }
}
