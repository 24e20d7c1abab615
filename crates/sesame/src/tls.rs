//! TLS settings of a session (docs/session-rules.md#tls): verified by default with the platform's roots,
//! TLS 1.2 at least, extra CA bundles added to (never replacing) the system roots, and an
//! `insecure` switch that is per session and warns on every use.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// TLS options for a [`Session`](crate::Session).
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// PEM files of extra trust anchors, added to the system roots.
    pub ca_bundles: Vec<PathBuf>,
    /// Extra trust anchors given as PEM text.
    pub ca_pems: Vec<Vec<u8>>,
    /// Disable certificate verification. Logged as a warning on every request.
    pub insecure: bool,
}

impl TlsOptions {
    /// A digest of everything that decides which servers these options trust: the
    /// `insecure` switch, each CA bundle's path *and contents* (a bundle edited in place
    /// is another trust), and each PEM given inline. Process-wide caches of documents
    /// fetched over TLS (discovery, JWKS) are keyed by it, so that a document fetched
    /// under weaker settings is never served to a client with stronger ones. An unreadable
    /// bundle hashes as such (building the client with it fails anyway).
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(if self.insecure {
            b"insecure\0" as &[u8]
        } else {
            b"verified\0"
        });
        for path in &self.ca_bundles {
            h.update(b"bundle\0");
            h.update(path.as_os_str().as_encoded_bytes());
            h.update(b"\0");
            match std::fs::read(path) {
                Ok(bytes) => {
                    h.update((bytes.len() as u64).to_be_bytes());
                    h.update(&bytes);
                }
                Err(_) => h.update(b"unreadable"),
            }
        }
        for pem in &self.ca_pems {
            h.update(b"pem\0");
            h.update((pem.len() as u64).to_be_bytes());
            h.update(pem);
        }
        hex::encode(h.finalize())
    }

    /// Applies these options to a reqwest client builder.
    pub(crate) fn apply(&self, builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder> {
        Ok(self.load()?.apply(builder))
    }

    /// Reads and parses the trust anchors once, for clients made later from them.
    pub(crate) fn load(&self) -> Result<LoadedTls> {
        let mut certs = Vec::new();
        for path in &self.ca_bundles {
            certs.extend(load_bundle(path)?);
        }
        for pem in &self.ca_pems {
            certs.extend(
                reqwest::Certificate::from_pem_bundle(pem)
                    .map_err(|e| Error::config(format!("invalid CA certificate PEM: {}", e.without_url())))?,
            );
        }
        if self.insecure {
            // Front ends print their own notice on every use; this target lets them keep
            // the library's log lines for -v and not say it twice.
            tracing::warn!(target: "sesame::insecure", "TLS certificate verification is DISABLED for this client (insecure = true)");
        }
        Ok(LoadedTls {
            certs,
            insecure: self.insecure,
        })
    }
}

/// [`TlsOptions`] with their CA files read: a client made from these again (the clients of
/// a session's copy with connections of its own) trusts exactly what the first one did,
/// even if a bundle on disk has changed or gone since.
pub(crate) struct LoadedTls {
    certs: Vec<reqwest::Certificate>,
    insecure: bool,
}

impl LoadedTls {
    pub(crate) fn apply(&self, mut builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        builder = builder.tls_version_min(reqwest::tls::Version::TLS_1_2);
        if !self.certs.is_empty() {
            builder = builder.tls_certs_merge(self.certs.clone());
        }
        if self.insecure {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        builder
    }
}

fn load_bundle(path: &Path) -> Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path).map_err(|e| {
        Error::config(format!("cannot read CA bundle {} (`ca_bundle`): {e}", path.display()))
            .with_hint(crate::Hint::SetKey("ca_bundle"))
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        Error::config(format!(
            "CA bundle {} is not valid PEM: {}",
            path.display(),
            e.without_url()
        ))
    })?;
    if certs.is_empty() {
        return Err(Error::config(format!(
            "CA bundle {} holds no CERTIFICATE block",
            path.display()
        )));
    }
    Ok(certs)
}
