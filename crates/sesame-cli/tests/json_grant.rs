//! `auth = "json-grant"` as itkdb users log in: `POST …/grantToken` with two access codes
//! (one from a variable, one from a 0600 file), the token cached, renewed when it nears
//! expiry, shown by `status`, and the codes never in the output at -vvv.

mod support;

use sesame_testbed::server::{ITK_ACCESS_CODE1, ITK_ACCESS_CODE2};
use support::*;

fn config(server: &TestServer, code2_file: &std::path::Path) -> String {
    format!(
        r#"default_profile = "itk"
[profiles.itk]
base_url = "{base}"
auth = "json-grant"
grant_endpoint = "{grant}"
grant_body = {{ grant_type = "password", accessCode1 = {{ env = "ITK_CODE1" }}, accessCode2 = {{ file = "{file}" }} }}
[profiles.short]
base_url = "{base}"
auth = "json-grant"
grant_endpoint = "{short}"
grant_body = {{ grant_type = "password", accessCode1 = {{ env = "ITK_CODE1" }}, accessCode2 = {{ file = "{file}" }} }}
token_field = "/id_token"
expires_field = "expires_in"
[profiles.nobody]
auth = "json-grant"
grant_endpoint = "{grant}"
"#,
        base = server.url("/itk/api/"),
        grant = server.url("/itk/grantToken"),
        short = server.url("/itk/grantToken?expires_in=2"),
        file = code2_file.display(),
    )
}

fn grants(server: &TestServer) -> usize {
    server.requests().iter().filter(|r| r.path == "/itk/grantToken").count()
}

#[tokio::test]
async fn itk_grant_token_cached_renewed_shown_and_never_printed() {
    let server = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    let code2 = home.path().join("code2");
    write_private(&code2, format!("{ITK_ACCESS_CODE2}\n").as_bytes());
    write_config(home.path(), &config(&server, &code2));
    let env = [("ITK_CODE1", ITK_ACCESS_CODE1)];
    let mut outputs = Vec::new();

    let first = sesame(home.path(), &["-vvv", "token"], &env).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stdout.trim().starts_with("itk-token-"), "{}", first.stdout);
    let again = sesame(home.path(), &["-vvv", "token"], &env).await;
    assert_eq!(again.stdout, first.stdout, "the cached token is used");
    assert_eq!(grants(&server), 1, "one grant for two commands");

    let req = sesame(home.path(), &["-vvv", "request", "items"], &env).await;
    assert_eq!(req.code, 0, "{}", req.all());
    let sent = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/itk/api/items")
        .unwrap();
    let auth = sent.headers.iter().find(|(k, _)| k == "authorization").unwrap();
    assert_eq!(auth.1, format!("Bearer {}", first.stdout.trim()));

    let status = sesame(home.path(), &["-vvv", "status", "--json"], &env).await;
    assert_eq!(status.code, 0, "{}", status.all());
    let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(v["auth"], "json-grant");
    assert_eq!(v["valid"], true);
    assert!(v["seconds_left"].as_i64().unwrap() > 3000, "{v}");
    assert!(!status.stdout.contains(first.stdout.trim()), "the token is masked");

    // A token near expiry (2 s here) is renewed with a new grant, not used to its end.
    let s1 = sesame(home.path(), &["-vvv", "-p", "short", "token", "--min-valid", "1"], &env).await;
    assert_eq!(s1.code, 0, "{}", s1.stderr);
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let s2 = sesame(home.path(), &["-vvv", "-p", "short", "token", "--min-valid", "1"], &env).await;
    assert_eq!(s2.code, 0, "{}", s2.stderr);
    assert_ne!(s1.stdout, s2.stdout, "renewed");
    assert_eq!(grants(&server), 3);

    // A profile without a body is refused before anything is sent.
    let bad = sesame(home.path(), &["-p", "nobody", "token"], &env).await;
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("grant_body"), "{}", bad.stderr);
    assert_eq!(grants(&server), 3);

    // Wrong codes: a clear error that quotes neither code.
    let wrong = sesame(
        home.path(),
        &["-vvv", "token", "--force-refresh"],
        &[("ITK_CODE1", "wrong-code-1-Kq")],
    )
    .await;
    assert_ne!(wrong.code, 0);
    assert!(wrong.stderr.contains("401"), "{}", wrong.stderr);
    assert!(!wrong.all().contains("wrong-code-1-Kq"), "{}", wrong.all());

    outputs.extend([first, again, req, status, s1, s2, bad, wrong]);
    for run in &outputs {
        for code in [ITK_ACCESS_CODE1, ITK_ACCESS_CODE2] {
            assert!(!run.all().contains(code), "an access code was printed:\n{}", run.all());
        }
    }
}
