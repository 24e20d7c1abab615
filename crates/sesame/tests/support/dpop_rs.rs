//! A resource server that accepts only DPoP-bound tokens (RFC 9449 §7), written
//! independently of sesame's own DPoP code so that the tests prove the proofs to a
//! verifier sesame did not write: the proof's signature with its embedded `jwk`, `typ`,
//! `htm`, `htu`, the `iat` window, `jti` replay, `ath`, the server's nonce (when it demands
//! one), and that the token's `cnf.jkt` (asked of the provider by introspection) is the
//! thumbprint of the proof's key.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, Response, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What the server saw, for assertions.
#[derive(Debug, Default)]
pub struct Seen {
    /// Requests answered 200.
    pub accepted: u64,
    /// Why each refused request was refused.
    pub refused: Vec<String>,
    /// Every proof received (to replay one).
    pub proofs: Vec<String>,
}

struct Inner {
    introspection: String,
    rs_client: (String, String),
    require_nonce: Mutex<Option<String>>,
    jtis: Mutex<HashSet<String>>,
    seen: Mutex<Seen>,
    origin: Mutex<String>,
    http: reqwest::Client,
}

/// A running resource server; stops with the test's runtime.
#[derive(Clone)]
pub struct DpopResource {
    inner: Arc<Inner>,
    addr: SocketAddr,
}

impl DpopResource {
    /// Starts one on 127.0.0.1 that introspects tokens at `introspection` as `rs_client`.
    pub async fn start(introspection: &str, rs_client: (&str, &str)) -> DpopResource {
        let inner = Arc::new(Inner {
            introspection: introspection.to_string(),
            rs_client: (rs_client.0.to_string(), rs_client.1.to_string()),
            require_nonce: Mutex::new(None),
            jtis: Mutex::default(),
            seen: Mutex::default(),
            origin: Mutex::default(),
            http: reqwest::Client::new(),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        *inner.origin.lock().unwrap() = format!("http://{addr}");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        DpopResource { inner, addr }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Demands this nonce in every proof from now on (`None`: no nonce needed).
    pub fn require_nonce(&self, nonce: Option<&str>) {
        *self.inner.require_nonce.lock().unwrap() = nonce.map(str::to_owned);
    }

    /// What the server has seen so far.
    pub fn seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.inner.seen.lock().unwrap())
    }
}

fn challenge(status: StatusCode, error: &str, why: &str, nonce: Option<&str>) -> Response<Body> {
    let mut b = Response::builder().status(status).header(
        "www-authenticate",
        format!(r#"DPoP error="{error}", error_description="{why}", algs="ES256 EdDSA RS256""#),
    );
    if let Some(n) = nonce {
        b = b.header("dpop-nonce", n);
    }
    b.header("content-type", "application/json")
        .body(Body::from(
            json!({"error": error, "error_description": why}).to_string(),
        ))
        .unwrap()
}

/// RFC 7638 thumbprint of a public JWK, computed here (not with sesame's code).
pub fn thumbprint(jwk: &Value) -> Option<String> {
    let s = |k: &str| jwk.get(k).and_then(Value::as_str);
    let canonical = match s("kty")? {
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            s("crv")?,
            s("x")?,
            s("y")?
        ),
        "OKP" => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, s("crv")?, s("x")?),
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, s("e")?, s("n")?),
        _ => return None,
    };
    Some(B64.encode(Sha256::digest(canonical.as_bytes())))
}

fn decode_part(p: &str) -> Option<Value> {
    serde_json::from_slice(&B64.decode(p).ok()?).ok()
}

