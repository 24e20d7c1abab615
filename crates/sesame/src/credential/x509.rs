//! An X.509 client certificate presented in the TLS handshake (mutual TLS).
//!
//! Either a certificate file and a key file, or one PEM file holding a certificate chain
//! and its key — the layout of an RFC 3820 proxy (`/tmp/x509up_u<uid>`: proxy certificate,
//! its key, then the issuing chain). A certificate with fewer than
//! [`MIN_REMAINING`] left is refused with a clear error (docs/credentials.md), and so is a key file
//! that other users can read or write.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{Attachment, AuthRequest, Credential, CredentialInfo};
use crate::Result;
use crate::error::CredentialError;
use crate::token::{Clock, SystemClock};

/// A certificate with less than this left is refused.
pub const MIN_REMAINING: Duration = Duration::from_secs(600);

/// What sesame read from the certificate (no key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X509Info {
    /// Subject of the first certificate (the proxy or end-entity certificate).
    pub subject: String,
    /// Its issuer.
    pub issuer: String,
    /// The earliest `notAfter` in the chain, Unix seconds.
    pub not_after: i64,
    /// Certificates in the chain.
    pub chain_len: usize,
    /// Where the certificate came from.
    pub cert_path: PathBuf,
}

/// A TLS client identity.
#[derive(Clone)]
pub struct X509 {
    pem: Vec<u8>,
    info: X509Info,
}

impl X509 {
    /// A certificate (chain) file and its key file.
    pub fn from_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self> {
        Self::from_files_with_clock(cert, key, &SystemClock)
    }

    /// [`X509::from_files`], judging the certificate's validity by `clock` (tests:
    /// controlled time).
    pub fn from_files_with_clock(cert: impl AsRef<Path>, key: impl AsRef<Path>, clock: &dyn Clock) -> Result<Self> {
        let cert = cert.as_ref();
        let key = key.as_ref();
        let cert_pem = read(cert, "client certificate")?;
        crate::permissions::check_private(key, "private key")?;
        let key_pem = read(key, "private key")?;
        Self::from_pem_parts(&cert_pem, &key_pem, cert, key, clock)
    }

    /// One PEM file with the certificate chain and the key (an RFC 3820 proxy file).
    pub fn from_proxy_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        // rustls refuses to pair a proxy certificate with its key (it cannot parse the
        // critical ProxyCertInfo extension); see `grid::enable_proxy_client_certificates`.
        super::grid::enable_proxy_client_certificates();
        crate::permissions::check_private(path, "proxy file")?;
        let pem = read(path, "proxy file")?;
        Self::from_pem_parts(&pem, &pem, path, path, &SystemClock)
    }

    fn from_pem_parts(
        cert_pem: &[u8],
        key_pem: &[u8],
        cert_path: &Path,
        key_path: &Path,
        clock: &dyn Clock,
    ) -> Result<Self> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| file_err("client certificate", cert_path, format!("not valid PEM: {e}")))?;
        if certs.is_empty() {
            return Err(file_err("client certificate", cert_path, "no CERTIFICATE block found".into()).into());
        }
        // Parse the key only to check that one is there and is of a known type; the
        // error text never includes key material.
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| {
            file_err(
                "private key",
                key_path,
                "no usable PRIVATE KEY block (PKCS#8, PKCS#1 or SEC1 PEM expected; decrypt an encrypted key first)"
                    .into(),
            )
        })?;

        let mut min_not_after = i64::MAX;
        let mut subject = String::new();
        let mut issuer = String::new();
        let now = clock.now();
        for (i, der) in certs.iter().enumerate() {
            let (_, parsed) = x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| {
                file_err(
                    "client certificate",
                    cert_path,
                    format!("certificate {} is not valid X.509: {e}", i + 1),
                )
            })?;
            let validity = parsed.validity();
            min_not_after = min_not_after.min(validity.not_after.timestamp());
            if i == 0 {
                subject = parsed.subject().to_string();
                issuer = parsed.issuer().to_string();
                if validity.not_before.timestamp() > now + 300 {
                    return Err(CredentialError::Expired(format!(
                        "client certificate {} ({subject}) is not valid before {}; check the system clock",
                        cert_path.display(),
                        validity.not_before
                    ))
                    .into());
                }
            }
        }
        let left = min_not_after - now;
        if left < MIN_REMAINING.as_secs() as i64 {
            let when = if left <= 0 {
                "expired".to_string()
            } else {
                format!("expires in {left} s")
            };
            return Err(CredentialError::Expired(format!(
                "client certificate {} ({subject}) {when}; at least {} s are required. Renew it (e.g. `voms-proxy-init` or `grid-proxy-init` for a proxy)",
                cert_path.display(),
                MIN_REMAINING.as_secs()
            ))
            .into());
        }

        // reqwest wants the key and the chain in one PEM buffer.
        let mut pem = Vec::with_capacity(cert_pem.len() + key_pem.len() + 1);
        pem.extend_from_slice(key_pem);
        pem.push(b'\n');
        if cert_path != key_path {
            pem.extend_from_slice(cert_pem);
        }
        // Validate now, so that a bad identity is a credential error at build time.
        reqwest::Identity::from_pem(&pem).map_err(|e| {
            file_err(
                "client certificate",
                cert_path,
                format!("cannot use certificate and key together: {}", e.without_url()),
            )
        })?;
        let chain_len = certs.len();
        check_usable_by_rustls(certs, key_pem, cert_path, key_path)?;
        Ok(X509 {
            pem,
            info: X509Info {
                subject,
                issuer,
                not_after: min_not_after,
                chain_len,
                cert_path: cert_path.to_path_buf(),
            },
        })
    }

    /// What the certificate says.
    pub fn info(&self) -> &X509Info {
        &self.info
    }
}

