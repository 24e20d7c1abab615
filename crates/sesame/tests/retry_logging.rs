//! Each retry is logged at debug level, and the log carries no secret.
//!
//! This test is alone in its binary on purpose: it captures logs with a thread-local
//! subscriber (`tracing::subscriber::set_default`), and tracing caches each call site's
//! "is anyone interested" answer process-wide. When other tests in the same binary hit the
//! retry call site at the same moment on threads without a subscriber, that cached answer
//! can race with this thread's registration and the event is dropped (it failed CI once
//! that way). One test per process removes the race instead of hiding it behind a retry.

use std::time::Duration;

use sesame::Session;
use sesame::session::RetryPolicy;
use sesame::session::retry::Jitter;
use sesame_testbed::faults::FaultServer;

fn fast(n: u32) -> RetryPolicy {
    RetryPolicy::new(n)
        .base_delay(Duration::from_millis(10))
        .jitter(Jitter::None)
}

#[path = "support/log_capture.rs"]
mod log_capture;

#[test]
fn each_retry_is_logged_at_debug_level_without_secrets() {
    let (_guard, log) = log_capture::capture_debug();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let f = FaultServer::start().await;
        let s = Session::builder()
            .base_url(&f.origin())
            .unwrap()
            .credential(sesame::credential::Bearer::new("super-secret-token"))
            .retry_policy(fast(2))
            .build()
            .unwrap();
        let r = s.get("flaky?fail=2&api_key=secret-in-query").send().await.unwrap();
        assert_eq!(r.status(), 200);
    });
    let text = log.text();
    let retries: Vec<&str> = text.lines().filter(|l| l.contains("retrying")).collect();
    assert_eq!(retries.len(), 2, "{text}");
    assert!(
        retries.iter().all(|l| l.contains("DEBUG") && l.contains("HTTP 503")),
        "{text}"
    );
    assert!(!text.contains("super-secret-token"), "{text}");
    assert!(!text.contains("secret-in-query"), "{text}");
}
