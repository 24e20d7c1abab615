//! Sender-constrained tokens: DPoP ([RFC 9449](https://www.rfc-editor.org/rfc/rfc9449)).
//!
//! A DPoP-bound access token is only accepted together with a fresh *proof*: a JWT signed
//! with the client's private key that names the request it goes with (`htm`, `htu`), when it
//! was made (`iat`), a unique id (`jti`), the hash of the access token (`ath`) and, when the
//! server asks for one, its nonce. The provider binds the token to the key's JWK thumbprint
//! ([RFC 7638](https://www.rfc-editor.org/rfc/rfc7638)) in `cnf.jkt`; a copied token is
//! then useless without the key.
//!
//! [`DpopKey`] is the key pair and the proof signer (aws-lc-rs: ES256, EdDSA, RS256).
//! [`Dpop`] is one profile's binding at run time: the key, created once and kept in the
//! token store next to the cache record (so that every process of the profile, and every
//! restart, proves with the same key), and the nonces servers handed out (per origin).
//! Design: docs/design/dpop.md.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use url::Url;

use crate::token::{CacheKey, TokenStore};
use crate::{Error, Result};

/// The `DPoP` request header (RFC 9449 §4.1).
pub const DPOP_HEADER: &str = "dpop";
/// The header a server hands a nonce out in (RFC 9449 §8, §9).
pub const NONCE_HEADER: &str = "dpop-nonce";
/// The error code of a server that wants a nonce (RFC 9449 §8, §9).
pub const USE_DPOP_NONCE: &str = "use_dpop_nonce";

/// Whether a profile binds its tokens (the profile's `dpop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DpopMode {
    /// Bearer tokens (the default).
    #[default]
    Off,
    /// Always: every token request carries a proof.
    On,
    /// When the provider's metadata lists `dpop_signing_alg_values_supported`.
    Auto,
}

/// A signature algorithm for proofs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopAlg {
    /// ECDSA P-256 with SHA-256 (the default).
    Es256,
    /// Ed25519, named `EdDSA` (RFC 8037) or `Ed25519` (RFC 9864) by the provider.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit key.
    Rs256,
}

impl DpopAlg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            DpopAlg::Es256 => "ES256",
            DpopAlg::EdDsa => "EdDSA",
            DpopAlg::Rs256 => "RS256",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "ES256" => Some(DpopAlg::Es256),
            "EdDSA" | "Ed25519" => Some(DpopAlg::EdDsa),
            "RS256" => Some(DpopAlg::Rs256),
            _ => None,
        }
    }

    /// The algorithm for a provider that supports `supported` (its metadata's
    /// `dpop_signing_alg_values_supported`): ES256 when listed (or nothing is listed), else
    /// the first one sesame can sign with.
    pub fn choose(supported: &[String]) -> DpopAlg {
        if supported.is_empty() || supported.iter().any(|a| a == "ES256") {
            return DpopAlg::Es256;
        }
        supported
            .iter()
            .find_map(|a| DpopAlg::parse(a))
            .unwrap_or(DpopAlg::Es256)
    }
}

