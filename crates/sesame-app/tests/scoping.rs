//! docs/session-rules.md#credential-scope: credentials go only to the base URL's origin and path prefix, on every hop.

#[path = "../../sesame/tests/support/mod.rs"]
mod support;

use sesame::credential::{ApiKey, Bearer, FnCredential};
use sesame::{RedirectPolicy, Session};
use support::*;

const TOKEN: &str = "tok-3f9a1c";

fn bearer_session(base: &str, policy: RedirectPolicy) -> Session {
    Session::builder()
        .base_url(base)
        .unwrap()
        .credential(Bearer::new(TOKEN))
        .redirects(policy)
        .build()
        .unwrap()
}

#[tokio::test]
async fn bearer_is_attached_within_the_base_origin_and_prefix() {
    let s = TestServer::http().await;
    let session = bearer_session(&s.url("/api/"), RedirectPolicy::SameOrigin);
    session.get("items?x=1").send().await.unwrap();
    let r = s.last("/api/items").expect("request reached the server");
    assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    assert_eq!(r.query.as_deref(), Some("x=1"));
    assert!(r.header("user-agent").unwrap().starts_with("sesame/"));
    // The prefix itself, without the trailing slash, is covered too.
    session.get(&s.url("/api")).send().await.unwrap();
    assert!(s.last("/api").unwrap().header("authorization").is_some());
}

#[tokio::test]
async fn no_credential_outside_the_path_prefix() {
    let s = TestServer::http().await;
    let session = bearer_session(&s.url("/api/"), RedirectPolicy::SameOrigin);
    session.get(&s.url("/apix/leak")).send().await.unwrap();
    assert_eq!(
        s.last("/apix").unwrap().header("authorization"),
        None,
        "/api must not cover /apix"
    );
    session.get(&s.url("/other")).send().await.unwrap();
    assert_eq!(s.last("/other").unwrap().header("authorization"), None);
    // `..` cannot climb out of the prefix.
    session.get("../admin").send().await.unwrap();
    assert_eq!(s.last("/admin").unwrap().header("authorization"), None);
}

#[tokio::test]
async fn no_credential_on_another_port_host_or_scheme() {
    let api = TestServer::http().await;
    let other = TestServer::http().await;
    let session = bearer_session(&api.url("/"), RedirectPolicy::All);
    // another port
    session.get(&other.url("/x")).send().await.unwrap();
    assert_eq!(other.last("/x").unwrap().header("authorization"), None);
    // another host name for the same address: `localhost` is not `127.0.0.1`
    session.get(&api.url_localhost("/y")).send().await.unwrap();
    assert_eq!(api.last("/y").unwrap().header("authorization"), None);
    // another scheme: an https base does not cover http on the same host and port
    let ca = std::sync::Arc::new(TestCa::new("scope CA"));
    let tls = TestServer::start(ServerOptions {
        tls: Some(ca.clone()),
        ..Default::default()
    })
    .await;
    let https_session = Session::builder()
        .base_url(&tls.url("/"))
        .unwrap()
        .ca_pem(ca.cert_pem.clone())
        .credential(Bearer::new(TOKEN))
        .build()
        .unwrap();
    https_session.get("/z").send().await.unwrap();
    assert!(tls.last("/z").unwrap().header("authorization").is_some());
    let plain_same_port = format!("http://127.0.0.1:{}/w", tls.port());
    // The TLS server cannot speak plain HTTP; what matters is that nothing was attached,
    // which the scope decides before sending.
    assert!(!https_session.in_scope(&url::Url::parse(&plain_same_port).unwrap()));
}

