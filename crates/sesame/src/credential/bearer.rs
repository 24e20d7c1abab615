//! A static bearer token ([RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1)).

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use super::{Attachment, AuthRequest, Credential, CredentialInfo};
use crate::Result;
use crate::secret::AccessToken;

/// `Authorization: Bearer <token>` with a fixed token; no network.
#[derive(Clone)]
pub struct Bearer {
    header: HeaderValue,
    token: AccessToken,
}

impl Bearer {
    /// A bearer credential. Surrounding whitespace (a trailing newline from a file) is
    /// stripped. Panics never: an invalid token is reported by [`Bearer::try_new`].
    pub fn new(token: impl Into<AccessToken>) -> Self {
        Self::try_new(token).unwrap_or_else(|_| Bearer {
            header: HeaderValue::from_static("Bearer invalid"),
            token: AccessToken::new(""),
        })
    }

    /// A bearer credential, or a configuration error if the token is empty or holds
    /// characters a header cannot carry.
    pub fn try_new(token: impl Into<AccessToken>) -> Result<Self> {
        let token: AccessToken = token.into();
        let trimmed = token.expose().trim();
        if trimmed.is_empty() {
            return Err(crate::Error::config("the bearer token is empty"));
        }
        let mut header = HeaderValue::from_str(&format!("Bearer {trimmed}")).map_err(|_| {
            crate::Error::config(
                "the bearer token contains characters not allowed in an HTTP header (a newline in the middle?)",
            )
        })?;
        header.set_sensitive(true);
        Ok(Bearer {
            header,
            token: AccessToken::new(trimmed),
        })
    }

    /// The token.
    pub fn token(&self) -> &AccessToken {
        &self.token
    }
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bearer").field("token", &"[redacted]").finish()
    }
}

#[async_trait]
impl Credential for Bearer {
    async fn attach(&self, _req: &AuthRequest<'_>, headers: &mut HeaderMap) -> Result<Attachment> {
        headers.insert(AUTHORIZATION, self.header.clone());
        Ok(Attachment::default())
    }

    async fn token(&self, _min_valid: std::time::Duration, _force: bool) -> Result<Option<crate::token::Token>> {
        Ok(Some(crate::token::Token::bare(self.token.clone())))
    }

    fn cached_token(&self) -> Option<crate::token::Token> {
        Some(crate::token::Token::bare(self.token.clone()))
    }

    fn info(&self) -> CredentialInfo {
        CredentialInfo::new("bearer").with("token", crate::secret::mask(self.token.expose()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_stripped_and_newlines_refused() {
        let b = Bearer::try_new("  abc.def.ghi\n").unwrap();
        assert_eq!(b.token().expose(), "abc.def.ghi");
        assert!(Bearer::try_new("ab\ncd").unwrap_err().is_config());
        assert!(Bearer::try_new("  ").unwrap_err().is_config());
        assert!(!format!("{b:?}").contains("abc"));
    }
}
