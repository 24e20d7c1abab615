//! Retries through a real session against the fault-injection server: which methods and
//! outcomes are retried, how often, `Retry-After` in seconds and as a date, the timeout as
//! the deadline of the whole call, and the stricter rule for token POSTs. (Exact delays in
//! paused time are unit tests in `session/retry.rs`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

use sesame::Session;
use sesame::oauth::OAuthHttp;
use sesame::session::retry::Jitter;
use sesame::session::{Method, RetryPolicy};
use sesame_app::config::{Config, Profile};
use sesame_testbed::faults::FaultServer;
use sesame_testbed::server::{ServerOptions, TestServer};

fn fast(n: u32) -> RetryPolicy {
    RetryPolicy::new(n)
        .base_delay(Duration::from_millis(10))
        .jitter(Jitter::None)
}

fn session(f: &FaultServer, policy: RetryPolicy) -> Session {
    Session::builder()
        .base_url(&f.origin())
        .unwrap()
        .retry_policy(policy)
        .timeout(Some(Duration::from_secs(10)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn idempotent_requests_are_retried_until_they_succeed() {
    let f = FaultServer::start().await;
    let s = session(&f, fast(2));
    for (m, q) in [
        (Method::GET, "get"),
        (Method::PUT, "put"),
        (Method::DELETE, "delete"),
        (Method::HEAD, "head"),
        (Method::OPTIONS, "options"),
    ] {
        let r = s
            .request(m.clone(), &format!("flaky?fail=2&m={q}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{m}");
    }
    assert_eq!(f.hits("/flaky"), 15, "three attempts each");
}

#[tokio::test]
async fn every_retryable_status_is_retried_and_others_are_not() {
    let f = FaultServer::start().await;
    let s = session(&f, fast(1));
    for code in [408, 429, 500, 502, 503, 504] {
        let r = s.get(&format!("flaky?fail=1&status={code}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{code} retried");
    }
    assert_eq!(f.hits("/flaky"), 12);
    f.clear();
    for code in [400, 401, 403, 404, 409, 501, 505] {
        let r = s.get(&format!("flaky?fail=1&status={code}")).send().await.unwrap();
        assert_eq!(r.status(), code, "{code} not retried");
    }
    assert_eq!(f.hits("/flaky"), 7);
}

#[tokio::test]
async fn non_idempotent_requests_are_not_retried_by_default() {
    let f = FaultServer::start().await;
    let s = session(&f, fast(2));
    let r = s.post("flaky?fail=2&n=1").body("x").send().await.unwrap();
    assert_eq!(r.status(), 503);
    let r = s.patch("flaky?fail=2&n=2").body("x").send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(f.hits("/flaky"), 2, "one attempt each");

    // Opting in per request…
    f.clear();
    let r = s
        .post("flaky?fail=2&n=3")
        .idempotent(true)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(f.hits("/flaky"), 3);
    // …or per session.
    f.clear();
    let s = Session::builder()
        .base_url(&f.origin())
        .unwrap()
        .retry_policy(fast(2))
        .retry_non_idempotent(true)
        .build()
        .unwrap();
    let r = s.post("flaky?fail=2&n=4").body("x").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(f.hits("/flaky"), 3);
}

#[tokio::test]
async fn the_number_of_retries_comes_from_the_profile_the_builder_or_the_request() {
    let f = FaultServer::start().await;
    // Profile: retries = 0.
    let p = Profile {
        base_url: Some(f.origin()),
        retries: Some(0),
        ..Default::default()
    };
    let r = Config::default().resolve(None, p).unwrap();
    let s = sesame_app::config::session_builder(&r).unwrap().build().unwrap();
    assert_eq!(s.retry_policy().max_retries(), 0);
    assert_eq!(s.get("flaky?fail=5&a=1").send().await.unwrap().status(), 503);
    assert_eq!(f.hits("/flaky"), 1);
    // Default: 2.
    assert_eq!(Session::builder().build().unwrap().retry_policy().max_retries(), 2);
    // Builder: 1, then a request asking for 4.
    f.clear();
    let s = session(&f, fast(1));
    assert_eq!(s.get("flaky?fail=5&a=2").send().await.unwrap().status(), 503);
    assert_eq!(f.hits("/flaky"), 2);
    f.clear();
    assert_eq!(s.get("flaky?fail=4&a=3").retries(4).send().await.unwrap().status(), 200);
    assert_eq!(f.hits("/flaky"), 5);
}

#[tokio::test]
async fn retry_after_in_seconds_and_as_a_date_is_honoured() {
    let f = FaultServer::start().await;
    let s = session(&f, fast(2));
    let t = Instant::now();
    let r = s.get("flaky?fail=1&retry_after=1").send().await.unwrap();
    let waited = t.elapsed();
    assert_eq!(r.status(), 200);
    assert!(
        waited >= Duration::from_secs(1),
        "waited {waited:?}, not the 10 ms backoff"
    );
    assert!(waited < Duration::from_secs(5), "{waited:?}");

    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    let enc = date.replace(' ', "%20").replace(',', "%2C").replace(':', "%3A");
    let t = Instant::now();
    let r = s.get(&format!("flaky?fail=1&retry_after={enc}")).send().await.unwrap();
    let waited = t.elapsed();
    assert_eq!(r.status(), 200);
    // An HTTP date has whole seconds: 2 s from now is 1 to 2 s away.
    assert!(waited >= Duration::from_millis(900), "waited {waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_is_returned_at_once() {
    let f = FaultServer::start().await;
    let s = session(&f, fast(2).max_retry_after(Duration::from_secs(5)));
    let t = Instant::now();
    let r = s.get("storm?retry_after=3600").send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.headers()["retry-after"],
        "3600",
        "the caller sees what the server asked"
    );
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(f.hits("/storm"), 1);
}

#[tokio::test]
async fn the_timeout_is_the_deadline_of_the_whole_call() {
    let f = FaultServer::start().await;
    let s = Session::builder()
        .base_url(&f.origin())
        .unwrap()
        .retry_policy(fast(10))
        .timeout(Some(Duration::from_millis(2500)))
        .build()
        .unwrap();
    let t = Instant::now();
    let r = s.get("storm?retry_after=1").send().await.unwrap();
    let took = t.elapsed();
    assert_eq!(r.status(), 503);
    assert!(took < Duration::from_millis(2600), "{took:?}");
    assert_eq!(
        f.hits("/storm"),
        3,
        "at 0, 1 and 2 s; a wait to 3 s would pass the deadline"
    );
}

#[tokio::test]
async fn a_retry_gets_only_what_is_left_of_the_timeout() {
    // The first attempt may lean on the client's own (session) timeout; a retry must not:
    // 503 at once, then a reply that never comes in time.
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/then-stall",
        get(move || {
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) > 0 {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
                StatusCode::SERVICE_UNAVAILABLE
            }
        }),
    );
    let srv = TestServer::start_with(ServerOptions::default(), Some(app)).await;
    let s = Session::builder()
        .base_url(&srv.origin())
        .unwrap()
        .retry_policy(
            RetryPolicy::new(1)
                .base_delay(Duration::from_millis(800))
                .jitter(Jitter::None),
        )
        .timeout(Some(Duration::from_secs(2)))
        .build()
        .unwrap();
    let t = Instant::now();
    let e = s.get("then-stall").send().await.unwrap_err();
    let took = t.elapsed();
    assert!(e.is_timeout(), "{e:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert!(
        took < Duration::from_millis(2500),
        "{took:?}: the retry ends at the 2 s deadline, not 2 s after it started"
    );
}

#[tokio::test]
async fn broken_connections_are_retried_for_get_but_not_for_post() {
    let f = FaultServer::start().await;
    let s = session(&f, fast(2));
    let e = s.get("reset").send().await.unwrap_err();
    assert!(e.is_transport(), "{e}");
    assert_eq!(f.hits("/reset"), 3);
    f.clear();
    let e = s.post("reset").body("x").send().await.unwrap_err();
    assert!(e.is_transport(), "{e}");
    assert_eq!(f.hits("/reset"), 1, "the POST may have been processed: not resent");
}

#[tokio::test]
async fn refused_connections_are_retried_for_every_method() {
    // Nothing listens on this port any more: nothing can have been sent.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let s = Session::builder()
        .base_url(&format!("http://127.0.0.1:{port}/"))
        .unwrap()
        .retry_policy(fast(3))
        .build()
        .unwrap();
    let t = Instant::now();
    let e = s.post("x").body("x").send().await.unwrap_err();
    assert!(e.is_transport(), "{e}");
    // 10 + 20 + 40 ms of backoff: the retries happened (and took little time).
    assert!(t.elapsed() >= Duration::from_millis(70), "{:?}", t.elapsed());
}

#[tokio::test]
async fn token_posts_are_retried_only_when_the_server_cannot_have_acted() {
    let f = FaultServer::start().await;
    let http = OAuthHttp::default_client().unwrap().with_retry(fast(2));
    let form = || Some(b"grant_type=client_credentials".to_vec());
    let headers = || {
        let mut h = sesame::session::header::HeaderMap::new();
        h.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
        h
    };
    // 503 with Retry-After: retried.
    let url = url::Url::parse(&f.url("/as/storm/token")).unwrap();
    let t = Instant::now();
    let reply = http.send(Method::POST, &url, headers(), form()).await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(f.hits("/as/storm/token"), 3);
    assert!(t.elapsed() >= Duration::from_secs(2), "Retry-After: 1, twice");
    // 503 without Retry-After, 500, a reset after sending: not retried.
    for path in ["/flaky?fail=5&status=503", "/flaky?fail=5&status=500&x=1"] {
        let url = url::Url::parse(&f.url(path)).unwrap();
        let reply = http.send(Method::POST, &url, headers(), form()).await.unwrap();
        assert!(reply.status.is_server_error());
    }
    assert_eq!(f.hits("/flaky"), 2);
    let url = url::Url::parse(&f.url("/reset")).unwrap();
    assert!(http.send(Method::POST, &url, headers(), form()).await.is_err());
    assert_eq!(f.hits("/reset"), 1);
    // GETs (discovery, JWKS) follow the ordinary rules.
    let url = url::Url::parse(&f.url("/flaky?fail=2&g=1")).unwrap();
    let reply = http
        .send(Method::GET, &url, sesame::session::header::HeaderMap::new(), None)
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
}
