//! Dynamic client registration ([RFC 7591 §3](https://www.rfc-editor.org/rfc/rfc7591#section-3)).

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use url::Url;

use super::http::parse_json_reply;
use super::{OAuthError, OAuthHttp};
use crate::Result;
use crate::secret::ClientSecret;

/// Client metadata to register (RFC 7591 §2); unset members are left to the provider.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RegistrationRequest {
    /// Redirect URIs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// Human-readable name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Grant types.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_types: Vec<String>,
    /// Response types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_types: Option<Vec<String>>,
    /// Token endpoint authentication method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// `native` or `web`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    /// Space-separated scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// What the provider registered.
#[derive(Debug, Clone, Deserialize)]
pub struct Registration {
    /// The new client id.
    pub client_id: String,
    /// The secret, for confidential clients.
    #[serde(default, deserialize_with = "secret_opt")]
    pub client_secret: Option<ClientSecret>,
    /// Everything the provider returned (the secret removed).
    #[serde(skip)]
    pub metadata: serde_json::Value,
}

fn secret_opt<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<ClientSecret>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(ClientSecret::new))
}

/// Registers a client at `endpoint` (with an initial access token if the provider needs one).
pub async fn register(
    http: &OAuthHttp,
    endpoint: &Url,
    request: &RegistrationRequest,
    initial_access_token: Option<&str>,
) -> Result<Registration> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(t) = initial_access_token {
        let mut v = HeaderValue::from_str(&format!("Bearer {t}"))
            .map_err(|_| crate::Error::config("initial access token is not a valid header value"))?;
        v.set_sensitive(true);
        headers.insert(AUTHORIZATION, v);
    }
    let body = serde_json::to_vec(request).map_err(|e| crate::Error::config(e.to_string()))?;
    let reply = http.send(Method::POST, endpoint, headers, Some(body)).await?;
    let mut v: serde_json::Value = parse_json_reply(&reply, endpoint, "registration endpoint")?;
    let mut reg: Registration = serde_json::from_value(v.clone()).map_err(|e| OAuthError::Malformed {
        endpoint: format!("registration endpoint {endpoint}"),
        message: format!(
            "not a registration response: {}",
            super::error::clean(&e.to_string(), 200)
        ),
    })?;
    if let Some(o) = v.as_object_mut() {
        o.remove("client_secret");
        o.remove("registration_access_token");
    }
    reg.metadata = v;
    Ok(reg)
}
