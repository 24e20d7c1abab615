//! ID token verification ([OIDC Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)):
//! signature against the provider's JWKS, `iss`, `aud`, `exp`, `iat`, `nonce`, and
//! `at_hash` when present. `alg: none` and algorithms outside the allowed list are always
//! rejected. Built on `openidconnect`'s verifier; sesame adds the JWKS cache with key
//! rotation and the mapping to typed errors; the header rules (`alg`, `kid`, allowed
//! algorithms) and key lookup are shared with access-token verification in [`super::jws`].

use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJwsSigningAlgorithm};
use openidconnect::{
    AccessToken as OidcAccessToken, AccessTokenHash, ClaimsVerificationError, ClientId, ClientSecret, IssuerUrl, Nonce,
    SignatureVerificationError,
};
use url::Url;

use super::error::IdTokenError;
use super::{OAuthError, OAuthHttp, jws};
use crate::Result;

/// Algorithms accepted for ID tokens signed with the provider's keys.
pub use super::jws::ASYMMETRIC_ALGS;

/// What the verifier needs to know.
#[derive(Clone)]
pub struct IdTokenCheck<'a> {
    /// The provider's issuer; empty when the profile names only endpoints (no issuer to
    /// compare `iss` with: see [`verify`]).
    pub issuer: &'a str,
    /// The JWKS URI; `None` when the provider's keys are not known (see [`verify`]).
    pub jwks_uri: Option<&'a Url>,
    /// This client's id (must be in `aud`).
    pub client_id: &'a str,
    /// The client secret, for HS256-signed tokens (confidential clients only).
    pub client_secret: Option<&'a str>,
    /// The nonce sent in the authorization request, if any (required to match then).
    pub nonce: Option<&'a str>,
    /// The access token issued with it, to check `at_hash`.
    pub access_token: Option<&'a str>,
    /// "Now" for the `exp`/`iat` checks, Unix seconds (`None`: the system clock). Injected
    /// by tests of expiry handling.
    pub now: Option<i64>,
}

impl std::fmt::Debug for IdTokenCheck<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client secret (HS256 key), nonce and access token stay out.
        f.debug_struct("IdTokenCheck")
            .field("issuer", &self.issuer)
            .field("jwks_uri", &self.jwks_uri.map(crate::redact::redact_url))
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.map(|_| "[redacted]"))
            .field("nonce", &self.nonce.map(|_| "[redacted]"))
            .field("access_token", &self.access_token.map(|_| "[redacted]"))
            .field("now", &self.now)
            .finish()
    }
}

