//! The CLI with a DPoP profile (RFC 9449): `sesame token` refuses to hand out a bound token
//! as a bearer token (typed error, with the fix), prints both headers for one request with
//! `--dpop-proof`, `sesame exec` writes no bearer file, and the key is in no output.

mod support;

use base64::Engine;
use sesame_testbed::idp::{self, clients};
use support::{sesame, write_config};

fn config(home: &std::path::Path) {
    let idp = idp::shared();
    write_config(
        home,
        &format!(
            r#"[profiles.bound]
base_url = "{api}"
issuer = "{issuer}"
auth = "client-credentials"
client_id = "{id}"
client_secret = "{secret}"
dpop = true
"#,
            api = idp.url("/api/"),
            issuer = idp.issuer(),
            id = clients::M2M_BASIC.0,
            secret = clients::M2M_BASIC.1,
        ),
    );
}

fn claims(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn token_refuses_a_bound_token_and_prints_headers_for_one_request() {
    let home = tempfile::tempdir().unwrap();
    config(home.path());
    let r = sesame(home.path(), &["-p", "bound", "token"], &[]).await;
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("DPoP-bound"), "{}", r.stderr);
    assert!(
        r.stderr.contains("--dpop-proof"),
        "the hint names the fix: {}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "no token printed: {}", r.stdout);

    let url = "https://api.example/v1/items?page=2";
    let r = sesame(home.path(), &["-p", "bound", "token", "--dpop-proof", "get", url], &[]).await;
    assert_eq!(r.code, 0, "{}", r.all());
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(lines[0].starts_with("Authorization: DPoP ey"), "{}", lines[0]);
    let proof = lines[1].strip_prefix("DPoP: ").expect("DPoP header");
    let c = claims(proof);
    assert_eq!(c["htm"], "GET");
    assert_eq!(c["htu"], "https://api.example/v1/items");
    assert!(c["ath"].is_string());
}

#[tokio::test]
async fn exec_writes_no_bearer_file_for_a_bound_token() {
    let home = tempfile::tempdir().unwrap();
    config(home.path());
    let file = home.path().join("bt");
    let r = sesame(
        home.path(),
        &[
            "-p",
            "bound",
            "exec",
            "--bearer-file",
            file.to_str().unwrap(),
            "--",
            "true",
        ],
        &[],
    )
    .await;
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("bearer-token file"), "{}", r.stderr);
    assert!(!file.exists());
    let r = sesame(home.path(), &["-p", "bound", "token", "--write-bearer-file"], &[]).await;
    assert_ne!(r.code, 0, "{}", r.all());
}

#[tokio::test]
async fn the_key_is_in_no_output_at_vvv() {
    let home = tempfile::tempdir().unwrap();
    config(home.path());
    let r = sesame(
        home.path(),
        &["-vvv", "-p", "bound", "request", "--fail", "whoami"],
        &[],
    )
    .await;
    // The testbed's own API takes bearer tokens only: the point here is what sesame prints.
    let cache = home.path().join(".cache").join("sesame");
    let key_file = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".dpop.json"))
        .expect("the key is kept with the token cache");
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(key_file).unwrap()).unwrap();
    let private = record["pkcs8"].as_str().unwrap();
    let all = r.all();
    assert!(all.to_lowercase().contains("dpop"), "{all}");
    assert!(!all.contains(private));
    assert!(!all.contains(&private[private.len() - 24..]));
    let s = sesame(home.path(), &["-vvv", "-p", "bound", "status"], &[]).await;
    assert!(!s.all().contains(&private[private.len() - 24..]));
}

