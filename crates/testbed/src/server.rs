//! A real local HTTP(S) server for tests: records every request (method, path, headers,
//! client certificate subject) and offers a few routes.
//!
//! With [`ServerOptions::accept_proxy_certs`] the server accepts RFC 3820 proxy
//! certificates as grid services do (rustls' own client verifier refuses them: a proxy is
//! signed by an end-entity certificate) and reports the end-entity subject.
//!
//! Routes:
//! - `/status/{code}?type=json|html|binary|text` — that status with a body of that type;
//! - `/redirect?to=URL&code=302` — a redirect;
//! - `/protected/…` — 200 only with the configured `Authorization` value, else 401 with
//!   `WWW-Authenticate: Bearer`;
//! - `/slow?ms=N` — answers after N ms; `/loop` — redirects to itself;
//! - `/echo-error[?as=oauth]` — 400 echoing the request's headers and body verbatim (as
//!   `text/plain`, or with `as=oauth` inside an OAuth error's `error_description`), like a
//!   debugging gateway: for tests that no secret sent comes back in sesame's messages;
//! - `POST /itk/grantToken?expires_in=N` — the ITk production database's login: with
//!   `{"grant_type":"password","accessCode1":ITK_ACCESS_CODE1,"accessCode2":ITK_ACCESS_CODE2}`
//!   a new `{"id_token":"itk-token-<n>","expires_in":N}` (default 3600), else 401;
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
    /// Subject of the client's end-entity certificate, if one was presented: the
    /// certificate itself, or for an RFC 3820 proxy the certificate that issued the proxy.
    pub client_subject: Option<String>,
    /// Subject of the certificate the client presented first (the proxy, when proxied).
    pub client_leaf_subject: Option<String>,
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
    /// Require a client certificate and accept RFC 3820 proxies of certificates this CA
    /// issued: each proxy signed by its issuer, carrying ProxyCertInfo and named after it
    /// (issuer subject + one CN), the end-entity certificate verified against the CA.
    pub accept_proxy_certs: bool,
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
struct PeerSubject {
    eec: Option<String>,
    leaf: Option<String>,
}

impl PeerSubject {
    const NONE: PeerSubject = PeerSubject { eec: None, leaf: None };
}

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
            .route("/itk/grantToken", any(itk_grant_token))
            .route("/echo-error", any(echo_error))
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
                    let app = app.layer(axum::Extension(PeerSubject::NONE));
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
                let config = tls_config(ca, &server_cert, opts.require_client_cert, opts.accept_proxy_certs);
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
                            let subject = peer_subject(tls.get_ref().1.peer_certificates().unwrap_or_default());
                            let app = app.layer(axum::Extension(subject));
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

/// The subjects of a client's chain: the first certificate, and the first that is not a proxy.
fn peer_subject(chain: &[rustls_pki_types::CertificateDer<'_>]) -> PeerSubject {
    let parsed: Vec<_> = chain
        .iter()
        .filter_map(|der| x509_parser::parse_x509_certificate(der.as_ref()).ok().map(|(_, c)| c))
        .collect();
    PeerSubject {
        leaf: parsed.first().map(|c| c.subject().to_string()),
        eec: parsed
            .iter()
            .find(|c| !proxy::is_proxy(c))
            .map(|c| c.subject().to_string()),
    }
}

fn tls_config(ca: &TestCa, cert: &CertKey, require_client: bool, accept_proxies: bool) -> rustls::ServerConfig {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = vec![CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
    // An explicit provider: building with the process default would install one, and the
    // process default is the application's (sesame installs one to present proxy certificates).
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let mut config = if require_client || accept_proxies {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der()).unwrap();
        let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        if accept_proxies {
            verifier = Arc::new(proxy::ProxyAwareVerifier::new(verifier));
        }
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
    let peer = parts
        .extensions
        .get::<PeerSubject>()
        .cloned()
        .unwrap_or(PeerSubject::NONE);
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
        client_subject: peer.eec,
        client_leaf_subject: peer.leaf,
        body: bytes.to_vec(),
    });
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

async fn echo(req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<PeerSubject>()
        .cloned()
        .unwrap_or(PeerSubject::NONE);
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
        "client_subject": peer.eec,
        "client_leaf_subject": peer.leaf,
    }))
    .into_response()
}

