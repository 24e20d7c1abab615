//! Tokens and their lifecycle.
//!
//! [`Token`] is what a grant returns and what the caches hold: the access token with its
//! expiry and scopes, and the refresh and ID tokens that came with it.

use std::time::Duration;

pub mod clock;
mod file_store;
mod key;
#[cfg(feature = "keyring")]
pub(crate) mod keyring_store;
pub mod openbao;
pub mod source;
mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use file_store::FileStore;
pub use key::{CacheKey, SecretBinding};
#[cfg(feature = "keyring")]
pub use keyring_store::KeyringStore;
/// Reads a `{ keyring = "service:user" }` secret (the application layer's secret sources).
#[cfg(feature = "keyring")]
#[doc(hidden)]
pub use keyring_store::read_secret as read_keyring_secret;
pub use source::{Grant, Lease, NarrowFetch, Narrowed, RenewPolicy, TokenSource};
pub use store::{MemoryStore, StoreLock, TokenStore};

use crate::secret::{AccessToken, IdToken, RefreshToken};

/// Lifetime assumed when a token response has no `expires_in` and the access token is not
/// a JWT with `exp`: 5 minutes, short enough that a wrong guess heals itself quickly.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// An access token with what came with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The access token.
    pub access_token: AccessToken,
    /// `token_type` as the provider sent it (`Bearer`, `N_A` for some exchanges).
    pub token_type: String,
    /// When the access token expires, Unix seconds; `None` if unknown and no default applies.
    pub expires_at: Option<i64>,
    /// When it was obtained, Unix seconds.
    pub issued_at: i64,
    /// The refresh token, if any.
    pub refresh_token: Option<RefreshToken>,
    /// The ID token, if any.
    pub id_token: Option<IdToken>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The issuer that granted it, if known.
    pub issuer: Option<String>,
}

impl Token {
    /// A token that is just a value (static bearer, discovered token file), issued now by
    /// the system clock (whoever judges its expiry sets `expires_at` by its own clock).
    pub fn bare(access_token: impl Into<AccessToken>) -> Self {
        let access_token: AccessToken = access_token.into();
        let jwt = crate::token::jwt_exp(access_token.expose());
        Token {
            access_token,
            token_type: "Bearer".into(),
            expires_at: jwt,
            issued_at: SystemClock.now(),
            refresh_token: None,
            id_token: None,
            scopes: Vec::new(),
            issuer: None,
        }
    }

    /// Seconds left before expiry at `now` (`None` when the expiry is unknown).
    pub fn seconds_left(&self, now: i64) -> Option<i64> {
        self.expires_at.map(|e| e - now)
    }

    /// Whether the token has at least `min_valid` left at `now` (unknown expiry counts as valid).
    pub fn valid_for(&self, min_valid: Duration, now: i64) -> bool {
        self.seconds_left(now)
            .is_none_or(|left| left > min_valid.as_secs() as i64)
    }
}

/// The `exp` claim of a JWT, read without verifying it (for scheduling renewal only).
pub fn jwt_exp(token: &str) -> Option<i64> {
    jwt_claims(token)?.get("exp")?.as_i64()
}

/// The claims of a JWT, decoded without verification. `None` if the token is not a JWT.
/// Never use the result to make a trust decision.
pub fn jwt_claims(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    use base64::Engine;
    let mut parts = token.split('.');
    let (_h, p, _s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || p.len() > 64 * 1024 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(p.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(m) => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_claims_are_read_and_garbage_is_none() {
        // {"alg":"none"}.{"exp":1700000000,"aud":"x"}.
        let t = "eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDAsImF1ZCI6IngifQ.";
        assert_eq!(jwt_exp(t), Some(1_700_000_000));
        assert_eq!(jwt_claims(t).unwrap()["aud"], "x");
        for bad in ["", "a.b", "a.b.c.d", "a.!!!.c", "opaque-token", "a.bnVsbA.c"] {
            assert!(jwt_claims(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn validity_window() {
        let mut t = Token::bare("opaque");
        assert!(
            t.valid_for(Duration::from_secs(60), 0),
            "unknown expiry counts as valid"
        );
        t.expires_at = Some(1000);
        assert!(t.valid_for(Duration::from_secs(60), 900));
        assert!(!t.valid_for(Duration::from_secs(60), 940));
        assert!(!format!("{t:?}").contains("opaque"));
    }
}
