//! Token revocation ([RFC 7009](https://www.rfc-editor.org/rfc/rfc7009#section-2)).

use super::http::provider_error;
use super::{OAuthClient, OAuthError};
use crate::Result;

impl OAuthClient {
    /// Revokes a token (`hint`: `refresh_token` or `access_token`). RFC 7009 §2.2: the
    /// provider answers 200 whether or not the token was valid.
    pub async fn revoke(&self, token: &str, hint: Option<&str>) -> Result<()> {
        let url = self.named_endpoint("revocation_endpoint")?;
        let mut form = vec![("token".to_string(), token.to_string())];
        if let Some(h) = hint {
            form.push(("token_type_hint".into(), h.into()));
        }
        let reply = self.post_authenticated(&url, form, true).await?;
        if reply.status.is_success() {
            return Ok(());
        }
        let endpoint = format!("revocation endpoint {}", crate::redact::redact_url(&url));
        Err(provider_error(&reply, &endpoint)
            .unwrap_or(OAuthError::Malformed {
                endpoint,
                message: format!("HTTP {}", reply.status.as_u16()),
            })
            .into())
    }

    /// The RP-initiated logout URL (OpenID Connect RP-Initiated Logout 1.0 §2), if the
    /// provider has an end-session endpoint.
    pub fn end_session_url(&self, id_token_hint: Option<&str>) -> Option<url::Url> {
        self.end_session_url_to(id_token_hint, None)
    }

    /// [`end_session_url`](Self::end_session_url) with the `post_logout_redirect_uri` the
    /// provider sends the browser to afterwards (it must be registered for the client).
    pub fn end_session_url_to(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
    ) -> Option<url::Url> {
        let mut u = self.named_endpoint("end_session_endpoint").ok()?;
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("client_id", &self.config().client_id);
            if let Some(h) = id_token_hint {
                q.append_pair("id_token_hint", h);
            }
            if let Some(r) = post_logout_redirect_uri {
                q.append_pair("post_logout_redirect_uri", r);
            }
        }
        Some(u)
    }
}
