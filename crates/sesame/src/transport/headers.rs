//! Header values built from secrets: always marked sensitive, so that hyper's and reqwest's
//! own `Debug` (and HTTP/2 HPACK indexing) never show or keep them.

use base64::Engine;
use reqwest::header::HeaderValue;

/// A sensitive `Basic` header value ([RFC 7617 §2](https://www.rfc-editor.org/rfc/rfc7617#section-2)):
/// `user:password`, base64. Used by the `basic` and `netrc` credentials and by an OAuth
/// client authenticating with `client_secret_basic` (RFC 6749 §2.3.1, whose form-encoding of
/// the two parts is the caller's).
pub(crate) fn basic_header(user: &str, password: &str) -> HeaderValue {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut v = HeaderValue::from_str(&format!("Basic {encoded}")).expect("base64 is a valid header value");
    v.set_sensitive(true);
    v
}
