//! `auth = "discover"`: every rule of token discovery (docs/credentials.md, WLCG Bearer Token Discovery),
//! X.509 discovery, the chain (token + certificate, netrc only without a token), and the
//! toggles — with real files in temporary directories, an injected environment (no test
//! touches the process environment), tokens minted here, and real local servers.

#[path = "../../sesame/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use sesame::Session;
use sesame::credential::grid::tokens::{Env, Mode, TokenSearch};
use sesame::credential::{Credential, Discover, discover_x509};
use support::*;
use url::Url;

const EUID: u32 = 4242;

/// An unsigned-looking JWT (HS256 header, dummy signature) with these claims.
fn jwt(claims: serde_json::Value) -> String {
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes()),
        b64(b"not-verified-here")
    )
}

fn now() -> i64 {
    sesame::token::Clock::now(&sesame::token::SystemClock)
}

/// A fresh world: a temp dir with `tmp/` standing in for /tmp, and an environment with
/// nothing set, euid 4242.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let w = World { dir: tempdir() };
        std::fs::create_dir(w.tmp()).unwrap();
        w
    }
    fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn env(&self) -> Env {
        Env::isolated().with_euid(EUID).with_tmp_root(self.tmp())
    }
    /// Writes a private file and returns its path.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        write_private(&p, text.as_bytes());
        p
    }
}

fn discover(env: Env) -> Discover {
    Discover::builder().env(env).build().unwrap()
}

fn url(u: &str) -> Url {
    Url::parse(u).unwrap()
}

/// The token and source discovery picks for `u`, or the skipped list.
fn pick(d: &Discover, u: &str) -> Result<(String, String), Vec<String>> {
    match d.search_tokens(Some(&url(u)), Duration::from_secs(60)).unwrap() {
        TokenSearch::Found(f) => Ok((f.token.expose().to_string(), f.source)),
        TokenSearch::NotFound(s) => Err(s.iter().map(|s| s.to_string()).collect()),
    }
}

fn token_of(d: &Discover, u: &str) -> String {
    pick(d, u).expect("a token").0
}

const U: &str = "https://se.example.org/data/f";

// ---------------------------------------------------------------- order

#[test]
fn sources_are_tried_in_the_documented_order() {
    let w = World::new();
    let xdg = w.path("xdg");
    std::fs::create_dir(&xdg).unwrap();
    let creds = w.path("creds");
    std::fs::create_dir(&creds).unwrap();
    write_private(&creds.join("a.use"), b"tok-condor");
    let full = w
        .env()
        .set("SCITOKEN", "tok-scitoken")
        .set("SCITOKEN_FILE", w.file("scitoken_file", "tok-scitoken-file"))
        .set("_CONDOR_CREDS", &creds)
        .set("BEARER_TOKEN", "tok-bearer")
        .set("BEARER_TOKEN_FILE", w.file("btf", "tok-bearer-file"))
        .set("XDG_RUNTIME_DIR", &xdg);
    write_private(&xdg.join(format!("bt_u{EUID}")), b"tok-xdg");

    let steps = [
        ("SCITOKEN", "tok-scitoken", "SCITOKEN"),
        ("SCITOKEN_FILE", "tok-scitoken-file", "SCITOKEN_FILE ("),
        ("_CONDOR_CREDS", "tok-condor", "$_CONDOR_CREDS/a.use"),
        ("BEARER_TOKEN", "tok-bearer", "BEARER_TOKEN"),
        ("BEARER_TOKEN_FILE", "tok-bearer-file", "BEARER_TOKEN_FILE ("),
        ("XDG_RUNTIME_DIR", "tok-xdg", "$XDG_RUNTIME_DIR/bt_u4242"),
    ];
    let mut env = full;
    for (var, token, source) in steps {
        let (t, s) = pick(&discover(env.clone()), U).unwrap();
        assert_eq!(t, token, "with {var} set");
        assert!(s.starts_with(source), "{s} should start with {source}");
        env = env.unset(var);
    }
}

#[test]
fn whitespace_is_stripped_as_c_isspace() {
    let w = World::new();
    let f = w.file("tok", "\x0b\x0c \t\r\n  tok-with-space-around \n\r\t\x0b\x0c");
    let d = discover(w.env().set("BEARER_TOKEN_FILE", f));
    assert_eq!(token_of(&d, U), "tok-with-space-around");
    let d = discover(w.env().set("BEARER_TOKEN", " \ttok-env\n"));
    assert_eq!(token_of(&d, U), "tok-env");
}

#[test]
fn an_empty_token_means_next_source() {
    let w = World::new();
    let d = discover(
        w.env()
            .set("SCITOKEN", " \n\x0b")
            .set("SCITOKEN_FILE", w.file("empty", "\n\n"))
            .set("BEARER_TOKEN", "")
            .set("BEARER_TOKEN_FILE", w.file("tok", "tok-after-empties")),
    );
    let found = match d.search_tokens(Some(&url(U)), Duration::from_secs(60)).unwrap() {
        TokenSearch::Found(f) => f,
        other => panic!("{other:?}"),
    };
    assert_eq!(found.token.expose(), "tok-after-empties");
    let skipped: Vec<String> = found.skipped.iter().map(|s| s.to_string()).collect();
    assert!(skipped.contains(&"SCITOKEN: empty".to_string()), "{skipped:?}");
    assert!(skipped.contains(&"BEARER_TOKEN: empty".to_string()), "{skipped:?}");
    assert!(
        skipped
            .iter()
            .any(|s| s.starts_with("SCITOKEN_FILE (") && s.ends_with("empty")),
        "{skipped:?}"
    );
}

#[test]
fn a_malformed_token_stops_discovery_with_an_error() {
    // WLCG: "Upon finding an invalid token, the implementation SHOULD stop and return an error."
    let w = World::new();
    let d = discover(
        w.env()
            .set("BEARER_TOKEN", "two words-secretpart")
            .set("BEARER_TOKEN_FILE", w.file("tok", "good-token")),
    );
    let err = d.search_tokens(Some(&url(U)), Duration::from_secs(60)).unwrap_err();
    let s = err.to_string();
    assert!(s.contains("BEARER_TOKEN") && s.contains("RFC 6750"), "{s}");
    assert!(!s.contains("secretpart"), "the token must not appear: {s}");
}

// ---------------------------------------------------------------- JWT checks

