//! TLS against real local TLS servers with certificates made at test time: verification
//! by default, extra CA bundles, `insecure`, and mutual TLS with X.509 client certificates.

mod support;

use std::sync::Arc;

use sesame::Session;
use sesame::credential::X509;
use support::*;
use time::Duration;

#[tokio::test]
async fn unknown_ca_is_refused_with_advice_and_ca_bundle_fixes_it() {
    let ca = Arc::new(TestCa::new("private CA"));
    let s = TestServer::start(ServerOptions {
        tls: Some(ca.clone()),
        ..Default::default()
    })
    .await;
    let plain = Session::builder().build().unwrap();
    let err = plain.get(&s.url("/x")).send().await.unwrap_err();
    assert!(err.is_transport(), "{err:?}");
    assert!(err.to_string().contains("ca_bundle"), "{err}");

    let dir = tempdir();
    let bundle = ca.write_cert(dir.path(), "ca.pem");
    let ok = Session::builder().ca_bundle(&bundle).build().unwrap();
    assert_eq!(ok.get(&s.url("/x")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn insecure_skips_verification_for_that_session_only() {
    let ca = Arc::new(TestCa::new("private CA"));
    let s = TestServer::start(ServerOptions {
        tls: Some(ca),
        ..Default::default()
    })
    .await;
    let insecure = Session::builder().insecure(true).build().unwrap();
    assert_eq!(insecure.get(&s.url("/x")).send().await.unwrap().status(), 200);
    let strict = Session::builder().build().unwrap();
    assert!(strict.get(&s.url("/x")).send().await.is_err());
}

#[tokio::test]
async fn mtls_server_sees_the_client_certificate_subject() {
    let ca = Arc::new(TestCa::new("grid CA"));
    let s = TestServer::start(ServerOptions {
        tls: Some(ca.clone()),
        require_client_cert: true,
        ..Default::default()
    })
    .await;
    let dir = tempdir();
    let (cert, key) = ca
        .client_cert("Alice Analyst", Duration::days(1))
        .write(dir.path(), "alice");
    let session = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .ca_pem(ca.cert_pem.clone())
        .credential(X509::from_files(&cert, &key).unwrap())
        .build()
        .unwrap();
    let body: serde_json::Value = session.get("whoami").send().await.unwrap().json().await.unwrap();
    let subject = body["client_subject"].as_str().unwrap();
    assert!(subject.contains("CN=Alice Analyst"), "{subject}");
    assert!(
        session
            .credential_info()
            .details
            .iter()
            .any(|(k, v)| k == "subject" && v.contains("Alice Analyst"))
    );

    // Without the certificate the handshake fails.
    let anon = Session::builder().ca_pem(ca.cert_pem.clone()).build().unwrap();
    assert!(anon.get(&s.url("/whoami")).send().await.is_err());
}

#[tokio::test]
async fn client_certificate_is_not_presented_outside_the_scope() {
    let ca = Arc::new(TestCa::new("grid CA"));
    let api = TestServer::start(ServerOptions {
        tls: Some(ca.clone()),
        require_client_cert: true,
        ..Default::default()
    })
    .await;
    let other = TestServer::start(ServerOptions {
        tls: Some(ca.clone()),
        require_client_cert: true,
        ..Default::default()
    })
    .await;
    let dir = tempdir();
    let (cert, key) = ca.client_cert("Alice", Duration::days(1)).write(dir.path(), "alice");
    let session = Session::builder()
        .base_url(&api.url("/"))
        .unwrap()
        .ca_pem(ca.cert_pem.clone())
        .credential(X509::from_files(&cert, &key).unwrap())
        .build()
        .unwrap();
    assert_eq!(session.get("in").send().await.unwrap().status(), 200);
    // Another origin that demands a certificate does not get one.
    assert!(session.get(&other.url("/out")).send().await.is_err());
    assert!(other.requests().is_empty());
}

#[test]
fn expiring_and_expired_certificates_are_refused() {
    let ca = TestCa::new("grid CA");
    let dir = tempdir();
    let (cert, key) = ca.client_cert("Soon", Duration::seconds(300)).write(dir.path(), "soon");
    let err = X509::from_files(&cert, &key).unwrap_err();
    assert!(err.is_credential(), "{err:?}");
    assert!(
        err.to_string().contains("expires in") && err.to_string().contains("600"),
        "{err}"
    );
    let (cert, key) = ca.client_cert("Old", Duration::seconds(-60)).write(dir.path(), "old");
    let err = X509::from_files(&cert, &key).unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
}

#[test]
fn unreadable_or_unsafe_key_files_are_clear_errors() {
    let ca = TestCa::new("grid CA");
    let dir = tempdir();
    let (cert, key) = ca.client_cert("A", Duration::days(1)).write(dir.path(), "a");
    let err = X509::from_files(&cert, dir.path().join("missing.key")).unwrap_err();
    assert!(err.to_string().contains("missing.key"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = X509::from_files(&cert, &key).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
    std::fs::write(dir.path().join("junk.crt"), "not a certificate").unwrap();
    let err = X509::from_files(dir.path().join("junk.crt"), &key).unwrap_err();
    assert!(err.is_credential() || err.is_config(), "{err:?}");
}

/// Certificates rustls cannot present (an X.509 v1 certificate, an Ed448 key) used to fail
/// at the first request with "builder error"; now loading them names the file and the
/// reason. Made with the openssl command (Debian's `openssl`), which, unlike rcgen, can
/// write v1 certificates and Ed448 keys.
#[test]
fn certificates_tls_cannot_present_name_the_file_and_the_reason() {
    let dir = tempdir();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("the openssl command (Debian package openssl) runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "v1.key", "-subj", "/CN=v1", "-out", "v1.csr",
    ]);
    openssl(&[
        "x509", "-req", "-in", "v1.csr", "-signkey", "v1.key", "-days", "30", "-out", "v1.crt",
    ]);
    openssl(&[
        "req", "-x509", "-newkey", "ed448", "-nodes", "-keyout", "ed.key", "-subj", "/CN=ed", "-days", "30", "-out",
        "ed.crt",
    ]);
    for key in ["v1.key", "ed.key"] {
        std::fs::set_permissions(
            dir.path().join(key),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
    }

    let err = X509::from_files(dir.path().join("v1.crt"), dir.path().join("v1.key")).unwrap_err();
    let text = err.to_string();
    assert!(err.is_credential(), "{err:?}");
    assert!(
        text.contains("v1.crt") && text.contains("X.509 v1") && text.contains("v3"),
        "{text}"
    );
    assert!(!text.contains("builder error"), "{text}");

    let err = X509::from_files(dir.path().join("ed.crt"), dir.path().join("ed.key")).unwrap_err();
    let text = err.to_string();
    assert!(err.is_credential(), "{err:?}");
    assert!(text.contains("ed.key") && text.contains("key type"), "{text}");
    // The key's bytes never reach the message.
    let pem = std::fs::read_to_string(dir.path().join("ed.key")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!text.contains(&body), "{text}");
}

#[tokio::test]
async fn proxy_file_with_chain_is_presented() {
    let ca = Arc::new(TestCa::new("grid CA"));
    let dir = tempdir();
    let eec = ca.client_cert("Grid User", Duration::days(2));
    let proxy = eec.proxy_file(Duration::hours(12));
    let path = dir.path().join("x509up_u1000");
    write_private(&path, proxy.as_bytes());
    let x = X509::from_proxy_file(&path).unwrap();
    assert_eq!(x.info().chain_len, 2);
    assert!(x.info().subject.contains("Grid User"), "{}", x.info().subject);
}

/// A TLS provider whose discovery document names the issuer it was asked under, and an
/// empty key set.
async fn tls_provider(ca: &Arc<TestCa>) -> TestServer {
    use axum::http::HeaderMap;
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(|h: HeaderMap| async move {
                let host = h
                    .get("host")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                axum::Json(serde_json::json!({
                    "issuer": format!("https://{host}"),
                    "token_endpoint": format!("https://{host}/token"),
                    "jwks_uri": format!("https://{host}/jwks"),
                }))
            }),
        )
        .route("/jwks", get(|| async { axum::Json(serde_json::json!({ "keys": [] })) }));
    TestServer::start_with(
        ServerOptions {
            tls: Some(ca.clone()),
            ..Default::default()
        },
        Some(app),
    )
    .await
}

#[tokio::test]
async fn discovery_and_jwks_fetched_insecurely_are_not_reused_by_a_verifying_client() {
    use sesame::oauth::{OAuthHttp, discovery, jwks};
    use sesame::tls::TlsOptions;
    let ca = Arc::new(TestCa::new("untrusted CA"));
    let idp = tls_provider(&ca).await;
    let issuer = idp.origin();
    let jwks_uri = sesame::Url::parse(&idp.url("/jwks")).unwrap();
    let t = std::time::Duration::from_secs(5);
    let http = |tls: TlsOptions| OAuthHttp::new(&tls, t, t).unwrap();
    let fetches = |path: &str| idp.requests().iter().filter(|r| r.path == path).count();

    // Session 1: insecure, fetches and caches both documents.
    let insecure = TlsOptions {
        insecure: true,
        ..Default::default()
    };
    let meta = discovery::discover(&http(insecure.clone()), &issuer, true)
        .await
        .unwrap();
    assert_eq!(meta.issuer.trim_end_matches('/'), issuer);
    jwks::keys_for(&http(insecure.clone()), &jwks_uri, None).await.unwrap();
    assert_eq!(fetches("/.well-known/openid-configuration"), 1);
    assert_eq!(fetches("/jwks"), 1);
    // Another insecure client still shares the cache.
    discovery::discover(&http(insecure.clone()), &issuer, true)
        .await
        .unwrap();
    jwks::keys_for(&http(insecure), &jwks_uri, None).await.unwrap();
    assert_eq!(fetches("/.well-known/openid-configuration"), 1);
    assert_eq!(fetches("/jwks"), 1);

    // Session 2: verifies certificates, without the CA: TLS verification must fail — the
    // documents the insecure client cached are not this client's to use.
    let strict = http(TlsOptions::default());
    let e = discovery::discover(&strict, &issuer, false)
        .await
        .expect_err("discovery must verify the server, not reuse the insecure fetch");
    assert!(e.to_string().to_ascii_lowercase().contains("certificate"), "{e}");
    let e = jwks::keys_for(&strict, &jwks_uri, None)
        .await
        .expect_err("JWKS must verify the server, not reuse the insecure fetch");
    assert!(e.to_string().to_ascii_lowercase().contains("certificate"), "{e}");
    assert_eq!(fetches("/jwks"), 1, "the handshake failed: nothing was served");

    // With the CA it verifies, and fetches under its own trust.
    let trusted = http(TlsOptions {
        ca_pems: vec![ca.cert_pem.clone().into_bytes()],
        ..Default::default()
    });
    discovery::discover(&trusted, &issuer, false).await.unwrap();
    jwks::keys_for(&trusted, &jwks_uri, None).await.unwrap();
    assert_eq!(fetches("/.well-known/openid-configuration"), 2);
    assert_eq!(fetches("/jwks"), 2);
    discovery::forget(&issuer);
}
