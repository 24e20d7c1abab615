//! UMA 2.0 against the bundled provider: a 401 with a UMA ticket becomes an RPT and a 200;
//! need_info, request_denied and untrusted servers become typed errors; one resend, never
//! a loop.

#[path = "../../sesame/tests/support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::any;
use sesame::credential::Uma;
use sesame::oauth::OAuthError;
use sesame::oauth::uma::UmaError;
use sesame::{Credential, Session};
use sesame_app::config::{AuthKind, Config, Profile, SecretSource};
use sesame_testbed::idp::{self, Idp, clients, grant_types};
use support::*;

fn uma_profile(idp: &Idp, base_url: String) -> Profile {
    Profile {
        base_url: Some(base_url),
        issuer: Some(idp.issuer().into()),
        auth: Some(AuthKind::ClientCredentials),
        client_id: Some(clients::UMA_CLIENT.0.into()),
        client_secret: Some(SecretSource::Literal(clients::UMA_CLIENT.1.into())),
        cache: Some("memory".into()),
        ..Default::default()
    }
}

fn session(p: Profile) -> Session {
    let r = Config::default().resolve(None, p).unwrap();
    sesame_app::config::session_builder(&r).unwrap().build().unwrap()
}

fn oauth_credential(p: Profile) -> Arc<dyn Credential> {
    let r = Config::default().resolve(None, p).unwrap();
    sesame_app::config::credential_for(&r, &Default::default())
        .unwrap()
        .unwrap()
}

fn uma_error(e: &sesame::Error) -> &UmaError {
    match e.as_oauth() {
        Some(OAuthError::Uma(u)) => u,
        _ => panic!("expected a UMA error, got: {e}"),
    }
}

/// A provider of this test's own (its request counters are not shared with other tests).
async fn own_idp() -> &'static Idp {
    Box::leak(Box::new(Idp::start().await))
}

async fn ticket(idp: &'static Idp, resource: String, need_info: bool) -> String {
    tokio::task::spawn_blocking(move || idp.create_uma_ticket(&resource, &["read"], need_info))
        .await
        .unwrap()
}

