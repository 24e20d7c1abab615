//! docs/session-rules.md#tls: `insecure` warns on every use. Every command that uses a profile with
//! insecure in effect prints the warning on stderr, once per process, and `-q` does not
//! silence it.

mod support;

use std::sync::Arc;

use support::*;

const TOKEN: &str = "insecure-tok-41d9aa";
const WARNING: &str = "TLS certificate verification is DISABLED";

/// A TLS server with a certificate from a CA the client does not trust.
async fn untrusted_api() -> TestServer {
    TestServer::start(ServerOptions {
        tls: Some(Arc::new(TestCa::new("untrusted CA"))),
        expect_authorization: Some(format!("Bearer {TOKEN}")),
        ..Default::default()
    })
    .await
}

fn warnings(stderr: &str) -> usize {
    stderr.matches(WARNING).count()
}

#[tokio::test]
async fn insecure_warning_survives_quiet() {
    let s = untrusted_api().await;
    let home = tempfile::tempdir().unwrap();
    let base = s.url("/");
    let r = sesame(
        home.path(),
        &[
            "-q",
            "--base-url",
            &base,
            "--auth",
            "bearer",
            "--token-env",
            "TOK",
            "--insecure",
            "request",
            "protected",
        ],
        &[("TOK", TOKEN)],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), r#"{"ok":true,"via":"authorization"}"#);
    assert_eq!(warnings(&r.stderr), 1, "once, even with -q: {}", r.stderr);
    assert!(r.stderr.contains("insecure"), "{}", r.stderr);
}

#[tokio::test]
async fn insecure_warns_once_for_every_command_that_uses_the_profile() {
    let s = untrusted_api().await;
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        &format!(
            "[profiles.api]\nbase_url = \"{}\"\nauth = \"bearer\"\ntoken = {{ env = \"TOK\" }}\n",
            s.url("/")
        ),
    );
    let env = [("TOK", TOKEN)];
    let commands: &[&[&str]] = &[
        &["request", "protected"],
        &["token"],
        &["status"],
        &["logout"],
        &["exec", "--", "true"],
        &["discover", "http://127.0.0.1:9/"],
        &["login"],
    ];
    for quiet in [false, true] {
        for cmd in commands {
            let mut args = vec!["--insecure"];
            if quiet {
                args.push("-q");
            }
            args.extend_from_slice(cmd);
            let r = sesame(home.path(), &args, &env).await;
            assert_eq!(warnings(&r.stderr), 1, "{args:?} (exit {}): {}", r.code, r.stderr);
        }
    }
    // `sesame token --insecure` still prints the token on stdout, and nothing else there.
    let t = sesame(home.path(), &["--insecure", "token"], &env).await;
    assert_eq!(
        (t.code, t.stdout.as_str()),
        (0, format!("{TOKEN}\n").as_str()),
        "{}",
        t.stderr
    );
    // From the environment too.
    let e = sesame(
        home.path(),
        &["-q", "token"],
        &[("TOK", TOKEN), ("SESAME_INSECURE", "1")],
    )
    .await;
    assert_eq!(warnings(&e.stderr), 1, "{}", e.stderr);
    // And not without it.
    let n = sesame(home.path(), &["token"], &env).await;
    assert_eq!(warnings(&n.stderr), 0, "{}", n.stderr);
}

/// The case of the report: a confidential client's `sesame token --insecure` posts the
/// client secret to the token endpoint; it must say that verification is off, `-q` or not.
#[tokio::test]
async fn token_with_a_client_secret_warns_about_insecure() {
    use sesame_testbed::idp::{Idp, clients};
    let idp = tokio::task::spawn_blocking(Idp::start_blocking).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        &format!(
            "[profiles.m2m]\nbase_url = \"{}\"\nissuer = \"{}\"\nauth = \"client-credentials\"\nclient_id = \"{}\"\nclient_secret = {{ env = \"CS\" }}\n",
            idp.url("/api/"),
            idp.issuer(),
            clients::M2M_BASIC.0
        ),
    );
    let env = [("CS", clients::M2M_BASIC.1)];
    for args in [
        &["--insecure", "token"][..],
        &["-q", "--insecure", "token", "--force-refresh"],
    ] {
        idp.reset_stats();
        let r = sesame(home.path(), args, &env).await;
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert_eq!(r.stdout.trim().matches('.').count(), 2, "a JWT access token");
        assert_eq!(
            idp.token_requests("client_credentials"),
            1,
            "the secret went to the token endpoint"
        );
        assert_eq!(warnings(&r.stderr), 1, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains(clients::M2M_BASIC.1), "{}", r.stderr);
    }
}
