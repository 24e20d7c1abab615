//! An API key in a header of the server's choosing (`X-API-Key` by default).

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::{Attachment, AuthRequest, Credential, CredentialInfo};
use crate::Result;
use crate::secret::ApiKey as ApiKeySecret;

/// The default header for API keys.
pub const DEFAULT_HEADER: &str = "X-API-Key";

/// `<header>: <key>`; no network.
#[derive(Clone)]
pub struct ApiKey {
    name: HeaderName,
    value: HeaderValue,
}

impl ApiKey {
    /// An API key sent in `X-API-Key`.
    pub fn new(key: impl Into<ApiKeySecret>) -> Result<Self> {
        Self::with_header(DEFAULT_HEADER, key)
    }

    /// An API key sent in the named header.
    pub fn with_header(header: &str, key: impl Into<ApiKeySecret>) -> Result<Self> {
        let key: ApiKeySecret = key.into();
        let name = HeaderName::from_bytes(header.trim().as_bytes()).map_err(|_| {
            crate::Error::config(format!("`{header}` is not a valid HTTP header name (api_key_header)"))
        })?;
        let trimmed = key.expose().trim();
        if trimmed.is_empty() {
            return Err(crate::Error::config("the API key is empty"));
        }
        let mut value = HeaderValue::from_str(trimmed)
            .map_err(|_| crate::Error::config("the API key contains characters not allowed in an HTTP header"))?;
        value.set_sensitive(true);
        Ok(ApiKey { name, value })
    }

    /// The header the key is sent in.
    pub fn header_name(&self) -> &HeaderName {
        &self.name
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("header", &self.name)
            .field("key", &"[redacted]")
            .finish()
    }
}

#[async_trait]
impl Credential for ApiKey {
    async fn attach(&self, _req: &AuthRequest<'_>, headers: &mut HeaderMap) -> Result<Attachment> {
        headers.insert(self.name.clone(), self.value.clone());
        Ok(Attachment::default())
    }

    fn info(&self) -> CredentialInfo {
        CredentialInfo::new("api-key").with("header", self.name.as_str())
    }
}