enum Signer {
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

/// A DPoP key pair. Its `Debug` shows the algorithm and the public thumbprint only.
pub struct DpopKey {
    alg: DpopAlg,
    signer: Signer,
    /// The private key, PKCS#8 DER, as stored.
    pkcs8: SecretString,
    jwk: serde_json::Value,
    thumbprint: String,
    /// base64url of the proof's JOSE header (the same for every proof of this key).
    header_b64: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.alg.as_str())
            .field("jkt", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

fn key_error(what: &str) -> Error {
    Error::config(format!("DPoP key: {what}"))
}

/// Version of the stored key record.
const KEY_VERSION: u32 = 1;

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredKey {
    version: u32,
    alg: String,
    /// base64url PKCS#8 DER of the private key.
    pkcs8: String,
}

impl DpopKey {
    /// A new key pair.
    pub fn generate(alg: DpopAlg) -> Result<Self> {
        let failed = |_| key_error("cannot generate a key pair");
        let der = match alg {
            DpopAlg::Es256 => EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            DpopAlg::EdDsa => Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8v1())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            DpopAlg::Rs256 => RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .and_then(|k| k.as_der())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
        };
        Self::from_pkcs8(alg, &der)
    }

    /// A key from its PKCS#8 DER.
    pub fn from_pkcs8(alg: DpopAlg, der: &[u8]) -> Result<Self> {
        let bad = |_| key_error("the stored private key is not a valid key for its algorithm");
        let (signer, members) = match alg {
            DpopAlg::Es256 => {
                let k = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(bad)?;
                // Uncompressed point: 0x04 || x || y.
                let p = k.public_key().as_ref();
                if p.len() != 65 {
                    return Err(key_error("unexpected P-256 public key encoding"));
                }
                let (x, y) = (B64.encode(&p[1..33]), B64.encode(&p[33..]));
                (
                    Signer::Ec(k),
                    vec![("crv", "P-256".to_string()), ("kty", "EC".into()), ("x", x), ("y", y)],
                )
            }
            DpopAlg::EdDsa => {
                let k = Ed25519KeyPair::from_pkcs8(der).map_err(bad)?;
                let x = B64.encode(k.public_key().as_ref());
                (
                    Signer::Ed(k),
                    vec![("crv", "Ed25519".to_string()), ("kty", "OKP".into()), ("x", x)],
                )
            }
            DpopAlg::Rs256 => {
                let k = RsaKeyPair::from_pkcs8(der).map_err(bad)?;
                let pk = k.public_key();
                let e = B64.encode(pk.exponent().big_endian_without_leading_zero());
                let n = B64.encode(pk.modulus().big_endian_without_leading_zero());
                (Signer::Rsa(k), vec![("e", e), ("kty", "RSA".to_string()), ("n", n)])
            }
        };
        // RFC 7638 §3: the required members only, in lexicographic order, no whitespace
        // (the member lists above are written in that order).
        let canonical = format!(
            "{{{}}}",
            members
                .iter()
                .map(|(k, v)| format!("\"{k}\":\"{v}\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        let thumbprint = B64.encode(Sha256::digest(canonical.as_bytes()));
        let jwk: serde_json::Value =
            serde_json::from_str(&canonical).map_err(|_| key_error("cannot encode the public key"))?;
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": alg.as_str(), "jwk": jwk});
        Ok(DpopKey {
            alg,
            signer,
            pkcs8: SecretString::from(B64.encode(der)),
            header_b64: B64.encode(header.to_string()),
            jwk,
            thumbprint,
        })
    }

    /// The algorithm.
    pub fn alg(&self) -> DpopAlg {
        self.alg
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.jwk
    }

    /// The key's JWK SHA-256 thumbprint (RFC 7638), base64url: what the provider puts in
    /// the token's `cnf.jkt`.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The stored form (a secret: the private key).
    fn to_stored(&self) -> SecretString {
        let s = StoredKey {
            version: KEY_VERSION,
            alg: self.alg.as_str().into(),
            pkcs8: self.pkcs8.expose_secret().to_string(),
        };
        SecretString::from(serde_json::to_string(&s).unwrap_or_default())
    }

    fn from_stored(text: &SecretString) -> Result<Self> {
        let s: StoredKey =
            serde_json::from_str(text.expose_secret()).map_err(|_| key_error("the stored key record is corrupt"))?;
        let alg = DpopAlg::parse(&s.alg).filter(|_| s.version == KEY_VERSION);
        let alg = alg.ok_or_else(|| key_error("the stored key record has an unknown version or algorithm"))?;
        let der = B64
            .decode(&s.pkcs8)
            .map_err(|_| key_error("the stored key record is corrupt"))?;
        Self::from_pkcs8(alg, &der)
    }

    /// A proof for one request (RFC 9449 §4.2), issued at `iat` (Unix seconds, from the
    /// owner's clock): `htu` is `url` without query and fragment; `ath` is set when the
    /// proof goes with an access token.
    pub fn proof(
        &self,
        method: &str,
        url: &Url,
        access_token: Option<&str>,
        nonce: Option<&str>,
        iat: i64,
    ) -> Result<String> {
        let mut claims = serde_json::Map::new();
        claims.insert("htm".into(), method.into());
        claims.insert("htu".into(), htu(url).into());
        claims.insert("iat".into(), iat.into());
        claims.insert("jti".into(), B64.encode(rand::random::<[u8; 16]>()).into());
        if let Some(at) = access_token {
            claims.insert("ath".into(), ath(at).into());
        }
        if let Some(n) = nonce {
            claims.insert("nonce".into(), n.into());
        }
        let payload = B64.encode(serde_json::Value::Object(claims).to_string());
        let input = format!("{}.{payload}", self.header_b64);
        let failed = |_| key_error("signing the proof failed");
        let sig = match &self.signer {
            Signer::Ec(k) => k
                .sign(&SystemRandom::new(), input.as_bytes())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            Signer::Ed(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
            Signer::Rsa(k) => {
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input.as_bytes(),
                    &mut out,
                )
                .map_err(failed)?;
                out
            }
        };
        Ok(format!("{input}.{}", B64.encode(sig)))
    }
}

/// `htu` of a request: its URL without query and fragment (RFC 9449 §4.2).
pub fn htu(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// `ath`: base64url(SHA-256(access token)) (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    B64.encode(Sha256::digest(access_token.as_bytes()))
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// One profile's DPoP binding at run time: its key (loaded from or created in the token
/// store on first use) and the nonces servers handed out. Cheap to share (`Arc`).
pub struct Dpop {
    mode: DpopMode,
    store: Option<(Arc<dyn TokenStore>, CacheKey)>,
    key: Mutex<Option<Arc<DpopKey>>>,
    /// The last nonce each origin (provider or resource server) handed out.
    nonces: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Dpop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = self.key.lock().map(|k| k.clone()).ok().flatten();
        f.debug_struct("Dpop")
            .field("mode", &self.mode)
            .field("key", &key)
            .finish_non_exhaustive()
    }
}

impl Dpop {
    /// A binding whose key lives in `store` under `key` (created there on first use, and
    /// shared by every process of the profile).
    pub fn stored(mode: DpopMode, store: Arc<dyn TokenStore>, key: CacheKey) -> Arc<Self> {
        Arc::new(Dpop {
            mode,
            store: Some((store, key)),
            key: Mutex::default(),
            nonces: Mutex::default(),
        })
    }

    /// A binding with a key of this process only.
    pub fn ephemeral(mode: DpopMode, key: DpopKey) -> Arc<Self> {
        Arc::new(Dpop {
            mode,
            store: None,
            key: Mutex::new(Some(Arc::new(key))),
            nonces: Mutex::default(),
        })
    }

    /// The mode.
    pub fn mode(&self) -> DpopMode {
        self.mode
    }

    /// Whether token requests to a provider with these `dpop_signing_alg_values_supported`
    /// carry proofs.
    pub fn applies_to(&self, supported: &[String]) -> bool {
        match self.mode {
            DpopMode::Off => false,
            DpopMode::On => true,
            DpopMode::Auto => !supported.is_empty(),
        }
    }

    /// The key: the one in memory, else the stored one, else a new one (of the algorithm
    /// the provider prefers, `supported`), stored unless another process stored one first
    /// (then that one is used: every process of a profile proves with the same key).
    pub fn key(&self, supported: &[String]) -> Result<Arc<DpopKey>> {
        let mut held = self.key.lock().expect("dpop key");
        if let Some(k) = &*held {
            return Ok(k.clone());
        }
        let key = match &self.store {
            None => Arc::new(DpopKey::generate(DpopAlg::choose(supported))?),
            Some((store, ck)) => {
                let (loaded, corrupt) = match store.load_dpop_key(ck)? {
                    Some(text) => match DpopKey::from_stored(&text) {
                        Ok(k) => (Some(k), false),
                        Err(e) => {
                            tracing::warn!("the stored DPoP key is not usable ({e}); a new one is made");
                            (None, true)
                        }
                    },
                    None => (None, false),
                };
                match loaded {
                    Some(k) => Arc::new(k),
                    None => {
                        let fresh = DpopKey::generate(DpopAlg::choose(supported))?;
                        // Another process may have stored one meanwhile: then that one is
                        // kept and used (a corrupt record is replaced).
                        let kept = store.store_dpop_key(ck, fresh.to_stored(), corrupt)?;
                        Arc::new(DpopKey::from_stored(&kept)?)
                    }
                }
            }
        };
        tracing::debug!(jkt = key.thumbprint(), alg = key.alg().as_str(), "DPoP key ready");
        *held = Some(key.clone());
        Ok(key)
    }

    /// Forgets the key: in memory and in the store (a logout). The next proof is made
    /// with a new key, and tokens bound to the old one stop working everywhere.
    pub fn forget(&self) -> Result<()> {
        *self.key.lock().expect("dpop key") = None;
        self.nonces.lock().expect("dpop nonces").clear();
        match &self.store {
            Some((store, ck)) => store.delete_dpop_key(ck),
            None => Ok(()),
        }
    }

    /// The key if one is held or stored (no new one is made).
    pub fn existing_key(&self) -> Option<Arc<DpopKey>> {
        if let Some(k) = &*self.key.lock().expect("dpop key") {
            return Some(k.clone());
        }
        let (store, ck) = self.store.as_ref()?;
        store.load_dpop_key(ck).ok().flatten()?;
        self.key(&[]).ok()
    }

    /// The `DPoP` header value for one request (a fresh proof issued at `iat`, with the
    /// nonce the request's origin handed out last, if any).
    pub fn header(
        &self,
        method: &str,
        url: &Url,
        access_token: Option<&str>,
        supported: &[String],
        iat: i64,
    ) -> Result<HeaderValue> {
        let key = self.key(supported)?;
        let nonce = self.nonces.lock().expect("dpop nonces").get(&origin(url)).cloned();
        let proof = key.proof(method, url, access_token, nonce.as_deref(), iat)?;
        let mut v = HeaderValue::from_str(&proof).map_err(|_| key_error("the proof is not a header value"))?;
        // Not a secret, but replayable for its request until it ages out: kept out of logs.
        v.set_sensitive(true);
        Ok(v)
    }

    /// Remembers the nonce in a reply's `DPoP-Nonce` header, if any. Returns whether the
    /// reply carried a new one (a request refused for want of it may then be resent once).
    pub fn remember_nonce(&self, url: &Url, headers: &HeaderMap) -> bool {
        let Some(n) = headers.get(NONCE_HEADER).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        // RFC 9449 §8.1: a nonce is an opaque NQCHAR string; anything else (or an absurd
        // size) is not used.
        let n = n.trim();
        if n.is_empty() || n.len() > 1024 || !n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\') {
            return false;
        }
        let previous = self
            .nonces
            .lock()
            .expect("dpop nonces")
            .insert(origin(url), n.to_string());
        previous.as_deref() != Some(n)
    }
}

/// Whether a token is DPoP-bound (its `token_type` is `DPoP`).
pub fn is_bound(token: &crate::token::Token) -> bool {
    token.token_type.eq_ignore_ascii_case("dpop")
}

/// The error for a DPoP-bound token asked for as a bearer token (`what`: where it was to
/// go).
pub fn bound_token_error(what: &str) -> Error {
    crate::error::CredentialError::SenderConstrained(format!(
        "the profile's token is DPoP-bound (RFC 9449): it is only accepted with a proof signed by the profile's key for each request, so it cannot be {what}"
    ))
    .into()
}

/// Whether a `WWW-Authenticate` challenge (RFC 9449 §9) or a token error asks for a nonce.
pub fn asks_for_nonce(challenge: Option<&str>) -> bool {
    challenge.is_some_and(|c| {
        crate::transport::www_authenticate::parse(c)
            .iter()
            .any(|ch| ch.scheme.eq_ignore_ascii_case("dpop") && ch.error.as_deref() == Some(USE_DPOP_NONCE))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 §3.1's RSA key: the thumbprint of its required members.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let canonical = format!("{{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"{n}\"}}");
        assert_eq!(
            B64.encode(Sha256::digest(canonical.as_bytes())),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn proofs_of_every_algorithm_verify_and_carry_the_claims() {
        for alg in [DpopAlg::Es256, DpopAlg::EdDsa, DpopAlg::Rs256] {
            let k = DpopKey::generate(alg).unwrap();
            let url = Url::parse("https://api.test/v1/items?page=2#frag").unwrap();
            let p = k.proof("GET", &url, Some("tok"), Some("n-1"), 1_000_000_000).unwrap();
            let parts: Vec<&str> = p.split('.').collect();
            let header: serde_json::Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
            let claims: serde_json::Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
            assert_eq!(header["typ"], "dpop+jwt");
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(&header["jwk"], k.public_jwk());
            assert_eq!(claims["htu"], "https://api.test/v1/items");
            assert_eq!(claims["htm"], "GET");
            assert_eq!(claims["ath"], ath("tok"));
            assert_eq!(claims["nonce"], "n-1");
            assert_eq!(claims["iat"], 1_000_000_000, "issued at the owner's clock reading");
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(header["jwk"].clone()).unwrap();
            let dk = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
            let jalg = match alg {
                DpopAlg::Es256 => jsonwebtoken::Algorithm::ES256,
                DpopAlg::EdDsa => jsonwebtoken::Algorithm::EdDSA,
                DpopAlg::Rs256 => jsonwebtoken::Algorithm::RS256,
            };
            let sig = B64.decode(parts[2]).unwrap();
            let ok = jsonwebtoken::crypto::verify(
                &B64.encode(&sig),
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &dk,
                jalg,
            )
            .unwrap();
            assert!(ok, "{alg:?}");
            // The stored form round-trips to the same key.
            let again = DpopKey::from_stored(&k.to_stored()).unwrap();
            assert_eq!(again.thumbprint(), k.thumbprint());
            assert!(!format!("{k:?}").contains(k.pkcs8.expose_secret()));
        }
    }

    #[test]
    fn algorithm_choice_and_nonces() {
        assert_eq!(DpopAlg::choose(&[]), DpopAlg::Es256);
        assert_eq!(DpopAlg::choose(&["Ed25519".into(), "ES256".into()]), DpopAlg::Es256);
        assert_eq!(DpopAlg::choose(&["Ed25519".into()]), DpopAlg::EdDsa);
        assert_eq!(DpopAlg::choose(&["PS256".into(), "RS256".into()]), DpopAlg::Rs256);
        let d = Dpop::ephemeral(DpopMode::On, DpopKey::generate(DpopAlg::Es256).unwrap());
        let url = Url::parse("https://api.test/a").unwrap();
        let mut h = HeaderMap::new();
        h.insert(NONCE_HEADER, HeaderValue::from_static("abc"));
        assert!(d.remember_nonce(&url, &h));
        assert!(!d.remember_nonce(&url, &h), "same nonce again is not new");
        h.insert(NONCE_HEADER, HeaderValue::from_static("a\"b"));
        assert!(!d.remember_nonce(&url, &h));
        assert!(asks_for_nonce(Some(r#"DPoP error="use_dpop_nonce", algs="ES256""#)));
        assert!(!asks_for_nonce(Some(r#"Bearer error="use_dpop_nonce""#)));
    }
}