#[tokio::test]
async fn cross_origin_redirect_strips_authorization_and_api_key() {
    let api = TestServer::http().await;
    let evil = TestServer::http().await;
    for cred in ["bearer", "api-key"] {
        let b = Session::builder()
            .base_url(&api.url("/"))
            .unwrap()
            .redirects(RedirectPolicy::All);
        let session = match cred {
            "bearer" => b.credential(Bearer::new(TOKEN)),
            _ => b.credential(ApiKey::with_header("X-Secret-Key", TOKEN).unwrap()),
        }
        .build()
        .unwrap();
        let target = evil.url(&format!("/landing-{cred}"));
        let resp = session
            .get(&format!("redirect?to={}", urlencode(&target)))
            .header("Cookie", "session=abc")
            .header("X-Trace", "keep-me")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let first = api.last("/redirect").unwrap();
        assert!(first.header("authorization").is_some() || first.header("x-secret-key").is_some());
        let landed = evil.last(&format!("/landing-{cred}")).expect("redirect followed");
        for (k, v) in &landed.headers {
            assert!(
                !v.contains(TOKEN),
                "{cred}: header {k} carried the secret across origins"
            );
        }
        assert_eq!(landed.header("cookie"), None, "hand-set Cookie must not cross origins");
        assert_eq!(landed.header("x-trace"), Some("keep-me"));
    }
}