#[test]
fn expired_and_nearly_expired_jwts_are_skipped() {
    let w = World::new();
    let expired = jwt(serde_json::json!({"exp": now() - 30}));
    let soon = jwt(serde_json::json!({"exp": now() + 30}));
    let env = w
        .env()
        .set("SCITOKEN", &expired)
        .set("BEARER_TOKEN", &soon)
        .set("BEARER_TOKEN_FILE", w.file("tok", "opaque-fallback"));
    let d = discover(env.clone());
    match d.search_tokens(Some(&url(U)), Duration::from_secs(60)).unwrap() {
        TokenSearch::Found(f) => {
            assert_eq!(f.token.expose(), "opaque-fallback");
            let s: Vec<String> = f.skipped.iter().map(|s| s.to_string()).collect();
            assert!(s.iter().any(|s| s.starts_with("SCITOKEN: JWT expired")), "{s:?}");
            assert!(
                s.iter()
                    .any(|s| s.starts_with("BEARER_TOKEN: JWT expires in") && s.contains("min_valid")),
                "{s:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // With a smaller min_valid, the token with 30 s left is good.
    let d = Discover::builder()
        .env(env)
        .min_valid(Duration::from_secs(10))
        .build()
        .unwrap();
    assert_eq!(d.find_token(Some(&url(U))).unwrap().token.expose(), soon);
}

#[test]
fn opaque_tokens_are_accepted_as_they_are() {
    let w = World::new();
    let d = Discover::builder()
        .env(w.env().set("BEARER_TOKEN", "opaque.not-a-jwt"))
        .required_scope("storage.read:/data")
        .build()
        .unwrap();
    assert_eq!(token_of(&d, U), "opaque.not-a-jwt");
}

#[test]
fn a_jwt_for_another_audience_is_skipped() {
    let w = World::new();
    let other = jwt(serde_json::json!({"aud": "https://other.example.org", "exp": now() + 3600}));
    let d = discover(
        w.env()
            .set("BEARER_TOKEN", &other)
            .set("BEARER_TOKEN_FILE", w.file("tok", "fallback-token")),
    );
    let (t, _) = pick(&d, U).unwrap();
    assert_eq!(t, "fallback-token");
    let d = discover(w.env().set("BEARER_TOKEN", &other));
    let skipped = pick(&d, U).unwrap_err();
    assert!(
        skipped.iter().any(|s| s.starts_with("BEARER_TOKEN: JWT audience")
            && s.contains("https://other.example.org")
            && s.contains("https://se.example.org")),
        "{skipped:?}"
    );
}

#[test]
fn audience_is_scheme_and_host_with_the_port_dropped() {
    let w = World::new();
    for aud in [
        serde_json::json!("https://se.example.org"),
        serde_json::json!(["https://x.example", "https://se.example.org"]),
    ] {
        let t = jwt(serde_json::json!({"aud": aud, "exp": now() + 3600}));
        let d = discover(w.env().set("BEARER_TOKEN", &t));
        assert_eq!(token_of(&d, "https://se.example.org:8443/data/f"), t, "{aud}");
        assert_eq!(token_of(&d, "https://se.example.org/x"), t, "{aud}");
        // Another scheme or host is another audience.
        assert!(pick(&d, "http://se.example.org/x").is_err());
        assert!(pick(&d, "https://se2.example.org/x").is_err());
    }
}

#[test]
fn any_audience_is_accepted() {
    let w = World::new();
    for aud in ["ANY", "https://wlcg.cern.ch/jwt/v1/any"] {
        let t = jwt(serde_json::json!({"aud": aud, "exp": now() + 3600}));
        let d = discover(w.env().set("BEARER_TOKEN", &t));
        assert_eq!(token_of(&d, U), t, "{aud}");
        let t = jwt(serde_json::json!({"aud": ["https://nope.example", aud]}));
        let d = discover(w.env().set("BEARER_TOKEN", &t));
        assert_eq!(token_of(&d, U), t, "{aud} in a list");
    }
}

fn with_scope(w: &World, scope: &str, required: &str) -> Result<(String, String), Vec<String>> {
    let t = jwt(serde_json::json!({"scope": scope, "exp": now() + 3600}));
    let d = Discover::builder()
        .env(w.env().set("BEARER_TOKEN", &t))
        .required_scope(required)
        .build()
        .unwrap();
    pick(&d, U)
}

#[test]
fn required_scope_path_matches_as_a_prefix() {
    let w = World::new();
    for granted in [
        "storage.read:/",
        "storage.read:/data",
        "storage.read:/data/",
        "openid storage.read:/data storage.create:/data",
    ] {
        assert!(with_scope(&w, granted, "storage.read:/data").is_ok(), "{granted}");
    }
    assert!(with_scope(&w, "storage.read:/data", "storage.read:/data/run1/f.root").is_ok());
    // Narrower, another capability, or nothing: skipped, with the reason.
    for granted in ["storage.read:/data/sub", "storage.create:/data", "storage.read"] {
        let skipped = with_scope(&w, granted, "storage.read:/data").unwrap_err();
        assert!(
            skipped.iter().any(|s| s.contains("does not grant storage.read:/data")),
            "{granted}: {skipped:?}"
        );
    }
}

#[test]
fn required_scope_path_matches_on_segment_boundaries() {
    let w = World::new();
    assert!(with_scope(&w, "storage.read:/data", "storage.read:/database").is_err());
    assert!(with_scope(&w, "storage.read:/dat", "storage.read:/data").is_err());
    assert!(with_scope(&w, "storage.read:/data", "storage.read:/data/x").is_ok());
}

#[test]
fn dot_dot_in_scope_paths_is_rejected() {
    let w = World::new();
    // A granted path with `..` grants nothing.
    assert!(with_scope(&w, "storage.read:/other/../data", "storage.read:/data").is_err());
    assert!(with_scope(&w, "storage.read:/data/..", "storage.read:/data").is_err());
    // A required path with `..` is a configuration error.
    let err = Discover::builder()
        .env(w.env())
        .required_scope("storage.read:/data/../etc")
        .build()
        .unwrap_err();
    assert!(err.is_config() && err.to_string().contains(".."), "{err}");
}

#[test]
fn a_jwt_without_scope_is_skipped_when_a_scope_is_required() {
    let w = World::new();
    let t = jwt(serde_json::json!({"exp": now() + 3600}));
    let d = Discover::builder()
        .env(w.env().set("BEARER_TOKEN", &t))
        .required_scope("storage.read:/data")
        .build()
        .unwrap();
    let skipped = pick(&d, U).unwrap_err();
    assert!(skipped.iter().any(|s| s.contains("no scope")), "{skipped:?}");
}

// ---------------------------------------------------------------- places

#[test]
fn condor_creds_use_files_are_read_in_name_order() {
    let w = World::new();
    let creds = w.path("creds");
    std::fs::create_dir(&creds).unwrap();
    write_private(&creds.join("c.use"), b"tok-c");
    write_private(&creds.join("b.use"), b"tok-b");
    write_private(&creds.join("a.top"), b"not-a-use-file");
    write_private(&creds.join("a.use"), b"\n");
    let d = discover(w.env().set("_CONDOR_CREDS", &creds));
    let (t, s) = pick(&d, U).unwrap();
    assert_eq!(t, "tok-b", "a.use is empty, so b.use; a.top is not a .use file");
    assert!(s.starts_with("$_CONDOR_CREDS/b.use"), "{s}");

    let empty = w.path("empty-creds");
    std::fs::create_dir(&empty).unwrap();
    let skipped = pick(&discover(w.env().set("_CONDOR_CREDS", &empty)), U).unwrap_err();
    assert!(skipped.iter().any(|s| s.contains("no *.use files")), "{skipped:?}");
}

#[test]
fn tmp_is_used_only_when_xdg_runtime_dir_is_unset() {
    let w = World::new();
    write_private(&w.tmp().join(format!("bt_u{EUID}")), b"tok-tmp");
    let xdg = w.path("xdg");
    std::fs::create_dir(&xdg).unwrap();

    // Unset: /tmp/bt_u<euid>.
    let (t, s) = pick(&discover(w.env()), U).unwrap();
    assert_eq!(t, "tok-tmp");
    assert!(s.starts_with("/tmp/bt_u4242"), "{s}");

    // Set, with no file there: /tmp is not consulted.
    let skipped = pick(&discover(w.env().set("XDG_RUNTIME_DIR", &xdg)), U).unwrap_err();
    assert!(
        skipped
            .iter()
            .any(|s| s.starts_with("$XDG_RUNTIME_DIR/bt_u4242") && s.ends_with("file not found")),
        "{skipped:?}"
    );
    assert!(!skipped.iter().any(|s| s.starts_with("/tmp/bt_u")), "{skipped:?}");

    // Set, with a file: that one.
    write_private(&xdg.join(format!("bt_u{EUID}")), b"tok-xdg");
    assert_eq!(token_of(&discover(w.env().set("XDG_RUNTIME_DIR", &xdg)), U), "tok-xdg");
    // The file name follows the effective uid.
    let other = w.env().with_euid(7).set("XDG_RUNTIME_DIR", &xdg);
    assert!(pick(&discover(other), U).is_err());
}

#[test]
fn token_files_are_re_read_when_they_change() {
    let w = World::new();
    let f = w.file("tok", "first-token-aaaa");
    let d = discover(w.env().set("BEARER_TOKEN_FILE", &f));
    assert_eq!(token_of(&d, U), "first-token-aaaa");
    assert_eq!(token_of(&d, U), "first-token-aaaa");
    // Replaced atomically (a new inode), as agents do.
    let tmp = w.file("tok.new", "second-token-bbbbbb");
    std::fs::rename(&tmp, &f).unwrap();
    assert_eq!(token_of(&d, U), "second-token-bbbbbb");
    // Rewritten in place, same length.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&f, "third--token-cccccc").unwrap();
    assert_eq!(token_of(&d, U), "third--token-cccccc");
    // Removed: the next place (none here).
    std::fs::remove_file(&f).unwrap();
    assert!(pick(&d, U).is_err());
}

#[tokio::test]
async fn a_running_session_sends_the_refreshed_token() {
    let s = TestServer::http().await;
    let w = World::new();
    let f = w.file("tok", "session-token-one");
    let session = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .credential(discover(w.env().set("BEARER_TOKEN_FILE", &f)))
        .build()
        .unwrap();
    session.get("a").send().await.unwrap();
    assert_eq!(
        s.last("/a").unwrap().header("authorization"),
        Some("Bearer session-token-one")
    );
    let tmp = w.file("tok.new", "session-token-two");
    std::fs::rename(&tmp, &f).unwrap();
    session.get("b").send().await.unwrap();
    assert_eq!(
        s.last("/b").unwrap().header("authorization"),
        Some("Bearer session-token-two")
    );
}

#[tokio::test]
async fn a_401_is_retried_once_when_an_agent_has_replaced_the_token() {
    use axum::routing::get;
    let w = World::new();
    let f = w.file("tok", "stale-token");
    let f2 = f.clone();
    let dir = w.dir.path().to_path_buf();
    // The server plays the agent too: on the stale token it writes a fresh one, then says 401.
    let router = axum::Router::new().route(
        "/agent",
        get(move |headers: axum::http::HeaderMap| {
            let f = f2.clone();
            let dir = dir.clone();
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                if auth == "Bearer fresh-token" {
                    (axum::http::StatusCode::OK, "ok")
                } else {
                    let tmp = dir.join("tok.agent");
                    write_private(&tmp, b"fresh-token");
                    std::fs::rename(&tmp, &f).unwrap();
                    (axum::http::StatusCode::UNAUTHORIZED, "no")
                }
            }
        }),
    );
    let s = TestServer::start_with(ServerOptions::default(), Some(router)).await;
    let session = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .credential(discover(w.env().set("BEARER_TOKEN_FILE", &f)))
        .build()
        .unwrap();
    let r = session.get("agent").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.requests().len(), 2);
    // With no newer token, a 401 is final (no loop).
    std::fs::write(&f, "rejected-token").unwrap();
    s.clear();
    let router_less = session.get("protected").send().await.unwrap();
    assert_eq!(router_less.status(), 401);
    assert_eq!(s.requests().len(), 1);
}

// ---------------------------------------------------------------- the final error

#[test]
fn the_error_lists_every_source_tried_and_why() {
    let w = World::new();
    let creds = w.path("creds");
    std::fs::create_dir(&creds).unwrap();
    write_private(&creds.join("s.use"), b"  \n");
    let secret_expired = jwt(serde_json::json!({"exp": now() - 5, "sub": "secretsubject"}));
    let wrong_aud = jwt(serde_json::json!({"aud": "https://elsewhere.example", "exp": now() + 3600}));
    let xdg = w.path("xdg");
    std::fs::create_dir(&xdg).unwrap();
    let d = discover(
        w.env()
            .set("SCITOKEN_FILE", w.path("missing"))
            .set("_CONDOR_CREDS", &creds)
            .set("BEARER_TOKEN", &secret_expired)
            .set("BEARER_TOKEN_FILE", w.file("aud", &wrong_aud))
            .set("XDG_RUNTIME_DIR", &xdg),
    );
    let err = d.find_token(Some(&url(U))).unwrap_err();
    assert!(err.is_login_required(), "{err:?}");
    let s = err.to_string();
    for expected in [
        "SCITOKEN: not set",
        "SCITOKEN_FILE (",
        "file not found",
        "$_CONDOR_CREDS/s.use (",
        ": empty",
        "BEARER_TOKEN: JWT expired",
        "BEARER_TOKEN_FILE (",
        "does not include https://se.example.org or ANY",
        "$XDG_RUNTIME_DIR/bt_u4242 (",
        "https://se.example.org/data/f",
    ] {
        assert!(s.contains(expected), "missing `{expected}` in:\n{s}");
    }
    // One line per source, in order.
    let lines: Vec<&str> = s.lines().filter(|l| l.starts_with("  - token ")).collect();
    assert_eq!(lines.len(), 6, "{s}");
    assert!(
        lines[0].contains("SCITOKEN:") && lines[5].contains("XDG_RUNTIME_DIR"),
        "{s}"
    );
    assert!(
        !s.contains(&secret_expired) && !s.contains(&wrong_aud),
        "no token text in errors"
    );
    assert!(!format!("{err:?}").contains(&secret_expired));
}

// ---------------------------------------------------------------- chain semantics

#[tokio::test]
async fn fail_if_noauth_errors_before_any_request() {
    let s = TestServer::http().await;
    let w = World::new();
    let err = Discover::builder()
        .env(w.env())
        .fail_if_noauth(true)
        .base_url(s.url("/"))
        .build()
        .unwrap_err();
    assert!(err.is_login_required(), "{err:?}");
    let m = err.to_string();
    assert!(m.contains("BEARER_TOKEN: not set") && m.contains("X.509"), "{m}");
    assert!(
        m.contains("X509_USER_PROXY: not set") && m.contains("x509up_u4242"),
        "{m}"
    );

    // Built while a token was there; at request time it is gone: error, nothing sent.
    let f = w.file("tok", "short-lived-token");
    let d = Discover::builder()
        .env(w.env().set("BEARER_TOKEN_FILE", &f))
        .fail_if_noauth(true)
        .base_url(s.url("/"))
        .build()
        .unwrap();
    let session = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .credential(d)
        .build()
        .unwrap();
    std::fs::remove_file(&f).unwrap();
    let err = session.get("x").send().await.unwrap_err();
    assert!(err.to_string().contains("BEARER_TOKEN_FILE"), "{err}");
    assert!(s.requests().is_empty(), "no request may be sent");

    // Without fail_if_noauth, the request goes out without credentials.
    let session = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .credential(discover(w.env()))
        .build()
        .unwrap();
    session.get("anon").send().await.unwrap();
    assert_eq!(s.last("/anon").unwrap().header("authorization"), None);
}

#[tokio::test]
async fn force_noauth_sends_nothing() {
    let ca = Arc::new(TestCa::new("grid CA"));
    let s = TestServer::start(ServerOptions {
        tls: Some(ca.clone()),
        ..Default::default()
    })
    .await;
    let w = World::new();
    let (cert, key) = ca
        .client_cert("Alice", time::Duration::days(1))
        .write(w.dir.path(), "alice");
    let d = Discover::builder()
        .env(
            w.env()
                .set("BEARER_TOKEN", "never-sent-token")
                .set("X509_USER_CERT", &cert)
                .set("X509_USER_KEY", &key),
        )
        .force_noauth(true)
        .fail_if_noauth(true)
        .build()
        .unwrap();
    assert!(d.tls_identity().unwrap().is_none());
    assert!(d.token(Duration::from_secs(60), false).await.unwrap().is_none());
    let session = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .ca_pem(ca.cert_pem.clone())
        .credential(d)
        .build()
        .unwrap();
    session.get("x").send().await.unwrap();
    let r = s.last("/x").unwrap();
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.client_subject, None);
}

