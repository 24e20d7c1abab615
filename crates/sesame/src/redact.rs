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

/// The secrets one request sent (client secret, password, refresh token, code, bearer
/// token, Basic credentials …), to be masked in whatever sesame builds from the reply.
///
/// A server may echo the request in an error (a debugging proxy, a misconfigured gateway,
/// a hostile endpoint): its text goes into sesame's error values, which end up on
/// terminals and in CI logs. sesame knows every secret it sent, so each is replaced by
/// `[redacted]` in the forms a server is likely to echo: as sent, form-urlencoded,
/// percent-encoded, base64 (the Basic header) and JSON-escaped. Values shorter than
/// [`SecretMask::MIN_LEN`] are not masked: masking `"a"` would garble every message and
/// such a value protects nothing anyway.
#[derive(Clone, Default)]
pub struct SecretMask {
    needles: Vec<String>,
}

impl std::fmt::Debug for SecretMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretMask({} forms)", self.needles.len())
    }
}

impl SecretMask {
    /// The shortest value that is masked.
    pub const MIN_LEN: usize = 4;

    /// An empty mask.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether nothing is masked.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    fn push(&mut self, v: String) {
        if v.len() >= Self::MIN_LEN && !self.needles.contains(&v) {
            self.needles.push(v);
            // Longest first, so that a form containing another is replaced whole.
            self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        }
    }

    /// Masks `secret` and its encoded forms.
    pub fn add(&mut self, secret: &str) {
        use base64::Engine;
        if secret.len() < Self::MIN_LEN {
            return;
        }
        self.push(secret.to_string());
        self.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
        self.push(percent_encode(secret));
        self.push(base64::engine::general_purpose::STANDARD.encode(secret));
        self.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret));
        if let Ok(j) = serde_json::to_string(secret) {
            let j = j.trim_matches('"').to_string();
            // Some serializers (PHP's json_encode) also escape `/`.
            self.push(j.replace('/', "\\/"));
            self.push(j);
        }
    }

    /// Masks the Basic credentials `user:password`: the password, and the base64 of the
    /// pair both as is and form-urlencoded first (RFC 6749 §2.3.1 clients).
    pub fn add_basic(&mut self, user: &str, password: &str) {
        use base64::Engine;
        self.add(password);
        let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        for pair in [format!("{user}:{password}"), format!("{}:{}", enc(user), enc(password))] {
            self.push(base64::engine::general_purpose::STANDARD.encode(pair));
        }
    }

    /// Masks the secret parts of a credential header value: the whole value, and the
    /// credentials after an auth scheme (`Bearer x`, `Basic x`), decoded Basic included.
    pub fn add_header_value(&mut self, value: &[u8]) {
        use base64::Engine;
        let Ok(v) = std::str::from_utf8(value) else {
            return;
        };
        let v = v.trim();
        self.add(v);
        if let Some((scheme, cred)) = v.split_once(' ') {
            let cred = cred.trim();
            self.add(cred);
            if scheme.eq_ignore_ascii_case("basic")
                && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(cred)
                && let Ok(pair) = String::from_utf8(raw)
                && let Some((user, pw)) = pair.split_once(':')
            {
                self.add_basic(user, pw);
            }
        }
    }

    /// A mask of each value of `headers` and its secret parts ([`add_header_value`](Self::add_header_value)).
    pub fn of_header_values(headers: &HeaderMap) -> Self {
        let mut mask = SecretMask::new();
        for v in headers.values() {
            mask.add_header_value(v.as_bytes());
        }
        mask
    }

    /// Masks every header value that is marked sensitive or carries a credential by name.
    pub fn add_headers(&mut self, headers: &HeaderMap) {
        for (name, value) in headers {
            if value.is_sensitive() || is_sensitive_header(name, &[]) {
                self.add_header_value(value.as_bytes());
            }
        }
    }

    /// Adds every form of another mask.
    pub fn extend(&mut self, other: &SecretMask) {
        for n in &other.needles {
            self.push(n.clone());
        }
    }

    /// `text` with every masked form replaced by `[redacted]`.
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for n in &self.needles {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), "[redacted]");
            }
        }
        out
    }

    /// [`mask`](Self::mask) on bytes that are UTF-8; other bytes are returned as they are
    /// (they are only ever summarized by type and size).
    pub fn mask_bytes<'a>(&self, body: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        match std::str::from_utf8(body) {
            Ok(t) if !self.is_empty() && self.needles.iter().any(|n| t.contains(n.as_str())) => {
                std::borrow::Cow::Owned(self.mask(t).into_bytes())
            }
            _ => std::borrow::Cow::Borrowed(body),
        }
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
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

    #[test]
    fn a_mask_hides_every_encoding_of_what_was_sent() {
        use base64::Engine;
        let mut m = SecretMask::new();
        m.add_basic("cli ent", "s3cr et/+=");
        m.add("rt-refresh-1");
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let echoed = format!(
            "client_secret=s3cr+et%2F%2B%3D&x=s3cr%20et%2F%2B%3D Basic {} Basic {} raw s3cr et/+= json s3cr et\\/+= rt-refresh-1 {}",
            b64("cli ent:s3cr et/+="),
            b64("cli+ent:s3cr+et%2F%2B%3D"),
            b64("rt-refresh-1"),
        );
        let out = m.mask(&echoed);
        for leak in [
            "s3cr",
            "rt-refresh-1",
            &b64("cli ent:s3cr et/+=")[..12],
            &b64("rt-refresh-1"),
        ] {
            assert!(!out.contains(leak), "{leak} in {out}");
        }
        assert!(out.contains("client_secret=[redacted]"), "{out}");
        let mut h = SecretMask::new();
        h.add_header_value(format!("Basic {}", b64("bob:hunter22")).as_bytes());
        assert_eq!(h.mask("pw hunter22"), "pw [redacted]");
        assert!(!format!("{h:?}").contains("hunter"));
        let mut short = SecretMask::new();
        short.add("abc");
        assert_eq!(short.mask("abc"), "abc", "too short to mask");
    }
}
