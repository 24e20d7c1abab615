//! From a resolved profile to a [`SessionBuilder`] with its credential.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::{AuthKind, ResolvedProfile, expand_home};
use crate::credential::{self, Credential};
use crate::session::SessionBuilder;
use crate::{Error, Result};

/// A session builder configured from a profile: base URL, timeouts, TLS, redirects and the
/// credential of its `auth` kind.
pub fn session_builder(resolved: &ResolvedProfile) -> Result<SessionBuilder> {
    let p = &resolved.profile;
    let mut b = SessionBuilder::new();
    if let Some(u) = &p.base_url {
        b = b.base_url(u)?;
    }
    if let Some(t) = p.timeout {
        b = b.timeout(if t > 0.0 { Some(secs(t, "timeout")?) } else { None });
    }
    if let Some(t) = p.connect_timeout {
        b = b.connect_timeout(secs(t, "connect_timeout")?);
    }
    if let Some(ca) = &p.ca_bundle {
        b = b.ca_bundle(expand_home(ca));
    }
    if p.insecure == Some(true) {
        b = b.insecure(true);
    }
    if let Some(r) = &p.redirects {
        b = b.redirects(r.parse()?);
    }
    if let Some(c) = credential_for(resolved)? {
        b = b.credential_arc(c);
    }
    Ok(b)
}

fn secs(v: f64, key: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(v).map_err(|_| Error::config(format!("`{key}` must be a positive number of seconds")))
}

/// The credential of a profile's `auth` kind (`None` for `none`).
pub(crate) fn credential_for(resolved: &ResolvedProfile) -> Result<Option<Arc<dyn Credential>>> {
    let p = &resolved.profile;
    let name = &resolved.name;
    let auth = p.auth.unwrap_or_else(|| infer_kind(p));
    let need = |what: Option<&super::SecretSource>, key: &str| -> Result<String> {
        let src = what.ok_or_else(|| {
            Error::config(format!(
                "profile `{name}` uses auth = \"{auth}\" but has no `{key}`; set it in the profile or with the matching flag"
            ))
        })?;
        Ok(src.resolve(key)?.expose_secret().to_string())
    };
    let cred: Arc<dyn Credential> = match auth {
        AuthKind::None => return Ok(None),
        AuthKind::Basic => {
            let user = p.username.clone().ok_or_else(|| {
                Error::config(format!(
                    "profile `{name}` uses auth = \"basic\" but has no `username` (there is no default user)"
                ))
            })?;
            let pw = need(p.password.as_ref(), "password")?;
            Arc::new(credential::Basic::new(user, pw)?)
        }
        AuthKind::Bearer => Arc::new(credential::Bearer::try_new(need(p.token.as_ref(), "token")?)?),
        AuthKind::ApiKey => {
            let header = p
                .api_key_header
                .as_deref()
                .unwrap_or(credential::API_KEY_DEFAULT_HEADER);
            Arc::new(credential::ApiKey::with_header(
                header,
                need(p.token.as_ref(), "token")?,
            )?)
        }
        AuthKind::Netrc => match &p.netrc {
            Some(path) => Arc::new(credential::Netrc::load(expand_home(path))?),
            None => Arc::new(credential::Netrc::from_env()?),
        },
        AuthKind::X509 => match (&p.cert, &p.key) {
            (Some(c), Some(k)) => Arc::new(credential::X509::from_files(expand_home(c), expand_home(k))?),
            (Some(c), None) => Arc::new(credential::X509::from_proxy_file(expand_home(c))?),
            (None, _) => {
                return Err(Error::config(format!(
                    "profile `{name}` uses auth = \"x509\" but has no `cert` (and `key`, unless `cert` is a proxy file)"
                )));
            }
        },
        other => {
            return Err(Error::config(format!(
                "auth = \"{other}\" (profile `{name}`) is not supported by this build of sesame yet"
            )));
        }
    };
    Ok(Some(cred))
}

/// With no `auth` key: a token means bearer, a username basic, a certificate x509, else none.
fn infer_kind(p: &super::Profile) -> AuthKind {
    if p.token.is_some() {
        AuthKind::Bearer
    } else if p.username.is_some() && p.password.is_some() {
        AuthKind::Basic
    } else if p.cert.is_some() {
        AuthKind::X509
    } else {
        AuthKind::None
    }
}
