//! The OpenID Connect userinfo endpoint ([OIDC Core §5.3](https://openid.net/specs/openid-connect-core-1_0.html#UserInfo)).

use super::OAuthClient;
use crate::Result;
use crate::secret::AccessToken;

impl OAuthClient {
    /// The claims the provider returns for this access token.
    pub async fn userinfo(&self, access_token: &AccessToken) -> Result<serde_json::Value> {
        let url = self.named_endpoint("userinfo_endpoint")?;
        let v: serde_json::Value = self
            .http()
            .get_json(&url, Some(access_token.expose()), "userinfo endpoint")
            .await?;
        if !v.get("sub").is_some_and(|s| s.is_string()) {
            return Err(super::OAuthError::Malformed {
                endpoint: format!("userinfo endpoint {}", crate::redact::redact_url(&url)),
                message: "reply lacks the `sub` claim".into(),
            }
            .into());
        }
        Ok(v)
    }
}
