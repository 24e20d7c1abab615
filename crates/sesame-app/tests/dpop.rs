//! DPoP (RFC 9449) end to end: tokens from the bundled provider bound to the profile's key,
//! API requests proved to a resource server that verifies every proof (support/dpop_rs.rs),
//! and the attacks a binding is there to stop: a stolen token sent as a bearer token or
//! with another key, a replayed proof.

#[path = "../../sesame/tests/support/log_capture.rs"]
mod log_capture;
#[path = "../../sesame/tests/support/mod.rs"]
mod support;

use std::sync::Arc;

use sesame::Session;
use sesame::oauth::dpop::{DpopAlg, DpopKey, ath};
use sesame::token::{FileStore, TokenStore};
use sesame_app::config::{AuthKind, BuildOptions, Config, DpopSetting, Profile, SecretSource};
use sesame_testbed::idp::{self, Idp, account, clients};
use support::dpop_rs::DpopResource;
use url::Url;

fn idp() -> &'static Idp {
    idp::shared()
}

async fn resource(provider: &Idp) -> DpopResource {
    DpopResource::start(&provider.introspection_endpoint(), clients::RS_CLIENT).await
}

fn secret(s: &str) -> Option<SecretSource> {
    Some(SecretSource::Literal(s.into()))
}

fn m2m(provider: &Idp, rs: &DpopResource) -> Profile {
    Profile {
        base_url: Some(rs.url("/")),
        issuer: Some(provider.issuer().into()),
        auth: Some(AuthKind::ClientCredentials),
        client_id: Some(clients::M2M_BASIC.0.into()),
        client_secret: secret(clients::M2M_BASIC.1),
        dpop: Some(DpopSetting::Bool(true)),
        cache: Some("memory".into()),
        ..Default::default()
    }
}

fn session(p: Profile, store: Option<Arc<dyn TokenStore>>) -> Session {
    let resolved = Config::default().resolve(None, p).unwrap();
    let opts = BuildOptions {
        store,
        ..Default::default()
    };
    sesame_app::config::session_builder_with(&resolved, &opts)
        .unwrap()
        .build()
        .unwrap()
}

