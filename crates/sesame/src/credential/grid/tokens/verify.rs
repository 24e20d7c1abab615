//! Optional signature verification of discovered JWTs (`verify_signature = true`).
//!
//! The claim checks of `checks.rs` only avoid sending tokens a server would refuse;
//! anyone who can write to `/tmp/bt_u<uid>` or set `BEARER_TOKEN` can also put a forged
//! token there. With verification on, a token is used only if its JWS signature
//! ([RFC 7515 §5.2](https://www.rfc-editor.org/rfc/rfc7515#section-5.2)) verifies against
//! the key set ([RFC 7517](https://www.rfc-editor.org/rfc/rfc7517#section-5)) its own `iss`
//! publishes — found through OIDC Discovery, else RFC 8414 metadata, as the
//! [WLCG Common JWT Profiles](https://doi.org/10.5281/zenodo.3460258) (§ "Token
//! validation") prescribe for resource servers. The issuer must be `https` (the same
//! profile requires it, and keys fetched over cleartext could be swapped on the way)
//! unless the profile is `insecure`.
//!
//! The network work lives in [`crate::oauth`] ([`discovery`], [`jws`], and through it the
//! per-process JWKS cache with its one refetch on an unknown `kid`); this file decides
//! what a failure means for discovery — a reason to pass the token over — and remembers
//! verdicts per token, because the discovery chain looks at its sources on every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

use super::checks::printable;
use crate::oauth::{IdTokenError, OAuthHttp, discovery, jwks, jws};

/// How long "issuer unreachable" is remembered before the issuer is asked again: long
/// enough that a dead provider does not add its timeout to every request, short enough
/// that a recovered one is noticed soon.
pub const UNREACHABLE_RETRY: Duration = Duration::from_secs(30);

/// At most this many verdicts are kept (a long job sees one token per refresh).
const MAX_VERDICTS: usize = 256;

/// What was concluded about one token.
#[derive(Debug, Clone)]
enum Verdict {
    /// The signature verifies against its issuer's keys.
    Valid,
    /// Never usable (bad signature, not a JWT, an http issuer, …): the token's bytes decide.
    Refused(String),
    /// Not usable now (issuer unreachable, key not published yet); asked again after `until`.
    Retry { reason: String, until: Instant },
}

/// Verifies discovered tokens and remembers the verdicts. Holds no token: verdicts are keyed
/// by the token's SHA-256.
pub(crate) struct Verifier {
    http: OAuthHttp,
    insecure: bool,
    verdicts: Mutex<HashMap<[u8; 32], Verdict>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    pub fn new(http: OAuthHttp, insecure: bool) -> Self {
        Verifier {
            http,
            insecure,
            verdicts: Mutex::default(),
        }
    }

    fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The verdict reached earlier for `token`, if it still holds: `Some(Ok)` verified,
    /// `Some(Err(reason))` refused, `None` not verified (or time to ask again).
    pub fn cached(&self, token: &str) -> Option<Result<(), String>> {
        let verdicts = self.verdicts.lock().ok()?;
        match verdicts.get(&Self::key(token))? {
            Verdict::Valid => Some(Ok(())),
            Verdict::Refused(r) => Some(Err(r.clone())),
            Verdict::Retry { reason, until } if Instant::now() < *until => Some(Err(reason.clone())),
            Verdict::Retry { .. } => None,
        }
    }

    /// Whether `token` (with its unverified `claims`, `None` for an opaque token) may be
    /// used: `Err` carries the reason it is passed over. Network only for a token not seen
    /// before (or whose issuer was unreachable a while ago).
    pub async fn check(&self, token: &str, claims: Option<&Map<String, Value>>) -> Result<(), String> {
        if let Some(v) = self.cached(token) {
            return v;
        }
        let verdict = self.verify(token, claims).await;
        tracing::debug!(?verdict, "discovered token signature checked");
        let out = match &verdict {
            Verdict::Valid => Ok(()),
            Verdict::Refused(r) | Verdict::Retry { reason: r, .. } => Err(r.clone()),
        };
        if let Ok(mut v) = self.verdicts.lock() {
            if v.len() >= MAX_VERDICTS {
                v.clear();
            }
            v.insert(Self::key(token), verdict);
        }
        out
    }

    async fn verify(&self, token: &str, claims: Option<&Map<String, Value>>) -> Verdict {
        let refused = |r: String| Verdict::Refused(r);
        let retry = |reason: String, after: Duration| Verdict::Retry {
            reason,
            until: Instant::now() + after,
        };
        let Some(claims) = claims else {
            return refused(
                "not a JWT (an opaque token): its signature cannot be verified, and verify_signature is on".into(),
            );
        };
        let Some(iss) = claims.get("iss").and_then(Value::as_str) else {
            return refused("JWT has no `iss` claim: no issuer keys to verify its signature against".into());
        };
        let iss_shown = printable(iss);
        let url = match Url::parse(iss) {
            Ok(u) => u,
            Err(_) => return refused(format!("JWT issuer `{iss_shown}` is not a URL")),
        };
        // Unlike provider discovery, no loopback exception: a token file is not a profile
        // the user wrote, and any local process can listen on 127.0.0.1.
        if url.scheme() != "https" && !self.insecure {
            return refused(format!(
                "issuer `{iss_shown}` is not https, so its keys cannot be fetched safely (the WLCG JWT profile requires https); \
                 allowed only when the profile is insecure"
            ));
        }
        let meta = match discovery::discover(&self.http, iss, self.insecure).await {
            Ok(m) => m,
            Err(e) => return retry(format!("issuer unreachable: {e}"), UNREACHABLE_RETRY),
        };
        let jwks_uri = match meta.jwks_uri.as_deref().map(Url::parse) {
            Some(Ok(u)) => u,
            Some(Err(e)) => {
                return retry(
                    format!("issuer `{iss_shown}` publishes a jwks_uri that is not a URL: {e}"),
                    UNREACHABLE_RETRY,
                );
            }
            None => return retry(format!("issuer `{iss_shown}` publishes no jwks_uri"), UNREACHABLE_RETRY),
        };
        if jwks_uri.scheme() != "https" && !self.insecure {
            return refused(format!(
                "issuer `{iss_shown}` publishes its keys over {}:// ({jwks_uri}); allowed only when the profile is insecure",
                jwks_uri.scheme()
            ));
        }
        match jws::verify_signature(&self.http, token, &jwks_uri).await {
            Ok(Ok(())) => Verdict::Valid,
            Err(e) => retry(
                format!("issuer unreachable: cannot fetch its keys: {e}"),
                UNREACHABLE_RETRY,
            ),
            // The JWKS was just refetched for this kid (or refetching was rate-limited):
            // the key may appear later, so this is not final.
            Ok(Err(IdTokenError::UnknownKey(kid))) => retry(
                format!(
                    "signature does not verify against {iss_shown}'s keys: none has kid `{}`",
                    printable(&kid)
                ),
                jwks::REFETCH_MIN_INTERVAL,
            ),
            Ok(Err(IdTokenError::BadSignature(_))) => {
                refused(format!("signature does not verify against {iss_shown}'s keys"))
            }
            Ok(Err(e)) => refused(format!("signature not verifiable: {e}")),
        }
    }
}
