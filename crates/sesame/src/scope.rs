//! Where a credential may be sent (SPEC §6.1): the base URL's origin — scheme, host and
//! port (RFC 6454) — and path prefix, on segment boundaries.
//!
//! `https://api.example.com/v1/` covers `https://api.example.com/v1` and
//! `https://api.example.com/v1/users`, but not `https://api.example.com/v1x`,
//! `http://api.example.com/v1/` (another scheme), `https://api.example.com:8443/v1/`
//! (another port) or `https://localhost/v1/` for a base on `127.0.0.1` (another host:
//! names are compared as written, never resolved).

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
            && url.host().map(|h| h.to_owned()).as_ref() == Some(&self.host)
            && url.port_or_known_default() == self.port
    }

    /// Whether a credential may be sent to `url`: same origin, and a path equal to the
    /// prefix or below it on a `/` boundary.
    pub fn covers(&self, url: &Url) -> bool {
        if !self.same_origin(url) {
            return false;
        }
        if self.prefix.is_empty() {
            return true;
        }
        let path = url.path();
        match path.strip_prefix(self.prefix.as_str()) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
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
