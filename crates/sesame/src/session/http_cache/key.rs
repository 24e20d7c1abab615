//! How an entry is found: who is asking (a salted hash of the credential identity) and
//! for which URL. Kept apart because it is the cache's security boundary — two identities
//! must never share an entry — and it should be readable, and reviewed, on its own.

use reqwest::header::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};
use url::Url;

use crate::credential::Credential;

/// A salted hash of who is asking: see [`identity`].
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Identity(pub(super) Vec<u8>);

/// The identity of a request: the credential that was attached (its description and the
/// headers it wrote) and any credential-like header set by hand (`Authorization`, `Cookie`,
/// API keys, the session's `credential_headers`); "anonymous" when there is neither. Only
/// a hash of the values is kept.
pub(crate) fn identity(
    credential: Option<&dyn Credential>,
    cred_headers: &HeaderMap,
    request_headers: &HeaderMap,
    credential_headers: &[HeaderName],
) -> Identity {
    let mut h = Sha256::new();
    let mut anonymous = true;
    if let Some(c) = credential {
        anonymous = false;
        h.update(b"credential\0");
        let info = c.info();
        h.update(info.kind.as_bytes());
        for (k, v) in &info.details {
            h.update(b"\0");
            h.update(k.as_bytes());
            h.update(b"=");
            h.update(v.as_bytes());
        }
    }
    let mut pairs: Vec<(&str, &[u8])> = cred_headers
        .iter()
        .chain(
            request_headers
                .iter()
                .filter(|(k, _)| crate::redact::is_sensitive_header(k, credential_headers)),
        )
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    pairs.sort();
    for (k, v) in pairs {
        anonymous = false;
        h.update(b"\0h:");
        h.update(k.as_bytes());
        h.update(b":");
        h.update(v);
    }
    if anonymous {
        return Identity(b"anonymous".to_vec());
    }
    Identity(h.finalize().to_vec())
}

/// Where an entry lives: the URL's key and the identity's key.
#[derive(Clone, Debug)]
pub(crate) struct Key {
    pub(super) url: String,
    pub(super) ident: String,
}

impl Key {
    pub(super) fn new(url: &Url, identity: &Identity, salt: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(salt);
        h.update(&identity.0);
        Key {
            url: url_key(url),
            ident: hex::encode(&h.finalize()[..16]),
        }
    }

    pub(super) fn file_name(&self) -> String {
        format!("{}-{}.hc", self.url, self.ident)
    }
}

/// The URL part of a key: every identity's entries of a URL share it (invalidation).
pub(super) fn url_key(url: &Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    let mut h = Sha256::new();
    h.update(b"GET ");
    h.update(u.as_str().as_bytes());
    hex::encode(&h.finalize()[..16])
}
