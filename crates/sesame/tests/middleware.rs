//! sesame credentials in a third-party reqwest-middleware client: scoped, renewed on 401.

mod support;

use sesame::config::{AuthKind, Config, Profile, SecretSource};
use sesame::middleware::CredentialMiddleware;
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
    let session = sesame::config::session_builder(&r).unwrap().build().unwrap();
    let inner = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(inner)
        .with(CredentialMiddleware::from_session(&session).unwrap())
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
