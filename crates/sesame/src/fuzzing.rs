//! Entry points for the fuzzers (`crates/sesame/fuzz`, run by `bench/fuzz.sh`) and the
//! property tests (`tests/parsers_prop.rs`): one function per parser that reads outside
//! data, fed the way the data arrives. Malformed input must give an error, never a panic.
//! Not a stable API.

pub use crate::oauth::fuzz::{discovery, jwks, token_response, uma_response, webfinger};

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// JWT claims read without verification ([`crate::token::jwt_claims`], `jwt_exp`).
pub fn jwt(data: &[u8]) -> bool {
    let t = text(data);
    let _ = crate::token::jwt_exp(&t);
    let _ = crate::token::Token::bare(t.as_ref()).valid_for(Duration::from_secs(60), 0);
    crate::token::jwt_claims(&t).is_some()
}

/// A `WWW-Authenticate` header.
pub fn www_authenticate(data: &[u8]) -> usize {
    let c = crate::credential::www_authenticate::parse(&text(data));
    for ch in &c {
        let _ = (ch.param("as_uri"), ch.param("ticket"), ch.error.as_deref());
    }
    c.len()
}

/// A netrc file.
pub fn netrc(data: &[u8]) -> bool {
    match crate::credential::Netrc::parse_str(&text(data)) {
        Ok(n) => {
            let _ = n.lookup("example.com");
            let _ = format!("{n:?}");
            true
        }
        Err(e) => {
            let _ = e.to_string();
            false
        }
    }
}

/// The error-message summarizer, with a content type chosen by the first byte.
pub fn summarize(data: &[u8]) -> usize {
    let (ct, body) = match data.split_first() {
        Some((c, rest)) => (
            [
                Some("application/json"),
                Some("text/html; charset=utf-8"),
                Some("text/plain"),
                Some("application/xml"),
                Some("application/x-protobuf"),
                None,
                Some("application/problem+json"),
                Some("image/png"),
            ][*c as usize % 8],
            rest,
        ),
        None => (None, data),
    };
    crate::message::summarize(ct, body).len()
}

/// `Retry-After`.
pub fn retry_after(data: &[u8]) -> Option<Duration> {
    crate::transport::retry::parse_retry_after(&text(data), SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
}

pub use crate::session::http_cache::fuzz_sample_entry as sample_http_cache_entry;

/// An on-disk HTTP cache entry (another process, or a damaged disk, wrote it).
pub fn http_cache_entry(data: &[u8]) -> bool {
    crate::session::http_cache::fuzz_entry(data)
}

/// One request to the loopback login listener: `data` as the query of
/// `GET /callback?…` (first byte odd) or as the whole request head (first byte even).
/// Returns the status line of the reply; `None` means no reply came (a crash of the
/// connection task shows up as that).
pub async fn loopback_callback(data: &[u8]) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::oauth::landing::LandingPages;
    use crate::oauth::loopback::{CallbackCheck, LoopbackListener};

    let l = LoopbackListener::bind("http://127.0.0.1:0/callback", &[]).await.ok()?;
    let port = l.port();
    let check = CallbackCheck {
        state: secrecy::SecretString::from("fuzz-state".to_string()),
        issuer: "https://as.example".into(),
        require_iss: false,
        pages: LandingPages::builtin(),
    };
    let wait = tokio::spawn(l.wait(check));
    let mut req = Vec::new();
    match data.split_first() {
        Some((b, rest)) if b % 2 == 1 => {
            req.extend_from_slice(b"GET /callback?");
            req.extend_from_slice(rest);
            req.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        }
        _ => {
            req.extend_from_slice(data);
            req.extend_from_slice(b"\r\n\r\n");
        }
    }
    let out = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(&req).await.ok()?;
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        let line = String::from_utf8_lossy(&buf).lines().next()?.to_string();
        Some(line)
    }
    .await;
    wait.abort();
    out
}
