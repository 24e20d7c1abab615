//! The cache key (SPEC §4): a hash of everything that shapes a token — issuer, client id,
//! auth kind, sorted scopes, sorted audience, username — so that two profiles asking for
//! the same grant share tokens, and any difference gets its own entry. See
//! `docs/design/token-cache.md`.

use sha2::{Digest, Sha256};

/// Identifies one cached grant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    hash: String,
    /// The parts, for messages (no secrets).
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Auth kind.
    pub auth: String,
    /// Username, if any.
    pub username: Option<String>,
}

impl CacheKey {
    /// A key from its parts. Scopes and audiences are sorted and de-duplicated first, so
    /// their order in the profile does not matter.
    pub fn new(
        issuer: &str,
        client_id: &str,
        auth: &str,
        scopes: &[String],
        audience: &[String],
        username: Option<&str>,
    ) -> Self {
        let mut s: Vec<&str> = scopes.iter().map(String::as_str).collect();
        s.sort_unstable();
        s.dedup();
        let mut a: Vec<&str> = audience.iter().map(String::as_str).collect();
        a.sort_unstable();
        a.dedup();
        let mut h = Sha256::new();
        // Length-prefixed fields: no two different inputs serialize the same way.
        for part in [
            issuer.trim_end_matches('/'),
            client_id,
            auth,
            &s.join(" "),
            &a.join(" "),
            username.unwrap_or(""),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        let digest = h.finalize();
        CacheKey {
            hash: hex::encode(&digest[..16]),
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
            auth: auth.to_string(),
            username: username.map(str::to_owned),
        }
    }

    /// The file-name-safe hash.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn order_does_not_matter_but_content_does() {
        let a = CacheKey::new("https://i/", "c", "oidc", &v(&["openid", "email"]), &v(&[]), None);
        let b = CacheKey::new(
            "https://i",
            "c",
            "oidc",
            &v(&["email", "openid", "email"]),
            &v(&[]),
            None,
        );
        assert_eq!(a.hash(), b.hash());
        let c = CacheKey::new("https://i", "c", "oidc", &v(&["email"]), &v(&[]), None);
        assert_ne!(a.hash(), c.hash());
        let d = CacheKey::new(
            "https://i",
            "c",
            "password",
            &v(&["openid", "email"]),
            &v(&[]),
            Some("alice"),
        );
        assert_ne!(a.hash(), d.hash());
        // Field boundaries are unambiguous.
        let e = CacheKey::new("ab", "c", "x", &[], &[], None);
        let f = CacheKey::new("a", "bc", "x", &[], &[], None);
        assert_ne!(e.hash(), f.hash());
        assert_eq!(a.hash().len(), 32);
    }
}
