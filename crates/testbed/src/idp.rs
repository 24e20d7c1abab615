//! The bundled OpenID provider: npm `oidc-provider` (a certified OpenID Provider) plus the
//! extension grants, WebFinger, a protected API and test controls that sesame's tests need.
//! The node project lives in `testbed/idp/` (see its README for every endpoint and quirk).
//!
//! [`Idp::start_blocking`] (or the async [`Idp::start`]) installs the node dependencies once
//! (`npm ci`, guarded by a file lock so parallel test binaries do not race), spawns
//! `node server.mjs` on a free port of 127.0.0.1 and waits for it to announce its issuer.
//! The process is killed when the [`Idp`] is dropped; [`shared`] gives one instance per test
//! binary which dies with the binary (the server exits when its stdin closes).
//!
//! Node.js ≥ 20.18 and npm must be installed. When they are not, starting the provider
//! panics with instructions: tests that need it never skip silently.
//!
//! ```no_run
//! use sesame_testbed::idp::{self, Idp};
//!
//! let idp = Idp::start_blocking();
//! let (id, secret) = idp::clients::M2M_BASIC;
//! let resp = idp::http::post_form(
//!     &idp.token_endpoint(),
//!     &[("grant_type", "client_credentials")],
//!     Some((id, secret)),
//! )
//! .unwrap();
//! assert_eq!(resp.status, 200);
//! ```

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

/// Fixed, public, test-only client registrations (`testbed/idp/lib/clients.mjs`).
pub mod clients {
    /// Public native client (`token_endpoint_auth_method: none`, PKCE S256 required):
    /// authorization_code, refresh_token, device_code and uma-ticket grants; loopback
    /// redirect URIs `http://127.0.0.1/callback` (any port), `http://localhost/callback`,
    /// `http://[::1]/callback` and the same hosts with path `/`.
    pub const SESAME_CLI: &str = "sesame-cli";
    /// Confidential client (client_secret_basic) with the same grants and loopback redirects
    /// as [`SESAME_CLI`]; PKCE optional.
    pub const SESAME_WEB: (&str, &str) = ("sesame-web", "sesame-web-secret");
    /// client_credentials (+ refresh_token, token exchange), client_secret_basic only.
    pub const M2M_BASIC: (&str, &str) = ("m2m-basic", "m2m-basic-secret");
    /// client_credentials (+ refresh_token, token exchange), client_secret_post only.
    pub const M2M_POST: (&str, &str) = ("m2m-post", "m2m-post-secret");
    /// client_credentials (+ refresh_token, token exchange), private_key_jwt (RFC 7523).
    /// Key: [`super::m2m_jwt_key_path`], kid [`M2M_JWT_KID`], alg [`M2M_JWT_ALG`].
    pub const M2M_JWT: &str = "m2m-jwt";
    /// `kid` of the m2m-jwt key (in `fixtures/m2m-jwt.jwks.json`).
    pub const M2M_JWT_KID: &str = "m2m-jwt-test-key-1";
    /// Signing algorithm registered for m2m-jwt's client assertions.
    pub const M2M_JWT_ALG: &str = "RS256";
    /// password (+ refresh_token) grant, client_secret_basic.
    pub const PASSWORD_CLIENT: (&str, &str) = ("password-client", "password-secret");
    /// token exchange (+ client_credentials), client_secret_basic.
    pub const EXCHANGE_CLIENT: (&str, &str) = ("exchange-client", "exchange-secret");
    /// Resource server: may introspect any token (other clients only their own).
    pub const RS_CLIENT: (&str, &str) = ("rs-client", "rs-secret");
    /// uma-ticket (+ client_credentials) grant, client_secret_basic.
    pub const UMA_CLIENT: (&str, &str) = ("uma-client", "uma-secret");
}

/// The single test account. Any other login is refused by the login page and the password
/// grant.
pub mod account {
    /// Login name (and `sub`).
    pub const USERNAME: &str = "alice";
    /// Password.
    pub const PASSWORD: &str = "wonderland";
    /// `sub` claim.
    pub const SUB: &str = "alice";
    /// `name` claim.
    pub const NAME: &str = "Alice Liddell";
    /// `email` claim (`email_verified` is true).
    pub const EMAIL: &str = "alice@example.com";
}

/// Grant type and token type identifiers the provider supports beyond the basic ones.
pub mod grant_types {
    /// RFC 8628.
    pub const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
    /// RFC 8693.
    pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
    /// UMA 2.0 grant.
    pub const UMA_TICKET: &str = "urn:ietf:params:oauth:grant-type:uma-ticket";
    /// RFC 8693 token type of an access token.
    pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
    /// RFC 8693 token type of a JWT.
    pub const TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
}

