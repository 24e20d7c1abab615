//! Fault injection on the OAuth layer with a small fake server (the real flows are proved
//! against the bundled provider in `oauth.rs`): HTML, 500, truncated JSON, a 10 MiB body,
//! a reply slower than the timeout, a wrong `token_type` — each a clear, typed error that
//! never quotes a secret. Also: RFC 8414 discovery fallback, the custom JSON grant, and
//! `at_hash` verification with a key served from a local JWKS.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine;
use sesame::oauth::custom_grant::CustomJsonGrant;
use sesame::oauth::{
    ClientAuth, ClientConfig, IdTokenError, OAuthClient, OAuthError, OAuthHttp, ProviderMetadata, TokenOptions,
    discovery,
};
use sesame::tls::TlsOptions;
use sesame::token::Grant;
use sesame_testbed::idp;
use support::*;

fn routes() -> Router {
    Router::new()
        .route(
            "/html/token",
            post(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html")],
                    "<html><body><h1>Please sign in</h1></body></html>",
                )
            }),
        )
        .route(
            "/500/token",
            post(|| async {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"error":"server_error","error_description":"database down"}"#,
                )
            }),
        )
        .route(
            "/truncated/token",
            post(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"access_token":"at-secret-1","token_ty"#,
                )
            }),
        )
        .route(
            "/big/token",
            post(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    format!(r#"{{"access_token":"{}"}}"#, "a".repeat(10 * 1024 * 1024)),
                )
            }),
        )
        .route(
            "/slow/token",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/wrongtype/token",
            post(|| async {
                axum::Json(serde_json::json!({"access_token": "at-secret-2", "token_type": "mac", "expires_in": 60}))
            }),
        )
        .route(
            "/missing/token",
            post(|| async { axum::Json(serde_json::json!({"token_type": "bearer"})) }),
        )
        .route(
            "/grantToken",
            post(|body: axum::Json<serde_json::Value>| async move {
                if body["accessCode1"] == "code-one" && body["accessCode2"] == "code-two" {
                    axum::Json(serde_json::json!({"id_token": "itk-token-value", "expires_in": 1200})).into_response()
                } else {
                    (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(serde_json::json!({"message": "invalid access codes"})),
                    )
                        .into_response()
                }
            }),
        )
}

fn client_at(token_endpoint: String, timeout: Duration) -> OAuthClient {
    let http = OAuthHttp::new(&TlsOptions::default(), timeout, Duration::from_secs(5)).unwrap();
    let meta = ProviderMetadata {
        issuer: "http://127.0.0.1".into(),
        token_endpoint: Some(token_endpoint),
        ..Default::default()
    };
    OAuthClient::new(
        ClientConfig::confidential("c", "client-secret-value"),
        Arc::new(meta),
        http,
    )
}

async fn cc_error(server: &TestServer, path: &str, timeout: Duration) -> sesame::Error {
    client_at(server.url(path), timeout)
        .client_credentials(&TokenOptions::default())
        .await
        .unwrap_err()
}

fn no_secrets(e: &sesame::Error) {
    let s = format!("{e} {e:?}");
    for secret in ["at-secret-1", "at-secret-2", "client-secret-value", "aaaaaaaaaaaaaaaa"] {
        assert!(!s.contains(secret), "error leaks `{secret}`: {s}");
    }
}

