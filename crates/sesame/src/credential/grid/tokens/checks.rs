//! What makes a discovered token usable: the WLCG Bearer Token Discovery text (whitespace,
//! empty, RFC 6750 syntax) and, for JWTs, the WLCG/SciTokens claims (`exp`, `aud`, `scope`).
//!
//! Claims are read here without verifying the signature: these checks only avoid sending a
//! token the server would refuse anyway (expired, meant for another service, lacking the
//! needed scope, from an issuer not in `trusted_issuers`), and cost no network. When the
//! profile sets `verify_signature = true`, a token that passes them is then verified
//! against its issuer's keys ([`super::verify`]) before it is used; otherwise the server
//! remains the only one that verifies it, and `trusted_issuers` selects tokens rather than
//! proving where they came from.

use std::time::Duration;

use serde_json::{Map, Value};
use url::Url;

/// Audiences that mean "any relying party" (WLCG JWT profile and SciTokens).
pub const ANY_AUDIENCES: &[&str] = &["ANY", "https://wlcg.cern.ch/jwt/v1/any"];

/// Strips leading and trailing whitespace as C99 `isspace` defines it (space, `\f`, `\n`,
/// `\r`, `\t`, `\v`) — `char::is_ascii_whitespace` leaves `\v` in.
pub fn strip_isspace(s: &str) -> &str {
    s.trim_matches(|c: char| matches!(c, ' ' | '\x0c' | '\n' | '\r' | '\t' | '\x0b'))
}

/// Whether `token` is a `b64token` (RFC 6750 §2.1):
/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'))
}

/// A required capability: `authz` and, for path-scoped ones, `:/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredScope {
    authz: String,
    path: Option<String>,
    text: String,
}

impl RequiredScope {
    /// Parses `storage.read:/data` (or a scope without a path such as `compute.create`).
    /// A path must be absolute and free of `..`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let text = s.trim().to_string();
        if text.is_empty() || text.contains(char::is_whitespace) {
            return Err(format!(
                "required scope `{s}` must be one scope such as `storage.read:/data`"
            ));
        }
        let (authz, path) = match text.split_once(':') {
            Some((a, p)) => (
                a.to_string(),
                Some(normalize_path(p).ok_or_else(|| {
                    format!("required scope `{s}`: the path must start with `/` and contain no `..` or `.` segments")
                })?),
            ),
            None => (text.clone(), None),
        };
        if authz.is_empty() {
            return Err(format!("required scope `{s}` has no capability before `:`"));
        }
        Ok(RequiredScope { authz, path, text })
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether one granted scope (from the token's `scope` claim) covers this requirement:
    /// the same capability and, for paths, a prefix on segment boundaries
    /// (`storage.read:/data` covers `/data` and `/data/run1`, not `/database`).
    /// Granted paths with `..` never match.
    pub fn granted_by(&self, granted: &str) -> bool {
        let (authz, path) = match granted.split_once(':') {
            Some((a, p)) => (a, Some(p)),
            None => (granted, None),
        };
        if authz != self.authz {
            return false;
        }
        match (&self.path, path) {
            (None, None) => true,
            (Some(want), Some(have)) => match normalize_path(have) {
                Some(have) => path_covers(&have, want),
                None => false,
            },
            _ => false,
        }
    }
}

impl std::fmt::Display for RequiredScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// `/a//b/` → `/a/b`; `None` for relative paths and `.`/`..` segments.
fn normalize_path(p: &str) -> Option<String> {
    if !p.starts_with('/') {
        return None;
    }
    let mut out = String::new();
    for seg in p.split('/').filter(|s| !s.is_empty()) {
        if seg == ".." || seg == "." {
            return None;
        }
        out.push('/');
        out.push_str(seg);
    }
    if out.is_empty() {
        out.push('/');
    }
    Some(out)
}

/// Whether normalized path `have` is `want` or one of its ancestors.
fn path_covers(have: &str, want: &str) -> bool {
    have == "/" || want == have || want.strip_prefix(have).is_some_and(|rest| rest.starts_with('/'))
}

/// What to check a JWT against.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// The token must have more than this left.
    pub min_valid: Duration,
    /// The request URL, for `aud`; `None` skips the audience check (unless `audiences`).
    pub url: Option<&'a Url>,
    /// The audiences accepted instead of the URL's `scheme://host` (`token_audience`);
    /// empty: the URL's.
    pub audiences: &'a [String],
    /// Capabilities the token must grant.
    pub scopes: &'a [RequiredScope],
    /// Now, Unix seconds.
    pub now: i64,
}

