//! Provider metadata: OpenID Connect Discovery 1.0 (`/.well-known/openid-configuration`,
//! with the issuer check of [§4.3](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfigurationValidation)),
//! falling back to [RFC 8414](https://www.rfc-editor.org/rfc/rfc8414#section-3)
//! (`/.well-known/oauth-authorization-server`). Results are cached per process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use url::Url;

use super::{OAuthError, OAuthHttp};
use crate::Result;

/// How long discovered metadata is reused within a process.
pub const METADATA_TTL: Duration = Duration::from_secs(3600);

/// What sesame uses from an authorization server's metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// Authorization endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// Token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// Device authorization endpoint (RFC 8628).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_endpoint: Option<String>,
    /// Revocation endpoint (RFC 7009).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// Introspection endpoint (RFC 7662).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// Userinfo endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// RP-initiated logout endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    /// Dynamic registration endpoint (RFC 7591).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// JWKS URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Supported grant types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types_supported: Vec<String>,
    /// Supported scopes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// Supported PKCE methods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code_challenge_methods_supported: Vec<String>,
    /// Supported client authentication methods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// ID token signing algorithms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// The provider puts `iss` in every authorization response (RFC 9207 §3): a callback
    /// without it is then refused, not only one with a wrong value.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authorization_response_iss_parameter_supported: bool,
    /// Algorithms the provider accepts DPoP proofs in (RFC 9449 §5.1): a profile with
    /// `dpop = "auto"` binds its tokens when this is not empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// Pushed authorization request endpoint (RFC 9126 §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// The provider accepts authorization requests only when pushed (RFC 9126 §5).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
}

impl ProviderMetadata {
    /// Metadata from explicit endpoints only (no discovery).
    pub fn explicit(issuer: impl Into<String>) -> Self {
        ProviderMetadata {
            issuer: issuer.into(),
            ..Default::default()
        }
    }

    /// Whether the provider advertises a grant type (an empty list is taken as "unknown":
    /// RFC 8414 defaults it to `authorization_code` and `implicit`).
    pub fn supports_grant(&self, grant: &str) -> bool {
        self.grant_types_supported.is_empty() || self.grant_types_supported.iter().any(|g| g == grant)
    }
}

/// Keyed by issuer *and* by how it was fetched: the client's TLS trust
/// ([`OAuthHttp::tls_identity`]) and whether cleartext endpoints were accepted. Keyed by
/// issuer alone, a document fetched by an `insecure` session (or one trusting an extra CA)
/// would be served to a verifying session in the same process, which would then send its
/// secrets to endpoints it never verified.
type Cache = Mutex<HashMap<CacheKey, (Arc<ProviderMetadata>, Instant)>>;

#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    issuer: String,
    tls: Arc<str>,
    insecure: bool,
}

fn cache() -> &'static Cache {
    static C: OnceLock<Cache> = OnceLock::new();
    C.get_or_init(Default::default)
}

/// Discovers the metadata of `issuer` (cached per process for [`METADATA_TTL`]).
pub async fn discover(http: &OAuthHttp, issuer: &str, insecure: bool) -> Result<Arc<ProviderMetadata>> {
    let key = CacheKey {
        issuer: issuer.trim_end_matches('/').to_string(),
        tls: http.tls_identity().into(),
        insecure,
    };
    if let Some((m, at)) = cache().lock().expect("discovery cache").get(&key).cloned()
        && at.elapsed() < METADATA_TTL
    {
        return Ok(m);
    }
    let fetched = Arc::new(fetch(http, issuer, insecure).await?);
    cache()
        .lock()
        .expect("discovery cache")
        .insert(key, (fetched.clone(), Instant::now()));
    Ok(fetched)
}

/// Forgets cached metadata, however it was fetched (tests, or after a provider changed its
/// configuration).
pub fn forget(issuer: &str) {
    let issuer = issuer.trim_end_matches('/');
    cache()
        .lock()
        .expect("discovery cache")
        .retain(|k, _| k.issuer != issuer);
}

async fn fetch(http: &OAuthHttp, issuer: &str, insecure: bool) -> Result<ProviderMetadata> {
    let issuer_url =
        Url::parse(issuer).map_err(|e| OAuthError::Discovery(format!("issuer `{issuer}` is not a URL: {e}")))?;
    check_transport(&issuer_url, insecure, "issuer")?;
    let trimmed = issuer.trim_end_matches('/');
    let oidc = Url::parse(&format!("{trimmed}/.well-known/openid-configuration"))
        .map_err(|e| OAuthError::Discovery(e.to_string()))?;
    // RFC 8414 §3: the well-known segment goes between the host and the issuer's path.
    let path = issuer_url.path().trim_end_matches('/');
    let mut rfc8414 = issuer_url.clone();
    rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    let mut failures = Vec::new();
    for url in [oidc, rfc8414] {
        match http
            .get_json::<ProviderMetadata>(&url, None, "discovery document")
            .await
        {
            Ok(meta) => {
                if meta.issuer.trim_end_matches('/') != trimmed {
                    return Err(OAuthError::Discovery(format!(
                        "{url} names issuer `{}`, not `{issuer}`; refusing it (OIDC Discovery §4.3)",
                        meta.issuer
                    ))
                    .into());
                }
                for (name, ep) in [
                    ("token_endpoint", &meta.token_endpoint),
                    ("authorization_endpoint", &meta.authorization_endpoint),
                    ("jwks_uri", &meta.jwks_uri),
                    ("device_authorization_endpoint", &meta.device_authorization_endpoint),
                ] {
                    if let Some(ep) = ep {
                        let u = Url::parse(ep)
                            .map_err(|e| OAuthError::Discovery(format!("{name} `{ep}` is not a URL: {e}")))?;
                        check_transport(&u, insecure, name)?;
                    }
                }
                tracing::debug!(issuer, from = %url, "discovered provider metadata");
                return Ok(meta);
            }
            Err(e) if e.is_timeout() => return Err(e),
            Err(e) => failures.push(format!("{url}: {e}")),
        }
    }
    Err(OAuthError::Discovery(format!(
        "no metadata for issuer `{issuer}` ({}); check `issuer`, or set token_endpoint (and the other endpoints) explicitly",
        failures.join("; ")
    ))
    .into())
}

/// Plain `http://` is refused for anything but loopback hosts unless the profile is
/// insecure: metadata, keys and tokens over cleartext could be swapped by anyone on path.
pub fn check_transport(url: &Url, insecure: bool, what: &str) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if insecure || crate::scope::is_loopback(url) => Ok(()),
        other => Err(OAuthError::Discovery(format!(
            "{what} `{url}` uses {other}://; sesame requires https (plain http only on 127.0.0.1/localhost or with insecure = true)"
        ))
        .into()),
    }
}