/// The key file of the cache folder and the public key each printed proof carries.
fn key_files(home: &std::path::Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(home.join(".cache").join("sesame")) {
        Ok(d) => d
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".dpop.json"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// `(access token, its cnf.jkt, the proof's jwk)` from `token --dpop-proof` output.
fn bound(stdout: &str) -> (String, String, String) {
    let mut lines = stdout.lines();
    let token = lines
        .next()
        .and_then(|l| l.strip_prefix("Authorization: DPoP "))
        .expect(stdout);
    let proof = lines.next().and_then(|l| l.strip_prefix("DPoP: ")).expect(stdout);
    let header = proof.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    let jkt = claims(token)["cnf"]["jkt"]
        .as_str()
        .expect("a bound token has cnf.jkt")
        .to_string();
    (token.to_string(), jkt, header["jwk"].to_string())
}

/// 32 processes on an empty cache, then twice 32 on an expired token with a rotating
/// refresh token: one grant, one refresh per expiry, one key for all of them, and the
/// refreshed tokens stay bound to it. `logout` then deletes the key, so the next login
/// binds to a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_processes_share_one_key_and_refresh_once_keeping_the_binding() {
    use sesame_testbed::idp::{Idp, IdpOptions, account};
    let idp = tokio::task::spawn_blocking(|| {
        Idp::start_blocking_with(IdpOptions {
            access_token_ttl: Some(3),
            ..Default::default()
        })
    })
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        &format!(
            r#"[profiles.bound]
base_url = "{api}"
issuer = "{issuer}"
auth = "password"
client_id = "{id}"
client_secret = "{secret}"
username = "{user}"
password = {{ env = "PW" }}
scopes = ["openid", "offline_access"]
dpop = true
"#,
            api = idp.url("/api/"),
            issuer = idp.issuer(),
            id = clients::PASSWORD_CLIENT.0,
            secret = clients::PASSWORD_CLIENT.1,
            user = account::USERNAME,
        ),
    );
    let env: &[(&str, &str)] = &[("PW", account::PASSWORD)];
    let args = [
        "-p",
        "bound",
        "token",
        "--min-valid",
        "1",
        "--dpop-proof",
        "GET",
        "https://api.example/v1/items",
    ];
    let mut key_of_first_round = None;
    let mut tokens_seen = std::collections::HashSet::new();
    for round in 0..3 {
        if round > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(3200)).await; // expired
        }
        idp.reset_stats();
        let runs: Vec<_> = (0..32)
            .map(|_| {
                let h = home.path().to_path_buf();
                tokio::spawn(async move { sesame(&h, &args, env).await })
            })
            .collect();
        let mut tokens = std::collections::HashSet::new();
        let mut jkts = std::collections::HashSet::new();
        let mut jwks = std::collections::HashSet::new();
        for r in runs {
            let r = r.await.unwrap();
            assert_eq!(r.code, 0, "round {round}: {}", r.all());
            let (token, jkt, jwk) = bound(&r.stdout);
            tokens.insert(token);
            jkts.insert(jkt);
            jwks.insert(jwk);
        }
        let (grant, other) = if round == 0 {
            ("password", "refresh_token")
        } else {
            ("refresh_token", "password")
        };
        assert_eq!(idp.token_requests(grant), 1, "round {round}: {}", idp.stats());
        assert_eq!(idp.token_requests(other), 0, "round {round}: {}", idp.stats());
        assert_eq!(tokens.len(), 1, "round {round}: one token for all 32: {tokens:?}");
        assert!(
            tokens_seen.insert(tokens.into_iter().next().unwrap()),
            "round {round}: a new token"
        );
        assert_eq!(jwks.len(), 1, "round {round}: one key for all 32");
        assert_eq!(jkts.len(), 1);
        let jkt = jkts.into_iter().next().unwrap();
        match &key_of_first_round {
            None => key_of_first_round = Some(jkt),
            Some(first) => assert_eq!(&jkt, first, "round {round}: the refresh kept the binding"),
        }
        assert_eq!(key_files(home.path()).len(), 1);
    }

    let out = sesame(home.path(), &["-p", "bound", "logout"], env).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(key_files(home.path()).is_empty(), "logout deletes the DPoP key");
    let r = sesame(home.path(), &args, env).await;
    assert_eq!(r.code, 0, "{}", r.all());
    let (_, jkt, _) = bound(&r.stdout);
    assert_ne!(Some(jkt), key_of_first_round, "after logout a new key");
}
