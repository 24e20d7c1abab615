//! A fault-injection HTTP server for resilience tests: it speaks HTTP/1.1 by hand over TCP
//! so that it can misbehave in ways a well-behaved server library will not — reset
//! connections, stall in the middle of a body, dribble headers (slowloris), answer with
//! 10 MiB error pages, invalid UTF-8 or gzip bombs — on ordinary API paths and on the
//! endpoints of a fake authorization server.
//!
//! Listens on 127.0.0.1 only; every connection is closed after one response; every
//! misbehaviour is bounded in time (at most [`MAX_STALL`]) and the server stops (all its
//! tasks aborted) when dropped.
//!
//! Paths (query parameters in brackets):
//! - `/ok` — 200 `{"ok":true}`;
//! - `/flaky[?fail=N&status=503&retry_after=S]` — `status` (default 503, with
//!   `Retry-After: S` if given) for the first N (default 2) requests to this exact path and
//!   query, then 200;
//! - `/storm[?retry_after=S]` — always 503 with `Retry-After` (default 1);
//! - `/reset` — reads the request, then resets the connection (no response);
//! - `/reset-mid-body` — headers for a 100000-byte body, 10 bytes, then a reset;
//! - `/stall-body` — headers for a 1 MB body, 100 bytes, then nothing;
//! - `/stall-headers` — the status line, then one header byte every 200 ms (slowloris);
//! - `/big[?status=500&size=10485760&type=text/html]` — a large page;
//! - `/invalid-utf8[?status=400&type=text/plain]` — a body of invalid UTF-8;
//! - `/gzip-bomb[?mib=1024&status=200&type=application/json]` — `Content-Encoding: gzip`
//!   of that many MiB of zeros (about 1 KiB per MiB on the wire);
//! - `/as/{mode}/...` — a fake authorization server whose issuer is
//!   `http://127.0.0.1:PORT/as/{mode}`: `/.well-known/openid-configuration` is valid and
//!   points at `/as/{mode}/token`, `/as/{mode}/jwks`, `/as/{mode}/userinfo`; those
//!   misbehave per `mode`: `bomb` (gzip bomb), `big` (10 MiB HTML), `stall` (stall mid
//!   body), `slowloris`, `reset`, `utf8` (invalid UTF-8 labelled JSON), `storm` (503 with
//!   `Retry-After: 1` for the first two requests of each path, then a valid answer), `ok`
//!   (valid answers: a token `{"access_token":"fault-token",…}` and an empty JWKS).
//!   `mode` `bad-discovery-*` makes the discovery document itself misbehave the same way.
//! - anything else — 404.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The longest any connection is kept stalling.
pub const MAX_STALL: Duration = Duration::from_secs(30);

/// One request as the fault server read it.
#[derive(Debug, Clone)]
pub struct FaultRequest {
    /// Method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query string.
    pub query: Option<String>,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
}

#[derive(Default)]
struct State {
    log: Vec<FaultRequest>,
    counts: HashMap<String, u64>,
}

/// A running fault server; stops when dropped.
pub struct FaultServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.accept.abort();
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

impl FaultServer {
    /// Starts the server on 127.0.0.1 (inside a tokio runtime).
    pub async fn start() -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (st, ts) = (state.clone(), tasks.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let st = st.clone();
                let h = tokio::spawn(async move {
                    let _ = tokio::time::timeout(MAX_STALL + Duration::from_secs(5), serve(tcp, st, addr)).await;
                });
                let mut g = ts.lock().unwrap();
                g.retain(|t| !t.is_finished());
                g.push(h);
            }
        });
        FaultServer {
            addr,
            state,
            tasks,
            accept,
        }
    }

    /// `http://127.0.0.1:port`.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// `origin` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.origin(), path)
    }

    /// The issuer of the fake authorization server in `mode`.
    pub fn issuer(&self, mode: &str) -> String {
        self.url(&format!("/as/{mode}"))
    }

    /// Requests received for `path` (without query), whatever the outcome.
    pub fn hits(&self, path: &str) -> u64 {
        self.state.lock().unwrap().log.iter().filter(|r| r.path == path).count() as u64
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<FaultRequest> {
        self.state.lock().unwrap().log.clone()
    }

    /// Forgets the requests and the per-path counters.
    pub fn clear(&self) {
        let mut g = self.state.lock().unwrap();
        g.log.clear();
        g.counts.clear();
    }
}

