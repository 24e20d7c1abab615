//! RFC 3820 proxy certificates: recognising one, and letting rustls present one. Shared by
//! the token and the X.509 discovery (a proxy file in `/tmp` belongs to the second), so it
//! sits below both.

use std::path::Path;

/// Whether the first certificate in `cert_file` is an RFC 3820 proxy (carries
/// ProxyCertInfo, 1.3.6.1.5.5.7.1.14).
pub(crate) fn is_proxy_file(cert_file: &Path) -> bool {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let Ok(pem) = std::fs::read(cert_file) else {
        return false;
    };
    let Some(Ok(first)) = CertificateDer::pem_slice_iter(&pem).next() else {
        return false;
    };
    x509_parser::parse_x509_certificate(first.as_ref())
        .map(|(_, c)| {
            c.extensions()
                .iter()
                .any(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.14")
        })
        .unwrap_or(false)
}

/// Lets this process present RFC 3820 proxy certificates over TLS. Returns whether it can.
///
/// rustls checks, when a client identity is configured, that the certificate matches the
/// key — by parsing the certificate with WebPKI, which refuses the critical ProxyCertInfo
/// extension every proxy carries, so a proxy cannot even be configured. This installs, as
/// the process's default rustls crypto provider, aws-lc-rs' default provider (the one
/// reqwest uses anyway) with one difference: loaded private keys do not expose their
/// public key, which makes rustls skip that consistency check (a mismatched key then fails
/// in the handshake instead). Nothing else changes: verification of servers is untouched.
///
/// Called by [`Discover`](super::tokens::Discover) when the certificate it found is a proxy. If the
/// application has installed another default provider, that one stays and `false` is
/// returned (proxies then fail to load).
pub fn enable_proxy_client_certificates() -> bool {
    proxy_keys::install()
}

mod proxy_keys {
    use std::sync::{Arc, OnceLock};

    use rustls::crypto::{CryptoProvider, KeyProvider};
    use rustls::sign::{Signer, SigningKey};
    use rustls::{SignatureAlgorithm, SignatureScheme};
    use rustls_pki_types::PrivateKeyDer;

    /// aws-lc-rs' key loading, returning keys that keep their public half to themselves.
    #[derive(Debug)]
    struct OpaqueKeys(&'static dyn KeyProvider);

    #[derive(Debug)]
    struct OpaqueKey(Arc<dyn SigningKey>);

    impl KeyProvider for OpaqueKeys {
        fn load_private_key(&self, key_der: PrivateKeyDer<'static>) -> Result<Arc<dyn SigningKey>, rustls::Error> {
            Ok(Arc::new(OpaqueKey(self.0.load_private_key(key_der)?)))
        }

        fn fips(&self) -> bool {
            self.0.fips()
        }
    }

    impl SigningKey for OpaqueKey {
        fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
            self.0.choose_scheme(offered)
        }

        fn algorithm(&self) -> SignatureAlgorithm {
            self.0.algorithm()
        }
    }

    static KEYS: OnceLock<OpaqueKeys> = OnceLock::new();

    pub(super) fn install() -> bool {
        let keys: &'static OpaqueKeys =
            KEYS.get_or_init(|| OpaqueKeys(rustls::crypto::aws_lc_rs::default_provider().key_provider));
        let ours = keys as *const OpaqueKeys as *const () as usize;
        if CryptoProvider::get_default().is_none() {
            let provider = CryptoProvider {
                key_provider: keys,
                ..rustls::crypto::aws_lc_rs::default_provider()
            };
            // A concurrent install (ours or the application's) may win; checked below.
            let _ = provider.install_default();
        }
        let installed = CryptoProvider::get_default()
            .is_some_and(|p| p.key_provider as *const dyn KeyProvider as *const () as usize == ours);
        if !installed {
            tracing::warn!(
                "another rustls crypto provider is installed for this process; RFC 3820 proxy certificates cannot be presented"
            );
        }
        installed
    }
}
