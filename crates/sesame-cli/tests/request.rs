//! `sesame request`, `status` and `completions` against a real local server; exit codes.

mod support;

use support::*;

const TOKEN: &str = "cli-tok-8c1e5d";

async fn api() -> TestServer {
    TestServer::start(ServerOptions {
        expect_authorization: Some(format!("Bearer {TOKEN}")),
        ..Default::default()
    })
    .await
}

fn bearer_profile(home: &std::path::Path, base: &str) {
    write_config(
        home,
        &format!("[profiles.api]\nbase_url = \"{base}\"\nauth = \"bearer\"\ntoken = {{ env = \"API_TOKEN\" }}\n"),
    );
}

#[tokio::test]
async fn get_prints_the_body_and_exits_0() {
    let s = api().await;
    let home = tempfile::tempdir().unwrap();
    bearer_profile(home.path(), &s.url("/"));
    let r = sesame(home.path(), &["request", "protected/data"], &[("API_TOKEN", TOKEN)]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), r#"{"ok":true,"via":"authorization"}"#);
    assert!(r.stderr.is_empty(), "stderr must stay quiet: {}", r.stderr);
}

#[tokio::test]
async fn http_errors_exit_3_with_body_or_message() {
    let s = api().await;
    let home = tempfile::tempdir().unwrap();
    bearer_profile(home.path(), &s.url("/"));
    let env = [("API_TOKEN", TOKEN)];
    let r = sesame(home.path(), &["request", "status/404?type=text"], &env).await;
    assert_eq!(r.code, 3);
    assert_eq!(r.stdout, "plain failure 404");
    assert!(r.stderr.contains("404"), "{}", r.stderr);
    let r = sesame(home.path(), &["request", "--fail", "status/503"], &env).await;
    assert_eq!(r.code, 3);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("503") && r.stderr.contains("\"reason\": \"testing\""),
        "{}",
        r.stderr
    );
    // A wrong token is a 401 from the server: exit 3 as well.
    let r = sesame(home.path(), &["request", "protected"], &[("API_TOKEN", "wrong")]).await;
    assert_eq!(r.code, 3);
}