/// `testbed/idp`, the node project.
pub fn idp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testbed/idp")
}

/// PKCS#8 PEM of the m2m-jwt client's RSA private key (test-only, committed on purpose).
pub fn m2m_jwt_key_path() -> PathBuf {
    idp_dir().join("fixtures/m2m-jwt.key.pem")
}

/// Public JWKS registered for the m2m-jwt client.
pub fn m2m_jwt_jwks_path() -> PathBuf {
    idp_dir().join("fixtures/m2m-jwt.jwks.json")
}

/// Contents of [`m2m_jwt_key_path`].
pub fn m2m_jwt_key_pem() -> String {
    std::fs::read_to_string(m2m_jwt_key_path()).expect("read testbed/idp/fixtures/m2m-jwt.key.pem")
}

/// Start-up options. `None` keeps the server's default.
#[derive(Debug, Clone, Default)]
pub struct IdpOptions {
    /// Access-token lifetime in seconds (`SESAME_IDP_AT_TTL`, default 300).
    pub access_token_ttl: Option<u64>,
    /// Refresh-token lifetime in seconds (`SESAME_IDP_RT_TTL`, default 86400).
    pub refresh_token_ttl: Option<u64>,
    /// Device-flow polling interval in seconds (`SESAME_IDP_DEVICE_INTERVAL`, default 1).
    pub device_interval: Option<u64>,
    /// Port on 127.0.0.1 (default: any free port).
    pub port: Option<u16>,
}

/// A running provider. Dropping it kills the node process.
pub struct Idp {
    issuer: String,
    port: u16,
    child: Mutex<Option<Child>>,
    stdin: Mutex<Option<ChildStdin>>,
    log: Arc<Mutex<String>>,
}

impl std::fmt::Debug for Idp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idp")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stalled server gets to write its diagnostic report (it writes it from its event
/// loop, so a busy or starved main thread writes none).
const REPORT_WAIT: Duration = Duration::from_secs(3);
static REPORT_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
const LOG_CAP: usize = 256 * 1024;
const MIN_NODE: (u64, u64) = (20, 18);

impl Idp {
    /// Starts a provider with default settings (async wrapper around [`Idp::start_blocking`]).
    pub async fn start() -> Idp {
        Self::start_with(IdpOptions::default()).await
    }

    /// Starts a provider with `options` without blocking the async runtime.
    pub async fn start_with(options: IdpOptions) -> Idp {
        match tokio::task::spawn_blocking(move || Self::start_blocking_with(options)).await {
            Ok(idp) => idp,
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(err) => panic!("sesame-testbed: starting the IdP failed: {err}"),
        }
    }

    /// Starts a provider with default settings, blocking until it is ready.
    pub fn start_blocking() -> Idp {
        Self::start_blocking_with(IdpOptions::default())
    }

    /// Starts a provider with `options`, blocking until it is ready.
    ///
    /// A server that does not announce itself within 30 s is diagnosed (its CPU time and
    /// state from `/proc`, a Node.js diagnostic report when its event loop still answers),
    /// killed and started once more; the diagnosis goes to stderr either way.
    ///
    /// # Panics
    /// When node/npm are missing or too old, `npm ci` fails, or the server fails to start
    /// twice (the message carries both diagnoses and its stderr).
    pub fn start_blocking_with(options: IdpOptions) -> Idp {
        let dir = idp_dir();
        let node = node_binary();
        check_node(&node);
        ensure_installed(&dir);

        // Why a second attempt: this is test infrastructure, not code under test. A CI run
        // once saw one of four servers started together stay silent for 30 s after loading
        // oidc-provider (alone it is ready in 0.5 s, with six at once in 3 s) and could not
        // say why; the diagnosis below is there to say it next time, and one fresh process
        // keeps such a stall from failing a test that has nothing to do with it.
        let first = match Self::spawn_and_wait(&node, &dir, &options, READY_TIMEOUT, &[]) {
            Ok(idp) => return idp,
            Err(failure) => failure,
        };
        eprintln!("sesame-testbed: first start of the IdP failed; trying once more.\n{first}");
        match Self::spawn_and_wait(&node, &dir, &options, READY_TIMEOUT, &[]) {
            Ok(idp) => idp,
            Err(second) => panic!(
                "sesame-testbed: the IdP (`{node} server.mjs` in {}) failed to start twice.\n\
                 === first attempt ===\n{first}\n=== second attempt ===\n{second}",
                dir.display()
            ),
        }
    }