async fn echo_error(Query(q): Query<HashMap<String, String>>, req: Request) -> Response {
    let mut text = format!("{} {}\n", req.method(), req.uri());
    for (k, v) in req.headers() {
        text.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
    }
    let body = axum::body::to_bytes(req.into_body(), 1024 * 1024)
        .await
        .unwrap_or_default();
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(&body));
    if q.get("as").map(String::as_str) == Some("oauth") {
        let j = serde_json::json!({"error": "invalid_request", "error_description": format!("bad request: {text}")});
        (StatusCode::BAD_REQUEST, axum::Json(j)).into_response()
    } else {
        (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "text/plain")], text).into_response()
    }
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
    let client_cert = req.extensions().get::<PeerSubject>().and_then(|p| p.eec.clone());
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

/// The access codes [`itk_grant_token`] accepts (test values, public on purpose).
pub const ITK_ACCESS_CODE1: &str = "itk-code-one-4Qx";
/// The second access code.
pub const ITK_ACCESS_CODE2: &str = "itk-code-two-9Zr";

async fn itk_grant_token(Query(q): Query<HashMap<String, String>>, req: Request) -> Response {
    use std::sync::atomic::{AtomicU64, Ordering};
    static ISSUED: AtomicU64 = AtomicU64::new(0);
    let expires_in = q.get("expires_in").and_then(|m| m.parse().ok()).unwrap_or(3600u64);
    let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if v["grant_type"] == "password" && v["accessCode1"] == ITK_ACCESS_CODE1 && v["accessCode2"] == ITK_ACCESS_CODE2 {
        let n = ISSUED.fetch_add(1, Ordering::Relaxed) + 1;
        axum::Json(serde_json::json!({"id_token": format!("itk-token-{n}"), "expires_in": expires_in})).into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"message": "invalid access codes"})),
        )
            .into_response()
    }
}

async fn slow(Query(q): Query<HashMap<String, String>>) -> Response {
    let ms = q.get("ms").and_then(|m| m.parse().ok()).unwrap_or(1000u64);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    "slow done".into_response()
}

/// Accepting RFC 3820 proxy certificates in a TLS client verifier.
mod proxy {
    use std::sync::Arc;

    use rustls::client::danger::HandshakeSignatureValid;
    use rustls::crypto::WebPkiSupportedAlgorithms;
    use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
    use rustls::{DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};
    use rustls_pki_types::{CertificateDer, UnixTime};
    use x509_parser::certificate::X509Certificate;

    /// id-pe-proxyCertInfo (RFC 3820).
    const PROXY_CERT_INFO: &str = "1.3.6.1.5.5.7.1.14";

    /// Whether a certificate carries the RFC 3820 ProxyCertInfo extension.
    pub fn is_proxy(c: &X509Certificate<'_>) -> bool {
        c.extensions().iter().any(|e| e.oid.to_id_string() == PROXY_CERT_INFO)
    }

    /// Verifies proxy chains itself and hands the end-entity certificate (with the rest
    /// of the chain) to rustls' WebPKI verifier; plain certificates go straight to it.
    #[derive(Debug)]
    pub struct ProxyAwareVerifier {
        inner: Arc<dyn ClientCertVerifier>,
        algs: WebPkiSupportedAlgorithms,
    }

    impl ProxyAwareVerifier {
        pub fn new(inner: Arc<dyn ClientCertVerifier>) -> Self {
            ProxyAwareVerifier {
                inner,
                algs: rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms,
            }
        }

        fn handshake_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            let (spki_alg, key) = spki(cert.as_ref()).ok_or_else(|| bad("cannot read the proxy's public key"))?;
            let algs = self
                .algs
                .mapping
                .iter()
                .find(|(s, _)| *s == dss.scheme)
                .map(|(_, a)| *a)
                .ok_or_else(|| bad("unsupported signature scheme"))?;
            algs.iter()
                .filter(|a| a.public_key_alg_id().as_ref() == spki_alg)
                .find(|a| a.verify_signature(key, message, dss.signature()).is_ok())
                .map(|_| HandshakeSignatureValid::assertion())
                .ok_or(Error::InvalidCertificate(rustls::CertificateError::BadSignature))
        }