#[tokio::test]
async fn methods_bodies_headers_include_and_output() {
    let s = api().await;
    let home = tempfile::tempdir().unwrap();
    bearer_profile(home.path(), &s.url("/"));
    let env = [("API_TOKEN", TOKEN)];
    let body_file = home.path().join("body.txt");
    std::fs::write(&body_file, "from-file").unwrap();
    let at = format!("@{}", body_file.display());
    let r = sesame(
        home.path(),
        &["request", "put", "items/1", "-d", &at, "-H", "X-Extra: yes"],
        &env,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rec = s.last("/items/1").unwrap();
    assert_eq!((rec.method.as_str(), rec.body.as_slice()), ("PUT", &b"from-file"[..]));
    assert_eq!(rec.header("x-extra"), Some("yes"));

    let r = sesame(home.path(), &["request", "items", "--json", r#"{"a":1}"#], &env).await;
    assert_eq!(r.code, 0);
    let rec = s.last("/items").unwrap();
    assert_eq!(rec.method, "POST");
    assert_eq!(rec.header("content-type"), Some("application/json"));

    let r = sesame_stdin(
        home.path(),
        &["request", "POST", "stdin", "-d", "@-"],
        &env,
        Some(b"piped"),
    )
    .await;
    assert_eq!(r.code, 0);
    assert_eq!(s.last("/stdin").unwrap().body, b"piped");

    let r = sesame(home.path(), &["request", "-i", "protected"], &env).await;
    assert!(r.stdout.starts_with("HTTP/1.1 200 OK"), "{}", r.stdout);
    assert!(r.stdout.contains("content-type: application/json"));

    let out = home.path().join("out.json");
    let r = sesame(
        home.path(),
        &["request", "protected", "-o", out.to_str().unwrap()],
        &env,
    )
    .await;
    assert_eq!(r.code, 0);
    assert!(r.stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        r#"{"ok":true,"via":"authorization"}"#
    );

    let r = sesame(home.path(), &["request", "items", "--json", "{not json"], &env).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[tokio::test]
async fn flags_alone_work_without_a_config_file() {
    let s = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    let r = sesame(
        home.path(),
        &[
            "request",
            "--base-url",
            &s.url("/v1/"),
            "--auth",
            "api-key",
            "--api-key-header",
            "X-Key",
            "--token-env",
            "K",
            "things",
        ],
        &[("K", "key-123")],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.last("/v1/things").unwrap().header("x-key"), Some("key-123"));
    // basic from flags and the environment (SESAME_<KEY>)
    let r = sesame(
        home.path(),
        &[
            "request",
            "--auth",
            "basic",
            "--username",
            "alice",
            "--password-env",
            "PW",
            "b",
        ],
        &[("PW", "pw-1"), ("SESAME_BASE_URL", &s.url("/"))],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        s.last("/b").unwrap().header("authorization"),
        Some("Basic YWxpY2U6cHctMQ==")
    );
}

#[tokio::test]
async fn status_reports_the_credential_masked() {
    let s = api().await;
    let home = tempfile::tempdir().unwrap();
    bearer_profile(home.path(), &s.url("/"));
    let long = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
    let r = sesame(home.path(), &["status"], &[("API_TOKEN", long)]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("eyJhbGci…****"), "{}", r.stdout);
    assert!(!r.all().contains(long));
    let r = sesame(home.path(), &["status", "--json"], &[("API_TOKEN", long)]).await;
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["auth"], "bearer");
    assert_eq!(v["profile"], "api");
    assert_eq!(v["valid"], true);
    // No token: no valid credential, exit 4.
    let r = sesame(home.path(), &["status"], &[]).await;
    assert_eq!(r.code, 4, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("API_TOKEN"), "{}", r.stderr);
}

#[tokio::test]
async fn completions_for_each_shell() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let r = sesame(home.path(), &["completions", shell], &[]).await;
        assert_eq!(r.code, 0);
        assert!(r.stdout.contains("sesame") && r.stdout.contains("request"), "{shell}");
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn hand_set_credential_header_does_not_follow_a_cross_origin_redirect() {
    let s = api().await;
    let evil = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    bearer_profile(home.path(), &s.url("/"));
    let to = urlencode(&evil.url("/landing"));
    let env = [("API_TOKEN", TOKEN)];
    // From the flag...
    let r = sesame(
        home.path(),
        &[
            "request",
            "--redirects",
            "all",
            "--credential-header",
            "X-Auth",
            "-H",
            "X-Auth: s3cret",
            "-H",
            "X-Plain: kept",
            &format!("redirect?to={to}"),
        ],
        &env,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.last("/redirect").unwrap().header("x-auth"), Some("s3cret"));
    let landed = evil.last("/landing").expect("redirect followed");
    assert_eq!(landed.header("x-auth"), None, "X-Auth crossed origins");
    assert_eq!(landed.header("x-plain"), Some("kept"));
    evil.clear();
    // ...and from the profile's list via the environment (SESAME_CREDENTIAL_HEADERS).
    let r = sesame(
        home.path(),
        &[
            "request",
            "--redirects",
            "all",
            "-H",
            "X-Auth: s3cret",
            &format!("redirect?to={to}"),
        ],
        &[("API_TOKEN", TOKEN), ("SESAME_CREDENTIAL_HEADERS", "X-Other,X-Auth")],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(evil.last("/landing").unwrap().header("x-auth"), None);
}

#[tokio::test]
async fn plain_http_to_a_non_loopback_host_needs_allow_http() {
    let home = tempfile::tempdir().unwrap();
    let args = [
        "request",
        "--base-url",
        "http://sesame-test.invalid/api/",
        "--token-env",
        "T",
        "--timeout",
        "2",
        "x",
    ];
    let r = sesame(home.path(), &args, &[("T", TOKEN)]).await;
    assert_eq!(r.code, 2, "a configuration error: {}", r.stderr);
    assert!(r.stderr.contains("http://sesame-test.invalid/api/"), "{}", r.stderr);
    assert!(r.stderr.contains("allow_http"), "{}", r.stderr);
    assert!(!r.stderr.contains(TOKEN));
    // Opted in, it gets as far as the network (the name does not resolve: exit 1).
    let mut with = args.to_vec();
    with.insert(1, "--allow-http");
    let r = sesame(home.path(), &with, &[("T", TOKEN)]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("allow_http"), "{}", r.stderr);
}
