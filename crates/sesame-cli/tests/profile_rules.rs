//! Issue 15, across the front ends: one rule for what a profile needs (`login`, `exec`,
//! `token` and `status` work without a `base_url` when the provider is known; only
//! `request` needs one), `status` shows the issuer WebFinger found (not the cache key's
//! `webfinger:…` stand-in) with the same field types as Python's `status()`, and
//! `--scope`/`--audience` before the subcommand set the profile (as `SESAME_SCOPES` does)
//! while after `token` they down-scope that one token. Against the bundled provider.

mod support;

use sesame_testbed::idp::{clients, shared};
use support::*;

const ENV: &[(&str, &str)] = &[("CS", clients::M2M_BASIC.1)];

fn config() -> String {
    let idp = shared();
    format!(
        r#"[profiles.nobase]
issuer = "{iss}"
auth = "client-credentials"
client_id = "{cid}"
client_secret = {{ env = "CS" }}
scopes = ["api"]
cache = "file"

[profiles.found]
base_url = "{base}"
trusted_issuers = ["{iss}"]
auth = "client-credentials"
client_id = "{cid}"
client_secret = {{ env = "CS" }}
scopes = ["api", "email"]
"#,
        iss = idp.issuer(),
        base = idp.url("/api/"),
        cid = clients::M2M_BASIC.0,
    )
}

#[tokio::test]
async fn login_exec_token_and_status_agree_a_base_url_is_needed_only_to_send() {
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), &config());
    // Before this, `login` and `exec` demanded a base_url that `token` and `status` did not.
    let login = sesame(home.path(), &["-p", "nobase", "login"], ENV).await;
    assert_eq!(login.code, 0, "{}", login.all());
    let token = sesame(home.path(), &["-p", "nobase", "token"], ENV).await;
    assert_eq!(token.code, 0, "{}", token.all());
    let status = sesame(home.path(), &["-p", "nobase", "status"], ENV).await;
    assert_eq!(status.code, 0, "{}", status.all());
    let exec = sesame(
        home.path(),
        &[
            "-p",
            "nobase",
            "exec",
            "--",
            "sh",
            "-c",
            "test -s \"$BEARER_TOKEN_FILE\" && cat \"$BEARER_TOKEN_FILE\"",
        ],
        ENV,
    )
    .await;
    assert_eq!(exec.code, 0, "{}", exec.all());
    assert_eq!(
        exec.stdout.trim(),
        token.stdout.trim(),
        "the command got the profile's token"
    );
    // Sending a credential is what needs the base URL.
    let request = sesame(home.path(), &["-p", "nobase", "request", "https://api.example/x"], ENV).await;
    assert_eq!(request.code, 2, "{}", request.all());
    assert!(request.stderr.contains("base_url"), "{}", request.stderr);
}

#[tokio::test]
async fn status_shows_the_issuer_webfinger_found_with_pythons_field_types() {
    let idp = shared();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), &config());
    let before = sesame(home.path(), &["-p", "found", "status", "--json"], ENV).await;
    let before: serde_json::Value = serde_json::from_str(&before.stdout).expect("JSON");
    assert_eq!(
        before["token"],
        serde_json::Value::Null,
        "none cached: null, as Python's None"
    );
    let t = sesame(home.path(), &["-p", "found", "token"], ENV).await;
    assert_eq!(t.code, 0, "{}", t.all());
    let text = sesame(home.path(), &["-p", "found", "status"], ENV).await;
    assert_eq!(text.code, 0, "{}", text.all());
    assert!(!text.stdout.contains("webfinger:"), "{}", text.stdout);
    assert!(
        text.stdout.contains(&format!("issuer:        {}", idp.issuer())),
        "{}",
        text.stdout
    );
    let json = sesame(home.path(), &["-p", "found", "status", "--json"], ENV).await;
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(v["issuer"], idp.issuer());
    assert_eq!(v["credential"]["issuer"], idp.issuer());
    // The types of Python's status(): scopes and audience are lists, the subject a string.
    let mut scopes: Vec<&str> = v["scopes"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    scopes.sort();
    assert_eq!(scopes, ["api", "email"]);
    assert!(v["audience"].is_array(), "{v}");
    assert!(
        v["subject"].is_string() && v["valid"] == true && v["refresh_token"].is_boolean(),
        "{v}"
    );
}