#[test]
fn toggles_make_a_kind_required_or_disabled() {
    let w = World::new();
    let with_token = w.env().set("BEARER_TOKEN", "toggle-token");

    // SESAME_FIND_TOKEN: other values disable token discovery.
    for off in ["0", "no", "false", "off", "disabled"] {
        let d = discover(with_token.clone().set("SESAME_FIND_TOKEN", off));
        assert_eq!(d.modes().0, Mode::Disabled, "{off}");
    }
    // 1|y|yes|true: required — missing is an error listing the places.
    for on in ["1", "y", "yes", "true", "YES", "True"] {
        let d = discover(with_token.clone().set("SESAME_FIND_TOKEN", on));
        assert_eq!(d.modes().0, Mode::Required, "{on}");
        let err = Discover::builder()
            .env(w.env().set("SESAME_FIND_TOKEN", on))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("BEARER_TOKEN: not set"), "{err}");
    }
    // Unset: optional.
    assert_eq!(
        discover(w.env()).modes(),
        (Mode::Optional, Mode::Optional, Mode::Optional)
    );

    // SESAME_FIND_X509=yes with no certificate anywhere: an error naming every place.
    let err = Discover::builder()
        .env(w.env().set("SESAME_FIND_X509", "yes"))
        .build()
        .unwrap_err();
    let m = err.to_string();
    assert!(m.contains("X.509") && m.contains("X509_USER_PROXY: not set"), "{m}");
    assert!(m.contains("x509up_u4242"), "{m}");

    // The builder's explicit choice wins over the environment.
    let d = Discover::builder()
        .env(with_token.clone().set("SESAME_FIND_TOKEN", "no"))
        .token(Mode::Optional)
        .build()
        .unwrap();
    assert_eq!(d.modes().0, Mode::Optional);
}

