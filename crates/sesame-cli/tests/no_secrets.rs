//! docs/session-rules.md#secrets-never-in-output: no secret reaches stdout or stderr, at any verbosity.
//! Every command runs with -vvv and the output is searched for every secret value.

mod support;

use support::*;

const TOKEN: &str = "Tk-very-secret-0b8e2a";
const PASSWORD: &str = "Pw-very-secret-7d41c9";
const API_KEY: &str = "Ak-very-secret-55f0aa";

#[tokio::test]
async fn no_command_prints_a_secret_at_vvv() {
    let api = TestServer::start(ServerOptions {
        expect_authorization: Some(format!("Bearer {TOKEN}")),
        ..Default::default()
    })
    .await;
    let other = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    let netrc = home.path().join("netrc");
    write_private(
        &netrc,
        format!("machine 127.0.0.1 login alice password {PASSWORD}\n").as_bytes(),
    );
    let secret_file = home.path().join("token.txt");
    write_private(&secret_file, format!("{TOKEN}\n").as_bytes());
    write_config(
        home.path(),
        &format!(
            r#"default_profile = "bearer"
[profiles.bearer]
base_url = "{base}"
auth = "bearer"
token = {{ env = "T" }}
redirects = "all"
[profiles.filetoken]
base_url = "{base}"
auth = "bearer"
token = {{ file = "{file}" }}
[profiles.basic]
base_url = "{base}"
auth = "basic"
username = "alice"
password = {{ env = "P" }}
[profiles.key]
base_url = "{base}"
auth = "api-key"
api_key_header = "X-Api-Token"
token = {{ env = "K" }}
[profiles.netrc]
base_url = "{base}"
auth = "netrc"
netrc = "{netrc}"
[profiles.literal]
base_url = "{base}"
auth = "bearer"
token = "{TOKEN}"
"#,
            base = api.url("/"),
            file = secret_file.display(),
            netrc = netrc.display()
        ),
    );
    let env = [("T", TOKEN), ("P", PASSWORD), ("K", API_KEY)];
    let away = format!("redirect?to={}", url_encode(&other.url("/elsewhere")));
    let runs: Vec<Vec<&str>> = vec![
        vec!["-vvv", "request", "protected"],
        vec!["-vvv", "request", "-i", "protected"],
        vec!["-vvv", "request", &away],
        vec!["-vvv", "request", "--fail", "status/401"],
        vec!["-vvv", "request", "protected?access_token=Tk-very-secret-0b8e2a"],
        vec!["-vvv", "-p", "filetoken", "request", "protected"],
        vec!["-vvv", "-p", "basic", "request", "status/200?type=text"],
        vec!["-vvv", "-p", "key", "request", "status/200?type=text"],
        vec!["-vvv", "-p", "netrc", "request", "status/200?type=text"],
        vec!["-vvv", "-p", "literal", "request", "protected"],
        vec!["-vvv", "status"],
        vec!["-vvv", "status", "--json"],
        vec!["-vvv", "-p", "basic", "status", "--json"],
        vec!["-vvv", "-p", "key", "status"],
        vec!["-vvv", "-p", "netrc", "status"],
        vec!["-vvv", "-p", "literal", "status"],
        vec!["-vvv", "completions", "bash"],
    ];
    for args in &runs {
        let r = sesame(home.path(), args, &env).await;
        assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
        for secret in [TOKEN, PASSWORD, API_KEY] {
            assert!(!r.all().contains(secret), "{args:?} printed a secret:\n{}", r.all());
        }
        // base64 of user:password, as a Basic header would carry it
        assert!(!r.all().contains("YWxpY2U6UHctdmVyeS1zZWNyZXQtN2Q0MWM5"), "{args:?}");
    }
    // The -vvv runs did log the requests (the test would pass vacuously otherwise).
    let r = sesame(home.path(), &["-vvv", "request", "protected"], &env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("authorization: [redacted]"), "{}", r.stderr);
    // And the requests carried the credential.
    assert!(
        api.requests()
            .iter()
            .any(|q| q.header("authorization") == Some(&format!("Bearer {TOKEN}")))
    );
    assert!(other.last("/elsewhere").unwrap().header("authorization").is_none());
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Issue 13 item 10: servers that echo the request (headers and body) in a 400 get none of
/// the secrets sesame sent onto the terminal — `request --fail` against an API, `token`
/// against a token endpoint — in any encoding.
#[tokio::test]
async fn secrets_echoed_by_a_server_are_masked_in_what_the_cli_prints() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let secret = "Cs-cli-echo/secret+9=";
    let form: String = secret.replace('/', "%2F").replace('+', "%2B").replace('=', "%3D");
    let api = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        &format!(
            r#"[profiles.bearer]
base_url = "{base}"
auth = "bearer"
token = {{ env = "T" }}
[profiles.cc]
auth = "client-credentials"
client_id = "cli-echo"
client_secret = {{ env = "S" }}
token_endpoint = "{token}"
issuer = "{origin}"
cache = "memory"
[profiles.ccpost]
auth = "client-credentials"
client_id = "cli-echo"
client_secret = {{ env = "S" }}
client_auth = "client_secret_post"
token_endpoint = "{token_oauth}"
issuer = "{origin}"
cache = "memory"
"#,
            base = api.url("/"),
            token = api.url("/echo-error"),
            token_oauth = api.url("/echo-error?as=oauth"),
            origin = api.origin(),
        ),
    );
    let env = [("T", TOKEN), ("S", secret)];
    let forbidden = [
        TOKEN.to_string(),
        b64(TOKEN),
        secret.to_string(),
        form.clone(),
        b64(&format!("cli-echo:{secret}")),
        b64(&format!("cli-echo:{form}")),
    ];
    let runs = [
        sesame(home.path(), &["-p", "bearer", "request", "--fail", "echo-error"], &env).await,
        sesame(home.path(), &["-p", "cc", "token"], &env).await,
        sesame(home.path(), &["-p", "ccpost", "token"], &env).await,
    ];
    for r in &runs {
        assert_ne!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stderr.contains("[redacted]"),
            "the echo is shown, masked: {}",
            r.stderr
        );
        for f in &forbidden {
            assert!(!r.all().contains(f.as_str()), "output leaks `{f}`: {}", r.all());
        }
    }
    // The server did receive them.
    let seen: String = api
        .requests()
        .iter()
        .map(|r| format!("{:?} {}", r.headers, String::from_utf8_lossy(&r.body)))
        .collect();
    assert!(seen.contains(TOKEN) && seen.contains(&form) && seen.contains(&b64(&format!("cli-echo:{form}"))));
}
