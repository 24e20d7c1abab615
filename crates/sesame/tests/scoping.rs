//! SPEC §6.1: credentials go only to the base URL's origin and path prefix, on every hop.

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
    assert_eq!(landed.header("x-auth"), None, "a listed credential header crossed origins");
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
    for b in [
        Session::builder().allow_http(true),
        Session::builder().insecure(true),
    ] {
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
    for base in ["http://127.0.0.1.sesame-test.invalid/", "http://localhost.sesame-test.invalid/", "http://[::2]/"] {
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
    use sesame::config::{Config, Profile, SecretSource};
    let profile = |allow: Option<bool>| Profile {
        base_url: Some("http://sesame-test.invalid/".into()),
        token: Some(SecretSource::Literal(TOKEN.into())),
        allow_http: allow,
        ..Default::default()
    };
    let r = Config::default().resolve(None, profile(None)).unwrap();
    let e = sesame::config::session_builder(&r).unwrap().build().unwrap_err();
    assert!(e.to_string().contains("allow_http"), "{e}");
    let r = Config::default().resolve(None, profile(Some(true))).unwrap();
    sesame::config::session_builder(&r).unwrap().build().unwrap();
}