#[tokio::test]
async fn a_disabled_token_kind_attaches_no_token() {
    let s = TestServer::http().await;
    let w = World::new();
    let d = discover(
        w.env()
            .set("BEARER_TOKEN", "hidden-token")
            .set("SESAME_FIND_TOKEN", "0"),
    );
    assert!(d.token(Duration::from_secs(60), false).await.unwrap().is_none());
    let session = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .credential(d)
        .build()
        .unwrap();
    session.get("x").send().await.unwrap();
    assert_eq!(s.last("/x").unwrap().header("authorization"), None);
}

#[tokio::test]
async fn token_and_certificate_are_sent_together_over_mtls() {
    let ca = Arc::new(TestCa::new("grid CA"));
    let s = TestServer::start(ServerOptions {
        tls: Some(ca.clone()),
        require_client_cert: true,
        ..Default::default()
    })
    .await;
    let w = World::new();
    let (cert, key) = ca
        .client_cert("Alice Analyst", time::Duration::days(1))
        .write(w.dir.path(), "alice");
    let tok = jwt(serde_json::json!({"aud": "https://127.0.0.1", "exp": now() + 3600}));
    let d = discover(
        w.env()
            .set("BEARER_TOKEN", &tok)
            .set("X509_USER_CERT", &cert)
            .set("X509_USER_KEY", &key),
    );
    assert!(d.x509_source().unwrap().starts_with("X509_USER_CERT + X509_USER_KEY"));
    let session = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .ca_pem(ca.cert_pem.clone())
        .credential(d)
        .build()
        .unwrap();
    let info = session.credential_info();
    assert_eq!(info.kind, "discover");
    assert!(
        info.details.iter().any(|(k, v)| k == "source" && v == "BEARER_TOKEN"),
        "{info:?}"
    );
    assert!(!format!("{info:?}").contains(&tok));
    session.get("both").send().await.unwrap();
    let r = s.last("/both").unwrap();
    assert_eq!(r.header("authorization"), Some(format!("Bearer {tok}").as_str()));
    assert!(r.client_subject.unwrap().contains("CN=Alice Analyst"));
}

#[tokio::test]
async fn netrc_is_used_only_when_no_token_is_found() {
    let s = TestServer::http().await;
    let w = World::new();
    let netrc = w.file("netrc", "machine 127.0.0.1 login alice password wonderland\n");
    let d = discover(w.env().set("NETRC", &netrc));
    let session = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .credential(d)
        .build()
        .unwrap();
    session.get("basic").send().await.unwrap();
    let basic = s.last("/basic").unwrap().header("authorization").unwrap().to_string();
    assert!(basic.starts_with("Basic "), "{basic}");

    let d = discover(w.env().set("NETRC", &netrc).set("BEARER_TOKEN", "the-token"));
    let session = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .credential(d)
        .build()
        .unwrap();
    session.get("bearer").send().await.unwrap();
    assert_eq!(
        s.last("/bearer").unwrap().header("authorization"),
        Some("Bearer the-token")
    );
}

