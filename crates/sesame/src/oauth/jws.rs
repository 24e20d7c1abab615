//! Signatures of compact JWS tokens ([RFC 7515 §5.2](https://www.rfc-editor.org/rfc/rfc7515#section-5.2))
//! checked against an issuer's key set ([RFC 7517 §5](https://www.rfc-editor.org/rfc/rfc7517#section-5)).
//!
//! The pieces shared by every JWT sesame verifies: ID tokens ([`super::id_token`]) and the
//! access tokens that `auth = "discover"` finds on disk when `verify_signature` is on. The
//! rules are the same for both: `alg: none` (and a missing `alg`) is always refused, only
//! the asymmetric algorithms of [`ASYMMETRIC_ALGS`] are accepted (an HMAC "signature" over
//! an access token would need a secret sesame does not have, and accepting one is the
//! classic key-confusion hole), and the keys come from [`jwks::keys_for`], which caches and
//! refetches once when a token names a `kid` the cached set lacks (key rotation).

use base64::Engine;
use openidconnect::JsonWebKey;
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use serde_json::{Map, Value};
use std::sync::Arc;
use url::Url;

use super::error::IdTokenError;
use super::{OAuthHttp, jwks};
use crate::Result;

/// Algorithms accepted for tokens signed with a provider's published keys.
pub const ASYMMETRIC_ALGS: &[CoreJwsSigningAlgorithm] = &[
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// The JOSE header of a compact JWS, read without verifying anything (to pick the key).
pub fn unverified_header(raw: &str) -> std::result::Result<Map<String, Value>, IdTokenError> {
    let malformed = |m: &str| IdTokenError::Malformed(m.to_string());
    let h = raw
        .split('.')
        .next()
        .filter(|h| !h.is_empty() && h.len() < 8192)
        .ok_or_else(|| malformed("not a JWT"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(h.trim_end_matches('='))
        .map_err(|_| malformed("header is not base64url"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(malformed("header is not a JSON object")),
    }
}

/// The header's `alg`, refusing `none` and a missing one (RFC 7515 §4.1.1; RFC 8725 §3.1).
pub fn signed_alg(header: &Map<String, Value>) -> std::result::Result<&str, IdTokenError> {
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg.is_empty() || alg.eq_ignore_ascii_case("none") {
        return Err(IdTokenError::Unsigned);
    }
    Ok(alg)
}

/// The header's `kid`, if any.
pub fn key_id(header: &Map<String, Value>) -> Option<&str> {
    header.get("kid").and_then(Value::as_str)
}

/// The key set at `jwks_uri`, refetched once if it lacks `kid`. `Err` when the set cannot
/// be fetched; `Ok(Err(UnknownKey))` when even the fresh set lacks `kid`.
pub async fn keys_with_kid(
    http: &OAuthHttp,
    jwks_uri: &Url,
    kid: Option<&str>,
) -> Result<std::result::Result<Arc<CoreJsonWebKeySet>, IdTokenError>> {
    let set = jwks::keys_for(http, jwks_uri, kid).await?;
    Ok(match kid {
        Some(k) if !jwks::has_kid(&set, k) => Err(IdTokenError::UnknownKey(k.to_string())),
        _ => Ok(set),
    })
}

/// Verifies the signature of the compact JWS `raw` with the keys published at `jwks_uri`.
///
/// The outer `Result` fails when the keys cannot be fetched (the provider is unreachable
/// or answers nonsense); the inner one says why the token itself is refused. Nothing else
/// is checked here (`exp`, `aud`, `iss` are the caller's business).
pub async fn verify_signature(
    http: &OAuthHttp,
    raw: &str,
    jwks_uri: &Url,
) -> Result<std::result::Result<(), IdTokenError>> {
    let Parts {
        header,
        alg,
        signing_input,
        signature,
    } = match parts(raw) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let kid = key_id(&header);
    let set = match keys_with_kid(http, jwks_uri, kid).await? {
        Ok(set) => set,
        Err(e) => return Ok(Err(e)),
    };
    // With a `kid`, only that key; without one, any key that suits the algorithm (a
    // signature verifies under one key only, so trying each is safe).
    let mut tried = 0;
    for key in set
        .keys()
        .iter()
        .filter(|k| kid.is_none_or(|want| k.key_id().is_some_and(|id| id.as_str() == want)))
    {
        tried += 1;
        if key.verify_signature(&alg, signing_input.as_bytes(), &signature).is_ok() {
            return Ok(Ok(()));
        }
    }
    Ok(Err(if tried == 0 {
        IdTokenError::UnknownKey(kid.unwrap_or("(none)").to_string())
    } else {
        IdTokenError::BadSignature(format!("no key in {jwks_uri} verifies it"))
    }))
}

/// A compact JWS taken apart, its algorithm checked against [`ASYMMETRIC_ALGS`].
struct Parts<'a> {
    header: Map<String, Value>,
    alg: CoreJwsSigningAlgorithm,
    /// `header.payload`, the bytes the signature covers.
    signing_input: &'a str,
    signature: Vec<u8>,
}

fn parts(raw: &str) -> std::result::Result<Parts<'_>, IdTokenError> {
    let malformed = |m: &str| IdTokenError::Malformed(m.to_string());
    let header = unverified_header(raw)?;
    let name = signed_alg(&header)?;
    let alg: CoreJwsSigningAlgorithm = serde_json::from_value(Value::String(name.to_string()))
        .map_err(|_| IdTokenError::UnsupportedAlg(name.to_string()))?;
    if !ASYMMETRIC_ALGS.contains(&alg) {
        return Err(IdTokenError::UnsupportedAlg(name.to_string()));
    }
    let (signing_input, sig) = raw.rsplit_once('.').ok_or_else(|| malformed("not a JWT"))?;
    if signing_input.split('.').count() != 2 {
        return Err(malformed("not a compact JWS (three dot-separated parts)"));
    }
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| malformed("signature is not base64url"))?;
    if signature.is_empty() {
        return Err(IdTokenError::Unsigned);
    }
    Ok(Parts {
        header,
        alg,
        signing_input,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn none_hmac_and_garbage_are_refused_before_any_key_is_fetched() {
        let body = b64(r#"{"iss":"https://i"}"#);
        let cases = [
            (format!("{}.{body}.", b64(r#"{"alg":"none"}"#)), "unsigned"),
            (format!("{}.{body}.c2ln", b64(r#"{"typ":"JWT"}"#)), "unsigned"),
            (format!("{}.{body}.c2ln", b64(r#"{"alg":"HS256"}"#)), "HS256"),
            (format!("{}.{body}.c2ln", b64(r#"{"alg":"XX1"}"#)), "XX1"),
            (format!("{}.{body}.!!", b64(r#"{"alg":"RS256"}"#)), "base64url"),
            (format!("{}.{body}", b64(r#"{"alg":"RS256"}"#)), "three"),
            ("opaque".to_string(), "not"),
        ];
        for (raw, want) in cases {
            let e = parts(&raw).err().expect("refused").to_string();
            assert!(e.contains(want), "{raw}: {e}");
        }
        let ok = format!("{}.{body}.c2ln", b64(r#"{"alg":"ES256","kid":"k"}"#));
        let Ok(p) = parts(&ok) else {
            panic!("a well-formed ES256 JWS")
        };
        assert_eq!(key_id(&p.header), Some("k"));
        assert_eq!(p.alg, CoreJwsSigningAlgorithm::EcdsaP256Sha256);
        assert_eq!(p.signing_input.split('.').count(), 2);
        assert_eq!(p.signature, b"sig");
    }
}