#[tokio::test]
async fn broken_token_endpoints_give_clear_typed_errors() {
    let s = TestServer::start_with(ServerOptions::default(), Some(routes())).await;
    let t = Duration::from_secs(10);

    let e = cc_error(&s, "/html/token", t).await;
    assert!(
        e.to_string().contains("expected JSON") && e.to_string().contains("Please sign in"),
        "{e}"
    );
    no_secrets(&e);

    let e = cc_error(&s, "/500/token", t).await;
    assert_eq!(e.oauth_error_code(), Some("server_error"), "{e}");
    assert!(e.to_string().contains("database down"), "{e}");
    assert!(
        !sesame::token::source::is_permanent(&e),
        "a 500 server_error is transient"
    );

    let e = cc_error(&s, "/truncated/token", t).await;
    assert!(e.is_oauth(), "{e:?}");
    no_secrets(&e);

    let e = cc_error(&s, "/big/token", t).await;
    assert!(e.to_string().contains("1 MiB"), "{e}");
    no_secrets(&e);

    let e = cc_error(&s, "/wrongtype/token", t).await;
    assert!(e.to_string().contains("token_type"), "{e}");
    no_secrets(&e);

    let e = cc_error(&s, "/missing/token", t).await;
    assert!(
        matches!(e.as_oauth(), Some(OAuthError::Malformed { .. })) || e.is_oauth(),
        "{e:?}"
    );
    assert!(e.to_string().contains("access_token"), "{e}");

    let started = std::time::Instant::now();
    let e = cc_error(&s, "/slow/token", Duration::from_millis(300)).await;
    assert!(e.is_timeout(), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(4), "ended within its timeout");
}

#[tokio::test]
async fn rfc8414_metadata_is_the_fallback_when_oidc_discovery_is_absent() {
    let server = TestServer::http().await;
    let origin = server.origin();
    let issuer = format!("{origin}/tenant");
    let doc = serde_json::json!({
        "issuer": issuer,
        "token_endpoint": format!("{origin}/tenant/token"),
        "grant_types_supported": ["client_credentials"],
    });
    let extra = Router::new().route(
        "/.well-known/oauth-authorization-server/tenant",
        get(move || {
            let d = doc.clone();
            async move { axum::Json(d) }
        }),
    );
    let s = TestServer::start_with(
        ServerOptions {
            bind: None,
            ..Default::default()
        },
        Some(extra),
    )
    .await;
    // The document must name the issuer we asked for: use the second server's origin.
    let issuer2 = format!("{}/tenant", s.origin());
    let http = OAuthHttp::default_client().unwrap();
    let e = discovery::discover(&http, &issuer2, false).await.unwrap_err();
    assert!(e.to_string().contains("refusing"), "issuer mismatch is refused: {e}");
    drop(server);

    // Now a server whose RFC 8414 document names itself.
    let extra = Router::new().route(
        "/.well-known/oauth-authorization-server/tenant",
        get(|req: axum::extract::Request| async move {
            let host = req.headers().get(header::HOST).unwrap().to_str().unwrap().to_string();
            axum::Json(serde_json::json!({
                "issuer": format!("http://{host}/tenant"),
                "token_endpoint": format!("http://{host}/tenant/token"),
            }))
        }),
    );
    let s = TestServer::start_with(ServerOptions::default(), Some(extra)).await;
    let issuer = format!("{}/tenant", s.origin());
    let meta = discovery::discover(&http, &issuer, false).await.unwrap();
    assert_eq!(meta.token_endpoint.as_deref(), Some(format!("{issuer}/token").as_str()));
    assert!(
        s.requests()
            .iter()
            .any(|r| r.path == "/tenant/.well-known/openid-configuration"),
        "OIDC tried first"
    );
}

#[tokio::test]
async fn custom_json_grant_like_itk_grant_token() {
    let s = TestServer::start_with(ServerOptions::default(), Some(routes())).await;
    let http = OAuthHttp::default_client().unwrap();
    let url = sesame::Url::parse(&s.url("/grantToken")).unwrap();
    let body = serde_json::json!({"grant_type": "password", "accessCode1": "code-one", "accessCode2": "code-two"});
    let g = CustomJsonGrant::new(http.clone(), url.clone(), body, "/id_token").expires_in_at("/expires_in");
    let t = g.obtain().await.unwrap();
    assert_eq!(t.access_token.expose(), "itk-token-value");
    assert_eq!(t.expires_at.unwrap() - t.issued_at, 1200);
    assert!(!format!("{g:?}").contains("code-one"));
    let bad = CustomJsonGrant::new(
        http,
        url,
        serde_json::json!({"accessCode1": "x", "accessCode2": "y"}),
        "/id_token",
    );
    let e = bad.obtain().await.unwrap_err();
    assert!(
        e.to_string().contains("401") && e.to_string().contains("invalid access codes"),
        "{e}"
    );
    assert!(!e.to_string().contains("\"x\""));
}