// ---------------------------------------------------------------- X.509 discovery

fn write_proxy(ca: &TestCa, cn: &str, valid: time::Duration, path: &Path) {
    let eec = ca.client_cert(cn, time::Duration::days(2));
    write_private(path, eec.proxy_file(valid).as_bytes());
}

#[test]
fn x509_places_are_tried_in_order() {
    let ca = TestCa::new("grid CA");
    let w = World::new();
    let home = w.path("home");
    std::fs::create_dir_all(home.join(".globus")).unwrap();
    let g = ca.client_cert("Globus User", time::Duration::days(1));
    std::fs::write(home.join(".globus/usercert.pem"), &g.cert_pem).unwrap();
    write_private(&home.join(".globus/userkey.pem"), g.key_pem.as_bytes());
    write_proxy(
        &ca,
        "Tmp Proxy",
        time::Duration::hours(12),
        &w.tmp().join(format!("x509up_u{EUID}")),
    );
    let named = w.path("named_proxy");
    write_proxy(&ca, "Named Proxy", time::Duration::hours(12), &named);
    let (cert, key) = ca
        .client_cert("Env Cert", time::Duration::days(1))
        .write(w.dir.path(), "env");

    let subject = |env: &Env| {
        let found = discover_x509(env);
        found.found.map(|x| x.info().subject.clone()).unwrap_or_default()
    };
    let env = w
        .env()
        .with_home(&home)
        .set("X509_USER_CERT", &cert)
        .set("X509_USER_KEY", &key)
        .set("X509_USER_PROXY", &named);
    assert!(subject(&env).contains("Env Cert"));
    let env = env.unset("X509_USER_CERT").unset("X509_USER_KEY");
    assert!(subject(&env).contains("Named Proxy"));
    let env = env.unset("X509_USER_PROXY");
    assert!(subject(&env).contains("Tmp Proxy"));
    std::fs::remove_file(w.tmp().join(format!("x509up_u{EUID}"))).unwrap();
    assert!(subject(&env).contains("Globus User"));
    let env = Env::isolated().with_tmp_root(w.tmp()).with_euid(EUID);
    let none = discover_x509(&env);
    assert!(none.found.is_none());
    assert_eq!(none.skipped.len(), 4, "{:?}", none.skipped);
}

#[test]
fn an_expiring_proxy_is_skipped_with_its_reason() {
    let ca = TestCa::new("grid CA");
    let w = World::new();
    let stale = w.path("stale");
    write_proxy(&ca, "Stale", time::Duration::seconds(300), &stale);
    let home = w.path("home");
    std::fs::create_dir_all(home.join(".globus")).unwrap();
    let g = ca.client_cert("Fallback", time::Duration::days(1));
    std::fs::write(home.join(".globus/usercert.pem"), &g.cert_pem).unwrap();
    write_private(&home.join(".globus/userkey.pem"), g.key_pem.as_bytes());
    let found = discover_x509(&w.env().with_home(&home).set("X509_USER_PROXY", &stale));
    assert!(found.found.unwrap().info().subject.contains("Fallback"));
    let r = found
        .skipped
        .iter()
        .find(|s| s.source.starts_with("X509_USER_PROXY"))
        .unwrap();
    assert!(r.reason.contains("expires in") && r.reason.contains("600"), "{r}");

    // Required and nothing usable: the error says why.
    let err = Discover::builder()
        .env(w.env().set("X509_USER_PROXY", &stale))
        .x509(Mode::Required)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("expires in"), "{err}");
}

#[tokio::test]
async fn a_proxy_is_accepted_by_a_grid_server_which_sees_the_end_entity_subject() {
    let ca = Arc::new(TestCa::new("grid CA"));
    let s = TestServer::start(ServerOptions {
        tls: Some(ca.clone()),
        accept_proxy_certs: true,
        ..Default::default()
    })
    .await;
    let w = World::new();
    let proxy = w.path("x509up");
    write_proxy(&ca, "Grid User", time::Duration::hours(12), &proxy);
    let d = discover(w.env().set("X509_USER_PROXY", &proxy).set("BEARER_TOKEN", "grid-token"));
    assert_eq!(d.x509().unwrap().info().chain_len, 2);
    let session = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .ca_pem(ca.cert_pem.clone())
        .credential(d)
        .build()
        .unwrap();
    let body: serde_json::Value = session.get("whoami").send().await.unwrap().json().await.unwrap();
    let eec = body["client_subject"].as_str().unwrap();
    assert!(eec.contains("CN=Grid User") && !eec.contains("123456789"), "{eec}");
    let leaf = body["client_leaf_subject"].as_str().unwrap();
    assert!(leaf.starts_with(eec) && leaf.len() > eec.len(), "proxy subject: {leaf}");
    let r = s.last("/whoami").unwrap();
    assert_eq!(r.client_subject.as_deref(), Some(eec));
    assert_eq!(r.header("authorization"), Some("Bearer grid-token"));
}

#[tokio::test]
async fn the_proxy_accepting_server_still_checks_the_chain() {
    // Not going through Discover (which does this itself when it finds a proxy).
    assert!(sesame::credential::enable_proxy_client_certificates());
    let ca = Arc::new(TestCa::new("grid CA"));
    let s = TestServer::start(ServerOptions {
        tls: Some(ca.clone()),
        accept_proxy_certs: true,
        ..Default::default()
    })
    .await;
    let w = World::new();
    // A proxy of a certificate from another CA.
    let rogue = TestCa::new("rogue CA");
    let proxy = w.path("rogue");
    write_proxy(&rogue, "Mallory", time::Duration::hours(12), &proxy);
    let session = Session::builder()
        .ca_pem(ca.cert_pem.clone())
        .base_url(&s.url("/"))
        .unwrap()
        .credential(sesame::credential::X509::from_proxy_file(&proxy).unwrap())
        .build()
        .unwrap();
    assert!(session.get("x").send().await.is_err());
    // No certificate at all.
    let anon = Session::builder().ca_pem(ca.cert_pem.clone()).build().unwrap();
    assert!(anon.get(&s.url("/x")).send().await.is_err());
    // rustls' WebPKI verifier alone (require_client_cert) refuses proxies: why the option exists.
    let plain = TestServer::start(ServerOptions {
        tls: Some(ca.clone()),
        require_client_cert: true,
        ..Default::default()
    })
    .await;
    let good = w.path("good");
    write_proxy(&ca, "Grid User", time::Duration::hours(12), &good);
    let session = Session::builder()
        .ca_pem(ca.cert_pem.clone())
        .base_url(&plain.url("/"))
        .unwrap()
        .credential(sesame::credential::X509::from_proxy_file(&good).unwrap())
        .build()
        .unwrap();
    assert!(session.get("x").send().await.is_err());
    assert!(s.requests().is_empty() && plain.requests().is_empty());
}