async fn read_request(tcp: &mut TcpStream) -> Option<FaultRequest> {
    let mut buf = Vec::with_capacity(1024);
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = tcp.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
        .min(1024 * 1024);
    let mut have = buf.len() - head_end - 4;
    while have < len {
        let n = tcp.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        have += n;
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target, None),
    };
    Some(FaultRequest {
        method,
        path,
        query,
        headers,
    })
}

fn param(q: &Option<String>, name: &str) -> Option<String> {
    q.as_deref()?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

async fn respond(tcp: &mut TcpStream, status: u16, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status} {}\r\nConnection: close\r\n", reason(status));
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let _ = tcp.write_all(head.as_bytes()).await;
    let _ = tcp.write_all(body).await;
    let _ = tcp.shutdown().await;
}

/// `mib` MiB of zeros, gzipped: one gzip member of 1 MiB of zeros (about 1 KiB), repeated
/// (RFC 1952 §2.2: a gzip file is a series of members; decoders inflate them all).
fn gzip_bomb(mib: usize) -> Vec<u8> {
    static MEMBER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let member = MEMBER.get_or_init(|| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 1024 * 1024]).unwrap();
        enc.finish().unwrap()
    });
    member.repeat(mib)
}

fn reset(tcp: TcpStream) {
    let _ = tcp.set_zero_linger();
    drop(tcp);
}

async fn stall() {
    tokio::time::sleep(MAX_STALL).await;
}

async fn serve(mut tcp: TcpStream, state: Arc<Mutex<State>>, addr: SocketAddr) {
    let Some(req) = read_request(&mut tcp).await else {
        return;
    };
    let count = {
        let mut g = state.lock().unwrap();
        g.log.push(req.clone());
        let key = format!("{}?{}", req.path, req.query.clone().unwrap_or_default());
        let c = g.counts.entry(key).or_default();
        *c += 1;
        *c
    };
    let q = &req.query;
    let status = |d: u16| param(q, "status").and_then(|s| s.parse().ok()).unwrap_or(d);
    let ctype = |d: &str| param(q, "type").unwrap_or_else(|| d.to_string()).replace("%2F", "/");
    let path = req.path.clone();
    if let Some(rest) = path.strip_prefix("/as/") {
        let (mode, tail) = rest.split_once('/').unwrap_or((rest, ""));
        return fake_as(tcp, mode, tail, count, addr).await;
    }
    match path.as_str() {
        "/ok" => {
            respond(
                &mut tcp,
                200,
                &[("Content-Type", "application/json".into())],
                b"{\"ok\":true}",
            )
            .await
        }
        "/flaky" => {
            let fail: u64 = param(q, "fail").and_then(|s| s.parse().ok()).unwrap_or(2);
            if count <= fail {
                let mut h = vec![("Content-Type", "text/plain".to_string())];
                if let Some(ra) = param(q, "retry_after") {
                    h.push((
                        "Retry-After",
                        ra.replace("%20", " ").replace("%2C", ",").replace("%3A", ":"),
                    ));
                }
                respond(&mut tcp, status(503), &h, b"try again").await;
            } else {
                let body = format!("{{\"ok\":true,\"attempt\":{count}}}");
                respond(
                    &mut tcp,
                    200,
                    &[("Content-Type", "application/json".into())],
                    body.as_bytes(),
                )
                .await;
            }
        }
        "/storm" => {
            let ra = param(q, "retry_after").unwrap_or_else(|| "1".into());
            respond(&mut tcp, 503, &[("Retry-After", ra)], b"overloaded").await;
        }
        "/reset" => reset(tcp),
        "/reset-mid-body" => {
            let _ = tcp
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"partial\":",
                )
                .await;
            let _ = tcp.flush().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            reset(tcp);
        }
        "/stall-body" => {
            let _ = tcp
                .write_all(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\nContent-Length: 1000000\r\n\r\n",
                )
                .await;
            let _ = tcp.write_all(&[b'x'; 100]).await;
            let _ = tcp.flush().await;
            stall().await;
        }
        "/stall-headers" => slowloris(&mut tcp).await,
        "/big" => {
            let size: usize = param(q, "size")
                .and_then(|s| s.parse().ok())
                .unwrap_or(10 * 1024 * 1024)
                .min(64 * 1024 * 1024);
            let mut body = b"<html><body><h1>Error</h1><p>".to_vec();
            body.resize(size, b'x');
            respond(&mut tcp, status(500), &[("Content-Type", ctype("text/html"))], &body).await;
        }
        "/invalid-utf8" => {
            let body = [0xff, 0xfe, b'{', 0xc3, 0x28, b'"', 0xa0, 0xa1, 0xe2, 0x28, 0xa1, b'}'];
            respond(&mut tcp, status(400), &[("Content-Type", ctype("text/plain"))], &body).await;
        }
        "/gzip-bomb" => {
            let mib: usize = param(q, "mib").and_then(|s| s.parse().ok()).unwrap_or(1024).min(4096);
            let body = gzip_bomb(mib);
            respond(
                &mut tcp,
                status(200),
                &[
                    ("Content-Type", ctype("application/json")),
                    ("Content-Encoding", "gzip".into()),
                ],
                &body,
            )
            .await;
        }
        _ => {
            respond(
                &mut tcp,
                404,
                &[("Content-Type", "text/plain".into())],
                b"no such fault",
            )
            .await
        }
    }
}

