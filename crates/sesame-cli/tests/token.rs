//! `sesame token` across processes: 32 processes started together on an expired access
//! token with a valid (rotating) refresh token send exactly one refresh and print the same
//! new token; the cache file stays valid JSON.

mod support;

use std::time::Duration;

use sesame_testbed::idp::{Idp, IdpOptions, account, clients};
use support::*;

fn profile(idp: &Idp) -> String {
    format!(
        r#"default_profile = "pw"
[profiles.pw]
base_url = "{base}"
issuer = "{iss}"
auth = "password"
client_id = "{cid}"
client_secret = {{ env = "CS" }}
username = "{user}"
password = {{ env = "PW" }}
scopes = ["openid", "offline_access"]
"#,
        base = idp.url("/api/"),
        iss = idp.issuer(),
        cid = clients::PASSWORD_CLIENT.0,
        user = account::USERNAME,
    )
}

const ENV: &[(&str, &str)] = &[("CS", clients::PASSWORD_CLIENT.1), ("PW", account::PASSWORD)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_processes_one_refresh_same_token() {
    let idp = tokio::task::spawn_blocking(|| {
        Idp::start_blocking_with(IdpOptions {
            access_token_ttl: Some(3),
            ..Default::default()
        })
    })
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), &profile(&idp));
    let first = sesame(home.path(), &["token", "--min-valid", "1"], ENV).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    for round in 0..2 {
        tokio::time::sleep(Duration::from_millis(3200)).await; // the access token expired
        idp.reset_stats();
        let mut runs = Vec::new();
        for _ in 0..32 {
            let h = home.path().to_path_buf();
            runs.push(tokio::spawn(async move {
                sesame(&h, &["token", "--min-valid", "1"], ENV).await
            }));
        }
        let mut outs = std::collections::HashSet::new();
        for r in runs {
            let r = r.await.unwrap();
            assert_eq!(r.code, 0, "round {round}: {}", r.stderr);
            outs.insert(r.stdout);
        }
        assert_eq!(idp.token_requests("refresh_token"), 1, "round {round}: {}", idp.stats());
        assert_eq!(
            idp.token_requests("password"),
            0,
            "round {round}: the refresh token was used"
        );
        assert_eq!(outs.len(), 1, "round {round}: all printed the same token");
        assert_ne!(outs.iter().next().unwrap(), &first.stdout);
        // The cache file is valid JSON with the rotated refresh token.
        let dir = home.path().join(".cache").join("sesame");
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .collect();
        assert_eq!(files.len(), 1);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(files[0].path()).unwrap()).unwrap();
        assert!(v["refresh_token"].is_string());
        assert_eq!(
            format!("{}\n", v["access_token"].as_str().unwrap()),
            *outs.iter().next().unwrap()
        );
    }
}

#[tokio::test]
async fn output_formats_and_the_cached_fast_path() {
    let idp = tokio::task::spawn_blocking(Idp::start_blocking).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), &profile(&idp));
    let plain = sesame(home.path(), &["token"], ENV).await;
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    let tok = plain.stdout.trim().to_string();
    idp.reset_stats();
    let h = sesame(home.path(), &["token", "--header"], ENV).await;
    assert_eq!(h.stdout, format!("Authorization: Bearer {tok}\n"));
    let e = sesame(home.path(), &["token", "--env"], ENV).await;
    assert_eq!(e.stdout, format!("export BEARER_TOKEN={tok}\n"));
    let j = sesame(home.path(), &["token", "--json"], ENV).await;
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["access_token"], tok.as_str());
    assert_eq!(v["issuer"], idp.issuer());
    assert!(v["expires_at"].as_i64().unwrap() > 0);
    let id = sesame(home.path(), &["token", "--id-token"], ENV).await;
    assert_eq!(id.stdout.matches('.').count(), 2, "an ID token JWT");
    let st = idp.stats();
    for k in [
        "token_total",
        "discovery",
        "jwks",
        "webfinger",
        "introspection",
        "userinfo",
    ] {
        assert_eq!(st[k].as_u64(), Some(0), "no request at all while cached ({k}): {st}");
    }
    // --write-bearer-file: bare, it writes where $BEARER_TOKEN_FILE points; with a path, there.
    // Both 0600, the token alone.
    let default_file = home.path().join("bt_default");
    let default_str = default_file.to_str().unwrap();
    let mut env_bt = ENV.to_vec();
    env_bt.push(("BEARER_TOKEN_FILE", default_str));
    let b = sesame(home.path(), &["token", "--write-bearer-file"], &env_bt).await;
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert_eq!(b.stdout.trim(), tok);
    let explicit = home.path().join("bt_explicit");
    let x = sesame(
        home.path(),
        &["token", "--write-bearer-file", explicit.to_str().unwrap(), "--header"],
        ENV,
    )
    .await;
    assert_eq!(x.code, 0, "{}", x.stderr);
    for file in [&default_file, &explicit] {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::read_to_string(file).unwrap().trim(), tok, "{}", file.display());
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    // --force-refresh renews.
    let f = sesame(home.path(), &["token", "--force-refresh"], ENV).await;
    assert_ne!(f.stdout.trim(), tok);
    assert_eq!(idp.token_requests("refresh_token"), 1);
    // min_valid is a profile key (flag, SESAME_MIN_VALID or the file): asking for more than
    // the token has left (300 s lifetime) renews; the default (60 s) uses the cache.
    idp.reset_stats();
    let m = sesame(home.path(), &["token", "--min-valid", "400"], ENV).await;
    assert_eq!(m.code, 0, "{}", m.stderr);
    assert_eq!(idp.token_requests("refresh_token"), 1, "{}", idp.stats());
    let mut env_mv = ENV.to_vec();
    env_mv.push(("SESAME_MIN_VALID", "400"));
    let m = sesame(home.path(), &["token"], &env_mv).await;
    assert_eq!(m.code, 0, "{}", m.stderr);
    assert_eq!(idp.token_requests("refresh_token"), 2, "{}", idp.stats());
    let m = sesame(home.path(), &["token"], ENV).await;
    assert_eq!(m.code, 0, "{}", m.stderr);
    assert_eq!(idp.token_requests("refresh_token"), 2, "{}", idp.stats());
    // Down-scoping never widens.
    let w = sesame(home.path(), &["token", "--scope", "admin"], ENV).await;
    assert_eq!(w.code, 2, "{}", w.stderr);
    assert!(w.stderr.contains("widen"), "{}", w.stderr);
    let n = sesame(home.path(), &["token", "--scope", "openid"], ENV).await;
    assert_eq!(n.code, 0, "{}", n.stderr);
}

#[tokio::test]
async fn interactive_profile_without_a_person_exits_4() {
    let idp = tokio::task::spawn_blocking(Idp::start_blocking).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let r = sesame(
        home.path(),
        &[
            "--no-input",
            "token",
            "--auth",
            "oidc",
            "--issuer",
            idp.issuer(),
            "--client-id",
            clients::SESAME_CLI,
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("sesame login"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}