// ---------------------------------------------------------------- token() and config

#[tokio::test]
async fn token_returns_the_discovered_token_with_its_claims() {
    let w = World::new();
    let exp = now() + 1800;
    let t = jwt(
        serde_json::json!({"exp": exp, "iat": now() - 10, "iss": "https://issuer.example", "scope": "storage.read:/ openid"}),
    );
    let d = Discover::builder()
        .env(w.env().set("SCITOKEN_FILE", w.file("sci", &t)))
        .base_url("https://se.example.org/")
        .build()
        .unwrap();
    let tok = d.token(Duration::from_secs(60), false).await.unwrap().unwrap();
    assert_eq!(tok.access_token.expose(), t);
    assert_eq!(tok.expires_at, Some(exp));
    assert_eq!(tok.issuer.as_deref(), Some("https://issuer.example"));
    assert_eq!(tok.scopes, ["storage.read:/", "openid"]);
    // More validity than it has: an error that lists the places.
    let err = d.token(Duration::from_secs(3600), false).await.unwrap_err();
    assert!(err.to_string().contains("SCITOKEN_FILE"), "{err}");
}

/// The credential details of a session built from profile `grid` of a TOML file.
fn profile_info(toml: &str) -> sesame::credential::CredentialInfo {
    let cfg = sesame_app::config::Config::from_toml_str(toml, "grid.toml").unwrap();
    let p = cfg.profile(Some("grid")).unwrap();
    let session = sesame_app::config::session_builder(&p).unwrap().build().unwrap();
    session.credential_info()
}

/// The error building a session from profile `bad` of a TOML file gives.
fn profile_error(toml: &str) -> sesame::Error {
    let cfg = sesame_app::config::Config::from_toml_str(toml, "bad.toml").unwrap();
    sesame_app::config::session_builder(&cfg.profile(Some("bad")).unwrap()).unwrap_err()
}

#[test]
fn profiles_wire_auth_discover() {
    let info = profile_info(
        r#"
[profiles.grid]
base_url = "https://se.example.org/"
auth = "discover"
force_noauth = true
required_scope = ["storage.read:/data"]
min_valid = 30
"#,
    );
    assert_eq!(info.kind, "discover");
    assert!(
        info.details.contains(&("force_noauth".into(), "true".into())),
        "{info:?}"
    );
    let err = profile_error(
        "[profiles.bad]\nbase_url = \"https://x/\"\nauth = \"discover\"\nrequired_scope = \"storage.read:/a/../b\"\n",
    );
    assert!(err.is_config(), "{err:?}");
}

// ---------------------------------------------------------------- signature verification
//
// Tokens minted by the bundled provider (a real oidc-provider on 127.0.0.1, RS256-signed
// JWT access tokens) and verified against its real discovery document and JWKS. The
// provider speaks plain http, so these discover credentials are `insecure` — except the
// one test that checks an http issuer is refused without it.

mod verification {
    use super::*;
    use sesame::oauth::jwks;
    use sesame_testbed::idp::{self, Idp, clients};

    /// The audience that means "any relying party" (WLCG), so tokens fit any request URL.
    const ANY_AUD: &str = "https://wlcg.cern.ch/jwt/v1/any";