async fn get(s: &Session, path: &str) -> serde_json::Value {
    s.get(path)
        .error_for_status(true)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn token_of(s: &Session) -> sesame::token::Token {
    s.credential()
        .unwrap()
        .token(std::time::Duration::ZERO, false)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn client_credentials_token_is_bound_and_every_request_is_proved() {
    let rs = resource(idp()).await;
    let s = session(m2m(idp(), &rs), None);
    let who = get(&s, "items?page=2").await;
    assert_eq!(who["client_id"], clients::M2M_BASIC.0, "{who}");
    let t = token_of(&s).await;
    assert_eq!(t.token_type, "DPoP", "never downgraded to Bearer");

    // Other methods and paths get proofs of their own; a redirect within scope is proved
    // again for its target.
    let r = s.post("things").body("x").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let after: serde_json::Value = s.get("redirect").send().await.unwrap().json().await.unwrap();
    assert_eq!(after["path"], "/after-redirect");
    let jkt = who["jkt"].as_str().unwrap().to_string();
    assert_eq!(after["jkt"], jkt.as_str());
    rs.seen(|seen| {
        assert_eq!(seen.accepted, 4, "{:?}", seen.refused);
        assert!(seen.refused.is_empty(), "{:?}", seen.refused);
    });
}

#[tokio::test]
async fn a_stolen_token_is_useless_as_bearer_with_another_key_or_with_a_replayed_proof() {
    let rs = resource(idp()).await;
    let s = session(m2m(idp(), &rs), None);
    get(&s, "whoami").await;
    let t = token_of(&s).await;
    let at = t.access_token.expose().to_string();
    let http = reqwest::Client::new();
    let url = Url::parse(&rs.url("/whoami")).unwrap();

    // As a bearer token.
    let r = http.get(url.clone()).bearer_auth(&at).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // With the DPoP scheme but a proof by the thief's own key.
    let thief = DpopKey::generate(DpopAlg::Es256).unwrap();
    let proof = thief
        .proof(
            "GET",
            &url,
            Some(&at),
            None,
            sesame::token::Clock::now(&sesame::token::SystemClock),
        )
        .unwrap();
    let r = http
        .get(url.clone())
        .header("authorization", format!("DPoP {at}"))
        .header("dpop", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // With a proof the owner sent before (copied from the wire).
    let seen_proof = rs.seen(|seen| seen.proofs[0].clone());
    let r = http
        .get(url.clone())
        .header("authorization", format!("DPoP {at}"))
        .header("dpop", seen_proof)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A proof for another token of the thief does not carry this token's `ath`.
    assert_ne!(ath(&at), ath("other"));
    rs.seen(|seen| {
        let refused = seen.refused.join("\n");
        assert!(refused.contains("scheme Bearer is not DPoP"), "{refused}");
        assert!(refused.contains("but proved with"), "{refused}");
        assert!(refused.contains("replayed jti"), "{refused}");
    });
    // The owner still gets through.
    get(&s, "whoami").await;
}

#[tokio::test]
async fn the_resource_server_nonce_is_honoured_with_one_retry() {
    let rs = resource(idp()).await;
    let s = session(m2m(idp(), &rs), None);
    get(&s, "a").await;
    rs.require_nonce(Some("rs-nonce-1"));
    let who = get(&s, "b").await;
    assert_eq!(who["path"], "/b");
    // The next request carries the nonce straight away.
    get(&s, "c").await;
    rs.seen(|seen| {
        assert_eq!(
            seen.refused,
            vec!["nonce required".to_string()],
            "one refusal, one retry"
        );
        assert_eq!(seen.accepted, 3);
    });
    // A server that keeps refusing gets exactly one retry, then the 401.
    rs.require_nonce(Some("rs-nonce-2"));
    rs.require_nonce(Some("rs-nonce-3"));
    let r = s.get("d").send().await.unwrap();
    assert_eq!(r.status(), 200, "the 401 carried the current nonce");
}

#[tokio::test]
async fn the_provider_nonce_is_honoured_with_one_retry() {
    let provider = Idp::start().await;
    provider.dpop_require_nonce(true);
    let rs = resource(&provider).await;
    let s = session(m2m(&provider, &rs), None);
    let who = get(&s, "whoami").await;
    assert_eq!(who["client_id"], clients::M2M_BASIC.0);
    // Two token requests: the first answered `use_dpop_nonce`, the second with the token.
    assert_eq!(provider.token_requests("client_credentials"), 2);
    // A forced renewal uses the nonce it holds: one request.
    s.credential()
        .unwrap()
        .token(std::time::Duration::ZERO, true)
        .await
        .unwrap();
    assert_eq!(provider.token_requests("client_credentials"), 3);
    get(&s, "whoami").await;
}

#[tokio::test]
async fn password_grant_and_refresh_keep_the_binding() {
    let rs = resource(idp()).await;
    let s = session(
        Profile {
            auth: Some(AuthKind::Password),
            client_id: Some(clients::PASSWORD_CLIENT.0.into()),
            client_secret: secret(clients::PASSWORD_CLIENT.1),
            username: Some(account::USERNAME.into()),
            password: secret(account::PASSWORD),
            ..m2m(idp(), &rs)
        },
        None,
    );
    let first = get(&s, "whoami").await;
    assert_eq!(first["sub"], account::SUB);
    let t1 = token_of(&s).await;
    assert!(t1.refresh_token.is_some());
    assert_eq!(t1.token_type, "DPoP", "the password grant binds too");
    let t2 = s
        .credential()
        .unwrap()
        .token(std::time::Duration::ZERO, true)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(t1.access_token, t2.access_token, "refreshed");
    assert_eq!(t2.token_type, "DPoP");
    let second = get(&s, "whoami").await;
    assert_eq!(second["jkt"], first["jkt"], "same key after the refresh");
}

#[tokio::test]
async fn the_key_is_kept_with_the_token_cache_and_shared_by_later_processes() {
    let rs = resource(idp()).await;
    let dir = support::tempdir();
    let store = || -> Arc<dyn TokenStore> { Arc::new(FileStore::new(dir.path().join("cache"))) };
    let p = Profile {
        cache: None,
        ..m2m(idp(), &rs)
    };
    let first = get(&session(p.clone(), Some(store())), "whoami").await;
    let files: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".dpop.json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // A "restarted process" (a new session over the same folder): the cached token and
    // the stored key, no new token.
    let s1 = session(p.clone(), Some(store()));
    let cached = token_of(&s1).await;
    let again = get(&session(p.clone(), Some(store())), "whoami").await;
    assert_eq!(again["jkt"], first["jkt"]);
    let s2 = session(p.clone(), Some(store()));
    assert_eq!(token_of(&s2).await.access_token, cached.access_token, "no new token");

    // Several "processes" at once on an empty cache: one key for all of them.
    let dir2 = support::tempdir();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let p = p.clone();
        let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(dir2.path().join("cache")));
        tasks.push(tokio::spawn(async move {
            let s = session(p, Some(store));
            get(&s, "whoami").await["jkt"].as_str().unwrap().to_string()
        }));
    }
    let mut jkts = std::collections::HashSet::new();
    for t in tasks {
        jkts.insert(t.await.unwrap());
    }
    assert_eq!(jkts.len(), 1, "{jkts:?}");
}

#[tokio::test]
async fn the_key_never_appears_in_logs_debug_or_errors() {
    let (_guard, log) = log_capture::capture_debug();
    let rs = resource(idp()).await;
    let dir = support::tempdir();
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(dir.path().join("cache")));
    let s = session(
        Profile {
            cache: None,
            ..m2m(idp(), &rs)
        },
        Some(store.clone()),
    );
    get(&s, "whoami").await;
    rs.require_nonce(Some("n"));
    get(&s, "whoami").await;
    let err = s.get("whoami").error_for_status(true).send().await;
    let key_file = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".dpop.json"))
        .unwrap();
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(key_file).unwrap()).unwrap();
    let private = record["pkcs8"].as_str().unwrap();
    assert!(private.len() > 40);
    let debug = format!("{s:?} {:?} {err:?}", s.credential());
    let logged = log.text();
    assert!(logged.contains("asks for a DPoP nonce"), "{logged}");
    for haystack in [&debug, &logged] {
        assert!(!haystack.contains(private), "private key leaked");
        // Not even a recognisable part of it.
        assert!(!haystack.contains(&private[private.len() - 24..]));
    }
    // Proofs are not logged either.
    let proof = rs.seen(|seen| seen.proofs[0].clone());
    assert!(!logged.contains(&proof));
}

#[tokio::test]
async fn a_profile_that_differs_only_in_dpop_never_shares_its_tokens() {
    let rs = resource(idp()).await;
    let dir = support::tempdir();
    let store = || -> Arc<dyn TokenStore> { Arc::new(FileStore::new(dir.path().join("cache"))) };
    let bound = Profile {
        cache: None,
        ..m2m(idp(), &rs)
    };
    let bearer = Profile {
        dpop: None,
        ..bound.clone()
    };
    let plain = token_of(&session(bearer.clone(), Some(store()))).await;
    assert_eq!(plain.token_type.to_ascii_lowercase(), "bearer");
    let t = token_of(&session(bound.clone(), Some(store()))).await;
    assert_eq!(t.token_type, "DPoP", "the DPoP profile did not adopt the bearer token");
    assert_ne!(t.access_token, plain.access_token);
    let again = token_of(&session(bearer, Some(store()))).await;
    assert_eq!(again.access_token, plain.access_token, "nor the other way round");
}