/// Asks rustls, as reqwest will when it builds the client, whether it can present this
/// chain with this key. reqwest reports a refusal as "builder error" at the first request;
/// here it becomes an error that names the file and says why (an X.509 v1 certificate,
/// a key type TLS cannot sign with, a key that is not the certificate's).
fn check_usable_by_rustls(
    certs: Vec<CertificateDer<'static>>,
    key_pem: &[u8],
    cert_path: &Path,
    key_path: &Path,
) -> Result<()> {
    use rustls::crypto::CryptoProvider;
    let Ok(key) = PrivateKeyDer::from_pem_slice(key_pem) else {
        return Ok(()); // refused above
    };
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    if let Err(e) = provider.key_provider.load_private_key(key.clone_key()) {
        return Err(file_err(
            "private key",
            key_path,
            format!(
                "TLS cannot sign with this key type ({e}); use an RSA (≥ 2048 bit), ECDSA P-256/P-384 or Ed25519 key"
            ),
        )
        .into());
    }
    // The leaf must be a v3 certificate: rustls (webpki) refuses v1/v2 ones.
    if let Ok((_, leaf)) = x509_parser::parse_x509_certificate(certs[0].as_ref())
        && leaf.version() != x509_parser::x509::X509Version::V3
    {
        return Err(file_err(
            "client certificate",
            cert_path,
            format!(
                "is an X.509 v{} certificate; TLS client authentication needs v3 (re-issue it with X.509 v3 extensions)",
                leaf.version().0 + 1
            ),
        )
        .into());
    }
    let built = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.with_root_certificates(rustls::RootCertStore::empty())
                .with_client_auth_cert(certs, key)
        });
    match built {
        Ok(Err(e)) => Err(file_err(
            "client certificate",
            cert_path,
            format!("cannot be used with its key for TLS client authentication: {e}"),
        )
        .into()),
        _ => Ok(()),
    }
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| file_err(what, path, e.to_string()).into())
}

fn file_err(what: &'static str, path: &Path, message: String) -> CredentialError {
    CredentialError::File {
        what,
        path: path.to_path_buf(),
        message,
    }
}

impl std::fmt::Debug for X509 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X509")
            .field("info", &self.info)
            .field("key", &"[redacted]")
            .finish()
    }
}

#[async_trait]
impl Credential for X509 {
    async fn attach(&self, _req: &AuthRequest<'_>, _headers: &mut HeaderMap) -> Result<Attachment> {
        Ok(Attachment::default())
    }

    fn tls_identity(&self) -> Result<Option<reqwest::Identity>> {
        let id = reqwest::Identity::from_pem(&self.pem)
            .map_err(|e| CredentialError::Other(format!("client certificate: {}", e.without_url())))?;
        Ok(Some(id))
    }

    fn info(&self) -> CredentialInfo {
        CredentialInfo::new("x509")
            .with("subject", &self.info.subject)
            .with("issuer", &self.info.issuer)
            .with("not_after", self.info.not_after.to_string())
            .with("cert", self.info.cert_path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::token::ManualClock;

    #[test]
    fn validity_is_judged_by_the_clock() {
        // Valid for a day around a date long past: only the injected clock finds it valid.
        const START: i64 = 1_000_000_000;
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec!["client.test".to_string()]).unwrap();
        p.not_before = time::OffsetDateTime::from_unix_timestamp(START - 3600).unwrap();
        p.not_after = time::OffsetDateTime::from_unix_timestamp(START + 86_400).unwrap();
        let cert = p.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o600)).unwrap();
        let x = X509::from_files_with_clock(&c, &k, &ManualClock::new(START)).unwrap();
        assert_eq!(x.info().not_after, START + 86_400);
        let err = X509::from_files_with_clock(&c, &k, &ManualClock::new(START + 86_400)).unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");
    }
}
