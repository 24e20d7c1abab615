//! Where a credential may be sent (docs/session-rules.md#credential-scope): the base URL's origin — scheme, host and
//! port (RFC 6454) — and path prefix, on segment boundaries.
//!
//! `https://api.example.com/v1/` covers `https://api.example.com/v1` and
//! `https://api.example.com/v1/users`, but not `https://api.example.com/v1x`,
//! `http://api.example.com/v1/` (another scheme), `https://api.example.com:8443/v1/`
//! (another port) or `https://localhost/v1/` for a base on `127.0.0.1` (another host:
//! names are compared as written, never resolved).
//!
//! The path is judged the way the server may read it, not only as written: servers and
//! proxies (nginx, Python's `http.server`, Tomcat, IIS) decode `%2F`, `%5C` and `%2E`
//! and honour `;` path parameters *before* they resolve dot-segments and route. So
//! `/api/..%2Fother` — under `/api/` as written — is `/other` to nginx. Below a path
//! prefix, a path is covered only if it has no encoded separator (`%2F`, `%5C`), no
//! dot-segment that survived URL parsing (`%2E%2E`, `.%2e`, `..;x`) and its decoded
//! segments start with the prefix's (see docs/design/origin-scoping.md).

use url::{Host, Url};

/// The origin and path prefix a credential is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    scheme: String,
    host: Host<String>,
    port: Option<u16>,
    /// Path prefix without a trailing slash; empty means the whole origin.
    prefix: String,
}

impl CredentialScope {
    /// The scope of a base URL: its origin and its path (up to the last `/`, so that
    /// `https://h/api/v1/` and `https://h/api/v1` both scope to `/api/v1`).
    pub fn from_base(base: &Url) -> Option<Self> {
        let host = base.host()?.to_owned();
        let mut prefix = base.path().to_string();
        while prefix.ends_with('/') {
            prefix.pop();
        }
        Some(CredentialScope {
            scheme: base.scheme().to_ascii_lowercase(),
            host,
            port: base.port_or_known_default(),
            prefix,
        })
    }

    /// A scope covering a whole origin, whatever the path.
    pub fn origin_of(url: &Url) -> Option<Self> {
        let mut s = Self::from_base(url)?;
        s.prefix.clear();
        Some(s)
    }

    /// Whether `url` has the same origin (scheme, host, port).
    pub fn same_origin(&self, url: &Url) -> bool {
        url.scheme().eq_ignore_ascii_case(&self.scheme)
            && url.host().is_some_and(|h| same_host(&h, &self.host))
            && url.port_or_known_default() == self.port
    }

    /// Whether a credential may be sent to `url`: same origin, and a path equal to the
    /// prefix or below it on a `/` boundary, however a server decodes it.
    pub fn covers(&self, url: &Url) -> bool {
        match self.judge(url) {
            Ok(()) => true,
            Err(OutOfScope::AmbiguousPath(why)) => {
                tracing::debug!(
                    url = %crate::redact::redact_url(url),
                    reason = why,
                    "no credential: the path may leave the scope once the server decodes it"
                );
                false
            }
            Err(_) => false,
        }
    }

    /// Why `url` is outside the scope, if it is.
    pub fn judge(&self, url: &Url) -> Result<(), OutOfScope> {
        if !self.same_origin(url) {
            return Err(OutOfScope::Origin);
        }
        // With the whole origin in scope there is no prefix to climb out of: an encoded
        // separator only moves within the origin.
        if self.prefix.is_empty() {
            return Ok(());
        }
        let path = url.path();
        // The common case, on every request: nothing encoded and no `;` parameters, so the
        // path reads the same to every server (the URL parser has resolved literal dot
        // segments and turned `\` into `/`): a segment-boundary prefix match, no allocation.
        if !path.contains(['%', ';']) && !self.prefix.contains(['%', ';']) {
            return match path.strip_prefix(self.prefix.as_str()) {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => Ok(()),
                _ => Err(OutOfScope::Path),
            };
        }
        let segments = decoded_segments(path).map_err(OutOfScope::AmbiguousPath)?;
        // The prefix is the base URL's own path: decoded the same way, so `/my%20api/`
        // matches itself. A base whose path is itself ambiguous covers nothing.
        let prefix = decoded_segments(&self.prefix).map_err(OutOfScope::AmbiguousPath)?;
        if segments.len() >= prefix.len() && segments[..prefix.len()] == prefix[..] {
            Ok(())
        } else {
            Err(OutOfScope::Path)
        }
    }

    /// `scheme://host[:port]` of the scope.
    pub fn origin_string(&self) -> String {
        let default = match self.scheme.as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        };
        match self.port {
            Some(p) if Some(p) != default => format!("{}://{}:{}", self.scheme, self.host, p),
            _ => format!("{}://{}", self.scheme, self.host),
        }
    }

    /// The path prefix (no trailing slash; empty for the whole origin).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// `a == b` without copying `a` (this runs on every request).
fn same_host(a: &Host<&str>, b: &Host<String>) -> bool {
    match (a, b) {
        (Host::Domain(a), Host::Domain(b)) => *a == b.as_str(),
        (Host::Ipv4(a), Host::Ipv4(b)) => a == b,
        (Host::Ipv6(a), Host::Ipv6(b)) => a == b,
        _ => false,
    }
}

