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
