//! A real local HTTP(S) server for tests: records every request (method, path, headers,
//! client certificate subject) and offers a few routes.
//!
//! Routes:
//! - `/status/{code}?type=json|html|binary|text` — that status with a body of that type;
//! - `/redirect?to=URL&code=302` — a redirect;
//! - `/protected/…` — 200 only with the configured `Authorization` value, else 401 with
//!   `WWW-Authenticate: Bearer`;
//! - `/slow?ms=N` — answers after N ms; `/loop` — redirects to itself;
//! - anything else — 200 with a JSON echo of the request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tokio::net::TcpListener;

use crate::pki::{CertKey, TestCa};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string.
    pub query: Option<String>,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Subject of the client certificate, if one was presented.
    pub client_subject: Option<String>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
}

/// Options for [`TestServer`].
#[derive(Default, Clone)]
pub struct ServerOptions {
    /// Serve TLS with a certificate from this CA (for 127.0.0.1 and localhost).
    pub tls: Option<Arc<TestCa>>,
    /// Require a client certificate issued by this CA's trust anchors.
    pub require_client_cert: bool,
    /// The `Authorization` header value `/protected` accepts.
    pub expect_authorization: Option<String>,
    /// Other `(header, value)` pairs `/protected` accepts (API keys, basic credentials).
    pub accept_headers: Vec<(String, String)>,
    /// Address to bind, default 127.0.0.1:0.
    pub bind: Option<SocketAddr>,
}

#[derive(Clone)]
struct AppState {
    log: Arc<Mutex<Vec<Recorded>>>,
    expect: Option<String>,
    accept: Vec<(String, String)>,
}

#[derive(Clone)]
struct PeerSubject(Option<String>);

/// A running server; stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    scheme: &'static str,
    log: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
    _server_cert: Option<CertKey>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Starts a plain HTTP server on 127.0.0.1 (inside a tokio runtime).
    pub async fn http() -> TestServer {
        Self::start(ServerOptions::default()).await
    }

    /// Starts a server with options.
    pub async fn start(opts: ServerOptions) -> TestServer {
        Self::start_with(opts, None).await
    }

    /// Starts a server with options and extra routes merged before the defaults.
    pub async fn start_with(opts: ServerOptions, extra: Option<Router>) -> TestServer {
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = AppState {
            log: log.clone(),
            expect: opts.expect_authorization.clone(),
            accept: opts.accept_headers.clone(),
        };
        let mut app = Router::new()
            .route("/status/{code}", any(status))
            .route("/redirect", any(redirect))
            .route("/protected", any(protected))
            .route("/protected/{*rest}", any(protected))
            .route("/slow", any(slow))
            .route(
                "/loop",
                any(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]) }),
            )
            .fallback(any(echo))
            .with_state(state.clone());
        if let Some(extra) = extra {
            app = extra.merge(app);
        }
        let app = app.layer(axum::middleware::from_fn_with_state(state, record));
        let listener = TcpListener::bind(opts.bind.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        match &opts.tls {
            None => {
                let task = tokio::spawn(async move {
                    let app = app.layer(axum::Extension(PeerSubject(None)));
                    let _ = axum::serve(listener, app).await;
                });
                TestServer {
                    addr,
                    scheme: "http",
                    log,
                    task,
                    _server_cert: None,
                }
            }
            Some(ca) => {
                let server_cert = ca.server_cert();
                let config = tls_config(ca, &server_cert, opts.require_client_cert);
                let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
                let task = tokio::spawn(async move {
                    loop {
                        let Ok((tcp, _)) = listener.accept().await else {
                            continue;
                        };
                        let acceptor = acceptor.clone();
                        let app = app.clone();
                        tokio::spawn(async move {
                            let Ok(tls) = acceptor.accept(tcp).await else { return };
                            let subject = tls
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|c| c.first())
                                .and_then(|der| {
                                    x509_parser::parse_x509_certificate(der.as_ref())
                                        .ok()
                                        .map(|(_, c)| c.subject().to_string())
                                });
                            let app = app.layer(axum::Extension(PeerSubject(subject)));
                            let svc = hyper_util::service::TowerToHyperService::new(app);
                            let io = hyper_util::rt::TokioIo::new(tls);
                            let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                                .serve_connection(io, svc)
                                .await;
                        });
                    }
                });
                TestServer {
                    addr,
                    scheme: "https",
                    log,
                    task,
                    _server_cert: Some(server_cert),
                }
            }
        }
    }

    /// `scheme://127.0.0.1:port`.
    pub fn origin(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.addr.port())
    }

    /// `origin` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.origin(), path)
    }

    /// The same server addressed as `localhost` (a different origin).
    pub fn url_localhost(&self, path: &str) -> String {
        format!("{}://localhost:{}{}", self.scheme, self.addr.port(), path)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    /// The last request whose path starts with `prefix`.
    pub fn last(&self, prefix: &str) -> Option<Recorded> {
        self.requests().into_iter().rev().find(|r| r.path.starts_with(prefix))
    }

    /// Forgets the recorded requests.
    pub fn clear(&self) {
        self.log.lock().unwrap().clear();
    }
}