/// Why a JWT is not usable, or `None` if it is. Opaque tokens (`claims` is `None`) pass.
pub fn rejection(claims: Option<&Map<String, Value>>, want: &Expectations<'_>) -> Option<String> {
    let claims = claims?;
    if let Some(exp) = claims.get("exp") {
        let Some(exp) = exp.as_f64() else {
            return Some("JWT `exp` claim is not a number".into());
        };
        let left = exp as i64 - want.now;
        let min = want.min_valid.as_secs() as i64;
        if left <= 0 {
            return Some(format!("JWT expired {} s ago", -left));
        }
        if left <= min {
            return Some(format!("JWT expires in {left} s, within min_valid ({min} s)"));
        }
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64) {
        // A minute of clock skew is tolerated.
        if nbf as i64 > want.now + 60 {
            return Some(format!("JWT is not valid before {} (nbf); check the clock", nbf as i64));
        }
    }
    if let Some(reason) = audience_rejection(claims, want.url, want.audiences) {
        return Some(reason);
    }
    if !want.scopes.is_empty() {
        let granted: Vec<&str> = match claims.get("scope").or_else(|| claims.get("scp")) {
            Some(Value::String(s)) => s.split_whitespace().collect(),
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for need in want.scopes {
            if !granted.iter().any(|g| need.granted_by(g)) {
                return Some(if granted.is_empty() {
                    format!("JWT has no scope; {need} is required")
                } else {
                    format!("JWT scope `{}` does not grant {need}", granted.join(" "))
                });
            }
        }
    }
    None
}

/// Why a JWT's `aud` does not fit, or `None` if it does (or the JWT has none): it must
/// name one of `audiences` or, with none given, the `scheme://host` of `url` (no URL and no
/// audiences: no check), or an "any" audience.
pub fn audience_rejection(claims: &Map<String, Value>, url: Option<&Url>, audiences: &[String]) -> Option<String> {
    let aud = claims.get("aud").filter(|a| !a.is_null())?;
    let accepted = if audiences.is_empty() {
        accepted_audiences(url?)
    } else {
        audiences.to_vec()
    };
    let auds: Vec<&str> = match aud {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => return Some("JWT `aud` claim is neither a string nor a list".into()),
    };
    if auds
        .iter()
        .any(|a| ANY_AUDIENCES.contains(a) || accepted.iter().any(|x| x == a))
    {
        return None;
    }
    let named: Vec<String> = auds.iter().map(|a| printable(a)).collect();
    Some(format!(
        "JWT audience {} does not include {} or ANY",
        serde_json::to_string(&named).unwrap_or_default(),
        if audiences.is_empty() {
            accepted
                .first()
                .cloned()
                .unwrap_or_else(|| "the request's scheme://host".into())
        } else {
            format!(
                "token_audience {}",
                serde_json::to_string(audiences).unwrap_or_default()
            )
        }
    ))
}

/// Why a token's issuer is not acceptable, or `None` if it is: with `trusted` non-empty, a
/// JWT whose `iss` is not in the list (trailing `/` ignored), or an opaque token (whose
/// issuer cannot be known), is passed over.
pub fn issuer_rejection(claims: Option<&Map<String, Value>>, trusted: &[String]) -> Option<String> {
    if trusted.is_empty() {
        return None;
    }
    let Some(claims) = claims else {
        return Some("not a JWT (an opaque token): its issuer cannot be checked against trusted_issuers".into());
    };
    let Some(iss) = claims.get("iss").and_then(Value::as_str) else {
        return Some("JWT has no `iss` claim, and trusted_issuers is set".into());
    };
    let norm = iss.trim_end_matches('/');
    if trusted.iter().any(|t| t.trim_end_matches('/') == norm) {
        return None;
    }
    Some(format!("JWT issuer `{}` is not in trusted_issuers", printable(iss)))
}

/// Text from an unverified token, safe to print: no control characters, at most 200 chars.
pub(crate) fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// The audiences a relying party at `url` accepts: `scheme://host` (the WLCG recommendation,
/// port dropped) and, when the URL names a non-default port, `scheme://host:port` (the
/// RFC 3986 normalized form some services use).
pub fn accepted_audiences(url: &Url) -> Vec<String> {
    let Some(host) = url.host_str() else {
        return Vec::new();
    };
    let mut v = vec![format!("{}://{host}", url.scheme())];
    if let Some(port) = url.port() {
        v.push(format!("{}://{host}:{port}", url.scheme()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isspace_includes_vertical_tab() {
        assert_eq!(strip_isspace("\x0b\x0c \t\r\ntok\n\x0b"), "tok");
        assert_eq!(strip_isspace(" \n "), "");
    }

    #[test]
    fn b64token_syntax() {
        assert!(is_b64token("abc.DEF-_~+/=="));
        assert!(!is_b64token("a b"));
        assert!(!is_b64token("=="));
        assert!(!is_b64token("a\"b"));
    }

    #[test]
    fn scope_paths_on_segment_boundaries() {
        let need = RequiredScope::parse("storage.read:/data").unwrap();
        assert!(need.granted_by("storage.read:/"));
        assert!(need.granted_by("storage.read:/data"));
        assert!(need.granted_by("storage.read:/data/"));
        assert!(!need.granted_by("storage.read:/database"));
        assert!(!need.granted_by("storage.read:/data/sub"));
        assert!(!need.granted_by("storage.create:/data"));
        assert!(!need.granted_by("storage.read:/other/../data"));
        assert!(!need.granted_by("storage.read"));
        let sub = RequiredScope::parse("storage.read:/data/run1/f.root").unwrap();
        assert!(sub.granted_by("storage.read:/data"));
        assert!(RequiredScope::parse("storage.read:/data/../etc").is_err());
        assert!(RequiredScope::parse("storage.read:data").is_err());
        assert!(RequiredScope::parse("a b").is_err());
        assert!(
            RequiredScope::parse("compute.create")
                .unwrap()
                .granted_by("compute.create")
        );
    }

    #[test]
    fn token_audience_replaces_the_url_audience() {
        let claims = |aud: Value| serde_json::json!({ "aud": aud }).as_object().unwrap().clone();
        let u = Url::parse("https://se.example.org/x").unwrap();
        let want = vec!["https://gracedb.example".to_string()];
        let c = claims(Value::from("https://gracedb.example"));
        assert_eq!(audience_rejection(&c, Some(&u), &want), None);
        assert!(audience_rejection(&c, Some(&u), &[]).is_some(), "not the URL's origin");
        assert_eq!(audience_rejection(&c, None, &want), None, "no URL needed");
        let other = claims(serde_json::json!(["https://se.example.org"]));
        let why = audience_rejection(&other, Some(&u), &want).unwrap();
        assert!(why.contains("token_audience"), "{why}");
        assert_eq!(audience_rejection(&claims(Value::from("ANY")), None, &want), None);
        assert_eq!(audience_rejection(&claims(Value::Null), None, &want), None);
        assert_eq!(audience_rejection(&other, None, &[]), None, "nothing to check against");
    }

    #[test]
    fn audiences() {
        let u = Url::parse("https://se.example.org:8443/x").unwrap();
        assert_eq!(
            accepted_audiences(&u),
            ["https://se.example.org", "https://se.example.org:8443"]
        );
        let u = Url::parse("https://se.example.org/x").unwrap();
        assert_eq!(accepted_audiences(&u), ["https://se.example.org"]);
    }
}
