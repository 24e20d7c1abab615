//! What a profile says about the cluster store: [`OpenBaoSettings`] (config keys
//! `cache = "openbao"`, `openbao_addr`, `openbao_mount`, `openbao_path`, `openbao_auth`,
//! `cluster_fallback`; the wiring lives with the configuration).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::tls::TlsOptions;
use crate::{Error, Result};

/// Where a secret value comes from.
#[derive(Clone)]
pub enum SecretFrom {
    /// An environment variable (read at each login).
    Env(String),
    /// A file (read at each login, trailing newline trimmed).
    File(PathBuf),
    /// A value given in code.
    Value(SecretString),
}

impl std::fmt::Debug for SecretFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretFrom::Env(v) => write!(f, "env {v}"),
            SecretFrom::File(p) => write!(f, "file {}", p.display()),
            SecretFrom::Value(_) => f.write_str("value [redacted]"),
        }
    }
}

/// How sesame authenticates to OpenBao (`openbao_auth`).
#[derive(Clone, Debug)]
pub enum OpenBaoAuth {
    /// A token: `$VAULT_TOKEN`, else `$BAO_TOKEN`, else `~/.vault-token`, else htgettoken's
    /// `/tmp/vt_u<uid>` (`from: None`); or from the given source. Re-read when OpenBao
    /// refuses it (htgettoken may have replaced the file). Renewed before its TTL ends.
    Token {
        /// `None`: the default search above.
        from: Option<SecretFrom>,
    },
    /// AppRole login (`auth/<mount>/login`).
    AppRole {
        /// The auth mount (default `approle`).
        mount: String,
        /// The role id.
        role_id: SecretFrom,
        /// The secret id.
        secret_id: SecretFrom,
        /// The secret id is a response-wrapping token (`X-Vault-Wrap-TTL`): it is unwrapped
        /// once (`sys/wrapping/unwrap`) and the secret id kept in memory.
        wrapped: bool,
    },
    /// JWT login (`auth/<mount>/login` with `role` and the JWT): a Kubernetes projected
    /// service-account token, an HTCondor-issued or any workload token, read from `file`
    /// at every login (so a rotated file is picked up).
    Jwt {
        /// The auth mount (default `jwt`).
        mount: String,
        /// The role.
        role: String,
        /// The file holding the JWT.
        file: PathBuf,
    },
}

/// What to do when no OpenBao node answers (`cluster_fallback`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterFallback {
    /// Refresh locally (once per host, behind the local file lock) and keep serving.
    Local,
    /// Do not refresh: keep serving the locally cached token while it is valid, then fail.
    /// The safe choice with rotating refresh tokens (a local refresh races the cluster:
    /// the second presentation of a rotating refresh token revokes the grant).
    Fail,
}

/// The cluster store's settings.
#[derive(Clone, Debug)]
pub struct OpenBaoSettings {
    /// One or several node URLs (`openbao_addr`), tried in order, failing over.
    pub addrs: Vec<Url>,
    /// The KV v2 mount (`openbao_mount`, default `secret`).
    pub mount: String,
    /// Path prefix under the mount (`openbao_path`, default `sesame`): records are at
    /// `<mount>/data/<path>/<cache key hash>`.
    pub path: String,
    /// How to authenticate (`openbao_auth`).
    pub auth: OpenBaoAuth,
    /// Most requests in flight to the cluster from this process at once (default 4;
    /// OpenBao 2.7.2 hangs with ~100 concurrent mixed requests on one key).
    pub max_in_flight: usize,
    /// `cluster_fallback`; `None`: `Fail` for a refresh (the refresh token may rotate),
    /// `Local` for a new grant without refresh token (client credentials).
    pub fallback: Option<ClusterFallback>,
    /// How long a claim to refresh holds before another host may take over (default 30 s).
    pub claim_ttl: Duration,
    /// Per-request timeout (default 5 s) and connect timeout (default 2 s).
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Longest a host waits for another host's refresh before giving up (default 60 s).
    pub max_wait: Duration,
    /// TLS options for `https://` nodes.
    pub tls: TlsOptions,
    /// Names this host in records (`refreshing_by`, `refreshed_by`); default
    /// `<hostname>:<pid>`.
    pub host_id: Option<String>,
}

impl OpenBaoSettings {
    /// Settings for these node URLs and auth, everything else default.
    pub fn new(addrs: &[&str], auth: OpenBaoAuth) -> Result<Self> {
        let addrs = addrs
            .iter()
            .map(|a| {
                let u = Url::parse(a).map_err(|e| Error::config(format!("openbao_addr {a:?} is not a URL: {e}")))?;
                if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
                    return Err(Error::config(format!(
                        "openbao_addr {a:?}: expected http(s)://host:port of an OpenBao node"
                    )));
                }
                Ok(u)
            })
            .collect::<Result<Vec<_>>>()?;
        if addrs.is_empty() {
            return Err(Error::config("openbao_addr: give at least one OpenBao node URL"));
        }
        Ok(OpenBaoSettings {
            addrs,
            mount: "secret".into(),
            path: "sesame".into(),
            auth,
            max_in_flight: 4,
            fallback: None,
            claim_ttl: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            max_wait: Duration::from_secs(60),
            tls: TlsOptions::default(),
            host_id: None,
        })
    }

    /// The token search of [`OpenBaoAuth::Token`] with `from: None`.
    pub fn default_token_auth() -> OpenBaoAuth {
        OpenBaoAuth::Token { from: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_secrets_never_shown() {
        let auth = OpenBaoAuth::AppRole {
            mount: "approle".into(),
            role_id: SecretFrom::Env("ROLE_ID".into()),
            secret_id: SecretFrom::Value(SecretString::from("s3cr3t-id".to_string())),
            wrapped: false,
        };
        let s = OpenBaoSettings::new(&["http://127.0.0.1:8200", "https://b.example:8200"], auth.clone()).unwrap();
        assert_eq!(
            (s.mount.as_str(), s.path.as_str(), s.max_in_flight),
            ("secret", "sesame", 4)
        );
        assert_eq!(s.fallback, None);
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("s3cr3t-id") && dbg.contains("env ROLE_ID"), "{dbg}");
        for bad in ["", "127.0.0.1:8200", "ftp://x", "http://"] {
            assert!(OpenBaoSettings::new(&[bad], auth.clone()).is_err(), "{bad:?}");
        }
        assert!(OpenBaoSettings::new(&[], auth).is_err());
    }
}
