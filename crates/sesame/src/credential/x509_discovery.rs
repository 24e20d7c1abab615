//! Finding the user's X.509 credential the way grid tools do (docs/credentials.md):
//! `X509_USER_CERT` + `X509_USER_KEY`, then `X509_USER_PROXY`, then `/tmp/x509up_u<uid>`,
//! then `~/.globus/usercert.pem` + `~/.globus/userkey.pem`.
//!
//! A place that holds nothing is skipped; a place that holds something unusable (expired or
//! expiring within 600 s, a key others can read, a file another account owns or can
//! write, not PEM) is skipped too, with the reason
//! kept, so that a stale proxy in `/tmp` does not hide a good certificate in `~/.globus` —
//! and so that the caller can say exactly why nothing was usable.

use std::path::{Path, PathBuf};

use super::X509;
use super::discover::{Env, Skipped};

/// The outcome of [`discover_x509`].
#[derive(Debug, Default)]
pub struct X509Discovery {
    /// The first usable credential.
    pub found: Option<X509>,
    /// Where it came from (`X509_USER_PROXY (/path)`).
    pub source: Option<String>,
    /// The places looked at before it (or all of them, when none was usable), and why each
    /// was passed over.
    pub skipped: Vec<Skipped>,
}

/// Looks for an X.509 credential in the grid places, in order (see the module docs).
pub fn discover_x509(env: &Env) -> X509Discovery {
    let mut out = X509Discovery::default();

    // 1. X509_USER_CERT + X509_USER_KEY (a cert variable alone: the file holds both).
    match (env.path_var("X509_USER_CERT"), env.path_var("X509_USER_KEY")) {
        (Some(c), Some(k)) => {
            let label = format!("X509_USER_CERT + X509_USER_KEY ({}, {})", c.display(), k.display());
            let exists = c.exists();
            if try_source(&mut out, label, &[&c, &k], &|| X509::from_files(&c, &k), exists) {
                return out;
            }
        }
        (Some(c), None) => {
            let label = format!("X509_USER_CERT ({}; X509_USER_KEY not set)", c.display());
            let exists = c.exists();
            if try_source(&mut out, label, &[&c], &|| X509::from_proxy_file(&c), exists) {
                return out;
            }
        }
        (None, Some(k)) => out.skipped.push(Skipped::new(
            format!("X509_USER_KEY ({})", k.display()),
            "set without X509_USER_CERT",
        )),
        (None, None) => out
            .skipped
            .push(Skipped::new("X509_USER_CERT + X509_USER_KEY", "not set")),
    }

    // 2. X509_USER_PROXY.
    match env.path_var("X509_USER_PROXY") {
        Some(p) => {
            let label = format!("X509_USER_PROXY ({})", p.display());
            let exists = p.exists();
            if try_source(&mut out, label, &[&p], &|| X509::from_proxy_file(&p), exists) {
                return out;
            }
        }
        None => out.skipped.push(Skipped::new("X509_USER_PROXY", "not set")),
    }

    // 3. /tmp/x509up_u<uid>.
    let proxy = env.tmp_root().join(format!("x509up_u{}", env.uid()));
    let exists = proxy.exists();
    if try_source(
        &mut out,
        proxy.display().to_string(),
        &[&proxy],
        &|| X509::from_proxy_file(&proxy),
        exists,
    ) {
        return out;
    }

    // 4. ~/.globus/usercert.pem + userkey.pem.
    match env.home() {
        Some(home) => {
            let globus: PathBuf = home.join(".globus");
            let (c, k) = (globus.join("usercert.pem"), globus.join("userkey.pem"));
            let label = format!("{} + userkey.pem", c.display());
            let exists = c.exists() && Path::new(&k).exists();
            try_source(&mut out, label, &[&c, &k], &|| X509::from_files(&c, &k), exists);
        }
        None => out
            .skipped
            .push(Skipped::new("~/.globus/usercert.pem", "no home directory")),
    }
    out
}

/// Tries one place; records the credential or why it was passed over. True when found.
///
/// Every file of the place (certificate and key, or the proxy) must be owned by this
/// process's effective uid and not writable by group or others: another account can
/// create `/tmp/x509up_u<uid>` first, and a certificate and key it chose would make the
/// user's requests run as that account.
fn try_source(
    out: &mut X509Discovery,
    label: String,
    files: &[&Path],
    load: &dyn Fn() -> crate::Result<X509>,
    exists: bool,
) -> bool {
    if !exists {
        out.skipped.push(Skipped::new(label, "not found"));
        return false;
    }
    for f in files {
        let problem = match super::permissions::discovered_path_problem(f) {
            Ok(None) => continue,
            Ok(Some(p)) => format!("{}: {p}", f.display()),
            Err(e) => format!("{}: {e}", f.display()),
        };
        tracing::debug!(source = %label, "X.509 credential passed over: {problem}");
        out.skipped.push(Skipped::new(label, problem));
        return false;
    }
    match load() {
        Ok(x) => {
            tracing::debug!(source = %label, subject = %x.info().subject, "X.509 credential found");
            out.found = Some(x);
            out.source = Some(label);
            true
        }
        Err(e) => {
            tracing::debug!(source = %label, "X.509 credential skipped: {e}");
            out.skipped.push(Skipped::new(label, e.to_string()));
            false
        }
    }
}

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
/// Called by [`Discover`](super::Discover) when the certificate it found is a proxy. If the
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
