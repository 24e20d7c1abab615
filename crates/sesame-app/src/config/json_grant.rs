//! `auth = "json-grant"`: a token service that is not an OAuth token endpoint (ITk's
//! `POST …/grantToken` with two access codes), configured by `grant_endpoint`,
//! `grant_body`, `token_field` and `expires_field`, behind the same token cache and
//! renewal as the OAuth kinds.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;

use super::secret_source::SecretSource;
use super::{AuthKind, BuildOptions, ResolvedProfile};
use sesame::credential::OAuth;
use sesame::oauth::custom_grant::CustomJsonGrant;
use sesame::token::{CacheKey, RenewPolicy, SecretBinding, TokenSource};
use sesame::{Error, Result};

/// The members of the JSON body, by name.
pub type GrantBody = BTreeMap<String, GrantValue>;

/// One member of `grant_body`.
#[derive(Clone, PartialEq)]
pub enum GrantValue {
    /// A string: written as it is (`grant_type = "password"`), or read from a secret source
    /// (`accessCode1 = { env = "ITK_ACCESS_CODE1" }`).
    Text(SecretSource),
    /// A number or a boolean, sent as JSON.
    Plain(Value),
}

/// As the file writes it: a secret source as `SecretSource` writes it, a number or
/// boolean as itself.
impl serde::Serialize for GrantValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            GrantValue::Text(source) => source.serialize(s),
            GrantValue::Plain(v) => v.serialize(s),
        }
    }
}

impl fmt::Debug for GrantValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A literal string may be a secret too: `SecretSource` redacts it.
            GrantValue::Text(s) => s.fmt(f),
            GrantValue::Plain(v) => write!(f, "{v}"),
        }
    }
}

impl<'de> Deserialize<'de> for GrantValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // Tables are secret sources (with SecretSource's own messages for typos such as
        // `{ evn = … }`); strings, numbers and booleans are values.
        let v = toml::Value::deserialize(d)?;
        match v {
            toml::Value::String(s) => Ok(GrantValue::Text(SecretSource::Literal(s))),
            toml::Value::Integer(i) => Ok(GrantValue::Plain(Value::from(i))),
            toml::Value::Float(x) => Ok(GrantValue::Plain(Value::from(x))),
            toml::Value::Boolean(b) => Ok(GrantValue::Plain(Value::Bool(b))),
            t @ toml::Value::Table(_) => SecretSource::deserialize(t)
                .map(GrantValue::Text)
                .map_err(|e| de::Error::custom(e.message())),
            other => Err(de::Error::custom(format!(
                "a grant_body value is a string, a number, a boolean or a secret source ({{ env = \"VAR\" }}, {{ file = \"path\" }}, {{ keyring = \"service:user\" }}), not a {}",
                other.type_str()
            ))),
        }
    }
}

