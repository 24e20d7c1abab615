//! The cache key (docs/files-on-disk.md): a hash of everything that shapes a token — issuer, client id,
//! auth kind, sorted scopes, sorted audience, username — so that two profiles asking for
//! the same grant share tokens, and any difference gets its own entry — and the identity
//! a record must carry to be used for the key. See `docs/design/token-cache.md`.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Identifies one cached grant.
///
/// Besides naming the cache file (its [`hash`](Self::hash)), the key's parts are written
/// into the record and compared on every load: a record that names another grant (a
/// symlink, a copied or planted file) is not used. With a client secret bound
/// ([`with_client_secret`](Self::with_client_secret)) the record also carries a keyed
/// fingerprint of the secret that obtained it.
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
    /// Scopes, sorted and de-duplicated.
    pub scopes: Vec<String>,
    /// Audiences, sorted and de-duplicated.
    pub audience: Vec<String>,
    client_secret: Option<SecretBinding>,
}

/// Everything a record must match to belong to a key (docs/files-on-disk.md: what shapes the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyIdentity {
    pub issuer: String,
    pub client_id: String,
    pub auth: String,
    pub scopes: Vec<String>,
    pub audience: Vec<String>,
    pub username: Option<String>,
}

/// How to read the client secret a key's tokens were obtained with — lazily, and only to
/// compare fingerprints: a cached token must be usable without the secret (it may live in
/// a variable this shell does not have), and a token obtained with another secret is not
/// this configuration's.
#[derive(Clone)]
pub struct SecretBinding(Arc<dyn Fn() -> Option<SecretString> + Send + Sync>);

impl SecretBinding {
    /// A binding that reads the secret with `read` (`None`: not available now).
    pub fn new(read: impl Fn() -> Option<SecretString> + Send + Sync + 'static) -> Self {
        SecretBinding(Arc::new(read))
    }

    fn current(&self) -> Option<SecretString> {
        (self.0)()
    }
}

impl std::fmt::Debug for SecretBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBinding([redacted])")
    }
}

// A binding checks records; it does not name them: keys compare by their parts.
impl PartialEq for SecretBinding {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for SecretBinding {}
impl std::hash::Hash for SecretBinding {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

/// A keyed fingerprint of a client secret: HMAC-SHA256 keyed with the secret over a
/// per-record random salt. Never the secret, never an unsalted hash (which would let a
/// reader of the cache test guesses against every record at once, or link records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SecretFingerprint {
    salt: String,
    mac: String,
}

const FINGERPRINT_CONTEXT: &[u8] = b"sesame token cache: client secret fingerprint v1\0";

fn mac_of(secret: &SecretString, salt: &[u8]) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes()).expect("HMAC takes any key");
    m.update(FINGERPRINT_CONTEXT);
    m.update(salt);
    m
}

impl SecretFingerprint {
    fn of(secret: &SecretString) -> Self {
        let salt: [u8; 16] = rand::random();
        let mac = mac_of(secret, &salt).finalize().into_bytes();
        SecretFingerprint {
            salt: hex::encode(salt),
            mac: hex::encode(mac),
        }
    }

    fn matches(&self, secret: &SecretString) -> bool {
        let (Ok(salt), Ok(mac)) = (hex::decode(&self.salt), hex::decode(&self.mac)) else {
            return false;
        };
        // Constant-time comparison.
        mac_of(secret, &salt).verify_slice(&mac).is_ok()
    }
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
            scopes: s.into_iter().map(str::to_owned).collect(),
            audience: a.into_iter().map(str::to_owned).collect(),
            client_secret: None,
        }
    }

    /// Binds the key to the client secret its tokens are obtained with (read lazily, see
    /// [`SecretBinding`]). Does not change the hash.
    pub fn with_client_secret(mut self, binding: SecretBinding) -> Self {
        self.client_secret = Some(binding);
        self
    }

    /// The key of a token narrowed from this key's grant (fewer scopes, another audience):
    /// the same provider, client and person, another auth (`…+narrowed`, so it never meets a
    /// profile's own key for those scopes) and the requested scopes and audiences. Keeps
    /// the client-secret binding.
    pub fn narrowed(&self, scopes: &[String], audience: &[String]) -> CacheKey {
        let mut key = CacheKey::new(
            &self.issuer,
            &self.client_id,
            &format!("{}+narrowed", self.auth),
            scopes,
            audience,
            self.username.as_deref(),
        );
        key.client_secret = self.client_secret.clone();
        key
    }

    /// The file-name-safe hash.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub(crate) fn identity(&self) -> KeyIdentity {
        KeyIdentity {
            issuer: self.issuer.trim_end_matches('/').to_string(),
            client_id: self.client_id.clone(),
            auth: self.auth.clone(),
            scopes: self.scopes.clone(),
            audience: self.audience.clone(),
            username: self.username.clone(),
        }
    }

    /// The fingerprint to store with a new record: of the bound secret, if it can be read.
    pub(crate) fn fingerprint(&self) -> Option<SecretFingerprint> {
        self.client_secret
            .as_ref()
            .and_then(SecretBinding::current)
            .map(|s| SecretFingerprint::of(&s))
    }

    /// Why a record with this identity and fingerprint is not this key's, or `None` when
    /// it is. A secret that cannot be read now is not held against the record: the token
    /// is used while it is valid (renewing it will need the secret).
    pub(crate) fn mismatch(
        &self,
        identity: &KeyIdentity,
        fingerprint: Option<&SecretFingerprint>,
    ) -> Option<&'static str> {
        if *identity != self.identity() {
            return Some("it names another grant (issuer, client, auth kind, scopes, audience or username differ)");
        }
        match (&self.client_secret, fingerprint) {
            (None, None) => None,
            (None, Some(_)) => Some("it was obtained with a client secret, and this configuration has none"),
            (Some(b), f) => match (b.current(), f) {
                (None, _) => None,
                (Some(_), None) => Some("it was obtained without a client secret, and this configuration has one"),
                (Some(s), Some(f)) if f.matches(&s) => None,
                (Some(_), Some(_)) => Some("it was obtained with a different client secret"),
            },
        }
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

#[cfg(test)]
mod identity_tests {
    use super::*;

    fn bound(secret: &'static str) -> CacheKey {
        CacheKey::new("https://i", "c", "password", &[], &[], Some("u"))
            .with_client_secret(SecretBinding::new(move || Some(SecretString::from(secret))))
    }

    #[test]
    fn fingerprint_is_salted_and_keyed_and_checks_the_secret() {
        let k = bound("s3cret-value");
        let f1 = k.fingerprint().unwrap();
        let f2 = k.fingerprint().unwrap();
        assert_ne!(f1, f2, "a fresh salt per record");
        let json = serde_json::to_string(&f1).unwrap();
        assert!(!json.contains("s3cret-value"));
        assert_eq!(k.mismatch(&k.identity(), Some(&f1)), None);
        let other = bound("another-secret");
        assert!(other.mismatch(&other.identity(), Some(&f1)).is_some());
        // Unavailable secret: the record is used.
        let unavailable = CacheKey::new("https://i", "c", "password", &[], &[], Some("u"))
            .with_client_secret(SecretBinding::new(|| None));
        assert_eq!(unavailable.mismatch(&unavailable.identity(), Some(&f1)), None);
        // Another grant.
        let b = CacheKey::new("https://j", "c", "password", &[], &[], Some("u"));
        assert!(b.mismatch(&k.identity(), None).is_some());
        assert!(format!("{k:?}").contains("redacted"));
    }
}
