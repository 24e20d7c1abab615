//! `WWW-Authenticate` challenges ([RFC 9110 §11.6.1](https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1)),
//! with the Bearer error codes of [RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)
//! (`invalid_token`, `insufficient_scope`) and UMA's `as_uri`/`ticket`.
//!
//! `Bearer realm="api", error="invalid_token", UMA as_uri="https://as", ticket="t"` is two
//! challenges. Malformed input never panics: what cannot be parsed is skipped.

/// One challenge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lower-case (`bearer`, `uma`, `basic`).
    pub scheme: String,
    /// Parameters, names lower-case, values unquoted.
    pub params: Vec<(String, String)>,
    /// The `error` parameter, if any.
    pub error: Option<String>,
}

impl Challenge {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Parses a header value into challenges.
pub fn parse(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let s: Vec<char> = header.chars().take(16 * 1024).collect();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == ',') {
            *i += 1;
        }
    };
    let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~/".contains(c);
    loop {
        skip_ws(&mut i);
        if i >= s.len() {
            break;
        }
        // a token: either a new scheme or a parameter name
        let start = i;
        while i < s.len() && is_tchar(s[i]) {
            i += 1;
        }
        if i == start {
            i += 1; // junk character: skip
            continue;
        }
        let token: String = s[start..i].iter().collect();
        let mut j = i;
        while j < s.len() && (s[j] == ' ' || s[j] == '\t') {
            j += 1;
        }
        if j < s.len() && s[j] == '=' && !out.is_empty() && !token.ends_with('=') {
            // name=value
            i = j + 1;
            while i < s.len() && (s[i] == ' ' || s[i] == '\t') {
                i += 1;
            }
            let mut value = String::new();
            if i < s.len() && s[i] == '"' {
                i += 1;
                while i < s.len() && s[i] != '"' {
                    if s[i] == '\\' && i + 1 < s.len() {
                        i += 1;
                    }
                    value.push(s[i]);
                    i += 1;
                }
                i += 1;
            } else {
                while i < s.len() && s[i] != ',' && s[i] != ' ' && s[i] != '\t' {
                    value.push(s[i]);
                    i += 1;
                }
            }
            let name = token.to_ascii_lowercase();
            let ch = out.last_mut().expect("a challenge");
            if name == "error" {
                ch.error = Some(value.clone());
            }
            ch.params.push((name, value));
        } else if j < s.len() && s[j] == '=' && out.is_empty() {
            // parameters before any scheme: malformed, skip the value
            i = j + 1;
            while i < s.len() && s[i] != ',' {
                i += 1;
            }
        } else {
            out.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                ..Default::default()
            });
            // token68 (e.g. `Negotiate abc==`) directly after the scheme is ignored.
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_errors_and_several_challenges() {
        let c = parse(
            r#"Bearer realm="api", error="insufficient_scope", scope="read write", UMA as_uri="https://as.example", ticket=abc123"#,
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].error.as_deref(), Some("insufficient_scope"));
        assert_eq!(c[0].param("scope"), Some("read write"));
        assert_eq!(c[1].scheme, "uma");
        assert_eq!(c[1].param("as_uri"), Some("https://as.example"));
        assert_eq!(c[1].param("ticket"), Some("abc123"));
    }

    #[test]
    fn quoted_escapes_and_junk() {
        let c = parse(r#"Basic realm="a \"q\" b""#);
        assert_eq!(c[0].param("realm"), Some(r#"a "q" b"#));
        for junk in [
            "",
            ",,,",
            "=",
            "=x, Bearer",
            "\"",
            "Bearer error=\"unterminated",
            "Bearer ,,, error=",
            "é=ü",
        ] {
            let _ = parse(junk);
        }
        assert_eq!(parse("Bearer")[0].scheme, "bearer");
    }
}
