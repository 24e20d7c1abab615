//! A path refused for its encoded separators or dot-segments is logged at debug level with
//! the reason. Alone in its binary for the reason given in `retry_logging.rs`: tracing
//! caches each call site's interest process-wide, and other tests hitting the same call
//! site on threads without a subscriber would race with this one.

use sesame::{CredentialScope, Url};

#[path = "support/log_capture.rs"]
mod log_capture;

#[test]
fn encoded_separator_refusal_is_logged_with_its_reason() {
    let (_guard, log) = log_capture::capture_debug();
    let scope = CredentialScope::from_base(&Url::parse("https://h.example/api/").unwrap()).unwrap();
    assert!(!scope.covers(&Url::parse("https://h.example/api/..%2Fother/steal?access_token=s3cret").unwrap()));
    assert!(!scope.covers(&Url::parse("https://h.example/api/..;/other").unwrap()));
    let text = log.text();
    assert!(text.contains("no credential"), "{text}");
    assert!(text.contains("%2F"), "the reason names the encoded separator: {text}");
    assert!(text.contains("dot-segment"), "the reason names the dot-segment: {text}");
    assert!(!text.contains("s3cret"), "the URL is redacted: {text}");
}
