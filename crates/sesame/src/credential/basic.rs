//! HTTP Basic authentication ([RFC 7617](https://www.rfc-editor.org/rfc/rfc7617)).

use crate::transport::headers::basic_header;
use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use super::{Attachment, AuthRequest, Credential, CredentialInfo};
use crate::Result;
use crate::secret::Password;

/// `Authorization: Basic base64(user:password)`. There is no default user or password.
#[derive(Clone)]
pub struct Basic {
    username: String,
    header: HeaderValue,
}

impl Basic {
    /// A basic credential. The username must not contain `:` (RFC 7617 §2).
    pub fn new(username: impl Into<String>, password: impl Into<Password>) -> Result<Self> {
        let username = username.into();
        let password = password.into();
        if username.contains(':') {
            return Err(crate::Error::config(
                "a basic-auth username cannot contain ':' (RFC 7617 §2)",
            ));
        }
        if username.is_empty() {
            return Err(crate::Error::config("basic auth needs a username (`username`)")
                .with_hint(crate::Hint::SetKey("username")));
        }
        Ok(Basic {
            header: basic_header(&username, password.expose()),
            username,
        })
    }

    /// The username.
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl std::fmt::Debug for Basic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Basic")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

#[async_trait]
impl Credential for Basic {
    async fn attach(&self, _req: &AuthRequest<'_>, headers: &mut HeaderMap) -> Result<Attachment> {
        headers.insert(AUTHORIZATION, self.header.clone());
        Ok(Attachment::default())
    }

    fn info(&self) -> CredentialInfo {
        CredentialInfo::new("basic").with("username", &self.username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_rfc7617() {
        // RFC 7617 §2 example.
        let v = basic_header("Aladdin", "open sesame");
        assert_eq!(v.to_str().unwrap(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert!(v.is_sensitive());
    }

    #[test]
    fn debug_hides_the_password() {
        let b = Basic::new("alice", "wonderland").unwrap();
        let d = format!("{b:?}");
        assert!(d.contains("alice") && !d.contains("wonderland") && !d.contains("d29uZGVybGFuZA"));
    }

    #[test]
    fn colon_in_username_is_refused() {
        assert!(Basic::new("a:b", "x").unwrap_err().is_config());
    }
}
