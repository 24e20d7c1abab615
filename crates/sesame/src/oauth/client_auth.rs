//! Client authentication at the token endpoint: `client_secret_basic`,
//! `client_secret_post` ([RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)),
//! `none` (public clients), and `private_key_jwt`
//! ([RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2)): a short-lived JWT
//! signed with the client's key, with a fresh `jti` each time.

use std::fmt;
use std::str::FromStr;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};

use super::OAuthError;
use crate::Result;

/// The `client_assertion_type` of RFC 7523.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the client authenticates to the token endpoint.
#[derive(Clone)]
pub enum ClientAuth {
    /// HTTP Basic with client id and secret (`client_secret_basic`).
    Basic,
    /// Client id and secret in the form body (`client_secret_post`).
    Post,
    /// A public client: only `client_id` in the body.
    None,
    /// A JWT signed with the client's private key (`private_key_jwt`).
    PrivateKeyJwt {
        /// The private key, PEM.
        key_pem: SecretString,
        /// The signing algorithm (RS256, ES256, …).
        alg: Algorithm,
        /// The key id to put in the JWT header.
        kid: Option<String>,
    },
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAuth::Basic => f.write_str("Basic"),
            ClientAuth::Post => f.write_str("Post"),
            ClientAuth::None => f.write_str("None"),
            ClientAuth::PrivateKeyJwt { alg, kid, .. } => {
                write!(f, "PrivateKeyJwt({alg:?}, kid={kid:?}, key=[redacted])")
            }
        }
    }
}

/// The method named in a profile (`basic`, `post`, `none`, `private-key-jwt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// client_secret_basic
    Basic,
    /// client_secret_post
    Post,
    /// none
    None,
    /// private_key_jwt
    PrivateKeyJwt,
}

impl FromStr for ClientAuthMethod {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "basic" | "client_secret_basic" => Self::Basic,
            "post" | "client_secret_post" => Self::Post,
            "none" => Self::None,
            "private-key-jwt" | "private_key_jwt" => Self::PrivateKeyJwt,
            other => {
                return Err(crate::Error::config(format!(
                    "unknown client_auth `{other}`: use basic, post, none or private-key-jwt"
                )));
            }
        })
    }
}

impl ClientAuth {
    /// `private_key_jwt` from a PEM key; the algorithm follows the key type (RS256 for
    /// RSA, ES256 for P-256) unless given.
    pub fn private_key_jwt(key_pem: &str, alg: Option<Algorithm>, kid: Option<String>) -> Result<Self> {
        let alg = alg.unwrap_or(if key_pem.contains("EC PRIVATE KEY") || key_pem.len() < 400 {
            Algorithm::ES256
        } else {
            Algorithm::RS256
        });
        // Check the key now, so a bad key is a setup error, not a failure at first use.
        encoding_key(key_pem, alg)?;
        Ok(ClientAuth::PrivateKeyJwt {
            key_pem: SecretString::from(key_pem.to_string()),
            alg,
            kid,
        })
    }

    /// A signed client assertion for `audience` (the token endpoint URL), issued at `now`
    /// (Unix seconds, from the client's clock).
    pub(crate) fn assertion(&self, client_id: &str, audience: &str, now: i64) -> Result<Option<String>> {
        let ClientAuth::PrivateKeyJwt { key_pem, alg, kid } = self else {
            return Ok(None);
        };
        let claims = serde_json::json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 60,
            "jti": super::pkce::random_token(16),
        });
        let mut header = Header::new(*alg);
        header.kid = kid.clone();
        let key = encoding_key(key_pem.expose_secret(), *alg)?;
        jsonwebtoken::encode(&header, &claims, &key)
            .map(Some)
            .map_err(|e| OAuthError::Setup(format!("cannot sign the client assertion: {e}")).into())
    }
}

fn encoding_key(pem: &str, alg: Algorithm) -> Result<EncodingKey> {
    let r = match alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => EncodingKey::from_rsa_pem(pem.as_bytes()),
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem.as_bytes()),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()),
        other => return Err(OAuthError::Setup(format!("{other:?} is not usable for private_key_jwt")).into()),
    };
    r.map_err(|e| OAuthError::Setup(format!("client_key is not a usable {alg:?} private key: {e}")).into())
}