#[tokio::test]
async fn at_hash_is_checked_against_the_access_token() {
    // An ID token signed with the test RSA key, its public JWKS served locally.
    let jwks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(idp::m2m_jwt_jwks_path()).unwrap()).unwrap();
    let extra = Router::new().route(
        "/jwks",
        get(move || {
            let j = jwks.clone();
            async move { axum::Json(j) }
        }),
    );
    let s = TestServer::start_with(ServerOptions::default(), Some(extra)).await;
    let issuer = s.origin();
    let access_token = "at-for-hash-check";
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(access_token.as_bytes())
    };
    let at_hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
    let now = sesame::token::Clock::now(&sesame::token::SystemClock);
    let claims = serde_json::json!({"iss": issuer, "sub": "alice", "aud": "client-x", "iat": now, "exp": now + 300, "at_hash": at_hash});
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some(idp::clients::M2M_JWT_KID.into());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(idp::m2m_jwt_key_pem().as_bytes()).unwrap();
    let id_token = jsonwebtoken::encode(&h, &claims, &key).unwrap();

    let meta = ProviderMetadata {
        issuer: issuer.clone(),
        jwks_uri: Some(format!("{issuer}/jwks")),
        ..Default::default()
    };
    let c = OAuthClient::new(
        ClientConfig {
            auth: ClientAuth::None,
            ..ClientConfig::public("client-x")
        },
        Arc::new(meta),
        OAuthHttp::default_client().unwrap(),
    );
    c.verify_id_token(&id_token, None, Some(access_token)).await.unwrap();
    let e = c
        .verify_id_token(&id_token, None, Some("another-access-token"))
        .await
        .unwrap_err();
    assert!(
        matches!(e.as_oauth(), Some(OAuthError::IdToken(IdTokenError::AtHash))),
        "{e}"
    );
}

/// The `expires_in` of each mode of `/exp/{mode}/…`, and the lifetime sesame must make of it.
const EXPIRES_IN_CASES: &[(&str, &str, i64)] = &[
    ("max", "9223372036854775807", 365 * 24 * 3600),
    ("u64max", "18446744073709551615", 365 * 24 * 3600),
    ("huge", "1e300", 365 * 24 * 3600),
    ("string", "\"3600\"", 3600),
    ("hugestring", "\"99999999999999999999999\"", 365 * 24 * 3600),
    ("negative", "-5", 0),
    ("negstring", "\"-5\"", 0),
    ("zero", "0", 0),
];