async fn slowloris(tcp: &mut TcpStream) {
    let _ = tcp.write_all(b"HTTP/1.1 200 OK\r\nX-Slow: ").await;
    let end = tokio::time::Instant::now() + MAX_STALL;
    while tokio::time::Instant::now() < end {
        if tcp.write_all(b"a").await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn misbehave(mut tcp: TcpStream, mode: &str, count: u64, good: &[u8]) {
    match mode {
        "bomb" => {
            let body = gzip_bomb(1024);
            respond(
                &mut tcp,
                200,
                &[
                    ("Content-Type", "application/json".into()),
                    ("Content-Encoding", "gzip".into()),
                ],
                &body,
            )
            .await
        }
        "big" => {
            let mut body = b"<html><body><p>".to_vec();
            body.resize(10 * 1024 * 1024, b'x');
            respond(&mut tcp, 500, &[("Content-Type", "text/html".into())], &body).await
        }
        "stall" => {
            let _ = tcp
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"access_token\":\"")
                .await;
            let _ = tcp.flush().await;
            stall().await;
        }
        "slowloris" => slowloris(&mut tcp).await,
        "reset" => reset(tcp),
        "utf8" => {
            let body = [b'{', b'"', 0xff, 0xfe, b'"', b':', 0xc3, 0x28, b'}'];
            respond(&mut tcp, 200, &[("Content-Type", "application/json".into())], &body).await
        }
        "storm" if count <= 2 => respond(&mut tcp, 503, &[("Retry-After", "1".into())], b"overloaded").await,
        _ => respond(&mut tcp, 200, &[("Content-Type", "application/json".into())], good).await,
    }
}

async fn fake_as(mut tcp: TcpStream, mode: &str, tail: &str, count: u64, addr: SocketAddr) {
    let issuer = format!("http://127.0.0.1:{}/as/{mode}", addr.port());
    match tail {
        ".well-known/openid-configuration" | ".well-known/oauth-authorization-server" => {
            let doc = serde_json::json!({
                "issuer": issuer,
                "token_endpoint": format!("{issuer}/token"),
                "jwks_uri": format!("{issuer}/jwks"),
                "userinfo_endpoint": format!("{issuer}/userinfo"),
                "authorization_endpoint": format!("{issuer}/auth"),
                "grant_types_supported": ["client_credentials", "refresh_token", "authorization_code"],
            })
            .to_string();
            match mode.strip_prefix("bad-discovery-") {
                Some(m) => misbehave(tcp, m, count, doc.as_bytes()).await,
                None => {
                    respond(
                        &mut tcp,
                        200,
                        &[("Content-Type", "application/json".into())],
                        doc.as_bytes(),
                    )
                    .await
                }
            }
        }
        "token" => {
            let good = br#"{"access_token":"fault-token","token_type":"Bearer","expires_in":300}"#;
            misbehave(tcp, mode, count, good).await
        }
        "jwks" => misbehave(tcp, mode, count, br#"{"keys":[]}"#).await,
        "userinfo" => misbehave(tcp, mode, count, br#"{"sub":"fault"}"#).await,
        _ => {
            respond(
                &mut tcp,
                404,
                &[("Content-Type", "text/plain".into())],
                b"no such endpoint",
            )
            .await
        }
    }
}