/// Verifies an ID token and returns its claims as JSON.
///
/// Every ID token sesame sees comes straight from the token endpoint, over a connection
/// whose TLS certificate was checked. A provider given only by its endpoints (odsbox's
/// `authorization_endpoint` + `token_endpoint`, no issuer, no `jwks_uri`) therefore still
/// yields a usable ID token: OIDC Core §3.1.3.7 (6) lets the TLS server validation stand in
/// for the signature in that case, and with no issuer configured there is no `iss` to
/// compare. `aud`, `exp`, `iat` and the nonce are checked in every case; the signature and
/// `at_hash` whenever the keys are known, `iss` whenever an issuer is.
pub async fn verify(http: &OAuthHttp, raw: &str, check: &IdTokenCheck<'_>) -> Result<serde_json::Value> {
    let id_err = |e: IdTokenError| -> crate::Error { OAuthError::IdToken(e).into() };
    let header = jws::unverified_header(raw).map_err(id_err)?;
    let alg = jws::signed_alg(&header).map_err(id_err)?;
    let symmetric = alg.starts_with("HS");
    if symmetric && check.client_secret.is_none() {
        return Err(id_err(IdTokenError::UnsupportedAlg(alg.to_string())));
    }
    let kid = jws::key_id(&header);
    let token: CoreIdToken = raw
        .parse()
        .map_err(|e: serde_json::Error| OAuthError::IdToken(IdTokenError::Malformed(e.to_string())))?;
    let signed = symmetric || check.jwks_uri.is_some();
    let keys = match check.jwks_uri {
        Some(jwks_uri) if !symmetric => {
            let set = jws::keys_with_kid(http, jwks_uri, kid).await?.map_err(id_err)?;
            (*set).clone()
        }
        _ => openidconnect::core::CoreJsonWebKeySet::new(vec![]),
    };
    let issuer_known = !check.issuer.is_empty();
    // The verifier wants an issuer URL even when it is told not to compare it.
    let issuer = IssuerUrl::new(if issuer_known {
        check.issuer.to_string()
    } else {
        "https://issuer.invalid".to_string()
    })
    .map_err(|e| OAuthError::Setup(format!("issuer `{}` is not a URL: {e}", check.issuer)))?;
    let client_id = ClientId::new(check.client_id.to_string());
    let mut algs = ASYMMETRIC_ALGS.to_vec();
    let verifier = match check.client_secret {
        Some(s) if symmetric => {
            algs = vec![
                CoreJwsSigningAlgorithm::HmacSha256,
                CoreJwsSigningAlgorithm::HmacSha384,
                CoreJwsSigningAlgorithm::HmacSha512,
            ];
            CoreIdTokenVerifier::new_confidential_client(client_id, ClientSecret::new(s.to_string()), issuer, keys)
        }
        _ => CoreIdTokenVerifier::new_public_client(client_id, issuer, keys),
    }
    .set_allowed_algs(algs)
    .require_issuer_match(issuer_known);
    let verifier = if signed {
        verifier
    } else {
        verifier.insecure_disable_signature_check()
    };
    let verifier = match check.now {
        Some(now) => {
            let t = chrono::DateTime::<chrono::Utc>::from_timestamp(now, 0).unwrap_or_default();
            verifier.set_time_fn(move || t)
        }
        None => verifier,
    };
    let expected_nonce = check.nonce.map(|n| Nonce::new(n.to_string()));
    let claims = match &expected_nonce {
        Some(n) => token.claims(&verifier, n),
        None => token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
    }
    .map_err(map_claims_error)?;
    if let (true, Some(expected), Some(at)) = (signed, claims.access_token_hash(), check.access_token) {
        let alg = token.signing_alg().map_err(|e| OAuthError::IdToken(map_sig(e)))?;
        let key = token
            .signing_key(&verifier)
            .map_err(|e| OAuthError::IdToken(map_sig(e)))?;
        let computed = AccessTokenHash::from_token(&OidcAccessToken::new(at.to_string()), alg, key)
            .map_err(|e| OAuthError::IdToken(IdTokenError::Malformed(e.to_string())))?;
        if &computed != expected {
            return Err(OAuthError::IdToken(IdTokenError::AtHash).into());
        }
    }
    serde_json::to_value(claims).map_err(|e| OAuthError::IdToken(IdTokenError::Malformed(e.to_string())).into())
}

fn map_sig(e: SignatureVerificationError) -> IdTokenError {
    match e {
        SignatureVerificationError::NoSignature => IdTokenError::Unsigned,
        SignatureVerificationError::DisallowedAlg(a) | SignatureVerificationError::UnsupportedAlg(a) => {
            IdTokenError::UnsupportedAlg(a)
        }
        SignatureVerificationError::NoMatchingKey => IdTokenError::UnknownKey("(none matching)".into()),
        other => IdTokenError::BadSignature(other.to_string()),
    }
}

fn map_claims_error(e: ClaimsVerificationError) -> OAuthError {
    OAuthError::IdToken(match e {
        ClaimsVerificationError::Expired(m) => IdTokenError::Expired(m),
        ClaimsVerificationError::InvalidAudience(m) => IdTokenError::WrongAudience(m),
        ClaimsVerificationError::InvalidIssuer(m) => IdTokenError::WrongIssuer(m),
        ClaimsVerificationError::InvalidNonce(m) => IdTokenError::Nonce(m),
        ClaimsVerificationError::SignatureVerification(s) => map_sig(s),
        ClaimsVerificationError::Other(m) if m.contains("iat") || m.contains("issue") => IdTokenError::IssuedAt(m),
        other => IdTokenError::Malformed(other.to_string()),
    })
}
