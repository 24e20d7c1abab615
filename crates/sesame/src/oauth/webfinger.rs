//! WebFinger ([RFC 7033](https://www.rfc-editor.org/rfc/rfc7033)) issuer discovery from an
//! API's base URL, as OpenID Connect Discovery §2 describes, including the ASAM ODS
//! convention of a path prefix:
//! `{base}{prefix}/.well-known/webfinger?resource={base}&rel=http://openid.net/specs/connect/1.0/issuer`.

use serde::Deserialize;
use url::Url;

use super::discovery::check_transport;
use super::{OAuthError, OAuthHttp};
use crate::Result;

/// The link relation of an OpenID issuer.
pub const ISSUER_REL: &str = "http://openid.net/specs/connect/1.0/issuer";

/// A JSON Resource Descriptor (RFC 7033 §4.4), the parts sesame reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Jrd {
    /// The subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// Links.
    #[serde(default)]
    pub links: Vec<JrdLink>,
}

/// One link of a JRD.
#[derive(Debug, Clone, Deserialize)]
pub struct JrdLink {
    /// Relation.
    pub rel: String,
    /// Target.
    #[serde(default)]
    pub href: Option<String>,
}

impl Jrd {
    /// The issuer link's target.
    pub fn issuer(&self) -> Option<&str> {
        self.links
            .iter()
            .find(|l| l.rel == ISSUER_REL)
            .and_then(|l| l.href.as_deref())
    }
}

/// The WebFinger URLs tried for a base URL and optional prefix, in order.
pub fn candidate_urls(base: &Url, prefix: Option<&str>) -> Vec<Url> {
    let resource = base.as_str().trim_end_matches('/').to_string();
    let prefix = prefix.map(|p| format!("/{}", p.trim_matches('/'))).filter(|p| p != "/");
    let mut origin = base.clone();
    origin.set_path("/");
    origin.set_query(None);
    let mut out = Vec::new();
    let mut push = |root: &str| {
        if let Ok(mut u) = Url::parse(&format!("{}/.well-known/webfinger", root.trim_end_matches('/'))) {
            u.query_pairs_mut()
                .append_pair("resource", &resource)
                .append_pair("rel", ISSUER_REL);
            if !out.contains(&u) {
                out.push(u);
            }
        }
    };
    match &prefix {
        Some(p) => {
            push(&format!("{resource}{p}"));
            push(&format!("{}{p}", origin.as_str().trim_end_matches('/')));
        }
        None => {
            push(origin.as_str());
        }
    }
    out
}

/// Finds the issuer for an API base URL.
pub async fn issuer_for(http: &OAuthHttp, base: &Url, prefix: Option<&str>, insecure: bool) -> Result<String> {
    check_transport(base, insecure, "base_url")?;
    let mut failures = Vec::new();
    for url in candidate_urls(base, prefix) {
        match http.get_json::<Jrd>(&url, None, "WebFinger").await {
            Ok(jrd) => match jrd.issuer() {
                Some(iss) => {
                    let u = Url::parse(iss)
                        .map_err(|e| OAuthError::Discovery(format!("WebFinger issuer `{iss}` is not a URL: {e}")))?;
                    check_transport(&u, insecure, "WebFinger issuer")?;
                    tracing::debug!(issuer = iss, from = %url, "WebFinger found the issuer");
                    return Ok(iss.to_string());
                }
                None => failures.push(format!("{url}: no `{ISSUER_REL}` link")),
            },
            Err(e) if e.is_timeout() => return Err(e),
            Err(e) => failures.push(format!("{url}: {e}")),
        }
    }
    Err(OAuthError::Discovery(format!(
        "WebFinger found no issuer for {base} ({}); set `issuer` in the profile, or `webfinger_prefix` if the API uses one",
        failures.join("; ")
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ods_prefix_and_plain_candidates() {
        let base = Url::parse("https://ods.example.com/api/").unwrap();
        let c = candidate_urls(&base, Some("/ods"));
        assert_eq!(
            c[0].as_str(),
            "https://ods.example.com/api/ods/.well-known/webfinger?resource=https%3A%2F%2Fods.example.com%2Fapi&rel=http%3A%2F%2Fopenid.net%2Fspecs%2Fconnect%2F1.0%2Fissuer"
        );
        assert!(
            c[1].as_str()
                .starts_with("https://ods.example.com/ods/.well-known/webfinger?")
        );
        let c = candidate_urls(&base, None);
        assert_eq!(c.len(), 1);
        assert!(
            c[0].as_str()
                .starts_with("https://ods.example.com/.well-known/webfinger?resource=")
        );
    }

    #[test]
    fn jrd_parsing_is_strict_about_the_relation() {
        let j: Jrd = serde_json::from_str(r#"{"subject":"x","links":[{"rel":"other","href":"a"},{"rel":"http://openid.net/specs/connect/1.0/issuer","href":"https://idp"}]}"#).unwrap();
        assert_eq!(j.issuer(), Some("https://idp"));
        let j: Jrd = serde_json::from_str(r#"{"links":[{"rel":"x"}]}"#).unwrap();
        assert_eq!(j.issuer(), None);
    }
}
