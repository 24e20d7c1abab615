//! A browser login (real headless Chromium, see login.rs) with a pushed authorization
//! request (RFC 9126) and a DPoP-bound token (RFC 9449): the browser is given only
//! `client_id` and `request_uri`; the pushed request carried `dpop_jkt`, so the provider
//! issues the code for the profile's key only (the code exchange proves it); the token and
//! the public client's refresh token are bound, and a refresh keeps working with the same
//! key in a later process.

#[path = "support/browser.rs"]
mod browser;
mod support;

use base64::Engine;
use browser::{TestBrowser, as_refs};
use sesame_testbed::idp;
use support::*;

fn claims(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn proof_headers(home: &std::path::Path, extra: &[&str]) -> (String, serde_json::Value) {
    let mut args = vec!["token", "--dpop-proof", "GET", "https://api.example/data"];
    args.extend_from_slice(extra);
    let r = sesame(home, &args, &[]).await;
    assert_eq!(r.code, 0, "{}", r.all());
    let mut lines = r.stdout.lines();
    let auth = lines.next().unwrap().to_string();
    let proof = lines.next().unwrap().strip_prefix("DPoP: ").unwrap().to_string();
    (auth, claims(&proof))
}

#[tokio::test]
async fn pushed_browser_login_gets_a_bound_token_and_refresh_keeps_the_binding() {
    let i = idp::shared().issuer().to_string();
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        &format!(
            "default_profile = \"idp\"\n[profiles.idp]\nbase_url = \"{i}/api/\"\nauth = \"oidc\"\nissuer = \"{i}\"\nclient_id = \"sesame-cli\"\nscopes = [\"openid\", \"profile\"]\nlogin_timeout = 60\npar = true\ndpop = true\n"
        ),
    );
    let b = TestBrowser::new().screenshot("login-par-dpop.png");
    let env = b.env();
    let r = sesame(home.path(), &["-vv", "login"], &as_refs(&env)).await;
    let log = b.wait_done().await;
    assert_eq!(r.code, 0, "{}\n--- browser ---\n{log}", r.all());
    // Only client_id and request_uri went through the browser.
    let url_line = r
        .stderr
        .lines()
        .find(|l| l.contains("request_uri="))
        .unwrap_or_else(|| panic!("a pushed request's URL: {}", r.stderr));
    assert!(url_line.contains("client_id=sesame-cli"), "{url_line}");
    for p in ["code_challenge", "redirect_uri", "nonce=", "state="] {
        assert!(!url_line.contains(p), "{p} went through the browser: {url_line}");
    }

    let (auth, proof) = proof_headers(home.path(), &[]).await;
    assert!(auth.starts_with("Authorization: DPoP "), "{auth}");
    let at = auth.trim_start_matches("Authorization: DPoP ");
    let jkt = claims(at)["cnf"]["jkt"]
        .as_str()
        .expect("the token is bound")
        .to_string();
    assert_eq!(proof["htu"], "https://api.example/data");
    // A plain `sesame token` refuses to print the bound token.
    let plain = sesame(home.path(), &["token"], &[]).await;
    assert_ne!(plain.code, 0);
    assert!(plain.stderr.contains("DPoP-bound"), "{}", plain.stderr);

    // A refresh in a later process (the public client's refresh token is bound too: it is
    // only accepted with a proof by the same key).
    let (auth2, _) = proof_headers(home.path(), &["--force-refresh"]).await;
    assert_ne!(auth2, auth, "a new access token");
    let at2 = auth2.trim_start_matches("Authorization: DPoP ");
    assert_eq!(claims(at2)["cnf"]["jkt"], jkt.as_str(), "the same key");
}