/// A resource server that answers every request with 401 and a UMA challenge naming
/// `as_uri`, with a ticket from `tickets` (or a fresh one from the provider).
async fn challenging_rs(
    idp: &'static Idp,
    as_uri: String,
    tickets: Arc<Mutex<Vec<String>>>,
    fresh: bool,
) -> TestServer {
    let app = Router::new().route(
        "/rs/{*rest}",
        any(move || {
            let as_uri = as_uri.clone();
            let tickets = tickets.clone();
            async move {
                let popped = tickets.lock().unwrap().pop();
                let t = match popped {
                    Some(t) => t,
                    None if fresh => ticket(idp, "urn:rs:doc".into(), false).await,
                    None => "no-such-ticket".into(),
                };
                (
                    StatusCode::UNAUTHORIZED,
                    [(
                        header::WWW_AUTHENTICATE,
                        format!(r#"UMA realm="rs", as_uri="{as_uri}", ticket="{t}""#),
                    )],
                    "RPT required",
                )
                    .into_response()
            }
        }),
    );
    TestServer::start_with(ServerOptions::default(), Some(app)).await
}

#[tokio::test]
async fn a_uma_ticket_becomes_an_rpt_and_the_request_succeeds() {
    let idp = own_idp().await;
    let s = session(uma_profile(idp, idp.url("/api/")));
    idp.reset_stats();
    let r = s.get("uma/doc1").send().await.unwrap();
    assert_eq!(r.status(), 200, "401 + ticket → RPT → 200");
    let v: serde_json::Value = r.json().await.unwrap();
    let perms = &v["authorization"]["permissions"];
    assert_eq!(perms[0]["rsid"], format!("{}/api/uma/doc1", idp.issuer()), "{v}");
    assert_eq!(idp.token_requests(grant_types::UMA_TICKET), 1);
    assert_eq!(idp.token_requests("client_credentials"), 1);

    // The RPT is kept for that resource: no new ticket exchange.
    let r = s.get("uma/doc1").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(idp.token_requests(grant_types::UMA_TICKET), 1);

    // A second resource: the RPT is upgraded (the provider merges the permissions).
    let r = s.get("uma/doc2").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let rsids: Vec<String> = v["authorization"]["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["rsid"].as_str().unwrap().to_string())
        .collect();
    assert!(rsids.iter().any(|r| r.ends_with("/api/uma/doc1")), "{rsids:?}");
    assert!(rsids.iter().any(|r| r.ends_with("/api/uma/doc2")), "{rsids:?}");
    assert_eq!(idp.token_requests(grant_types::UMA_TICKET), 2);

    // Non-UMA resources still get the ordinary access token.
    let r = s.get("whoami").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v.get("authorization").is_none(), "{v}");
}

#[tokio::test]
async fn the_access_token_is_pushed_as_claim_token_and_need_info_is_typed() {
    let idp = own_idp().await;
    // need_info tickets succeed when the claim token identifies the requesting party.
    let tickets = Arc::new(Mutex::new(Vec::new()));
    let rs = challenging_rs(idp, idp.issuer().to_string(), tickets.clone(), false).await;
    let t = ticket(idp, "urn:rs:doc".into(), true).await;
    tickets.lock().unwrap().push(t);
    let uma = Uma::new(oauth_credential(uma_profile(idp, rs.url("/"))));
    let s = Session::builder()
        .base_url(&rs.url("/"))
        .unwrap()
        .credential(uma)
        .build()
        .unwrap();
    let r = s.get("rs/a").send().await.unwrap();
    // The RS here never accepts an RPT: what matters is that the exchange succeeded (the
    // resend carried an RPT, not the access token).
    assert_eq!(r.status(), 401);
    let sent: Vec<String> = rs
        .requests()
        .iter()
        .filter_map(|q| q.header("authorization").map(str::to_owned))
        .collect();
    assert_eq!(sent.len(), 2, "one request, one resend");
    assert_ne!(sent[0], sent[1], "the resend carries the RPT");

    // Without the claim token: need_info, with a new ticket that works.
    let t = ticket(idp, "urn:rs:doc".into(), true).await;
    tickets.lock().unwrap().push(t);
    let uma = Uma::new(oauth_credential(uma_profile(idp, rs.url("/")))).push_claim_token(false);
    let s = Session::builder()
        .base_url(&rs.url("/"))
        .unwrap()
        .credential(uma)
        .build()
        .unwrap();
    let e = s.get("rs/b").send().await.unwrap_err();
    let text = e.to_string();
    let UmaError::NeedInfo {
        ticket: new_ticket,
        redirect_user,
        required_claims,
        ..
    } = uma_error(&e)
    else {
        panic!("{e}")
    };
    assert!(*redirect_user);
    assert!(!required_claims.is_empty());
    assert!(!text.contains(new_ticket.expose()), "no ticket in the message: {text}");
    let (id, secret) = clients::UMA_CLIENT;
    let t = new_ticket.expose().to_string();
    let token = idp.token_endpoint();
    let reply = tokio::task::spawn_blocking(move || {
        idp::http::post_form(
            &token,
            &[("grant_type", grant_types::UMA_TICKET), ("ticket", &t)],
            Some((id, secret)),
        )
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(reply.status, 200, "the new ticket is an ordinary one: {}", reply.text());
}

#[tokio::test]
async fn request_denied_is_typed_and_sent_once() {
    let idp = own_idp().await;
    let tickets = Arc::new(Mutex::new(Vec::new()));
    let rs = challenging_rs(idp, idp.issuer().to_string(), tickets, false).await;
    let s = session(uma_profile(idp, rs.url("/")));
    let e = s.get("rs/x").send().await.unwrap_err();
    assert!(matches!(uma_error(&e), UmaError::RequestDenied { .. }), "{e}");
    assert_eq!(rs.requests().iter().filter(|q| q.path == "/rs/x").count(), 1);
}

#[tokio::test]
async fn one_resend_never_a_loop() {
    let idp = own_idp().await;
    let rs = challenging_rs(idp, idp.issuer().to_string(), Arc::default(), true).await;
    let s = session(uma_profile(idp, rs.url("/")));
    idp.reset_stats();
    let r = s.get("rs/loop").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(rs.requests().iter().filter(|q| q.path == "/rs/loop").count(), 2);
    assert_eq!(idp.token_requests(grant_types::UMA_TICKET), 1);
}

#[tokio::test]
async fn an_untrusted_authorization_server_gets_nothing() {
    let idp = own_idp().await;
    // The "authorization server" is a test server that records what it is sent.
    let evil = TestServer::http().await;
    let rs = challenging_rs(idp, evil.origin(), Arc::new(Mutex::new(vec!["t".into()])), false).await;
    let s = session(uma_profile(idp, rs.url("/")));
    idp.reset_stats();
    let e = s.get("rs/x").send().await.unwrap_err();
    assert!(matches!(uma_error(&e), UmaError::UntrustedServer { .. }), "{e}");
    assert!(evil.requests().is_empty(), "nothing was sent to the untrusted server");
    assert_eq!(idp.token_requests(grant_types::UMA_TICKET), 0);
}