async fn handle(
    State(st): State<Arc<Inner>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response<Body> {
    match verify(&st, &method, &uri, &headers).await {
        Ok(v) => {
            st.seen.lock().unwrap().accepted += 1;
            if uri.path() == "/redirect" {
                return Response::builder()
                    .status(StatusCode::FOUND)
                    .header("location", "/after-redirect")
                    .body(Body::empty())
                    .unwrap();
            }
            Response::builder()
                .header("content-type", "application/json")
                .body(Body::from(v.to_string()))
                .unwrap()
        }
        Err(resp) => resp,
    }
}

async fn verify(
    st: &Inner,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Result<Value, Response<Body>> {
    let refuse = |error: &str, why: String, nonce: Option<&str>| {
        st.seen.lock().unwrap().refused.push(why.clone());
        challenge(StatusCode::UNAUTHORIZED, error, &why, nonce)
    };
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some((scheme, token)) = auth.split_once(' ') else {
        return Err(refuse("invalid_request", "no DPoP token".into(), None));
    };
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("dpop") {
        return Err(refuse("invalid_token", format!("scheme {scheme} is not DPoP"), None));
    }
    let proofs: Vec<&str> = headers.get_all("dpop").iter().filter_map(|v| v.to_str().ok()).collect();
    let [proof] = proofs[..] else {
        return Err(refuse(
            "invalid_dpop_proof",
            format!("{} DPoP headers", proofs.len()),
            None,
        ));
    };
    st.seen.lock().unwrap().proofs.push(proof.to_string());
    let parts: Vec<&str> = proof.split('.').collect();
    if parts.len() != 3 {
        return Err(refuse("invalid_dpop_proof", "proof is not a JWS".into(), None));
    }
    let (Some(header), Some(claims)) = (decode_part(parts[0]), decode_part(parts[1])) else {
        return Err(refuse("invalid_dpop_proof", "proof is not JSON".into(), None));
    };
    if header["typ"] != "dpop+jwt" {
        return Err(refuse("invalid_dpop_proof", "typ is not dpop+jwt".into(), None));
    }
    let alg = match header["alg"].as_str() {
        Some("ES256") => jsonwebtoken::Algorithm::ES256,
        Some("EdDSA") => jsonwebtoken::Algorithm::EdDSA,
        Some("RS256") => jsonwebtoken::Algorithm::RS256,
        other => return Err(refuse("invalid_dpop_proof", format!("alg {other:?} refused"), None)),
    };
    let jwk = &header["jwk"];
    if jwk.get("d").is_some() || jwk.get("p").is_some() {
        return Err(refuse("invalid_dpop_proof", "jwk holds a private key".into(), None));
    }
    let key = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(jwk.clone())
        .ok()
        .and_then(|j| jsonwebtoken::DecodingKey::from_jwk(&j).ok());
    let Some(key) = key else {
        return Err(refuse("invalid_dpop_proof", "jwk is not a public key".into(), None));
    };
    let signed = jsonwebtoken::crypto::verify(parts[2], format!("{}.{}", parts[0], parts[1]).as_bytes(), &key, alg)
        .unwrap_or(false);
    if !signed {
        return Err(refuse("invalid_dpop_proof", "bad signature".into(), None));
    }
    if claims["htm"] != method.as_str() {
        return Err(refuse(
            "invalid_dpop_proof",
            format!("htm {} for {method}", claims["htm"]),
            None,
        ));
    }
    let expected_htu = format!("{}{}", st.origin.lock().unwrap(), uri.path());
    if claims["htu"] != expected_htu.as_str() {
        return Err(refuse(
            "invalid_dpop_proof",
            format!("htu {} for {expected_htu}", claims["htu"]),
            None,
        ));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    match claims["iat"].as_i64() {
        Some(iat) if (iat - now).abs() <= 60 => {}
        _ => return Err(refuse("invalid_dpop_proof", "iat outside the window".into(), None)),
    }
    let ath = B64.encode(Sha256::digest(token.as_bytes()));
    if claims["ath"] != ath.as_str() {
        return Err(refuse(
            "invalid_dpop_proof",
            "ath does not match the token".into(),
            None,
        ));
    }
    let want = st.require_nonce.lock().unwrap().clone();
    if let Some(n) = &want
        && claims["nonce"] != n.as_str()
    {
        return Err(refuse("use_dpop_nonce", "nonce required".into(), Some(n)));
    }
    let Some(jti) = claims["jti"].as_str().filter(|j| !j.is_empty()) else {
        return Err(refuse("invalid_dpop_proof", "no jti".into(), None));
    };
    if !st.jtis.lock().unwrap().insert(jti.to_string()) {
        return Err(refuse("invalid_dpop_proof", "replayed jti".into(), None));
    }
    // The token: active, and bound to this very key.
    let intro: Value = st
        .http
        .post(&st.introspection)
        .basic_auth(&st.rs_client.0, Some(&st.rs_client.1))
        .form(&[("token", token)])
        .send()
        .await
        .map_err(|e| refuse("invalid_token", format!("introspection failed: {e}"), None))?
        .json()
        .await
        .map_err(|e| refuse("invalid_token", format!("introspection reply: {e}"), None))?;
    if intro["active"] != true {
        return Err(refuse("invalid_token", "token is not active".into(), None));
    }
    let jkt = thumbprint(jwk).unwrap_or_default();
    if intro["cnf"]["jkt"] != jkt.as_str() {
        return Err(refuse(
            "invalid_token",
            format!("token bound to {} but proved with {jkt}", intro["cnf"]["jkt"]),
            None,
        ));
    }
    Ok(json!({
        "sub": intro["sub"],
        "client_id": intro["client_id"],
        "jkt": jkt,
        "method": method.as_str(),
        "path": uri.path(),
    }))
}
