//! docs/session-rules.md#typed-http-errors: HTTP errors are typed and carry status, method, URL and the server's message.

mod support;

use std::time::Duration;

use sesame::{ErrorKind, Session};
use support::*;

async fn err_for(s: &TestServer, path: &str) -> sesame::Error {
    let session = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .error_for_status(true)
        .build()
        .unwrap();
    session.get(path).send().await.unwrap_err()
}

#[tokio::test]
async fn each_status_class_is_distinguishable() {
    let s = TestServer::http().await;
    type Pred = fn(&sesame::Error) -> bool;
    let cases: &[(u16, Pred)] = &[
        (400, sesame::Error::is_bad_request),
        (401, sesame::Error::is_unauthorized),
        (403, sesame::Error::is_forbidden),
        (404, sesame::Error::is_not_found),
        (409, sesame::Error::is_conflict),
        (413, sesame::Error::is_payload_too_large),
        (415, sesame::Error::is_unsupported_media_type),
        (429, sesame::Error::is_rate_limited),
        (500, sesame::Error::is_server_error),
        (503, sesame::Error::is_server_error),
    ];
    for (code, pred) in cases {
        let e = err_for(&s, &format!("status/{code}")).await;
        assert_eq!(e.kind(), ErrorKind::Http);
        assert_eq!(e.status().unwrap().as_u16(), *code);
        assert!(pred(&e), "{code}: {e}");
        let h = e.as_http().unwrap();
        assert_eq!(h.method, "GET");
        assert!(h.url.ends_with(&format!("/status/{code}")));
    }
    // Predicates do not overlap.
    assert!(!err_for(&s, "status/404").await.is_server_error());
}

#[tokio::test]
async fn server_messages_are_readable() {
    let s = TestServer::http().await;
    let json = err_for(&s, "status/422?type=json").await.to_string();
    assert!(json.contains("\"reason\": \"testing\""), "JSON pretty-printed: {json}");
    let html = err_for(&s, "status/502?type=html").await.to_string();
    assert!(
        html.contains("Error 502") && !html.contains("<h1>") && !html.contains("color:red"),
        "{html}"
    );
    let bin = err_for(&s, "status/500?type=binary").await.to_string();
    assert!(bin.contains("[6 bytes of application/x-protobuf]"), "{bin}");
    let big = err_for(&s, "status/500?type=big").await.to_string();
    assert!(big.len() < 8000, "a 10 MiB page is summarized, got {} bytes", big.len());
}

#[tokio::test]
async fn query_values_are_redacted_in_errors() {
    let s = TestServer::http().await;
    let e = err_for(&s, "status/404?api_key=hunter2&type=text").await.to_string();
    assert!(!e.contains("hunter2"), "{e}");
    assert!(e.contains("api_key=REDACTED"), "{e}");
}

#[tokio::test]
async fn timeouts_are_typed() {
    let s = TestServer::http().await;
    let session = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .timeout(Some(Duration::from_millis(200)))
        .build()
        .unwrap();
    let e = session.get("slow?ms=3000").send().await.unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    let e = session
        .get("slow?ms=3000")
        .timeout(Duration::from_millis(100))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_timeout());
}

#[tokio::test]
async fn a_request_timeout_longer_than_the_sessions_is_honoured() {
    // The session's timeout is the client's own; a request's overrides it either way.
    let s = TestServer::http().await;
    let session = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .timeout(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    let r = session
        .get("slow?ms=800")
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(session.get("slow?ms=800").send().await.unwrap_err().is_timeout());
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let session = Session::builder().build().unwrap();
    let e = session
        .get(&format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_transport(), "{e:?}");
}

#[test]
fn bad_builder_input_is_a_config_error_not_a_panic() {
    for bad in ["not a url", "ftp://x/", "https://h/p?q=1", "mailto:a@b"] {
        let e = Session::builder().base_url(bad).unwrap_err();
        assert!(e.is_config(), "{bad}: {e:?}");
    }
    let session = Session::builder().build().unwrap();
    let e = sesame::blocking::block_on(async { session.get("relative/path").send().await.unwrap_err() }).unwrap();
    assert!(e.is_config() && e.to_string().contains("base_url"), "{e}");
}