/// Whether `url`'s host is loopback as written: 127.0.0.0/8, `::1` or `localhost` (no
/// DNS). Plain `http://` is accepted for these only — traffic that never leaves the
/// machine — by the issuer rule and the session's base URL rule alike.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Why a URL is outside a [`CredentialScope`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfScope {
    /// Another scheme, host or port.
    Origin,
    /// Same origin, but the path is not under the prefix.
    Path,
    /// The path holds an encoded separator or a dot-segment a server may resolve after
    /// decoding, so where it lands depends on the server: not covered.
    AmbiguousPath(&'static str),
}

/// The path's segments, percent-decoded, or why the path is ambiguous. A path that
/// survived URL parsing (which resolves literal `.`/`..` and their `%2e` spellings) can
/// still be read differently by a server that decodes before it splits: an encoded `/` or
/// `\` makes new segments, and a dot-segment with `;` parameters (`..;`) is `..` to
/// Tomcat-style servers. Those paths are refused rather than guessed at.
fn decoded_segments(path: &str) -> Result<Vec<Vec<u8>>, &'static str> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let mut out = Vec::new();
    for raw in path.split('/') {
        let seg = percent_decode(raw.as_bytes());
        if seg.iter().any(|&b| b == b'/' || b == b'\\') {
            return Err("an encoded `/` or `\\` (%2F, %5C) in the path");
        }
        // Path parameters (`;jsessionid=…`) are dropped by servers that honour them.
        let name = match seg.iter().position(|&b| b == b';') {
            Some(i) => &seg[..i],
            None => &seg[..],
        };
        if name == b"." || name == b".." {
            return Err("a dot-segment (encoded as %2E, or with `;` parameters) in the path");
        }
        out.push(seg);
    }
    Ok(out)
}

/// `%XX` → byte; anything else (including a malformed `%`) stays as it is.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && let (Some(h), Some(l)) = (s.get(i + 1).and_then(|&b| hex(b)), s.get(i + 2).and_then(|&b| hex(b)))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(s: &str) -> CredentialScope {
        CredentialScope::from_base(&Url::parse(s).unwrap()).unwrap()
    }
    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn prefix_matches_on_segment_boundaries() {
        let s = scope("https://h.example/api/");
        assert!(s.covers(&u("https://h.example/api")));
        assert!(s.covers(&u("https://h.example/api/")));
        assert!(s.covers(&u("https://h.example/api/x/y?q=1")));
        assert!(!s.covers(&u("https://h.example/apix")));
        assert!(!s.covers(&u("https://h.example/")));
        assert!(!s.covers(&u("https://h.example/other/api")));
    }

    #[test]
    fn dot_segments_cannot_escape_the_prefix() {
        let s = scope("https://h.example/api/");
        // The URL parser resolves `..` before we compare.
        assert!(!s.covers(&u("https://h.example/api/../admin")));
    }

    #[test]
    fn encoded_slash_dot_segment_is_out_of_scope() {
        let s = scope("http://h.example/api/");
        for path in [
            "/api/..%2Fother/steal",
            "/api/..%2fother/steal",
            "/api/..%5Cother/steal",
            "/api/..%5cother/steal",
            "/api/%2E%2E%2Fother/steal",
            "/api/%2e%2e%2fother/steal",
            "/api/%2e%2e/other/steal",
            "/api/.%2e/other/steal",
            "/api/..;/other/steal",
            "/api/..;x=1/other/steal",
            "/api/%2E%2E;/other/steal",
            "/api/a%2Fb",
        ] {
            let url = u(&format!("http://h.example{path}"));
            assert!(!s.covers(&url), "{path} (parsed as {}) must not be covered", url.path());
        }
        assert!(matches!(
            s.judge(&u("http://h.example/api/..%2Fother")),
            Err(OutOfScope::AmbiguousPath(_))
        ));
        // What stays covered: plain paths, encoded characters that are not separators,
        // and `;` parameters on ordinary segments.
        assert!(s.covers(&u("http://h.example/api/a%20b")));
        assert!(s.covers(&u("http://h.example/api/..x/y")));
        assert!(s.covers(&u("http://h.example/api/x;v=1/y")));
        assert!(
            s.covers(&u("http://h.example/%61pi/x")),
            "decoded, `/%61pi/` is `/api/`"
        );
        assert!(!s.covers(&u("http://h.example/api%2Fx")));
        // A whole-origin scope has no prefix to escape.
        let o = scope("http://h.example/");
        assert!(o.covers(&u("http://h.example/api/..%2Fother")));
    }

    #[test]
    fn percent_decode_keeps_malformed_escapes() {
        assert_eq!(percent_decode(b"a%2Fb%zz%4"), b"a/b%zz%4".to_vec());
        assert_eq!(percent_decode(b"%"), b"%".to_vec());
    }

    #[test]
    fn origin_is_scheme_host_and_port() {
        let s = scope("https://h.example/api/");
        assert!(s.covers(&u("https://h.example:443/api/x")));
        assert!(!s.covers(&u("http://h.example/api/x")));
        assert!(!s.covers(&u("https://h.example:8443/api/x")));
        assert!(!s.covers(&u("https://evil.example/api/x")));
        assert!(!s.covers(&u("https://h.example.evil.example/api/x")));
        let l = scope("http://127.0.0.1:8080/");
        assert!(!l.covers(&u("http://localhost:8080/")));
        assert!(l.covers(&u("http://127.0.0.1:8080/anything")));
        assert!(!l.covers(&u("http://127.0.0.1:8081/anything")));
    }

    #[test]
    fn host_comparison_ignores_case() {
        let s = scope("https://H.Example/api");
        assert!(s.covers(&u("https://h.example/api/1")));
        assert_eq!(s.origin_string(), "https://h.example");
    }
}
