//! Which profile keys apply to which auth kind (docs/credential-kinds.md), end to end: the
//! real `sesame` binary against real local servers. Each combination either does what a
//! user expects or is a configuration error (exit 2) naming the key and the kind; none is
//! dropped without a word.

mod support;

use std::sync::Arc;

use support::*;

const TOKEN: &str = "kinds-tok-5b7e21";

/// A TLS server that demands a client certificate from `ca` and answers `/protected` only
/// to the bearer token; the CA is written to `home/ca.pem`.
async fn mtls_api(ca: &Arc<TestCa>, home: &std::path::Path) -> (TestServer, String) {
    let s = TestServer::start(ServerOptions {
        tls: Some(ca.clone()),
        require_client_cert: true,
        expect_authorization: Some(format!("Bearer {TOKEN}")),
        ..Default::default()
    })
    .await;
    let ca_file = ca.write_cert(home, "ca");
    (s, ca_file.display().to_string())
}

#[tokio::test]
async fn bearer_with_cert_and_key_sends_both() {
    let ca = Arc::new(TestCa::new("kinds CA"));
    let home = tempfile::tempdir().unwrap();
    let (s, ca_file) = mtls_api(&ca, home.path()).await;
    let (cert, key) = ca
        .client_cert("Alice Analyst", time::Duration::days(1))
        .write(home.path(), "alice");
    let base = s.url("/");
    let args = [
        "--base-url",
        &base,
        "--auth",
        "bearer",
        "--token-env",
        "TOK",
        "--ca-bundle",
        &ca_file,
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "request",
        "protected/both",
    ];
    let r = sesame(home.path(), &args, &[("TOK", TOKEN)]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), r#"{"ok":true,"via":"authorization"}"#);
    let rec = s.last("/protected/both").expect("the server got the request");
    assert_eq!(rec.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    assert!(
        rec.client_subject
            .as_deref()
            .is_some_and(|c| c.contains("CN=Alice Analyst")),
        "the client certificate was presented too: {:?}",
        rec.client_subject
    );
}

#[tokio::test]
async fn force_noauth_with_bearer_sends_nothing() {
    let s = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        &format!(
            "[profiles.api]\nbase_url = \"{}\"\nauth = \"bearer\"\ntoken = {{ env = \"TOK\" }}\nforce_noauth = true\n",
            s.url("/")
        ),
    );
    let r = sesame(home.path(), &["request", "anon"], &[("TOK", TOKEN)]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rec = s.last("/anon").unwrap();
    assert_eq!(rec.header("authorization"), None, "force_noauth sends no token");
    // Nothing to print either: `token` says why.
    let t = sesame(home.path(), &["token"], &[("TOK", TOKEN)]).await;
    assert_eq!(t.code, 2, "{}", t.stderr);
    assert!(
        t.stderr.contains("force_noauth") && !t.stdout.contains(TOKEN),
        "{}",
        t.stderr
    );
}

#[tokio::test]
async fn fail_if_noauth_with_none_is_a_configuration_error() {
    let s = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    let base = s.url("/");
    let r = sesame(
        home.path(),
        &[
            "--base-url",
            &base,
            "--auth",
            "none",
            "--fail-if-noauth",
            "request",
            "x",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("`fail_if_noauth`") && r.stderr.contains("auth = \"none\""),
        "{}",
        r.stderr
    );
    assert!(s.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn fail_if_noauth_with_netrc_refuses_a_host_without_an_entry() {
    let s = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    let netrc = home.path().join("netrc");
    write_private(&netrc, b"machine elsewhere.example login u password p\n");
    let base = s.url("/");
    let args = [
        "--base-url",
        &base,
        "--auth",
        "netrc",
        "--netrc",
        netrc.to_str().unwrap(),
    ];
    let with = [&args[..], &["--fail-if-noauth", "request", "x"]].concat();
    let r = sesame(home.path(), &with, &[]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("fail_if_noauth"), "{}", r.stderr);
    assert!(s.requests().is_empty(), "nothing was sent");
    // Without it, the request goes out with no credential, as before.
    let without = [&args[..], &["request", "x"]].concat();
    let r = sesame(home.path(), &without, &[]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.last("/x").unwrap().header("authorization"), None);
}

#[tokio::test]
async fn explicit_token_wins_over_discover() {
    let s = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    let base = s.url("/");
    let env = [("TOK", TOKEN), ("BEARER_TOKEN", "discovered-token-9f2c")];
    let r = sesame(
        home.path(),
        &[
            "--base-url",
            &base,
            "--auth",
            "discover",
            "--token-env",
            "TOK",
            "request",
            "grid",
        ],
        &env,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        s.last("/grid").unwrap().header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str()),
        "the explicit token, not the discovered one"
    );
    let t = sesame(
        home.path(),
        &["--base-url", &base, "--auth", "discover", "--token-env", "TOK", "token"],
        &env,
    )
    .await;
    assert_eq!((t.code, t.stdout.trim()), (0, TOKEN), "{}", t.stderr);
    // Without an explicit token, discovery still finds BEARER_TOKEN.
    let r = sesame(
        home.path(),
        &["--base-url", &base, "--auth", "discover", "request", "grid"],
        &env,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        s.last("/grid").unwrap().header("authorization"),
        Some("Bearer discovered-token-9f2c")
    );
}

#[tokio::test]
async fn a_key_the_auth_kind_does_not_use_is_a_configuration_error() {
    let s = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        &format!(
            r#"[profiles.basic]
base_url = "{base}"
auth = "basic"
username = "alice"
password = {{ env = "PW" }}
client_secret = {{ env = "CS" }}

[profiles.bearer]
base_url = "{base}"
auth = "bearer"
token = {{ env = "TOK" }}
username = "alice"
"#,
            base = s.url("/")
        ),
    );
    let env = [("PW", "pw"), ("CS", "cs"), ("TOK", TOKEN)];
    for (profile, key, kind) in [("basic", "client_secret", "basic"), ("bearer", "username", "bearer")] {
        for cmd in [&["request", "x"][..], &["status"], &["token"]] {
            let args = [&["-p", profile][..], cmd].concat();
            let r = sesame(home.path(), &args, &env).await;
            assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
            assert!(
                r.stderr.contains(&format!("`{key}`")) && r.stderr.contains(&format!("auth = \"{kind}\"")),
                "{args:?}: {}",
                r.stderr
            );
        }
    }
    // A flag that does not apply is an error too.
    let r = sesame(home.path(), &["-p", "bearer", "--client-id", "c", "request", "x"], &env).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("`client_id`") && r.stderr.contains("given explicitly"),
        "{}",
        r.stderr
    );
    assert!(s.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_key_from_the_environment_that_does_not_apply_only_warns() {
    let s = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        &format!(
            "[profiles.api]\nbase_url = \"{}\"\nauth = \"bearer\"\ntoken = {{ env = \"TOK\" }}\n",
            s.url("/")
        ),
    );
    let env = [
        ("TOK", TOKEN),
        ("SESAME_USERNAME", "alice"),
        ("SESAME_CLIENT_ID", "other-tool"),
    ];
    let r = sesame(home.path(), &["request", "x"], &env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("SESAME_USERNAME") && r.stderr.contains("SESAME_CLIENT_ID") && r.stderr.contains("ignoring"),
        "{}",
        r.stderr
    );
    assert_eq!(
        s.last("/x").unwrap().header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    // -q hides the warning, not the request.
    let q = sesame(home.path(), &["-q", "request", "x"], &env).await;
    assert_eq!((q.code, q.stderr.as_str()), (0, ""));
}

#[tokio::test]
async fn the_file_profile_keys_of_another_kind_warn_when_a_flag_switches_the_kind() {
    let s = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        &format!(
            "[profiles.api]\nbase_url = \"{}\"\nauth = \"oidc\"\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n",
            s.url("/")
        ),
    );
    let r = sesame(
        home.path(),
        &["--auth", "bearer", "--token-env", "TOK", "request", "x"],
        &[("TOK", TOKEN)],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("ignoring `issuer`") && r.stderr.contains("ignoring `client_id`"),
        "{}",
        r.stderr
    );
    assert_eq!(
        s.last("/x").unwrap().header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

/// An unsigned JWT with these claims (the client reads claims; it does not verify here).
fn jwt(claims: serde_json::Value) -> String {
    use base64::Engine;
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.{}",
        b64(br#"{"alg":"RS256","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes()),
        b64(b"sig")
    )
}

fn in_an_hour() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 3600
}

#[tokio::test]
async fn token_audience_selects_discovered_tokens_by_their_aud() {
    let s = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    let base = s.url("/");
    let for_gracedb = jwt(serde_json::json!({"aud": "https://gracedb.example", "exp": in_an_hour()}));
    let env = [("BEARER_TOKEN", for_gracedb.as_str())];
    let discover = ["--base-url", &base, "--auth", "discover"];
    // By default the aud must name the base URL's scheme://host: this token is passed over.
    let r = sesame(home.path(), &[&discover[..], &["request", "a"]].concat(), &env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.last("/a").unwrap().header("authorization"), None);
    // token_audience names the audience the service expects: the token is sent.
    let with = [
        &discover[..],
        &["--token-audience", "https://gracedb.example", "request", "b"],
    ]
    .concat();
    let r = sesame(home.path(), &with, &env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        s.last("/b").unwrap().header("authorization"),
        Some(format!("Bearer {for_gracedb}").as_str())
    );
    // Another audience: refused, and with fail_if_noauth nothing goes out.
    let other = [
        &discover[..],
        &[
            "--token-audience",
            "https://other.example",
            "--fail-if-noauth",
            "request",
            "c",
        ],
    ]
    .concat();
    let r = sesame(home.path(), &other, &env).await;
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("token_audience"), "{}", r.stderr);
    assert!(s.last("/c").is_none(), "nothing was sent");
}

#[tokio::test]
async fn token_audience_refuses_a_static_token_for_another_service() {
    let s = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    let token = jwt(serde_json::json!({"aud": ["https://elsewhere.example"], "exp": in_an_hour()}));
    write_config(
        home.path(),
        &format!(
            "[profiles.api]\nbase_url = \"{}\"\nauth = \"bearer\"\ntoken = {{ env = \"TOK\" }}\ntoken_audience = \"https://api.example\"\n",
            s.url("/")
        ),
    );
    let r = sesame(home.path(), &["request", "x"], &[("TOK", token.as_str())]).await;
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("not for this service") && !r.stderr.contains(&token),
        "{}",
        r.stderr
    );
    assert!(s.requests().is_empty(), "nothing was sent");
    // The audience it names: sent.
    let r = sesame(
        home.path(),
        &["--token-audience", "https://elsewhere.example", "request", "x"],
        &[("TOK", token.as_str())],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        s.last("/x").unwrap().header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
}

#[tokio::test]
async fn raise_for_status_in_the_profile_makes_request_fail_on_an_error_status() {
    let s = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        &format!(
            "[profiles.api]\nbase_url = \"{}\"\nraise_for_status = true\n",
            s.url("/")
        ),
    );
    let r = sesame(home.path(), &["request", "status/404"], &[]).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(r.stderr.contains("404"), "{}", r.stderr);
    let r = sesame(home.path(), &["request", "status/200"], &[]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
}
