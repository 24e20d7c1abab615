//! Redaction of secrets in what sesame prints or logs.
//!
//! URLs lose their query values and userinfo password; headers that can carry a
//! credential are replaced by `[redacted]`. Used by error messages and `-v` logging.

use reqwest::header::{HeaderMap, HeaderName};
use url::Url;

/// The URL with query values and any password replaced by `REDACTED` (keys kept, so the
/// message stays useful).
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("REDACTED"));
    }
    if u.query().is_some() {
        let pairs: Vec<String> = u
            .query_pairs()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.into_owned()
                } else {
                    format!("{k}=REDACTED")
                }
            })
            .collect();
        u.set_query(Some(&pairs.join("&")));
    }
    u.set_fragment(None);
    u.to_string()
}

/// Names of headers that carry credentials by convention.
const SENSITIVE: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-access-token",
    "private-token",
];

/// Whether a header (by name) is one that carries credentials, by convention or because a
/// credential of this session set it.
pub fn is_sensitive_header(name: &HeaderName, credential_headers: &[HeaderName]) -> bool {
    let n = name.as_str();
    SENSITIVE.contains(&n)
        || n.contains("token")
        || n.contains("secret")
        || n.contains("password")
        || n.contains("api-key")
        || n.contains("apikey")
        || credential_headers.contains(name)
}

/// A loggable rendering of headers, credential-bearing values replaced by `[redacted]`.
pub fn redact_headers(headers: &HeaderMap, credential_headers: &[HeaderName]) -> String {
    let mut out = String::new();
    for (name, value) in headers {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(name.as_str());
        out.push_str(": ");
        if is_sensitive_header(name, credential_headers) {
            out.push_str("[redacted]");
        } else {
            out.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_and_password_are_redacted() {
        let u = Url::parse("https://bob:hunter2@h.example/p?access_token=abc&x=1&flag#frag").unwrap();
        let r = redact_url(&u);
        assert!(!r.contains("hunter2"));
        assert!(!r.contains("abc"));
        assert!(r.contains("access_token=REDACTED"));
        assert!(r.contains("flag"));
        assert!(!r.contains("frag"));
    }

    #[test]
    fn sensitive_headers_are_masked() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer s3cret".parse().unwrap());
        h.insert("x-custom-key", "k3y".parse().unwrap());
        h.insert("accept", "application/json".parse().unwrap());
        let custom = HeaderName::from_static("x-custom-key");
        let r = redact_headers(&h, &[custom]);
        assert!(!r.contains("s3cret") && !r.contains("k3y"));
        assert!(r.contains("application/json"));
    }
}
