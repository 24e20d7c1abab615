//! `Status::gather` — what `sesame status --json` prints and Python's `Session.status()`
//! returns (crates/sesame-py calls this same function) — on a `cache = "openbao"` profile
//! against a real 3-node OpenBao cluster (testbed's harness): the `cluster` object with
//! the store, the record's version and who refreshed it. The cluster harness is Rust, so
//! this is tested here rather than from pytest.

#[path = "../../sesame/tests/support/mod.rs"]
mod support;

use sesame::secret::AccessToken;
use sesame::token::{Clock, SystemClock, Token};
use sesame_app::Status;
use sesame_app::config::{BuildOptions, Config, cluster_store, credential_for};
use sesame_testbed::openbao::{OpenBao, PREFIX};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_cluster_record() {
    let Some(c) = tokio::task::spawn_blocking(OpenBao::start).await.unwrap() else {
        return;
    };
    let dir = tempdir();
    let file = |name: &str, v: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, v).unwrap();
        p.display().to_string()
    };
    let secret_id = {
        let c2 = &c;
        tokio::task::block_in_place(|| c2.secret_id())
    };
    let addrs: Vec<String> = c.addrs().iter().map(|a| format!("{a:?}")).collect();
    let toml = format!(
        r#"
[profiles.batch]
base_url = "https://data.example.org/api/"
token_endpoint = "https://login.example.org/token"
auth = "client-credentials"
client_id = "batch"
client_secret = {{ file = "{}" }}
cache = "openbao"
openbao_addr = [{}]
openbao_path = "{PREFIX}"
openbao_auth = "approle"
openbao_role_id = {{ file = "{}" }}
openbao_secret_id = {{ file = "{}" }}
"#,
        file("client.secret", "s3cret"),
        addrs.join(", "),
        file("role_id", c.role_id()),
        file("secret_id", &secret_id),
    );
    let cfg = Config::from_toml_str(&toml, "batch.toml").unwrap();
    let resolved = cfg.profile(Some("batch")).unwrap();
    assert!(Status::needs_network(&resolved));
    let cred = credential_for(&resolved, &BuildOptions::default()).unwrap();

    // No record yet: `record_version` null.
    let st = Status::gather(&resolved, cred.as_ref()).await.to_json();
    let cl = st["cluster"].as_object().expect("a cluster object");
    assert!(
        cl["cluster_store"]
            .as_str()
            .unwrap()
            .starts_with("openbao http://127.0.0.1:"),
        "{cl:?}"
    );
    assert!(
        cl["cluster_store"]
            .as_str()
            .unwrap()
            .ends_with(&format!("secret/{PREFIX}")),
        "{cl:?}"
    );
    assert!(cl["record_version"].is_null(), "{cl:?}");
    assert!(!cl.contains_key("cluster_error"), "{cl:?}");

    // A host publishes the grant's token: the record's version and writer show.
    let key = cred.as_ref().and_then(|c| c.as_oauth()).unwrap().source().key().clone();
    let now = SystemClock.now();
    let token = Token {
        access_token: AccessToken::new("at-cluster-status"),
        token_type: "Bearer".into(),
        expires_at: Some(now + 300),
        issued_at: now,
        refresh_token: None,
        id_token: None,
        scopes: vec![],
        issuer: None,
    };
    let version = cluster_store(&resolved).unwrap().publish(&key, &token).await.unwrap();
    let st = Status::gather(&resolved, cred.as_ref()).await.to_json();
    let cl = st["cluster"].as_object().unwrap();
    assert_eq!(cl["record_version"].as_u64(), Some(version), "{cl:?}");
    assert!(cl["refreshed_by"].as_str().is_some_and(|h| h.contains(':')), "{cl:?}");
    assert!(cl["refreshed_at"].as_i64().is_some_and(|t| t >= now - 5), "{cl:?}");
    assert!(!cl.contains_key("refreshing_by"), "no claim in progress: {cl:?}");
    assert!(
        !serde_json::Value::Object(st.clone())
            .to_string()
            .contains("at-cluster-status"),
        "no token in the status"
    );
    // The same keys as `Status::of` otherwise (the part that needs no network).
    let local = Status::of(&resolved, cred.as_ref()).to_json();
    for k in local.keys() {
        assert!(st.contains_key(k), "{k}");
    }
    assert!(!local.contains_key("cluster"));

    // A secret id OpenBao refuses: `cluster_error`, naming what to check, no secret.
    std::fs::write(dir.path().join("secret_id"), "not-a-secret-id").unwrap();
    let st = Status::gather(&resolved, cred.as_ref()).await.to_json();
    let cl = st["cluster"].as_object().unwrap();
    let e = cl["cluster_error"].as_str().expect("an error");
    assert!(e.contains("AppRole"), "{e}");
    assert!(!e.contains(&secret_id));
    tokio::task::spawn_blocking(move || drop(c)).await.unwrap();
}