    fn spawn_and_wait(
        node: &str,
        dir: &Path,
        options: &IdpOptions,
        ready_timeout: Duration,
        extra_env: &[(&str, &str)],
    ) -> Result<Idp, String> {
        let report_dir = std::env::temp_dir().join(format!(
            "sesame-idp-report-{}-{}",
            std::process::id(),
            REPORT_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        // Node does not create the report directory itself.
        if let Err(err) = std::fs::create_dir_all(&report_dir) {
            eprintln!("sesame-testbed: cannot create {}: {err}", report_dir.display());
        }
        let mut cmd = Command::new(node);
        cmd.arg("--report-on-signal")
            .arg(format!("--report-directory={}", report_dir.display()))
            .arg("--report-filename=report.json")
            .arg("server.mjs")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("SESAME_IDP_PORT", options.port.unwrap_or(0).to_string())
            .env_remove("SESAME_IDP_KEEP_ALIVE")
            .env_remove("SESAME_IDP_HOLD_READY")
            .envs(extra_env.iter().copied());
        for (var, value) in [
            ("SESAME_IDP_AT_TTL", options.access_token_ttl),
            ("SESAME_IDP_RT_TTL", options.refresh_token_ttl),
            ("SESAME_IDP_DEVICE_INTERVAL", options.device_interval),
        ] {
            match value {
                Some(v) => cmd.env(var, v.to_string()),
                None => cmd.env_remove(var),
            };
        }
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap_or_else(|err| {
            panic!(
                "sesame-testbed: cannot spawn `{node} server.mjs` in {}: {err}",
                dir.display()
            )
        });

        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");

        let log = Arc::new(Mutex::new(String::new()));
        let verbose = std::env::var_os("SESAME_IDP_VERBOSE").is_some_and(|v| v == "1");
        let stderr_done = {
            let log = Arc::clone(&log);
            std::thread::Builder::new()
                .name("sesame-idp-stderr".into())
                .spawn(move || {
                    for line in BufReader::new(stderr).lines() {
                        let Ok(line) = line else { break };
                        if verbose {
                            eprintln!("[idp] {line}");
                        }
                        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                        if log.len() > LOG_CAP {
                            let cut = log.len() - LOG_CAP / 2;
                            let cut = (cut..log.len()).find(|&i| log.is_char_boundary(i)).unwrap_or(0);
                            log.drain(..cut);
                        }
                        log.push_str(&line);
                        log.push('\n');
                    }
                })
                .expect("spawn stderr reader")
        };

        let (tx, rx) = mpsc::channel::<String>();
        std::thread::Builder::new()
            .name("sesame-idp-stdout".into())
            .spawn(move || {
                let mut reader = BufReader::new(stdout);
                let mut first = String::new();
                if reader.read_line(&mut first).unwrap_or(0) > 0 {
                    let _ = tx.send(first);
                }
                // Keep draining so the child can never block on a full pipe.
                let mut sink = Vec::new();
                let _ = reader.read_to_end(&mut sink);
            })
            .expect("spawn stdout reader");

        let line = match rx.recv_timeout(ready_timeout) {
            Ok(line) => line,
            Err(err) => {
                let (reason, diagnosis) = match err {
                    mpsc::RecvTimeoutError::Timeout => (
                        format!("did not announce itself within {:.1}s", ready_timeout.as_secs_f64()),
                        diagnose_stall(child.id(), started, &report_dir),
                    ),
                    mpsc::RecvTimeoutError::Disconnected => ("exited before it was ready".to_string(), String::new()),
                };
                let _ = child.kill();
                let status = child.wait().ok();
                let _ = stderr_done.join();
                let _ = std::fs::remove_dir_all(&report_dir);
                let log = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
                return Err(format!(
                    "the IdP `{node} server.mjs` in {} {reason} (exit status: {status:?}).\n\
                     {diagnosis}--- its stderr ---\n{log}",
                    dir.display()
                ));
            }
        };

        let _ = std::fs::remove_dir_all(&report_dir);
        let ready: Value = serde_json::from_str(line.trim()).unwrap_or_else(|err| {
            let _ = child.kill();
            panic!("sesame-testbed: the IdP printed {line:?} instead of its JSON ready line: {err}")
        });
        let issuer = ready["issuer"].as_str().expect("ready line: issuer").to_string();
        let port = ready["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .expect("ready line: port");

        Ok(Idp {
            issuer,
            port,
            child: Mutex::new(Some(child)),
            stdin: Mutex::new(stdin),
            log,
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `issuer + path` (a leading `/` is added when missing).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.issuer)
        } else {
            format!("{}/{path}", self.issuer)
        }
    }

    /// The protected test API's resource indicator / audience: `issuer + "/api"`. Access tokens
    /// get this audience when no resource/audience is requested.
    pub fn api_resource(&self) -> String {
        self.url("/api")
    }

    /// `/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        self.url("/.well-known/openid-configuration")
    }
    /// `/auth`.
    pub fn authorization_endpoint(&self) -> String {
        self.url("/auth")
    }
    /// `/token`.
    pub fn token_endpoint(&self) -> String {
        self.url("/token")
    }
    /// `/device/auth`.
    pub fn device_authorization_endpoint(&self) -> String {
        self.url("/device/auth")
    }
    /// `/token/introspection`.
    pub fn introspection_endpoint(&self) -> String {
        self.url("/token/introspection")
    }
    /// `/token/revocation`.
    pub fn revocation_endpoint(&self) -> String {
        self.url("/token/revocation")
    }
    /// `/me`.
    pub fn userinfo_endpoint(&self) -> String {
        self.url("/me")
    }
    /// `/reg` (open dynamic registration).
    pub fn registration_endpoint(&self) -> String {
        self.url("/reg")
    }
    /// `/session/end`.
    pub fn end_session_endpoint(&self) -> String {
        self.url("/session/end")
    }
    /// `/jwks`.
    pub fn jwks_uri(&self) -> String {
        self.url("/jwks")
    }

    /// `GET /test/stats`: token-endpoint requests by grant_type (`token`, `token_total`) and
    /// totals for authorization, device_authorization, device_verification, introspection,
    /// revocation, registration, userinfo, end_session, jwks, discovery, webfinger, api,
    /// login_failed, device_slow_down.
    pub fn stats(&self) -> Value {
        self.control("GET", "/test/stats", None)
    }

    /// Number of token-endpoint requests with this `grant_type` since start or the last reset.
    pub fn token_requests(&self, grant_type: &str) -> u64 {
        self.stats()["token"][grant_type].as_u64().unwrap_or(0)
    }

    /// `POST /test/stats/reset`.
    pub fn reset_stats(&self) {
        self.control("POST", "/test/stats/reset", None);
    }

    /// `POST /test/rotate-keys`: a new signing key (new `kid`) goes first; new tokens are
    /// signed with it, the JWKS lists both, existing tokens and sessions stay valid.
    /// Returns the new `kid`.
    pub fn rotate_keys(&self) -> String {
        let v = self.control("POST", "/test/rotate-keys", None);
        v["kid"].as_str().expect("rotate-keys: kid").to_string()
    }

    /// `POST /test/uma/ticket`: a permission ticket for `resource` and `scopes`. With
    /// `need_info`, the first token request with it fails with `need_info` (carrying a new,
    /// normal ticket) unless a `claim_token` identifies the requesting party.
    pub fn create_uma_ticket(&self, resource: &str, scopes: &[&str], need_info: bool) -> String {
        let body = serde_json::json!({ "resource": resource, "scopes": scopes, "need_info": need_info });
        let v = self.control("POST", "/test/uma/ticket", Some(body));
        v["ticket"].as_str().expect("uma ticket").to_string()
    }

    /// `POST /test/config`: change lifetimes at run time (applies to tokens issued afterwards).
    pub fn configure(
        &self,
        access_token_ttl: Option<u64>,
        refresh_token_ttl: Option<u64>,
        device_interval: Option<u64>,
    ) {
        let mut body = serde_json::Map::new();
        for (key, value) in [
            ("access_token_ttl", access_token_ttl),
            ("refresh_token_ttl", refresh_token_ttl),
            ("device_interval", device_interval),
        ] {
            if let Some(v) = value {
                body.insert(key.into(), v.into());
            }
        }
        self.control("POST", "/test/config", Some(Value::Object(body)));
    }

    /// `POST /test/dpop`: whether the token endpoint demands a DPoP nonce (RFC 9449 §8:
    /// a proof without the current one gets `use_dpop_nonce` and a `DPoP-Nonce` header).
    pub fn dpop_require_nonce(&self, on: bool) {
        self.control("POST", "/test/dpop", Some(serde_json::json!({ "require_nonce": on })));
    }

    /// `POST /test/device/slow-down`: the next device_code poll gets `slow_down`.
    pub fn force_device_slow_down(&self) {
        self.control("POST", "/test/device/slow-down", None);
    }

    /// What the server wrote to stderr so far (the tail, capped at ~256 KiB).
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = self.url(path);
        let resp = match &body {
            Some(json) => http::request(
                method,
                &url,
                &[("content-type", "application/json")],
                Some(json.to_string().as_bytes()),
            ),
            None => http::request(method, &url, &[], if method == "POST" { Some(b"") } else { None }),
        }
        .unwrap_or_else(|err| {
            panic!(
                "sesame-testbed: {method} {url} failed: {err}\n--- IdP stderr ---\n{}",
                self.log()
            )
        });
        assert!(
            (200..300).contains(&resp.status),
            "sesame-testbed: {method} {url} -> {}: {}",
            resp.status,
            resp.text()
        );
        resp.json()
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        // Closing stdin alone makes the server exit; kill to be sure and reap it.
        drop(self.stdin.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(mut child) = self.child.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One provider per test binary, started on first use with default settings. Statics are
/// never dropped: the server exits by itself when the test binary exits (its stdin closes).
pub fn shared() -> &'static Idp {
    static SHARED: OnceLock<Idp> = OnceLock::new();
    SHARED.get_or_init(Idp::start_blocking)
}

// ------------------------------------------------------------------ stall diagnosis

/// What can be learned about a server that stays silent: the machine's load, the process's
/// state and CPU time from `/proc` (a process with little CPU time after 30 s was starved or
/// waiting; one with ~30 s was busy), and, when its event loop still runs, the JavaScript
/// stack and open handles from a Node.js diagnostic report (SIGUSR2, `--report-on-signal`).
/// Environment variables in the report are never printed.
fn diagnose_stall(pid: u32, started: Instant, report_dir: &Path) -> String {
    let mut out = String::from("--- diagnosis ---\n");
    out.push_str(&format!("waited {:.1}s\n", started.elapsed().as_secs_f64()));
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        out.push_str(&format!("machine load (1/5/15 min, runnable/total): {}", load));
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // Fields after the `(comm)`: state is the 1st, utime the 12th, stime the 13th.
            let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN) / 100.0;
            out.push_str(&format!(
                "process {pid}: state {}, user CPU {:.2}s, system CPU {:.2}s (at 100 ticks/s)\n",
                fields.first().unwrap_or(&"?"),
                ticks(11),
                ticks(12)
            ));
        }
        Err(err) => out.push_str(&format!("process {pid}: /proc unreadable: {err}\n")),
    }
    if let Ok(wchan) = std::fs::read_to_string(format!("/proc/{pid}/wchan")) {
        out.push_str(&format!("main thread waits in: {wchan}\n"));
    }