#[tokio::test]
async fn same_origin_redirect_keeps_the_credential_and_policies_apply() {
    let api = TestServer::http().await;
    let other = TestServer::http().await;
    let session = bearer_session(&api.url("/"), RedirectPolicy::SameOrigin);
    let r = session.get("redirect?to=/next&code=307").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(api.last("/next").unwrap().header("authorization").is_some());
    // same-origin policy: a cross-origin redirect is returned, not followed
    let r = session
        .get(&format!("redirect?to={}", urlencode(&other.url("/nope"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert!(other.last("/nope").is_none());
    // none: nothing is followed
    let none = bearer_session(&api.url("/"), RedirectPolicy::None);
    let r = none.get("redirect?to=/again").send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert!(api.last("/again").is_none());
}

#[tokio::test]
async fn see_other_turns_post_into_get_and_drops_the_body() {
    let api = TestServer::http().await;
    let session = bearer_session(&api.url("/"), RedirectPolicy::SameOrigin);
    session
        .post("redirect?to=/after&code=303")
        .body("payload")
        .send()
        .await
        .unwrap();
    let after = api.last("/after").unwrap();
    assert_eq!(after.method, "GET");
    assert!(after.body.is_empty());
    session
        .post("redirect?to=/kept&code=308")
        .body("payload")
        .send()
        .await
        .unwrap();
    let kept = api.last("/kept").unwrap();
    assert_eq!((kept.method.as_str(), kept.body.as_slice()), ("POST", &b"payload"[..]));
}

#[tokio::test]
async fn redirect_loops_end_with_an_error() {
    let api = TestServer::http().await;
    let session = Session::builder()
        .base_url(&api.url("/"))
        .unwrap()
        .max_redirects(3)
        .build()
        .unwrap();
    let e = session.get("loop").send().await.unwrap_err();
    assert!(e.to_string().contains("more than 3 redirects"), "{e}");
    assert_eq!(api.requests().iter().filter(|r| r.path == "/loop").count(), 4);
}

#[tokio::test]
async fn custom_credentials_are_scoped_like_built_in_ones() {
    let api = TestServer::http().await;
    let other = TestServer::http().await;
    let cred = FnCredential::new("tenant", |_req, h| {
        h.insert("x-tenant-signature", "sig-777".parse().unwrap());
        Ok(())
    });
    let session = Session::builder()
        .base_url(&api.url("/"))
        .unwrap()
        .credential(cred)
        .redirects(RedirectPolicy::All)
        .build()
        .unwrap();
    session.get("a").send().await.unwrap();
    assert_eq!(api.last("/a").unwrap().header("x-tenant-signature"), Some("sig-777"));
    session
        .get(&format!("redirect?to={}", urlencode(&other.url("/b"))))
        .send()
        .await
        .unwrap();
    assert_eq!(other.last("/b").unwrap().header("x-tenant-signature"), None);
    assert_eq!(session.credential_info().kind, "tenant");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn listed_credential_header_set_by_hand_does_not_cross_origins() {
    let api = TestServer::http().await;
    let evil = TestServer::http().await;
    let session = Session::builder()
        .base_url(&api.url("/"))
        .unwrap()
        .credential(Bearer::new(TOKEN))
        .credential_header("X-Auth")
        .unwrap()
        .redirects(RedirectPolicy::All)
        .build()
        .unwrap();
    let target = evil.url("/landing");
    let resp = session
        .get(&format!("redirect?to={}", urlencode(&target)))
        .header("X-Auth", "s3cret")
        .header("X-Custom", "keep-me")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The first hop, in the origin, carried it.
    assert_eq!(api.last("/redirect").unwrap().header("x-auth"), Some("s3cret"));
    let landed = evil.last("/landing").expect("redirect followed");
    assert_eq!(
        landed.header("x-auth"),
        None,
        "a listed credential header crossed origins"
    );
    assert_eq!(landed.header("x-custom"), Some("keep-me"));
    // A same-origin hop keeps it.
    session
        .get("redirect?to=/next")
        .header("X-Auth", "s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(api.last("/next").unwrap().header("x-auth"), Some("s3cret"));
}

#[test]
fn plain_http_base_to_a_non_loopback_host_is_refused_with_a_credential() {
    let err = Session::builder()
        .base_url("http://sesame-test.invalid/api/")
        .unwrap()
        .credential(Bearer::new(TOKEN))
        .build()
        .expect_err("a bearer token over cleartext to another machine must be refused");
    assert_eq!(err.kind(), sesame::ErrorKind::Config);
    let msg = err.to_string();
    assert!(msg.contains("http://sesame-test.invalid/api/"), "{msg}");
    assert!(msg.contains("allow_http"), "{msg}");
    assert!(!msg.contains("--"), "engine messages name keys, not flags: {msg}");
    // Opting in, or an insecure profile, builds.
    for b in [Session::builder().allow_http(true), Session::builder().insecure(true)] {
        b.base_url("http://sesame-test.invalid/api/")
            .unwrap()
            .credential(Bearer::new(TOKEN))
            .build()
            .unwrap();
    }
    // No credential, nothing to leak.
    Session::builder()
        .base_url("http://sesame-test.invalid/api/")
        .unwrap()
        .build()
        .unwrap();
    // Loopback never leaves the machine: allowed without opting in.
    for base in [
        "http://127.0.0.1:8080/",
        "http://127.9.8.7/",
        "http://[::1]:9000/",
        "http://localhost/",
        "http://LOCALHOST:1/",
        "https://sesame-test.invalid/",
    ] {
        Session::builder()
            .base_url(base)
            .unwrap()
            .credential(Bearer::new(TOKEN))
            .build()
            .unwrap_or_else(|e| panic!("{base}: {e}"));
    }
    // Look-alikes of loopback are not loopback.
    for base in [
        "http://127.0.0.1.sesame-test.invalid/",
        "http://localhost.sesame-test.invalid/",
        "http://[::2]/",
    ] {
        assert!(
            Session::builder()
                .base_url(base)
                .unwrap()
                .credential(Bearer::new(TOKEN))
                .build()
                .is_err(),
            "{base} is not loopback"
        );
    }
}

#[test]
fn allow_http_profile_key_opts_in() {
    use sesame_app::config::{Config, Profile, SecretSource};
    let profile = |allow: Option<bool>| Profile {
        base_url: Some("http://sesame-test.invalid/".into()),
        token: Some(SecretSource::Literal(TOKEN.into())),
        allow_http: allow,
        ..Default::default()
    };
    let r = Config::default().resolve(None, profile(None)).unwrap();
    let e = sesame_app::config::session_builder(&r).unwrap().build().unwrap_err();
    assert!(e.to_string().contains("allow_http"), "{e}");
    let r = Config::default().resolve(None, profile(Some(true))).unwrap();
    sesame_app::config::session_builder(&r).unwrap().build().unwrap();
}

/// A real nginx in front of two backends, as a child process with its own prefix, config
/// and logs: `/api/` → `api`, `/other/` → `other` (with the URI part, so `other` sees the
/// path nginx normalised), and `/api/jump?to=X` answers `302 Location: X` (another tenant
/// of the same origin). Stopped (its own child only) when dropped.
struct Nginx {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    fn binary() -> Option<std::path::PathBuf> {
        if let Some(p) = std::env::var_os("SESAME_NGINX") {
            return Some(p.into());
        }
        for p in ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"] {
            if std::path::Path::new(p).is_file() {
                return Some(p.into());
            }
        }
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("nginx"))
                .find(|p| p.is_file())
        })
    }

    async fn start(api: u16, other: u16) -> Option<Nginx> {
        let Some(bin) = Self::binary() else {
            eprintln!(
                "SKIPPED: nginx not found (looked at $SESAME_NGINX, /usr/sbin/nginx, PATH). \
                 Install it: Debian/Ubuntu `apt-get install nginx` (CI does this in .ci/run)."
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.path().display();
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    absolute_redirect off;
    server {{
        listen 127.0.0.1:{port};
        location = /api/jump {{ return 302 $arg_to; }}
        location /api/ {{ proxy_pass http://127.0.0.1:{api}; }}
        location /other/ {{ proxy_pass http://127.0.0.1:{other}/other/; }}
    }}
}}
"#
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let mut child = std::process::Command::new(&bin)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-e")
            .arg(dir.path().join("startup.log"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let started = std::time::Instant::now();
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                panic!("nginx exited ({status}): {err}\n{log}");
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "nginx did not listen on {port}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Some(Nginx { child, port, _dir: dir })
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// Issue 13: `/api/..%2Fother/steal` is under `/api/` as written, but nginx decodes `%2F`
/// before it resolves dot-segments and routes the request to `/other/` — another backend,
/// which must not get the token. The same through a same-origin redirect (followed by the
/// default policy), and for every spelling.
#[tokio::test]
async fn encoded_slash_dot_segment_is_out_of_scope_through_nginx() {
    let api = TestServer::http().await;
    let other = TestServer::http().await;
    let Some(nginx) = Nginx::start(api.port(), other.port()).await else {
        return;
    };
    let session = bearer_session(&nginx.url("/api/"), RedirectPolicy::SameOrigin);
    // In scope, through nginx: attached (the set-up works).
    session.get("ok").send().await.unwrap();
    assert_eq!(
        api.last("/api/ok")
            .expect("nginx proxied /api/")
            .header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let variants = ["..%2F", "..%2f", "..%5C", "%2E%2E%2F", "%2e%2e/", "..;/"];
    for v in variants {
        for via_redirect in [false, true] {
            api.clear();
            other.clear();
            let target = format!("/api/{v}other/steal");
            let resp = if via_redirect {
                session.get(&nginx.url(&format!("/api/jump?to={target}"))).send().await
            } else {
                session.get(&nginx.url(&target)).send().await
            }
            .unwrap();
            let how = if via_redirect {
                "after a same-origin redirect"
            } else {
                "directly"
            };
            let seen: Vec<_> = api.requests().into_iter().chain(other.requests()).collect();
            assert!(
                !seen.is_empty(),
                "{v} {how}: nginx proxied nothing (status {})",
                resp.status()
            );
            for r in &seen {
                assert!(
                    r.headers.iter().all(|(_, val)| !val.contains(TOKEN)),
                    "{v} {how}: the token reached a backend as {} (the /other backend: {})",
                    r.path,
                    other.requests().iter().any(|o| o.path == r.path)
                );
            }
            // Where nginx decodes the separator, the request really does land on /other/:
            // this is the attack, now without the token.
            if matches!(v, "..%2F" | "..%2f" | "%2E%2E%2F" | "%2e%2e/") {
                assert!(
                    other.last("/other/steal").is_some(),
                    "{v} {how}: expected nginx to route to /other/ ({:?})",
                    seen.iter().map(|r| &r.path).collect::<Vec<_>>()
                );
            }
        }
    }
    drop(nginx);
}