/// `token_field`/`expires_field` as an RFC 6901 pointer: a pointer as it is, a dotted
/// field (`data.token`) split into members.
pub fn pointer(field: &str) -> String {
    if field.starts_with('/') {
        return field.to_string();
    }
    field
        .split('.')
        .map(|m| format!("/{}", m.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The body with its secrets read. `Err` names the member, never its value.
fn read_body(body: &GrantBody) -> Result<Value> {
    let mut out = serde_json::Map::new();
    for (k, v) in body {
        let value = match v {
            GrantValue::Text(src) => {
                Value::String(src.resolve(&format!("grant_body.{k}"))?.expose_secret().to_string())
            }
            GrantValue::Plain(v) => v.clone(),
        };
        out.insert(k.clone(), value);
    }
    Ok(Value::Object(out))
}

/// The credential of `auth = "json-grant"`.
pub(crate) fn credential(resolved: &ResolvedProfile, opts: &BuildOptions) -> Result<OAuth> {
    let p = &resolved.profile;
    let name = &resolved.name;
    let kind = AuthKind::JsonGrant;
    // Everything is checked here, before anything is sent or read.
    let raw = p.grant_endpoint.as_deref().ok_or_else(|| {
        Error::config(format!(
            "profile `{name}` uses auth = \"{kind}\" but has no `grant_endpoint` (the URL the grant body is POSTed to)"
        ))
    })?;
    let endpoint = url::Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http"))
        .ok_or_else(|| {
            Error::config(format!(
                "profile `{name}`: grant_endpoint `{raw}` is not an http(s) URL"
            ))
        })?;
    if endpoint.scheme() == "http"
        && !sesame::scope::is_loopback(&endpoint)
        && p.insecure != Some(true)
        && p.allow_http != Some(true)
    {
        return Err(Error::config(format!(
            "profile `{name}`: grant_endpoint `{raw}` is plain http to a host that is not loopback; the grant body's secrets would cross the network readable (use https, or set allow_http)"
        )));
    }
    let body = p.grant_body.clone().unwrap_or_default();
    if body.is_empty() {
        return Err(Error::config(format!(
            "profile `{name}` uses auth = \"{kind}\" but has no `grant_body` (the JSON members to send, e.g. grant_type and the access codes)"
        )));
    }
    let token_pointer = pointer(p.token_field.as_deref().unwrap_or("id_token"));
    let expires_pointer = pointer(p.expires_field.as_deref().unwrap_or("expires_in"));
    let http = super::oauth::provider_source(resolved)?.http()?;
    let read = body.clone();
    let grant = CustomJsonGrant::deferred(
        http,
        endpoint.clone(),
        move || {
            read_body(&read).map_err(|e| {
                super::oauth::needed_for(
                    e,
                    "a new token must be obtained from the grant endpoint, and that needs the grant body",
                )
            })
        },
        token_pointer,
    )
    .expires_in_at(expires_pointer);
    // The key names the endpoint; the body (with its access codes) is bound by a keyed
    // fingerprint, so a token obtained with other codes is never this profile's.
    let key = CacheKey::new(endpoint.as_str(), "", kind.as_str(), &[], &[], None).with_client_secret(
        SecretBinding::new(move || read_body(&body).ok().map(|v| SecretString::from(v.to_string()))),
    );
    let store = match &opts.store {
        Some(s) => s.clone(),
        None if p.cache.as_deref() == Some("openbao") => {
            return Err(Error::config(format!(
                "profile `{}`: cache = \"openbao\" shares the tokens of the OAuth kinds (client-credentials, password, oidc, device), not of json-grant; use file, keyring or memory",
                resolved.name
            )));
        }
        None => super::oauth::store_for(p.cache.as_deref())?,
    };
    let policy = RenewPolicy {
        renew_before: Duration::from_secs(p.renew_before.unwrap_or(60)),
        ..RenewPolicy::default()
    };
    let source = TokenSource::builder(key, Arc::new(grant))
        .store(store)
        .policy(policy)
        .build();
    Ok(OAuth::new(kind.as_str(), source, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_pointers() {
        assert_eq!(pointer("id_token"), "/id_token");
        assert_eq!(pointer("/a/b"), "/a/b");
        assert_eq!(pointer("data.token"), "/data/token");
        assert_eq!(pointer("a/b"), "/a~1b");
    }

    #[test]
    fn body_values_parse_and_never_show_literals() {
        let body: GrantBody = toml::from_str(
            r#"
            grant_type = "password"
            accessCode1 = { env = "ITK_CODE1" }
            accessCode2 = { file = "~/codes/2" }
            n = 3
            "#,
        )
        .unwrap();
        assert_eq!(
            body["accessCode1"],
            GrantValue::Text(SecretSource::Env("ITK_CODE1".into()))
        );
        assert_eq!(body["n"], GrantValue::Plain(Value::from(3)));
        assert!(!format!("{body:?}").contains("password"));
        let e = toml::from_str::<GrantBody>("a = { evn = \"X\" }").unwrap_err();
        assert!(e.to_string().contains("did you mean `env`"), "{e}");
        assert!(toml::from_str::<GrantBody>("a = [1]").is_err());
    }
}
