//! Random values for OAuth: PKCE verifiers ([RFC 7636](https://www.rfc-editor.org/rfc/rfc7636)),
//! `state`, `nonce` and `jti`, from the OS's cryptographic generator.

use base64::Engine;
use rand::RngCore;

/// `n` random bytes, base64url without padding.
#[doc(hidden)]
pub fn random_token(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}