        /// Checks `cert` (a proxy) against `issuer`: signature, validity, naming.
        fn check_proxy(&self, cert_der: &[u8], issuer_der: &[u8], now: UnixTime) -> Result<(), Error> {
            let (_, cert) = x509_parser::parse_x509_certificate(cert_der).map_err(|_| bad("malformed proxy"))?;
            let (_, issuer) = x509_parser::parse_x509_certificate(issuer_der).map_err(|_| bad("malformed issuer"))?;
            let now = now.as_secs() as i64;
            let v = cert.validity();
            if v.not_before.timestamp() > now || v.not_after.timestamp() < now {
                return Err(Error::InvalidCertificate(rustls::CertificateError::Expired));
            }
            // RFC 3820 §3.4: the proxy's subject is its issuer's subject plus one CN.
            let issuer_rdns = issuer.subject().iter_rdn().count();
            let proxy_rdns = cert.subject().iter_rdn().count();
            let prefix_ok = cert
                .subject()
                .iter_rdn()
                .zip(issuer.subject().iter_rdn())
                .all(|(a, b)| a == b);
            if proxy_rdns != issuer_rdns + 1 || !prefix_ok || cert.issuer().as_raw() != issuer.subject().as_raw() {
                return Err(bad("proxy subject is not its issuer's subject plus one CN"));
            }
            // The signature over the TBS part with the issuer's key.
            let (tbs, sig_alg, sig) = cert_parts(cert_der).ok_or_else(|| bad("malformed proxy"))?;
            let (key_alg, key) = spki(issuer_der).ok_or_else(|| bad("cannot read the issuer's public key"))?;
            let ok = self.algs.all.iter().any(|a| {
                a.public_key_alg_id().as_ref() == key_alg
                    && a.signature_alg_id().as_ref() == sig_alg
                    && a.verify_signature(key, tbs, sig).is_ok()
            });
            if !ok {
                return Err(Error::InvalidCertificate(rustls::CertificateError::BadSignature));
            }
            Ok(())
        }
    }

    fn bad(what: &str) -> Error {
        Error::General(format!("client proxy certificate: {what}"))
    }

    impl ClientCertVerifier for ProxyAwareVerifier {
        fn root_hint_subjects(&self) -> &[DistinguishedName] {
            self.inner.root_hint_subjects()
        }

        fn verify_client_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            now: UnixTime,
        ) -> Result<ClientCertVerified, Error> {
            let mut current: CertificateDer<'_> = end_entity.clone();
            let mut rest: Vec<CertificateDer<'_>> = intermediates.to_vec();
            let mut proxies = 0;
            loop {
                let (_, parsed) =
                    x509_parser::parse_x509_certificate(current.as_ref()).map_err(|_| bad("malformed certificate"))?;
                if !is_proxy(&parsed) {
                    break;
                }
                proxies += 1;
                if proxies > 8 {
                    return Err(bad("too many proxy levels"));
                }
                let issuer_raw = parsed.issuer().as_raw().to_vec();
                let pos = rest
                    .iter()
                    .position(|c| {
                        x509_parser::parse_x509_certificate(c.as_ref())
                            .map(|(_, c)| c.subject().as_raw() == issuer_raw.as_slice())
                            .unwrap_or(false)
                    })
                    .ok_or(Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer))?;
                let issuer = rest.remove(pos);
                self.check_proxy(current.as_ref(), issuer.as_ref(), now)?;
                current = issuer;
            }
            self.inner.verify_client_cert(&current, &rest, now)
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.handshake_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.handshake_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algs.supported_schemes()
        }
    }

    /// One DER element.
    struct Tlv<'a> {
        contents: &'a [u8],
        whole: &'a [u8],
        rest: &'a [u8],
    }

    /// Splits the first DER element off `input`.
    fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
        let first = *input.get(1)? as usize;
        let (len, hdr) = if first < 0x80 {
            (first, 2)
        } else {
            let n = first & 0x7f;
            if n == 0 || n > 4 {
                return None;
            }
            let mut len = 0usize;
            for i in 0..n {
                len = (len << 8) | *input.get(2 + i)? as usize;
            }
            (len, 2 + n)
        };
        let end = hdr.checked_add(len)?;
        if end > input.len() {
            return None;
        }
        Some(Tlv {
            contents: &input[hdr..end],
            whole: &input[..end],
            rest: &input[end..],
        })
    }

    /// A certificate's TBS bytes, signature algorithm (contents) and signature.
    fn cert_parts(der: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
        let cert = tlv(der)?.contents;
        let tbs = tlv(cert)?;
        let alg = tlv(tbs.rest)?;
        let sig = tlv(alg.rest)?;
        Some((tbs.whole, alg.contents, sig.contents.get(1..)?))
    }

    /// A certificate's SubjectPublicKeyInfo: algorithm (contents) and key bits.
    fn spki(der: &[u8]) -> Option<(&[u8], &[u8])> {
        let cert = tlv(der)?.contents;
        let mut tbs = tlv(cert)?.contents;
        // version [0] (optional), serial, signature, issuer, validity, subject, spki
        if tbs.first() == Some(&0xa0) {
            tbs = tlv(tbs)?.rest;
        }
        for _ in 0..5 {
            tbs = tlv(tbs)?.rest;
        }
        let spki = tlv(tbs)?.contents;
        let alg = tlv(spki)?;
        let bits = tlv(alg.rest)?.contents;
        Some((alg.contents, bits.get(1..)?))
    }
}
