//! Secret values: kept in [`secrecy`] types so that `Debug` prints `[redacted]` and the
//! memory is zeroed on drop.
//!
//! Each protocol secret has its own newtype (as in `oauth2-rs`), so a password cannot be
//! passed where a token is expected by mistake; `expose()` is the one way to read it.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

macro_rules! secret_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }
            /// The secret value. Call only where it is sent or stored.
            pub fn expose(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self::new(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                // Not timing-sensitive: used for cache bookkeeping, never for verification.
                self.expose() == other.expose()
            }
        }
        impl Eq for $name {}
    };
}

secret_newtype!(
    /// A password (basic auth, the OAuth password grant).
    Password
);
secret_newtype!(
    /// A static bearer token or an OAuth access token.
    AccessToken
);
secret_newtype!(
    /// An API key sent in a header.
    ApiKey
);
secret_newtype!(
    /// An OAuth client secret.
    ClientSecret
);
secret_newtype!(
    /// An OAuth refresh token.
    RefreshToken
);
secret_newtype!(
    /// An OpenID Connect ID token.
    IdToken
);

/// Masks a token for display: the first 8 characters, then `…****` (as `sesame status`
/// prints). Tokens shorter than 16 characters are fully masked.
pub fn mask(token: &str) -> String {
    if token.chars().count() < 16 {
        return "****".to_string();
    }
    let head: String = token.chars().take(8).collect();
    format!("{head}…****")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let p = Password::new("hunter2");
        assert_eq!(format!("{p:?}"), "Password([redacted])");
        assert_eq!(p.expose(), "hunter2");
    }

    #[test]
    fn mask_keeps_only_a_prefix() {
        assert_eq!(mask("eyJhbGciOiJSUzI1NiJ9.payload.sig"), "eyJhbGci…****");
        assert_eq!(mask("short"), "****");
    }
}