    let signalled = Command::new("kill")
        .args(["-USR2", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !signalled {
        out.push_str("could not send SIGUSR2 for a diagnostic report\n");
        return out;
    }
    let report_path = report_dir.join("report.json");
    let deadline = Instant::now() + REPORT_WAIT;
    let report = loop {
        // The file appears before it is complete: only a parseable one counts.
        if let Some(report) = std::fs::read(&report_path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        {
            break Some(report);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let Some(report) = report else {
        out.push_str(&format!(
            "no diagnostic report within {}s of SIGUSR2: the main thread is busy or not scheduled\n",
            REPORT_WAIT.as_secs()
        ));
        return out;
    };
    let usage = &report["resourceUsage"];
    out.push_str(&format!(
        "node report: user CPU {}s, system CPU {}s, rss {} bytes\n",
        usage["userCpuSeconds"], usage["kernelCpuSeconds"], usage["rss"]
    ));
    if let Some(stack) = report["javascriptStack"]["stack"].as_array() {
        out.push_str("JavaScript stack:\n");
        for frame in stack.iter().filter_map(Value::as_str).take(20) {
            out.push_str(&format!("  {frame}\n"));
        }
    }
    if let Some(handles) = report["libuv"].as_array() {
        out.push_str("open libuv handles:\n");
        for handle in handles.iter().take(30) {
            out.push_str(&format!(
                "  {} active={} {}\n",
                handle["type"].as_str().unwrap_or("?"),
                handle["is_active"],
                handle["localEndpoint"]
                    .as_object()
                    .map(|e| format!(
                        "local {}:{}",
                        e.get("host").unwrap_or(&Value::Null),
                        e.get("port").unwrap_or(&Value::Null)
                    ))
                    .unwrap_or_default()
            ));
        }
    }
    out
}

// ------------------------------------------------------------------ node / npm

fn node_binary() -> String {
    std::env::var("SESAME_NODE").unwrap_or_else(|_| "node".into())
}

fn npm_binary() -> String {
    std::env::var("SESAME_NPM").unwrap_or_else(|_| if cfg!(windows) { "npm.cmd".into() } else { "npm".into() })
}

fn install_help(problem: &str) -> String {
    format!(
        "sesame-testbed: {problem}\n\
         The bundled identity provider (testbed/idp) needs Node.js >= {}.{} and npm. Install Node.js 20 LTS (or newer):\n  \
         - Debian/Ubuntu: curl -fsSL https://deb.nodesource.com/setup_20.x | sudo -E bash - && sudo apt-get install -y nodejs\n  \
         - macOS: brew install node@20\n  \
         - any OS: nvm install 20 (https://github.com/nvm-sh/nvm), or https://nodejs.org/en/download\n\
         or set SESAME_NODE / SESAME_NPM to the binaries. Tests that need the IdP do not skip.",
        MIN_NODE.0, MIN_NODE.1
    )
}

fn check_node(node: &str) {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let out = Command::new(node)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|err| panic!("{}", install_help(&format!("cannot run `{node} --version`: {err}"))));
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let mut parts = version
            .trim_start_matches('v')
            .split('.')
            .map(|p| p.parse::<u64>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if !out.status.success() || (major, minor) < MIN_NODE {
            panic!("{}", install_help(&format!("`{node} --version` says {version:?}")));
        }
        let npm = npm_binary();
        let npm_ok = Command::new(&npm)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !npm_ok {
            panic!("{}", install_help(&format!("cannot run `{npm} --version`")));
        }
    });
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn needs_install(dir: &Path) -> bool {
    let lock = mtime(&dir.join("package-lock.json"));
    let installed = mtime(&dir.join("node_modules/.package-lock.json"));
    let complete = ["oidc-provider", "jose"]
        .iter()
        .all(|m| dir.join("node_modules").join(m).join("package.json").is_file());
    match (installed, lock) {
        (Some(installed), Some(lock)) => !complete || installed < lock,
        _ => true,
    }
}

fn ensure_installed(dir: &Path) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let lock_path = dir.join(".install.lock");
        let lock_file: File = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .unwrap_or_else(|err| panic!("sesame-testbed: cannot open {}: {err}", lock_path.display()));
        // Exclusive across processes: parallel test binaries wait for one `npm ci`.
        lock_file
            .lock()
            .unwrap_or_else(|err| panic!("sesame-testbed: cannot lock {}: {err}", lock_path.display()));

        if needs_install(dir) {
            run_npm_ci(dir);
            assert!(
                !needs_install(dir),
                "sesame-testbed: `npm ci` succeeded in {} but node_modules still looks incomplete",
                dir.display()
            );
        }
        drop(lock_file); // releases the lock
    });
}

fn run_npm_ci(dir: &Path) {
    let npm = npm_binary();
    eprintln!(
        "sesame-testbed: installing the IdP's node dependencies (npm ci in {}) …",
        dir.display()
    );
    let mut child = Command::new(&npm)
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{}", install_help(&format!("cannot run `{npm} ci`: {err}"))));

    let mut out_pipe = child.stdout.take().expect("piped");
    let mut err_pipe = child.stderr.take().expect("piped");
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });

    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > INSTALL_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(err) => panic!("sesame-testbed: waiting for `npm ci` failed: {err}"),
        }
    };
    let stdout = out_thread.join().unwrap_or_default();
    let stderr = err_thread.join().unwrap_or_default();
    match status {
        Some(status) if status.success() => {}
        Some(status) => panic!(
            "sesame-testbed: `{npm} ci` in {} failed ({status}). Is the npm registry reachable?\n\
             --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
            dir.display()
        ),
        None => panic!(
            "sesame-testbed: `{npm} ci` in {} did not finish within {}s.\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
            dir.display(),
            INSTALL_TIMEOUT.as_secs()
        ),
    }
}