fn tls_config(ca: &TestCa, cert: &CertKey, require_client: bool) -> rustls::ServerConfig {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = vec![CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
    let builder = rustls::ServerConfig::builder();
    let mut config = if require_client {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .unwrap();
        builder
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap()
    } else {
        builder.with_no_client_auth().with_single_cert(chain, key).unwrap()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

async fn record(State(st): State<AppState>, req: Request, next: axum::middleware::Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024).await.unwrap_or_default();
    let subject = parts.extensions.get::<PeerSubject>().and_then(|p| p.0.clone());
    st.log.lock().unwrap().push(Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        client_subject: subject,
        body: bytes.to_vec(),
    });
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

async fn echo(req: Request) -> Response {
    let subject = req.extensions().get::<PeerSubject>().and_then(|p| p.0.clone());
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                serde_json::Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            )
        })
        .collect();
    axum::Json(serde_json::json!({
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "query": req.uri().query(),
        "headers": headers,
        "client_subject": subject,
    }))
    .into_response()
}

async fn status(
    axum::extract::Path(code): axum::extract::Path<u16>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    let (ctype, body): (&str, Vec<u8>) = match q.get("type").map(String::as_str) {
        Some("html") => (
            "text/html; charset=utf-8",
            format!("<!doctype html><html><head><title>{code}</title><style>h1{{color:red}}</style></head><body><h1>Error {code}</h1><p>Something <b>went wrong</b> here.</p></body></html>").into_bytes(),
        ),
        Some("binary") => ("application/x-protobuf", vec![0x08, 0x96, 0x01, 0x12, 0x00, 0xff]),
        Some("text") => ("text/plain", format!("plain failure {code}").into_bytes()),
        Some("big") => ("text/html", format!("<html><body>{}</body></html>", "x".repeat(10 * 1024 * 1024)).into_bytes()),
        _ => (
            "application/json",
            serde_json::to_vec(&serde_json::json!({"error": "failure", "code": code, "detail": {"reason": "testing"}})).unwrap(),
        ),
    };
    (status, [(header::CONTENT_TYPE, ctype)], body).into_response()
}

async fn redirect(Query(q): Query<HashMap<String, String>>) -> Response {
    let to = q.get("to").cloned().unwrap_or_else(|| "/".into());
    let code = q.get("code").and_then(|c| c.parse().ok()).unwrap_or(302u16);
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::FOUND);
    (status, [(header::LOCATION, to)]).into_response()
}

async fn protected(State(st): State<AppState>, req: Request) -> Response {
    let headers: &HeaderMap = req.headers();
    let got = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let by_header = st
        .accept
        .iter()
        .find(|(k, v)| headers.get(k.as_str()).and_then(|g| g.to_str().ok()) == Some(v.as_str()));
    let client_cert = req.extensions().get::<PeerSubject>().and_then(|p| p.0.clone());
    match (&st.expect, got) {
        (Some(want), Some(got)) if want == got => {
            axum::Json(serde_json::json!({"ok": true, "via": "authorization"})).into_response()
        }
        _ if by_header.is_some() => {
            axum::Json(serde_json::json!({"ok": true, "via": by_header.map(|(k, _)| k)})).into_response()
        }
        _ if client_cert.is_some() => {
            axum::Json(serde_json::json!({"ok": true, "via": "client-certificate", "subject": client_cert}))
                .into_response()
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"test\", error=\"invalid_token\"",
            )],
            axum::Json(serde_json::json!({"error": "unauthorized"})),
        )
            .into_response(),
    }
}

async fn slow(Query(q): Query<HashMap<String, String>>) -> Response {
    let ms = q.get("ms").and_then(|m| m.parse().ok()).unwrap_or(1000u64);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    "slow done".into_response()
}
