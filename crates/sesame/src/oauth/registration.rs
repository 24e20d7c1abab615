//! Dynamic client registration ([RFC 7591 §3](https://www.rfc-editor.org/rfc/rfc7591#section-3))
//! and its management protocol ([RFC 7592](https://www.rfc-editor.org/rfc/rfc7592)): read,
//! update and delete at the `registration_client_uri` with the `registration_access_token`.

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use url::Url;

use super::http::parse_json_reply;
use super::{OAuthError, OAuthHttp};
use crate::Result;
use crate::secret::{AccessToken, ClientSecret};

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
    /// The token for RFC 7592 management of this registration, if the provider issued one.
    #[serde(default, deserialize_with = "token_opt")]
    pub registration_access_token: Option<AccessToken>,
    /// Where the registration is managed (RFC 7592 §3), if the provider said.
    #[serde(default)]
    pub registration_client_uri: Option<String>,
    /// Everything the provider returned (the secret and the registration access token removed).
    #[serde(skip)]
    pub metadata: serde_json::Value,
}

fn token_opt<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<AccessToken>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(AccessToken::new))
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
    parse_registration(&reply, endpoint, "registration endpoint")
}

fn parse_registration(reply: &super::http::Reply, url: &Url, what: &str) -> Result<Registration> {
    let mut v: serde_json::Value = parse_json_reply(reply, url, what)?;
    let mut reg: Registration = serde_json::from_value(v.clone()).map_err(|e| OAuthError::Malformed {
        endpoint: format!("{what} {}", crate::redact::redact_url(url)),
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

/// A registration to manage (RFC 7592): its URI and access token.
fn management(uri: &str, token: &AccessToken) -> Result<(Url, HeaderMap)> {
    let url = Url::parse(uri)
        .map_err(|e| crate::Error::config(format!("registration_client_uri `{uri}` is not a URL: {e}")))?;
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| crate::Error::config("the registration access token is not a valid header value"))?;
    v.set_sensitive(true);
    headers.insert(AUTHORIZATION, v);
    Ok((url, headers))
}

/// Reads a registration (RFC 7592 §2.1): the client's current metadata.
pub async fn read(http: &OAuthHttp, uri: &str, token: &AccessToken) -> Result<Registration> {
    let (url, headers) = management(uri, token)?;
    let reply = http.send(Method::GET, &url, headers, None).await?;
    parse_registration(&reply, &url, "client configuration endpoint")
}

/// Replaces a registration's metadata (RFC 7592 §2.2): `metadata` is the whole new client
/// metadata (`client_id` included, as the RFC requires; it is added when missing).
pub async fn update(
    http: &OAuthHttp,
    uri: &str,
    token: &AccessToken,
    client_id: &str,
    metadata: &serde_json::Value,
) -> Result<Registration> {
    let (url, mut headers) = management(uri, token)?;
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut body = metadata.clone();
    let obj = body
        .as_object_mut()
        .ok_or_else(|| crate::Error::config("the client metadata to update must be a JSON object"))?;
    obj.entry("client_id").or_insert_with(|| client_id.into());
    for read_only in [
        "registration_access_token",
        "registration_client_uri",
        "client_secret_expires_at",
        "client_id_issued_at",
    ] {
        obj.remove(read_only);
    }
    let body = serde_json::to_vec(&body).map_err(|e| crate::Error::config(e.to_string()))?;
    let reply = http.send(Method::PUT, &url, headers, Some(body)).await?;
    parse_registration(&reply, &url, "client configuration endpoint")
}

/// Deletes a registration (RFC 7592 §2.3): the provider answers 204.
pub async fn delete(http: &OAuthHttp, uri: &str, token: &AccessToken) -> Result<()> {
    let (url, headers) = management(uri, token)?;
    let reply = http.send(Method::DELETE, &url, headers, None).await?;
    if reply.status.is_success() {
        return Ok(());
    }
    let endpoint = format!("client configuration endpoint {}", crate::redact::redact_url(&url));
    Err(super::http::status_error(&reply, &endpoint).into())
}

impl super::OAuthClient {
    /// The provider's registration endpoint (RFC 7591 §3).
    pub fn registration_endpoint(&self) -> Result<Url> {
        self.named_endpoint("registration_endpoint")
    }
}