    /// A fresh access token (a JWT signed with the provider's current key) from `idp`.
    pub(super) fn mint(idp: &Idp) -> String {
        let (id, secret) = clients::M2M_BASIC;
        let r = idp::http::post_form(
            &idp.token_endpoint(),
            &[("grant_type", "client_credentials"), ("resource", ANY_AUD)],
            Some((id, secret)),
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let t = r.json()["access_token"].as_str().unwrap().to_string();
        assert_eq!(t.split('.').count(), 3, "the provider issues JWT access tokens");
        t
    }

    /// `t` with one byte of its signature changed (still valid base64url, still a JWT).
    fn flip_signature_byte(t: &str) -> String {
        let sig_start = t.rfind('.').unwrap() + 1;
        let i = sig_start + 20;
        let mut b = t.as_bytes().to_vec();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    }

    fn kid_of(t: &str) -> String {
        let h = t.split('.').next().unwrap();
        let h: serde_json::Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
        h["kid"].as_str().unwrap().to_string()
    }

    fn verifying(env: Env) -> sesame::credential::grid::tokens::DiscoverBuilder {
        Discover::builder().env(env).verify_signature(true).insecure(true)
    }

    async fn search(d: &Discover, u: &str) -> Result<(String, String), Vec<String>> {
        match d
            .search_tokens_async(Some(&url(u)), Duration::from_secs(60))
            .await
            .unwrap()
        {
            TokenSearch::Found(f) => Ok((f.token.expose().to_string(), f.source)),
            TokenSearch::NotFound(s) => Err(s.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_provider_signed_token_verifies_and_is_sent() {
        let idp = idp::shared();
        let token = mint(idp);
        let s = TestServer::http().await;
        let w = World::new();
        let d = verifying(w.env().set("BEARER_TOKEN_FILE", w.file("tok", &token)))
            .build()
            .unwrap();
        // Before any request nothing is verified, and the network-free lookup says so.
        let before = pick(&d, U).unwrap_err();
        assert!(before[4].contains("signature not verified yet"), "{before:?}");
        let d = Arc::new(d);
        let session = Session::builder()
            .base_url(&s.url("/"))
            .unwrap()
            .credential_arc(d.clone())
            .build()
            .unwrap();
        session.get("a").send().await.unwrap();
        let expected = format!("Bearer {token}");
        assert_eq!(s.last("/a").unwrap().header("authorization"), Some(expected.as_str()));
        // The verdict is remembered: the next request (and the network-free lookup) use it.
        assert_eq!(pick(&d, U).unwrap().0, token);
        session.get("b").send().await.unwrap();
        assert_eq!(s.last("/b").unwrap().header("authorization"), Some(expected.as_str()));
        let info = d.info();
        assert!(
            info.details.contains(&("signature".into(), "verified".into())),
            "{info:?}"
        );
        assert!(!format!("{d:?}").contains(&token));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_flipped_signature_byte_skips_the_token_for_the_next_source() {
        let idp = idp::shared();
        let good = mint(idp);
        let forged = flip_signature_byte(&good);
        let w = World::new();
        let d = verifying(
            w.env()
                .set("SCITOKEN", &forged)
                .set("BEARER_TOKEN_FILE", w.file("tok", &good)),
        )
        .build()
        .unwrap();
        let (t, source) = search(&d, U).await.unwrap();
        assert_eq!(t, good);
        assert!(source.starts_with("BEARER_TOKEN_FILE"), "{source}");

        // Alone, the forged token is refused, and the error says why without showing it.
        let d = verifying(w.env().set("SCITOKEN", &forged)).build().unwrap();
        let err = d.find_token_async(Some(&url(U))).await.unwrap_err();
        let m = err.to_string();
        let want = format!("SCITOKEN: signature does not verify against {}'s keys", idp.issuer());
        assert!(m.contains(&want), "missing `{want}` in:\n{m}");
        assert!(!m.contains(&forged) && !format!("{err:?}").contains(&forged));

        // Without verification the same forged token would have been sent.
        let d = discover(w.env().set("SCITOKEN", &forged));
        assert_eq!(search(&d, U).await.unwrap().0, forged);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_unknown_kid_triggers_one_jwks_refetch() {
        // A provider of its own: its key set is rotated here.
        let idp = Idp::start().await;
        let jwks_uri = url(&idp.jwks_uri());
        let w = World::new();
        let first = mint(&idp);
        let d = verifying(w.env().set("BEARER_TOKEN", &first)).build().unwrap();
        assert_eq!(search(&d, U).await.unwrap().0, first);
        let fetched = jwks::fetch_count(&jwks_uri).await;
        let served = idp.stats()["jwks"].as_u64().unwrap();
        assert!(fetched >= 1);

        let new_kid = idp.rotate_keys();
        let second = mint(&idp);
        assert_eq!(kid_of(&second), new_kid);
        assert_ne!(kid_of(&first), new_kid);
        let d = verifying(w.env().set("BEARER_TOKEN", &second)).build().unwrap();
        assert_eq!(search(&d, U).await.unwrap().0, second);
        assert_eq!(
            jwks::fetch_count(&jwks_uri).await,
            fetched + 1,
            "one refetch for the new kid"
        );
        assert_eq!(idp.stats()["jwks"].as_u64().unwrap(), served + 1);

        // Another token with the (now known) kid, and the old one: no further fetch.
        let third = mint(&idp);
        for t in [&third, &first] {
            let d = verifying(w.env().set("BEARER_TOKEN", t)).build().unwrap();
            assert_eq!(&search(&d, U).await.unwrap().0, t);
        }
        assert_eq!(jwks::fetch_count(&jwks_uri).await, fetched + 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_opaque_token_is_skipped_when_verifying_and_used_when_not() {
        let idp = idp::shared();
        let w = World::new();
        let env = w
            .env()
            .set("BEARER_TOKEN", "opaque-token-value")
            .set("BEARER_TOKEN_FILE", w.file("tok", &mint(idp)));
        let (_, source) = search(&verifying(env.clone()).build().unwrap(), U).await.unwrap();
        assert!(source.starts_with("BEARER_TOKEN_FILE"), "{source}");

        let only = w.env().set("BEARER_TOKEN", "opaque-token-value");
        let skipped = search(&verifying(only.clone()).build().unwrap(), U).await.unwrap_err();
        assert!(
            skipped.iter().any(|s| s.starts_with("BEARER_TOKEN: not a JWT")),
            "{skipped:?}"
        );
        assert_eq!(
            search(&discover(only), U).await.unwrap().0,
            "opaque-token-value",
            "accepted without verification"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn trusted_issuers_pass_over_tokens_from_other_issuers() {
        let idp = idp::shared();
        let token = mint(idp);
        let w = World::new();
        let env = w.env().set("SCITOKEN", &token);
        let other = verifying(env.clone())
            .trusted_issuer("https://other-issuer.example/")
            .build()
            .unwrap();
        let skipped = search(&other, U).await.unwrap_err();
        let want = format!("SCITOKEN: JWT issuer `{}` is not in trusted_issuers", idp.issuer());
        assert!(skipped.contains(&want), "{skipped:?}");
        // Also a filter without verification.
        let plain = Discover::builder()
            .env(env.clone())
            .trusted_issuer("https://other-issuer.example")
            .build()
            .unwrap();
        assert!(pick(&plain, U).is_err());
        // Listed (trailing slash or not): used.
        let listed = verifying(env)
            .trusted_issuer("https://other-issuer.example")
            .trusted_issuer(format!("{}/", idp.issuer()))
            .build()
            .unwrap();
        assert_eq!(search(&listed, U).await.unwrap().0, token);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_http_issuer_is_refused_unless_the_profile_is_insecure() {
        let idp = idp::shared();
        let token = mint(idp);
        let w = World::new();
        let env = w.env().set("SCITOKEN", &token);
        let strict = Discover::builder()
            .env(env.clone())
            .verify_signature(true)
            .build()
            .unwrap();
        let skipped = search(&strict, U).await.unwrap_err();
        let reason = &skipped[0];
        assert!(
            reason.starts_with(&format!("SCITOKEN: issuer `{}` is not https", idp.issuer()))
                && reason.contains("insecure"),
            "{skipped:?}"
        );
        assert_eq!(search(&verifying(env).build().unwrap(), U).await.unwrap().0, token);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_unreachable_issuer_is_a_reason_not_an_error() {
        // A JWT naming an issuer where nothing listens (a port just freed).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = jwt(serde_json::json!({"iss": format!("http://127.0.0.1:{port}"), "exp": now() + 3600}));
        let t = t.replace(
            &t[..t.find('.').unwrap()],
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k"}"#),
        );
        let w = World::new();
        let d = verifying(w.env().set("BEARER_TOKEN", &t)).build().unwrap();
        let skipped = search(&d, U).await.unwrap_err();
        assert!(
            skipped
                .iter()
                .any(|s| s.starts_with("BEARER_TOKEN: issuer unreachable")),
            "{skipped:?}"
        );
    }

    #[test]
    fn profiles_wire_verify_signature_and_trusted_issuers() {
        let info = profile_info(
            r#"
[profiles.grid]
base_url = "https://se.example.org/"
auth = "discover"
verify_signature = true
trusted_issuers = ["https://issuer.example"]
"#,
        );
        assert!(
            info.details.contains(&("verify_signature".into(), "true".into())),
            "{info:?}"
        );
        let err = profile_error("[profiles.bad]\nauth = \"discover\"\ntrusted_issuers = [\"not a url\"]\n");
        assert!(err.is_config() && err.to_string().contains("not a url"), "{err:?}");
    }
}

// ---------------------------------------------------------------- files other accounts control

/// A uid that is not ours: the test runs as root in CI, and root can give a file away.
const OTHER_UID: u32 = 65534;

fn is_root() -> bool {
    rustix_euid() == 0
}

fn rustix_euid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    let f = tempfile::NamedTempFile::new().unwrap();
    f.as_file().metadata().unwrap().uid()
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Every token-file place of discovery, pointed at `file` (or, for the fixed names, with
/// `file` written there), as (env, label prefix).
fn every_token_file_place(w: &World, text: &str, prepare: &dyn Fn(&Path)) -> Vec<(Env, &'static str)> {
    let mut out = Vec::new();
    let f = w.file("sci", text);
    prepare(&f);
    out.push((w.env().set("SCITOKEN_FILE", &f), "SCITOKEN_FILE"));
    let creds = w.path("creds");
    std::fs::create_dir_all(&creds).unwrap();
    let u = creds.join("job.use");
    write_private(&u, text.as_bytes());
    prepare(&u);
    out.push((w.env().set("_CONDOR_CREDS", &creds), "$_CONDOR_CREDS/job.use"));
    let b = w.file("bt", text);
    prepare(&b);
    out.push((w.env().set("BEARER_TOKEN_FILE", &b), "BEARER_TOKEN_FILE"));
    let xdg = w.path("xdg");
    std::fs::create_dir_all(&xdg).unwrap();
    let x = xdg.join(format!("bt_u{EUID}"));
    write_private(&x, text.as_bytes());
    prepare(&x);
    out.push((w.env().set("XDG_RUNTIME_DIR", &xdg), "$XDG_RUNTIME_DIR/bt_u"));
    let t = w.tmp().join(format!("bt_u{EUID}"));
    write_private(&t, text.as_bytes());
    prepare(&t);
    out.push((w.env(), "/tmp/bt_u"));
    out
}

#[test]
fn planted_tmp_bearer_file_of_another_user_is_skipped() {
    if !is_root() {
        println!(
            "SKIPPED planted_tmp_bearer_file_of_another_user_is_skipped: needs root to create a file owned by another uid"
        );
        return;
    }
    let w = World::new();
    let planted = w.tmp().join(format!("bt_u{EUID}"));
    // The attacker's file: world-readable, as a planted file would be, and not ours.
    std::fs::write(&planted, "attackers-token-zzzz").unwrap();
    chmod(&planted, 0o644);
    std::os::unix::fs::chown(&planted, Some(OTHER_UID), Some(OTHER_UID)).unwrap();
    let skipped = pick(&discover(w.env()), U).unwrap_err();
    let r = skipped.iter().find(|s| s.starts_with("/tmp/bt_u4242")).unwrap();
    assert!(r.contains("owned by uid 65534") && r.contains("not used"), "{r}");
    assert!(!skipped.iter().any(|s| s.contains("attackers-token")), "{skipped:?}");
    // And a session sends nothing from it.
    let err = Discover::builder()
        .env(w.env())
        .fail_if_noauth(true)
        .base_url(U)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("owned by uid 65534"), "{err}");
}

#[test]
fn discovered_token_files_of_another_user_are_skipped_in_every_place() {
    if !is_root() {
        println!("SKIPPED discovered_token_files_of_another_user_are_skipped_in_every_place: needs root to chown");
        return;
    }
    let w = World::new();
    let give_away = |p: &Path| std::os::unix::fs::chown(p, Some(OTHER_UID), None).unwrap();
    for (env, label) in every_token_file_place(&w, "planted-token-abc", &give_away) {
        let skipped = pick(&discover(env), U).unwrap_err();
        let r = skipped
            .iter()
            .find(|s| s.starts_with(label))
            .unwrap_or_else(|| panic!("{label}: {skipped:?}"));
        assert!(r.contains("owned by uid 65534"), "{label}: {r}");
    }
    // A symlink another account planted is not followed to a file of ours.
    let w = World::new();
    let mine = w.file("mine", "my-own-token");
    let link = w.tmp().join(format!("bt_u{EUID}"));
    std::os::unix::fs::symlink(&mine, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(OTHER_UID), None).unwrap();
    let skipped = pick(&discover(w.env()), U).unwrap_err();
    assert!(
        skipped.iter().any(|s| s.contains("a symlink owned by uid 65534")),
        "{skipped:?}"
    );
}

#[test]
fn group_or_other_writable_token_files_are_skipped_with_the_reason() {
    for mode in [0o666, 0o620, 0o602] {
        let w = World::new();
        let set_mode = |p: &Path| chmod(p, mode);
        for (env, label) in every_token_file_place(&w, "shared-token-abc", &set_mode) {
            let skipped = pick(&discover(env), U).unwrap_err();
            let r = skipped
                .iter()
                .find(|s| s.starts_with(label))
                .unwrap_or_else(|| panic!("{label}: {skipped:?}"));
            assert!(
                r.contains("writable by group or others") && r.contains(&format!("{mode:04o}")),
                "{label}: {r}"
            );
        }
    }
    // Readable by others but not writable: used (with a warning), as before.
    let w = World::new();
    let f = w.file("readable", "readable-token");
    chmod(&f, 0o644);
    assert_eq!(
        token_of(&discover(w.env().set("BEARER_TOKEN_FILE", &f)), U),
        "readable-token"
    );
    // A skipped file does not hide the next place.
    let bad = w.file("bad", "bad-token");
    chmod(&bad, 0o666);
    write_private(&w.tmp().join(format!("bt_u{EUID}")), b"good-token");
    let (t, s) = pick(&discover(w.env().set("BEARER_TOKEN_FILE", &bad)), U).unwrap();
    assert_eq!(t, "good-token");
    assert!(s.starts_with("/tmp/bt_u"), "{s}");
}

#[test]
fn planted_x509_proxy_of_another_user_is_skipped() {
    if !is_root() {
        println!("SKIPPED planted_x509_proxy_of_another_user_is_skipped: needs root to chown");
        return;
    }
    let ca = TestCa::new("grid CA");
    let w = World::new();
    let tmp_proxy = w.tmp().join(format!("x509up_u{EUID}"));
    write_proxy(&ca, "Planted Proxy", time::Duration::hours(12), &tmp_proxy);
    std::os::unix::fs::chown(&tmp_proxy, Some(OTHER_UID), Some(OTHER_UID)).unwrap();
    let named = w.path("named_proxy");
    write_proxy(&ca, "Planted Named", time::Duration::hours(12), &named);
    std::os::unix::fs::chown(&named, Some(OTHER_UID), None).unwrap();
    let (cert, key) = ca
        .client_cert("Planted Cert", time::Duration::days(1))
        .write(w.dir.path(), "env");
    std::os::unix::fs::chown(&key, Some(OTHER_UID), None).unwrap();
    let found = discover_x509(
        &w.env()
            .set("X509_USER_CERT", &cert)
            .set("X509_USER_KEY", &key)
            .set("X509_USER_PROXY", &named),
    );
    assert!(found.found.is_none(), "{:?}", found.source);
    for prefix in ["X509_USER_CERT", "X509_USER_PROXY", &tmp_proxy.display().to_string()] {
        let r = found.skipped.iter().find(|s| s.source.starts_with(prefix)).unwrap();
        assert!(r.reason.contains("owned by uid 65534"), "{r}");
    }
    // Our own proxy, writable by the group: skipped too.
    let w = World::new();
    let p = w.tmp().join(format!("x509up_u{EUID}"));
    write_proxy(&ca, "Shared Proxy", time::Duration::hours(12), &p);
    chmod(&p, 0o620);
    let found = discover_x509(&w.env());
    assert!(found.found.is_none());
    let r = found
        .skipped
        .iter()
        .find(|s| s.source.starts_with(&p.display().to_string()))
        .unwrap();
    assert!(r.reason.contains("writable by group or others"), "{r}");
}