fn expires_in_routes() -> Router {
    fn raw(mode: &str) -> &'static str {
        EXPIRES_IN_CASES.iter().find(|c| c.0 == mode).map(|c| c.1).unwrap()
    }
    let json = |body: String| ([(header::CONTENT_TYPE, "application/json")], body);
    Router::new()
        .route(
            "/exp/{mode}/token",
            post(move |axum::extract::Path(mode): axum::extract::Path<String>| async move {
                json(format!(
                    r#"{{"access_token":"at-exp-{mode}","token_type":"Bearer","refresh_token":"rt-exp","expires_in":{}}}"#,
                    raw(&mode)
                ))
            }),
        )
        .route(
            "/exp/{mode}/device",
            post(move || async move {
                json(r#"{"device_code":"dc-1","user_code":"ABCD-EFGH","verification_uri":"https://idp.example/device","expires_in":60,"interval":1}"#.into())
            }),
        )
        .route(
            "/exp/{mode}/grant",
            post(move |axum::extract::Path(mode): axum::extract::Path<String>| async move {
                json(format!(r#"{{"token":"custom-exp-{mode}","expires_in":{}}}"#, raw(&mode)))
            }),
        )
}

/// Tokens are dated by the client's (the grant's) injected clock, not the system's.
#[tokio::test]
async fn tokens_are_dated_by_the_injected_clock() {
    use sesame::token::ManualClock;
    const START: i64 = 1_000_000_000;
    let s = TestServer::start_with(ServerOptions::default(), Some(expires_in_routes())).await;
    let clock = Arc::new(ManualClock::new(START));
    let meta = ProviderMetadata {
        issuer: s.origin(),
        token_endpoint: Some(s.url("/exp/string/token")),
        ..Default::default()
    };
    let c = OAuthClient::new(
        ClientConfig::confidential("c", "client-secret-value"),
        Arc::new(meta),
        OAuthHttp::default_client().unwrap(),
    )
    .with_clock(clock.clone());
    let t = c.client_credentials(&TokenOptions::default()).await.unwrap();
    assert_eq!(
        (t.issued_at, t.expires_at),
        (START, Some(START + 3600)),
        "client credentials"
    );
    let url = sesame::Url::parse(&s.url("/exp/string/grant")).unwrap();
    let g = CustomJsonGrant::new(
        OAuthHttp::default_client().unwrap(),
        url,
        serde_json::json!({}),
        "/token",
    )
    .expires_in_at("/expires_in")
    .with_clock(clock);
    let t = g.obtain().await.unwrap();
    assert_eq!(
        (t.issued_at, t.expires_at),
        (START, Some(START + 3600)),
        "custom JSON grant"
    );
}

/// Issue 13 item 7: `expires_in` of `i64::MAX` panicked (`attempt to add with overflow`)
/// and a numeric string was refused by the standard grants. Every grant now reads it the
/// same way: saturated, capped at a year, zero or negative = expires now.
#[tokio::test]
async fn expires_in_is_saturated_capped_and_read_from_strings_by_every_grant() {
    use sesame::oauth::device::DeviceAuthorization;
    use sesame::secret::{AccessToken, Password, RefreshToken};
    let s = TestServer::start_with(ServerOptions::default(), Some(expires_in_routes())).await;
    for (mode, raw, lifetime) in EXPIRES_IN_CASES {
        let meta = ProviderMetadata {
            issuer: s.origin(),
            token_endpoint: Some(s.url(&format!("/exp/{mode}/token"))),
            device_authorization_endpoint: Some(s.url(&format!("/exp/{mode}/device"))),
            ..Default::default()
        };
        let c = OAuthClient::new(
            ClientConfig::confidential("c", "client-secret-value"),
            Arc::new(meta),
            OAuthHttp::default_client().unwrap(),
        );
        let o = TokenOptions::default();
        let device = DeviceAuthorization::request(&c).await.unwrap();
        let tokens = [
            ("client credentials", c.client_credentials(&o).await),
            ("password", c.password("u", &Password::new("pw-value"), &o).await),
            ("refresh", c.refresh(&RefreshToken::new("rt-old"), &o).await),
            (
                "authorization code",
                c.exchange_code("code-1", "verifier-1", "http://127.0.0.1:9/cb", None)
                    .await,
            ),
            ("device", device.poll(&c, |_| {}).await),
            (
                "token exchange",
                c.token_exchange(&AccessToken::new("subject"), sesame::oauth::ACCESS_TOKEN_TYPE, &o)
                    .await,
            ),
        ];
        for (grant, t) in tokens {
            let t = t.unwrap_or_else(|e| panic!("{grant}, expires_in {raw}: {e}"));
            assert_eq!(t.access_token.expose(), format!("at-exp-{mode}"));
            let left = t.expires_at.unwrap() - t.issued_at;
            assert_eq!(left, *lifetime, "{grant}, expires_in {raw}");
        }
        let url = sesame::Url::parse(&s.url(&format!("/exp/{mode}/grant"))).unwrap();
        let g = CustomJsonGrant::new(
            OAuthHttp::default_client().unwrap(),
            url,
            serde_json::json!({}),
            "/token",
        )
        .expires_in_at("/expires_in");
        let t = g.obtain().await.unwrap();
        assert_eq!(
            t.expires_at.unwrap() - t.issued_at,
            *lifetime,
            "custom JSON grant, {raw}"
        );
    }
}
