//! A path refused for its encoded separators or dot-segments is logged at debug level with
//! the reason. Alone in its binary for the reason given in `retry_logging.rs`: tracing
//! caches each call site's interest process-wide, and other tests hitting the same call
//! site on threads without a subscriber would race with this one.

use sesame::{CredentialScope, Url};

#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn encoded_separator_refusal_is_logged_with_its_reason() {
    let log = Captured::default();
    let w = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || w.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let scope = CredentialScope::from_base(&Url::parse("https://h.example/api/").unwrap()).unwrap();
    assert!(!scope.covers(&Url::parse("https://h.example/api/..%2Fother/steal?access_token=s3cret").unwrap()));
    assert!(!scope.covers(&Url::parse("https://h.example/api/..;/other").unwrap()));
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("no credential"), "{text}");
    assert!(text.contains("%2F"), "the reason names the encoded separator: {text}");
    assert!(text.contains("dot-segment"), "the reason names the dot-segment: {text}");
    assert!(!text.contains("s3cret"), "the URL is redacted: {text}");
}
