//! Token introspection ([RFC 7662](https://www.rfc-editor.org/rfc/rfc7662#section-2)).

use super::OAuthClient;
use super::http::parse_json_reply;
use crate::Result;
use crate::secret::AccessToken;

impl OAuthClient {
    /// Asks the provider whether `token` is active; returns the introspection response
    /// (`active`, and `scope`, `client_id`, `exp`, … when active).
    pub async fn introspect(&self, token: &AccessToken, hint: Option<&str>) -> Result<serde_json::Value> {
        let url = self.named_endpoint("introspection_endpoint")?;
        let mut form = vec![("token".to_string(), token.expose().to_string())];
        if let Some(h) = hint {
            form.push(("token_type_hint".into(), h.into()));
        }
        let reply = self.post_authenticated(&url, form, true).await?;
        let v: serde_json::Value = parse_json_reply(&reply, &url, "introspection endpoint")?;
        if !v.get("active").is_some_and(|a| a.is_boolean()) {
            return Err(super::OAuthError::Malformed {
                endpoint: format!("introspection endpoint {}", crate::redact::redact_url(&url)),
                message: "reply lacks the boolean `active` member (RFC 7662 §2.2)".into(),
            }
            .into());
        }
        Ok(v)
    }
}
