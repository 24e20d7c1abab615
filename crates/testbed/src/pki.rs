//! Certificates made at test time: a test CA, server certificates for 127.0.0.1 and
//! localhost, client certificates with chosen validity, and RFC 3820 proxy certificates.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// A certificate and its private key, PEM.
#[derive(Clone, Debug)]
pub struct CertKey {
    /// Certificate PEM.
    pub cert_pem: String,
    /// Private key PEM (PKCS#8).
    pub key_pem: String,
    /// Subject CN.
    pub cn: String,
    params: CertificateParams,
}

impl CertKey {
    /// Writes `name.crt` and `name.key` (0600) into `dir`; returns both paths.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let c = dir.join(format!("{name}.crt"));
        let k = dir.join(format!("{name}.key"));
        std::fs::write(&c, &self.cert_pem).unwrap();
        write_private(&k, self.key_pem.as_bytes());
        (c, k)
    }

    /// Issues an RFC 3820 proxy certificate from this (end-entity) certificate, valid for
    /// `valid_for`, and returns the proxy file contents: proxy cert, proxy key, then this
    /// certificate (the layout of `/tmp/x509up_u<uid>`).
    pub fn proxy_file(&self, valid_for: Duration) -> String {
        let issuer_key = KeyPair::from_pem(&self.key_pem).unwrap();
        let issuer = Issuer::from_params(&self.params, issuer_key);
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        // RFC 3820 §3.4: the issuer's subject, in its order, plus one CN.
        let mut dn = DistinguishedName::new();
        for (ty, value) in self.params.distinguished_name.iter() {
            dn.push(ty.clone(), value.clone());
        }
        // rcgen keeps one value per type: the proxy CN goes in as the raw CN OID.
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 3]), "123456789");
        p.distinguished_name = dn;
        p.not_before = OffsetDateTime::now_utc() - Duration::minutes(5);
        p.not_after = OffsetDateTime::now_utc() + valid_for;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        // ProxyCertInfo (id-pe-proxyCertInfo, 1.3.6.1.5.5.7.1.14), critical, policy
        // id-ppl-inheritAll (1.3.6.1.5.5.7.21.1): SEQUENCE { SEQUENCE { OID } }.
        let policy_oid = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x15, 0x01];
        let mut inner = vec![0x30, policy_oid.len() as u8];
        inner.extend_from_slice(&policy_oid);
        let mut content = vec![0x30, inner.len() as u8];
        content.extend_from_slice(&inner);
        let mut ext = CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 14], content);
        ext.set_criticality(true);
        p.custom_extensions.push(ext);
        let cert = p.signed_by(&key, &issuer).unwrap();
        format!("{}{}{}", cert.pem(), key.serialize_pem(), self.cert_pem)
    }
}

/// Writes a file with mode 0600.
pub fn write_private(path: &Path, data: &[u8]) {
    std::fs::write(path, data).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// A certificate authority made for one test run.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub cert_pem: String,
}

impl TestCa {
    /// A new CA named `name`.
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        p.not_before = OffsetDateTime::now_utc() - Duration::days(1);
        p.not_after = OffsetDateTime::now_utc() + Duration::days(30);
        let cert = p.self_signed(&key).unwrap();
        TestCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(p, key),
        }
    }

    /// Writes the CA certificate to `dir/name` and returns the path.
    pub fn write_cert(&self, dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, &self.cert_pem).unwrap();
        p
    }

    /// A server certificate for `127.0.0.1` and `localhost`.
    pub fn server_cert(&self) -> CertKey {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, "localhost");
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.not_before = OffsetDateTime::now_utc() - Duration::hours(1);
        p.not_after = OffsetDateTime::now_utc() + Duration::days(7);
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        CertKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cn: "localhost".into(),
            params: p,
        }
    }

    /// A client certificate for `cn`, valid from now − 1 h for `valid_for` (negative: already expired).
    pub fn client_cert(&self, cn: &str, valid_for: Duration) -> CertKey {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::OrganizationName, "sesame tests");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        let now = OffsetDateTime::now_utc();
        p.not_before = now - Duration::hours(1)
            + if valid_for.is_negative() {
                valid_for
            } else {
                Duration::ZERO
            };
        p.not_after = now + valid_for;
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        CertKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cn: cn.into(),
            params: p,
        }
    }

    /// The CA certificate in DER.
    pub fn cert_der(&self) -> rustls_pki_types::CertificateDer<'static> {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_slice(self.cert_pem.as_bytes()).unwrap()
    }
}