fn granted(out: &Run) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|_| panic!("JSON: {}", out.all()));
    let mut s: Vec<String> = v["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    s.sort();
    s
}

#[tokio::test]
async fn scope_before_the_command_sets_the_profile_after_token_it_down_scopes() {
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), &config());
    // The profile asks for `api` only. Before `token`, `--scope email` replaces that, as
    // SESAME_SCOPES=email does: a grant with `email`.
    let global = sesame(
        home.path(),
        &["-p", "nobase", "--scope", "email", "token", "--json"],
        ENV,
    )
    .await;
    assert_eq!(global.code, 0, "{}", global.all());
    assert_eq!(granted(&global), ["email"]);
    let mut env = ENV.to_vec();
    env.push(("SESAME_SCOPES", "email"));
    let by_env = sesame(home.path(), &["-p", "nobase", "token", "--json"], &env).await;
    assert_eq!(granted(&by_env), ["email"]);
    // After `token`, it down-scopes the profile's grant, which never widens it: `email`
    // is not among the granted `api`.
    let narrowed = sesame(
        home.path(),
        &["-p", "nobase", "token", "--scope", "email", "--json"],
        ENV,
    )
    .await;
    assert_ne!(narrowed.code, 0, "{}", narrowed.all());
    assert!(narrowed.stderr.contains("email"), "{}", narrowed.stderr);
    let same = sesame(home.path(), &["-p", "nobase", "token", "--scope", "api", "--json"], ENV).await;
    assert_eq!(same.code, 0, "{}", same.all());
    assert_eq!(granted(&same), ["api"]);
}

#[tokio::test]
async fn register_json_has_every_field_and_save_profile_writes_a_usable_client() {
    let idp = shared();
    let home = tempfile::tempdir().unwrap();
    let cfg = format!(
        "# my providers\n[profiles.reg]\nissuer = \"{}\"\nauth = \"client-credentials\"\nclient_id = \"placeholder\"\nclient_secret = {{ env = \"CS\" }}\nscopes = [\"api\"]\n",
        idp.issuer()
    );
    write_config(home.path(), &cfg);
    let json = sesame(
        home.path(),
        &[
            "-p",
            "reg",
            "register",
            "--grant-type",
            "client_credentials",
            "--name",
            "robot",
            "--json",
        ],
        ENV,
    )
    .await;
    assert_eq!(json.code, 0, "{}", json.all());
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert!(v["client_id"].is_string() && v["client_name"] == "robot", "{v}");
    assert_eq!(v["grant_types"], serde_json::json!(["client_credentials"]));
    assert!(
        v["client_secret"].as_str().unwrap().contains("****"),
        "masked without --show-secret: {v}"
    );

    let saved = sesame(
        home.path(),
        &[
            "-p",
            "reg",
            "register",
            "--grant-type",
            "client_credentials",
            "--save-profile",
            "robot",
        ],
        ENV,
    )
    .await;
    assert_eq!(saved.code, 0, "{}", saved.all());
    let client_id = saved.stdout.trim().to_string();
    let config_dir = home.path().join(".config/sesame");
    let text = std::fs::read_to_string(config_dir.join("config.toml")).unwrap();
    assert!(text.starts_with("# my providers"), "comments are kept:\n{text}");
    assert!(text.contains(&format!("client_id = \"{client_id}\"")), "{text}");
    assert!(text.contains("client_secret = { file = "), "{text}");
    let secret_file = config_dir.join("robot.client_secret");
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert!(!text.contains(secret.trim()), "the secret is never in the file");
    assert!(!saved.all().contains(secret.trim()), "nor in the output");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // The new client works.
    let t = sesame(home.path(), &["-p", "robot", "token", "--json"], &[]).await;
    assert_eq!(t.code, 0, "{}", t.all());
    assert_eq!(granted(&t), ["api"]);
    // A second --save-profile of that name is refused (the file stays as it was).
    let again = sesame(
        home.path(),
        &[
            "-p",
            "reg",
            "register",
            "--grant-type",
            "client_credentials",
            "--save-profile",
            "robot",
        ],
        ENV,
    )
    .await;
    assert_eq!(again.code, 2, "{}", again.all());
    assert_eq!(std::fs::read_to_string(config_dir.join("config.toml")).unwrap(), text);
}
