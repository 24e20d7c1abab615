//! The token lifecycle against the bundled provider with short-lived tokens: one refresh
//! however many tasks, and the 401 → renew once → resend once rule.

#[path = "../../sesame/tests/support/mod.rs"]
mod support;

use std::time::Duration;

use sesame::Session;
use sesame_app::config::{AuthKind, Config, Profile, SecretSource};
use sesame_testbed::idp::{Idp, IdpOptions, clients};
use support::*;

fn m2m_profile(idp: &Idp, base_url: String) -> Profile {
    Profile {
        base_url: Some(base_url),
        issuer: Some(idp.issuer().into()),
        auth: Some(AuthKind::ClientCredentials),
        client_id: Some(clients::M2M_BASIC.0.into()),
        client_secret: Some(SecretSource::Literal(clients::M2M_BASIC.1.into())),
        cache: Some("memory".into()),
        ..Default::default()
    }
}

fn session(p: Profile) -> Session {
    let r = Config::default().resolve(None, p).unwrap();
    sesame_app::config::session_builder(&r).unwrap().build().unwrap()
}

fn start(ttl: u64) -> Idp {
    Idp::start_blocking_with(IdpOptions {
        access_token_ttl: Some(ttl),
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_tasks_on_an_expired_token_send_one_token_request() {
    // 8 s tokens: a new token enters its renewal window at half its lifetime, so the
    // 10,000 tasks have 4 s to finish before a second refresh becomes *correct*. With 2 s
    // tokens that margin was 1 s, which a loaded 2-core machine overran (2 refreshes seen).
    let idp = tokio::task::spawn_blocking(|| start(8)).await.unwrap();
    let s = session(m2m_profile(&idp, idp.url("/api/")));
    let cred = s.credential().unwrap().clone();
    cred.token(Duration::ZERO, false).await.unwrap();
    tokio::time::sleep(Duration::from_millis(8100)).await; // the 8 s token has expired
    idp.reset_stats();
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..10_000 {
        let c = cred.clone();
        tasks.push(tokio::spawn(async move {
            c.token(Duration::from_secs(1), false)
                .await
                .unwrap()
                .unwrap()
                .access_token
        }));
    }
    let mut distinct = std::collections::HashSet::new();
    for t in tasks {
        distinct.insert(t.await.unwrap().expose().to_string());
    }
    let took = started.elapsed();
    assert_eq!(
        idp.token_requests("client_credentials"),
        1,
        "stats: {}; the tasks took {took:?}",
        idp.stats()
    );
    assert_eq!(distinct.len(), 1);
    // And those tokens work.
    let r = s.get("whoami").send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_revoked_token_is_renewed_once_and_the_request_resent() {
    let idp = tokio::task::spawn_blocking(|| start(300)).await.unwrap();
    let s = session(m2m_profile(&idp, idp.url("/api/")));
    assert_eq!(s.get("whoami").send().await.unwrap().status(), 200);
    let cred = s.credential().unwrap().clone();
    let t = cred.token(Duration::ZERO, false).await.unwrap().unwrap();
    // The provider revokes it behind our back: the API now says 401.
    let c = cred.as_oauth().unwrap().client().await.unwrap();
    c.revoke(t.access_token.expose(), Some("access_token")).await.unwrap();
    idp.reset_stats();
    let r = s.get("whoami").send().await.unwrap();
    assert_eq!(r.status(), 200, "renewed and resent");
    assert_eq!(idp.token_requests("client_credentials"), 1);
    let t2 = cred.token(Duration::ZERO, false).await.unwrap().unwrap();
    assert_ne!(t.access_token, t2.access_token);
}

#[tokio::test]
async fn a_server_that_always_says_401_gets_one_retry_never_a_loop() {
    let idp = tokio::task::spawn_blocking(|| start(300)).await.unwrap();
    let api = TestServer::http().await; // /protected accepts nothing
    let s = session(m2m_profile(&idp, api.url("/")));
    idp.reset_stats();
    let r = s.get("protected/x").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let hits = api.requests().iter().filter(|q| q.path == "/protected/x").count();
    assert_eq!(hits, 2, "one request, one resend");
    assert_eq!(idp.token_requests("client_credentials"), 2, "first token, one renewal");
}

#[tokio::test]
async fn insufficient_scope_is_not_retried() {
    let idp = tokio::task::spawn_blocking(|| start(300)).await.unwrap();
    let s = session(m2m_profile(&idp, idp.url("/api/")));
    idp.reset_stats();
    let r = s.get("require-scope/admin").send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(idp.token_requests("client_credentials"), 1);
    let e = r.error_for_status().await.unwrap_err();
    assert!(e.is_forbidden(), "{e}");
}
