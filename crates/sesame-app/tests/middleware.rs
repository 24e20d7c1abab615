//! sesame credentials in a third-party reqwest-middleware client: scoped, renewed on 401.

#[path = "../../sesame/tests/support/mod.rs"]
mod support;

use sesame::credential::ApiKey;
use sesame::middleware::CredentialMiddleware;
use sesame::{RedirectPolicy, Session};
use sesame_app::config::{AuthKind, Config, Profile, SecretSource};
use sesame_testbed::idp::{self, clients};
use support::*;

#[tokio::test]
async fn middleware_attaches_in_scope_only_and_retries_once_on_401() {
    let idp = idp::shared();
    let other = TestServer::http().await;
    let profile = Profile {
        base_url: Some(idp.url("/api/")),
        issuer: Some(idp.issuer().into()),
        auth: Some(AuthKind::ClientCredentials),
        client_id: Some(clients::M2M_BASIC.0.into()),
        client_secret: Some(SecretSource::Literal(clients::M2M_BASIC.1.into())),
        cache: Some("memory".into()),
        ..Default::default()
    };
    let r = Config::default().resolve(None, profile).unwrap();
    let session = sesame_app::config::session_builder(&r).unwrap().build().unwrap();
    let client = CredentialMiddleware::from_session(&session)
        .unwrap()
        .client_builder(reqwest::Client::builder())
        .unwrap()
        .build();
    let resp = client.get(idp.url("/api/whoami")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let who: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(who["client_id"], clients::M2M_BASIC.0);
    // Another origin gets nothing.
    client.get(other.url("/elsewhere")).send().await.unwrap();
    assert_eq!(other.last("/elsewhere").unwrap().header("authorization"), None);
    // Revoked behind our back: 401, one renewal, one resend, 200.
    let cred = session.credential().unwrap();
    let t = cred.token(std::time::Duration::ZERO, false).await.unwrap().unwrap();
    cred.as_oauth()
        .unwrap()
        .client()
        .await
        .unwrap()
        .revoke(t.access_token.expose(), None)
        .await
        .unwrap();
    let resp = client.get(idp.url("/api/whoami")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn middleware_never_sends_credential_headers_across_a_redirect() {
    const KEY: &str = "mw-key-51d0";
    let a = TestServer::http().await;
    let b = TestServer::http().await;
    // `/redirect` is served at the root of A: scope the credential to A's origin.
    let jump = a.url(&format!("/redirect?to={}", urlencode(&b.url("/landing"))));
    for policy in [RedirectPolicy::All, RedirectPolicy::SameOrigin] {
        a.clear();
        b.clear();
        let session = Session::builder()
            .base_url(&a.url("/"))
            .unwrap()
            .credential(ApiKey::new(KEY).unwrap())
            .credential_header("X-Auth")
            .unwrap()
            .redirects(policy)
            .build()
            .unwrap();
        // A client whose own policy would follow redirects (reqwest's default, 10 hops):
        // the middleware builds it, so reqwest's following is off and the middleware
        // judges every hop.
        let client = CredentialMiddleware::from_session(&session)
            .unwrap()
            .client_builder(reqwest::Client::builder().redirect(reqwest::redirect::Policy::limited(10)))
            .unwrap()
            .build();
        let resp = client
            .get(&jump)
            .header("X-Auth", "hand-s3cret")
            .header("X-Trace", "kept")
            .send()
            .await
            .unwrap();
        let first = a.last("/redirect").expect("A was asked");
        assert_eq!(first.header("x-api-key"), Some(KEY), "in scope: attached");
        assert_eq!(first.header("x-auth"), Some("hand-s3cret"));
        match policy {
            RedirectPolicy::All => {
                assert_eq!(resp.status(), 200);
                let landed = b.last("/landing").expect("redirect followed");
                for (k, v) in &landed.headers {
                    assert!(!v.contains(KEY) && !v.contains("hand-s3cret"), "{k} crossed origins");
                }
                assert_eq!(landed.header("x-trace"), Some("kept"));
            }
            _ => {
                assert_eq!(resp.status(), 302, "same-origin: a cross-origin redirect is returned");
                assert!(b.requests().is_empty(), "B must not be contacted");
            }
        }
    }
    // Same-origin hops keep the credential, attached afresh.
    let session = Session::builder()
        .base_url(&a.url("/"))
        .unwrap()
        .credential(ApiKey::new(KEY).unwrap())
        .build()
        .unwrap();
    let client = CredentialMiddleware::from_session(&session)
        .unwrap()
        .client_builder(reqwest::Client::builder())
        .unwrap()
        .build();
    let resp = client.get(a.url("/redirect?to=/next&code=307")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(a.last("/next").unwrap().header("x-api-key"), Some(KEY));
}
