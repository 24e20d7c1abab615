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
