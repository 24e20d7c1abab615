//! Malformed input gives a clear error and exit 2 — never a panic.

mod support;

use support::*;

fn assert_clear(r: &Run, want_code: i32, needles: &[&str]) {
    assert_eq!(r.code, want_code, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "errors go to stderr: {}", r.stdout);
    for n in needles {
        assert!(r.stderr.contains(n), "stderr lacks `{n}`: {}", r.stderr);
    }
}

#[tokio::test]
async fn bad_toml_names_file_and_line() {
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        "[profiles.a]\nbase_url = \"https://x/\"\nauth = = \"bearer\"\n",
    );
    let r = sesame(home.path(), &["request", "/"], &[]).await;
    assert_clear(&r, 2, &["config.toml", "line 3"]);
    write_config(home.path(), "[profiles.a]\nbase_url = \"https://x/\"\ntimeuot = 3\n");
    let r = sesame(home.path(), &["status"], &[]).await;
    assert_clear(&r, 2, &["line 3", "timeuot", "did you mean `timeout`"]);
}

#[tokio::test]
async fn bad_url_and_unknown_values() {
    let home = tempfile::tempdir().unwrap();
    let r = sesame(home.path(), &["request", "--base-url", "not a url", "x"], &[]).await;
    assert_clear(&r, 2, &["not a url"]);
    let r = sesame(home.path(), &["request", "http://[::1"], &[]).await;
    assert_clear(&r, 2, &["not a valid URL"]);
    let r = sesame(home.path(), &["request", "--auth", "oauht", "x"], &[]).await;
    assert_clear(&r, 2, &["unknown auth kind"]);
    let r = sesame(home.path(), &["request", "relative"], &[]).await;
    assert_clear(&r, 2, &["base_url"]);
    let r = sesame(home.path(), &["--profile", "nope", "status"], &[]).await;
    assert_clear(&r, 2, &["nope"]);
    let r = sesame(
        home.path(),
        &[
            "request",
            "--redirects",
            "sometimes",
            "--base-url",
            "http://127.0.0.1:9/",
            "x",
        ],
        &[],
    )
    .await;
    assert_clear(&r, 2, &["redirect policy"]);
}

#[tokio::test]
async fn missing_secret_env_var_is_named() {
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        "[profiles.a]\nbase_url = \"http://127.0.0.1:9/\"\nauth = \"bearer\"\ntoken = { env = \"NOT_SET_ANYWHERE\" }\n",
    );
    let r = sesame(home.path(), &["request", "x"], &[]).await;
    assert_clear(&r, 2, &["NOT_SET_ANYWHERE", "not set"]);
    let r = sesame(
        home.path(),
        &["request", "--auth", "basic", "--base-url", "http://127.0.0.1:9/", "x"],
        &[],
    )
    .await;
    assert_clear(&r, 2, &["username"]);
}

#[tokio::test]
async fn unreadable_certificate_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("nope.pem");
    let r = sesame(
        home.path(),
        &[
            "request",
            "--base-url",
            "https://127.0.0.1:9/",
            "--auth",
            "x509",
            "--cert",
            missing.to_str().unwrap(),
            "--key",
            missing.to_str().unwrap(),
            "x",
        ],
        &[],
    )
    .await;
    assert_clear(&r, 2, &["nope.pem"]);
    let junk = home.path().join("junk.pem");
    write_private(
        &junk,
        b"-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n",
    );
    let r = sesame(
        home.path(),
        &[
            "request",
            "--base-url",
            "https://127.0.0.1:9/",
            "--auth",
            "x509",
            "--cert",
            junk.to_str().unwrap(),
            "x",
        ],
        &[],
    )
    .await;
    assert_clear(&r, 2, &["junk.pem"]);
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let r = sesame(home.path(), &["request"], &[]).await;
    assert_eq!(r.code, 2);
    let r = sesame(home.path(), &["frobnicate"], &[]).await;
    assert_eq!(r.code, 2);
}

#[tokio::test]
async fn netrc_with_loose_permissions_is_refused() {
    let s = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    let netrc = home.path().join(".netrc");
    std::fs::write(&netrc, "machine 127.0.0.1 login u password p\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&netrc, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let r = sesame(
        home.path(),
        &["request", "--base-url", &s.url("/"), "--auth", "netrc", "n"],
        &[],
    )
    .await;
    assert_clear(&r, 2, &[".netrc", "chmod 600"]);
    assert!(s.requests().is_empty(), "nothing may be sent");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&netrc, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let r = sesame(
        home.path(),
        &["request", "--base-url", &s.url("/"), "--auth", "netrc", "n"],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.last("/n").unwrap().header("authorization"), Some("Basic dTpw"));
}

#[tokio::test]
async fn an_unreachable_server_says_what_to_check() {
    let home = tempfile::tempdir().unwrap();
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/x");
    let r = sesame(home.path(), &["request", "--retries", "0", &url], &[]).await;
    assert_clear(&r, 1, &[&url, "hint: check that the server is up and reachable"]);
    // A credential file that is not there: the path and what to check.
    let r = sesame(
        home.path(),
        &["request", "--auth", "netrc", "--netrc", "/nonexistent/netrc", &url],
        &[],
    )
    .await;
    assert_clear(&r, 2, &["/nonexistent/netrc", "hint: check the path"]);
}

/// A plain-text secret in the file is warned about exactly once per process: the CLI prints
/// the configuration's warnings itself, so the library's log line of the same warning must
/// not show as well (at any verbosity), and `-q` silences it.
#[tokio::test]
async fn plain_text_secret_warning_is_printed_once() {
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        "[profiles.a]\nbase_url = \"http://127.0.0.1:9/\"\nauth = \"bearer\"\ntoken = \"plain-t0ken-value\"\n",
    );
    let path = home.path().join(".config/sesame/config.toml");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    for args in [&["-p", "a", "status"][..], &["-vv", "-p", "a", "status"][..]] {
        let r = sesame(home.path(), args, &[]).await;
        assert_eq!(r.stderr.matches("as plain text").count(), 1, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("plain-t0ken-value"), "{}", r.stderr);
    }
    let r = sesame(home.path(), &["-q", "-p", "a", "status"], &[]).await;
    assert!(!r.stderr.contains("as plain text"), "-q: {}", r.stderr);
}