/// A tiny blocking HTTP/1.1 client (plain `http://` only) for test controls and quick
/// checks against the provider. Not for the code under test.
pub mod http {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use serde_json::Value;

    /// A response: status, headers (names lower-cased), body.
    #[derive(Debug, Clone)]
    pub struct Response {
        /// Status code.
        pub status: u16,
        /// Header names in lower case, in order.
        pub headers: Vec<(String, String)>,
        /// The (de-chunked) body.
        pub body: Vec<u8>,
    }

    impl Response {
        /// The first header with this (case-insensitive) name.
        pub fn header(&self, name: &str) -> Option<&str> {
            let name = name.to_ascii_lowercase();
            self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
        }
        /// Body as (lossy) UTF-8.
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }
        /// Body as JSON; panics with the body when it is not JSON.
        pub fn json(&self) -> Value {
            serde_json::from_slice(&self.body)
                .unwrap_or_else(|err| panic!("response ({}) is not JSON ({err}): {}", self.status, self.text()))
        }
    }

    /// `GET url`.
    pub fn get(url: &str) -> std::io::Result<Response> {
        request("GET", url, &[], None)
    }

    /// `GET url` with `Authorization: Bearer token`.
    pub fn get_bearer(url: &str, token: &str) -> std::io::Result<Response> {
        let auth = format!("Bearer {token}");
        request("GET", url, &[("authorization", &auth)], None)
    }

    /// `POST url` with an `application/x-www-form-urlencoded` body, optionally with HTTP Basic
    /// client authentication (id and secret form-encoded first, RFC 6749 §2.3.1).
    pub fn post_form(url: &str, params: &[(&str, &str)], basic: Option<(&str, &str)>) -> std::io::Result<Response> {
        let body = form_encode(params);
        let auth = basic.map(|(id, secret)| basic_auth(id, secret));
        let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
        if let Some(auth) = &auth {
            headers.push(("authorization", auth.as_str()));
        }
        request("POST", url, &headers, Some(body.as_bytes()))
    }

    /// `POST url` with a JSON body.
    pub fn post_json(url: &str, body: &Value) -> std::io::Result<Response> {
        request(
            "POST",
            url,
            &[("content-type", "application/json")],
            Some(body.to_string().as_bytes()),
        )
    }

    /// `Basic base64(form(id):form(secret))`.
    pub fn basic_auth(id: &str, secret: &str) -> String {
        format!(
            "Basic {}",
            base64(format!("{}:{}", form_component(id), form_component(secret)).as_bytes())
        )
    }

    /// `application/x-www-form-urlencoded` serialisation.
    pub fn form_encode(params: &[(&str, &str)]) -> String {
        params
            .iter()
            .map(|(k, v)| format!("{}={}", form_component(k), form_component(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    fn form_component(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b as char),
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }

    fn base64(input: &[u8]) -> String {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
        for chunk in input.chunks(3) {
            let n = (u32::from(chunk[0]) << 16)
                | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
                | u32::from(*chunk.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// Sends one request (`Connection: close`) and reads the whole response.
    pub fn request(
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> std::io::Result<Response> {
        let invalid = |msg: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{msg}: {url}"));
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| invalid("only http:// URLs are supported"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.is_empty() {
            return Err(invalid("missing host"));
        }
        let addr = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };

        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;

        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\naccept: */*\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(body) = body {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        if let Some(body) = body {
            stream.write_all(body)?;
        }
        stream.flush()?;

        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        parse_response(&raw)
    }

    fn parse_response(raw: &[u8]) -> std::io::Result<Response> {
        let bad = |msg: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string());
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| bad("incomplete response head"))?;
        let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("response head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| bad("bad status line"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut body = raw[end + 4..].to_vec();
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
        }
        Ok(Response { status, headers, body })
    }

    fn dechunk(mut input: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let line_end = input.windows(2).position(|w| w == b"\r\n")?;
            let size_str = std::str::from_utf8(&input[..line_end]).ok()?;
            let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
            input = &input[line_end + 2..];
            if size == 0 {
                return Some(out);
            }
            out.extend_from_slice(input.get(..size)?);
            input = input.get(size + 2..)?;
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn encodings() {
            assert_eq!(
                base64(b"m2m-basic:m2m-basic-secret"),
                "bTJtLWJhc2ljOm0ybS1iYXNpYy1zZWNyZXQ="
            );
            assert_eq!(base64(b"ab"), "YWI=");
            assert_eq!(base64(b""), "");
            assert_eq!(form_encode(&[("a b", "c&d=é")]), "a+b=c%26d%3D%C3%A9");
            assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(), b"abcde");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_jwt_payload(jwt: &str) -> Value {
        let part = jwt.split('.').nth(1).expect("JWT payload");
        let mut bits = 0u32;
        let mut nbits = 0;
        let mut out = Vec::new();
        for c in part.bytes() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'-' => 62,
                b'_' => 63,
                _ => continue,
            };
            bits = (bits << 6) | u32::from(v);
            nbits += 6;
            if nbits >= 8 {
                nbits -= 8;
                out.push((bits >> nbits) as u8);
                bits &= (1 << nbits) - 1;
            }
        }
        serde_json::from_slice(&out).expect("JWT payload JSON")
    }

    #[test]
    fn discovery_and_client_credentials() {
        let idp = Idp::start_blocking();
        assert!(idp.issuer().starts_with("http://127.0.0.1:"));

        let disco = http::get(&idp.discovery_url()).unwrap();
        assert_eq!(disco.status, 200);
        let disco = disco.json();
        assert_eq!(disco["issuer"], idp.issuer());
        assert_eq!(disco["token_endpoint"], idp.token_endpoint());
        assert_eq!(
            disco["device_authorization_endpoint"],
            idp.device_authorization_endpoint()
        );
        let grants = disco["grant_types_supported"].as_array().unwrap();
        for g in [
            grant_types::TOKEN_EXCHANGE,
            grant_types::UMA_TICKET,
            "password",
            "client_credentials",
        ] {
            assert!(grants.iter().any(|v| v == g), "{g} missing from {grants:?}");
        }

        let (id, secret) = clients::M2M_BASIC;
        let resp = http::post_form(
            &idp.token_endpoint(),
            &[("grant_type", "client_credentials")],
            Some((id, secret)),
        )
        .unwrap();
        assert_eq!(resp.status, 200, "{}", resp.text());
        let token = resp.json();
        assert_eq!(token["token_type"], "Bearer");
        assert_eq!(token["expires_in"], 300);
        let at = token["access_token"].as_str().unwrap();
        let claims = decode_jwt_payload(at);
        assert_eq!(claims["aud"], idp.api_resource());
        assert_eq!(claims["sub"], id);

        let who = http::get_bearer(&idp.url("/api/whoami"), at).unwrap();
        assert_eq!(who.status, 200, "{}", who.text());
        assert_eq!(who.json()["client_id"], id);

        let denied = http::get(&idp.url("/api/whoami")).unwrap();
        assert_eq!(denied.status, 401);
        assert!(denied.header("www-authenticate").unwrap().starts_with("Bearer "));

        // client_secret_post with a client_secret_basic client is refused (strict testbed).
        let wrong = http::post_form(
            &idp.token_endpoint(),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ],
            None,
        )
        .unwrap();
        assert_eq!(wrong.status, 401);
        assert_eq!(wrong.json()["error"], "invalid_client");

        let stats = idp.stats();
        assert_eq!(stats["token"]["client_credentials"], 2);
        idp.reset_stats();
        assert_eq!(idp.token_requests("client_credentials"), 0);
    }

    #[test]
    fn options_rotation_and_uma() {
        let idp = Idp::start_blocking_with(IdpOptions {
            access_token_ttl: Some(7),
            ..Default::default()
        });
        let (id, secret) = clients::M2M_POST;
        let token = http::post_form(
            &idp.token_endpoint(),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ],
            None,
        )
        .unwrap()
        .json();
        assert_eq!(token["expires_in"], 7);

        let kid = idp.rotate_keys();
        let jwks = http::get(&idp.jwks_uri()).unwrap().json();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[0], kid);
        // The token signed with the old key still works.
        let who = http::get_bearer(&idp.url("/api/whoami"), token["access_token"].as_str().unwrap()).unwrap();
        assert_eq!(who.status, 200);

        let ticket = idp.create_uma_ticket("urn:doc:1", &["read"], false);
        let (uma_id, uma_secret) = clients::UMA_CLIENT;
        let rpt = http::post_form(
            &idp.token_endpoint(),
            &[("grant_type", grant_types::UMA_TICKET), ("ticket", &ticket)],
            Some((uma_id, uma_secret)),
        )
        .unwrap();
        assert_eq!(rpt.status, 200, "{}", rpt.text());
        let claims = decode_jwt_payload(rpt.json()["access_token"].as_str().unwrap());
        assert_eq!(claims["authorization"]["permissions"][0]["rsid"], "urn:doc:1");
    }

    #[test]
    fn a_silent_server_is_diagnosed_and_killed() {
        check_node(&node_binary());
        ensure_installed(&idp_dir());
        // Listening, event loop idle, no ready line: the report shows the listening socket.
        let err = Idp::spawn_and_wait(
            &node_binary(),
            &idp_dir(),
            &IdpOptions::default(),
            Duration::from_secs(5),
            &[("SESAME_IDP_HOLD_READY", "1")],
        )
        .unwrap_err();
        assert!(err.contains("did not announce itself within 5.0s"), "{err}");
        assert!(err.contains("user CPU"), "{err}");
        assert!(err.contains("open libuv handles:"), "{err}");
        assert!(err.contains("tcp active=true local"), "{err}");
        assert!(err.contains("holding the ready line back"), "{err}");
        assert!(!err.contains("SESAME_IDP_HOLD_READY"), "environment leaked: {err}");

        // Still loading modules after 100 ms: diagnosed from /proc, killed, reported.
        let err = Idp::spawn_and_wait(
            &node_binary(),
            &idp_dir(),
            &IdpOptions::default(),
            Duration::from_millis(100),
            &[],
        )
        .unwrap_err();
        assert!(err.contains("did not announce itself within 0.1s"), "{err}");
        assert!(err.contains("--- diagnosis ---"), "{err}");
    }

    #[tokio::test]
    async fn async_start_and_shared() {
        let idp = Idp::start().await;
        let (id, secret) = clients::PASSWORD_CLIENT;
        let url = idp.token_endpoint();
        let resp = tokio::task::spawn_blocking(move || {
            http::post_form(
                &url,
                &[
                    ("grant_type", "password"),
                    ("username", account::USERNAME),
                    ("password", account::PASSWORD),
                ],
                Some((id, secret)),
            )
            .unwrap()
        })
        .await
        .unwrap();
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert!(resp.json()["refresh_token"].is_string());

        let shared = shared();
        assert!(std::ptr::eq(shared, super::shared()));
        assert_eq!(http::get(&shared.discovery_url()).unwrap().status, 200);
        assert!(m2m_jwt_key_pem().contains("BEGIN PRIVATE KEY"));
    }
}
