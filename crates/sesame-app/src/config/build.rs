//! From a resolved profile to a [`SessionBuilder`] with its credential.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::{AuthKind, ResolvedProfile, expand_home};
use sesame::credential::{self, Credential};
use sesame::session::SessionBuilder;
use sesame::{Error, Result};

/// What the caller adds to a profile: how to log a person in, where to keep tokens.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Runs interactive logins (browser or device); without one, interactive kinds report
    /// "login required" when they need a person.
    pub login: Option<Arc<dyn sesame::credential::oauth::LoginHandler>>,
    /// A token store to use instead of the profile's `cache` setting.
    pub store: Option<Arc<dyn sesame::token::TokenStore>>,
}

/// A session builder configured from a profile: base URL, timeouts, TLS, redirects and the
/// credential of its `auth` kind.
pub fn session_builder(resolved: &ResolvedProfile) -> Result<SessionBuilder> {
    session_builder_with(resolved, &BuildOptions::default())
}

/// [`session_builder`] with a login handler or token store.
pub fn session_builder_with(resolved: &ResolvedProfile, opts: &BuildOptions) -> Result<SessionBuilder> {
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
    if p.allow_http == Some(true) {
        b = b.allow_http(true);
    }
    for h in p.credential_headers.iter().flatten() {
        b = b.credential_header(h)?;
    }
    if let Some(r) = &p.redirects {
        b = b.redirects(r.parse()?);
    }
    if let Some(n) = p.retries {
        b = b.retries(n);
    }
    if let Some(on) = p.raise_for_status {
        b = b.raise_for_status(on);
    }
    if p.http_cache == Some(true) {
        let cache = sesame::session::http_cache::HttpCache::default_disk()?
            .expires_after(p.expires_after.map(Duration::from_secs));
        b = b.http_cache(Some(cache));
    }
    if let Some(c) = credential_for(resolved, opts)? {
        // OAuth sessions answer UMA 2.0 challenges from their own issuer (docs/credentials.md).
        let c: Arc<dyn Credential> = if c.as_oauth().is_some() {
            Arc::new(credential::Uma::new(c).insecure(p.insecure == Some(true)))
        } else {
            c
        };
        b = b.credential_arc(c);
    }
    Ok(b)
}

fn secs(v: f64, key: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(v).map_err(|_| Error::config(format!("`{key}` must be a positive number of seconds")))
}

/// The credential of a profile's `auth` kind (`None` for `none`), without building a
/// session: `sesame token` uses it to answer from the cache with no TLS set-up at all.
///
/// The profile's keys are first checked against its kind ([`super::applies::check`]): a key
/// the kind has no use for is a configuration error, never silently dropped.
pub fn credential_for(resolved: &ResolvedProfile, opts: &BuildOptions) -> Result<Option<Arc<dyn Credential>>> {
    super::applies::check(resolved)?;
    let p = &resolved.profile;
    let name = &resolved.name;
    let auth = p.auth.unwrap_or_else(|| infer_kind(p));
    // igwn-auth-utils' `force_noauth`: send nothing, whatever the kind (a test switch that
    // keeps the profile). `discover` implements it itself and says so in `status`.
    if p.force_noauth == Some(true) && auth != AuthKind::Discover {
        tracing::info!("profile `{name}`: force_noauth is set; no credential is sent");
        return Ok(None);
    }
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
        AuthKind::Bearer => {
            let token = need(p.token.as_ref(), "token")?;
            check_token_audience(resolved, &token)?;
            Arc::new(credential::Bearer::try_new(token)?)
        }
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
        AuthKind::Discover => match &p.token {
            // An explicit token wins over discovery (igwn-auth-utils' `token=`): it is sent
            // as it is, with no token or netrc lookup; a certificate is still attached (the
            // profile's, else a discovered one). `force_noauth` still sends nothing.
            Some(t) if p.force_noauth != Some(true) => {
                let explicit = credential::Bearer::try_new(t.resolve("token")?.expose_secret().to_string())?;
                Arc::new(credential::Combined::new(vec![
                    Arc::new(explicit),
                    discover_credential(resolved, true)?,
                ]))
            }
            _ => discover_credential(resolved, false)?,
        },
        AuthKind::ClientCredentials | AuthKind::Password | AuthKind::Oidc | AuthKind::Device => {
            Arc::new(super::oauth::credential(resolved, auth, opts)?)
        }
        AuthKind::JsonGrant => Arc::new(super::json_grant::credential(resolved, opts)?),
    };
    let cred = with_certificate(resolved, auth, cred)?;
    // netrc is the one kind that can find nothing for a host: `fail_if_noauth` makes that an
    // error before the request goes out. The other kinds already fail without their
    // credential.
    let cred: Arc<dyn Credential> = if auth == AuthKind::Netrc && p.fail_if_noauth == Some(true) {
        Arc::new(credential::RequireAny::new(cred))
    } else {
        cred
    };
    Ok(Some(cred))
}

/// `token_audience` with a static bearer token: a JWT whose `aud` names none of them (nor
/// `ANY`) is refused here, before anything is sent; an opaque token or a JWT without `aud`
/// passes (there is nothing to check).
fn check_token_audience(resolved: &ResolvedProfile, token: &str) -> Result<()> {
    let audiences = resolved
        .profile
        .token_audience
        .as_ref()
        .map(|a| a.to_vec())
        .unwrap_or_default();
    if audiences.is_empty() {
        return Ok(());
    }
    let Some(claims) = sesame::token::jwt_claims(token) else {
        return Ok(());
    };
    match credential::grid::tokens::audience_rejection(&claims, None, &audiences) {
        None => Ok(()),
        Some(reason) => Err(sesame::CredentialError::Other(format!(
            "profile `{}`: the token is not for this service: {reason}",
            resolved.name
        ))
        .into()),
    }
}

/// `cert` (+ `key`) with a kind whose credential is a header (bearer, api-key, basic,
/// netrc, OAuth): the certificate is presented in the TLS handshake *as well* — what a
/// user of igwn-auth-utils or a grid service expects from "token + certificate".
fn with_certificate(
    resolved: &ResolvedProfile,
    auth: AuthKind,
    cred: Arc<dyn Credential>,
) -> Result<Arc<dyn Credential>> {
    let p = &resolved.profile;
    if super::applies::key_use("cert", auth) != Some(super::applies::KeyUse::Added) {
        return Ok(cred);
    }
    let x509 = match (&p.cert, &p.key) {
        (Some(c), Some(k)) => credential::X509::from_files(expand_home(c), expand_home(k))?,
        (Some(c), None) => credential::X509::from_proxy_file(expand_home(c))?,
        (None, _) => return Ok(cred),
    };
    Ok(Arc::new(credential::Combined::new(vec![cred, Arc::new(x509)])))
}

/// `auth = "discover"`: grid token, X.509 and netrc discovery in the process environment,
/// with the profile's `min_valid`, `required_scope`, `netrc`, `cert`/`key` (used instead of
/// discovering a certificate), `fail_if_noauth`, `force_noauth`, `trusted_issuers` and
/// `verify_signature` (issuers' metadata and keys are fetched with the profile's
/// `ca_bundle`, `insecure`, timeouts and `retries`).
///
/// With `explicit_token`, the profile's `token` is sent instead of a discovered one: token
/// and netrc discovery are off, and `fail_if_noauth` is met by that token.
fn discover_credential(resolved: &ResolvedProfile, explicit_token: bool) -> Result<Arc<dyn Credential>> {
    let p = &resolved.profile;
    let mut b = credential::Discover::builder()
        .fail_if_noauth(p.fail_if_noauth.unwrap_or(false) && !explicit_token)
        .force_noauth(p.force_noauth.unwrap_or(false));
    if let Some(m) = discovery_mode("token_discovery", p.token_discovery.as_deref())? {
        b = b.token(m);
    }
    if let Some(m) = discovery_mode("x509_discovery", p.x509_discovery.as_deref())? {
        b = b.x509(m);
    }
    if explicit_token {
        use credential::grid::tokens::Mode;
        b = b.token(Mode::Disabled).netrc(Mode::Disabled);
    }
    if let Some(s) = p.min_valid {
        b = b.min_valid(Duration::from_secs(s));
    }
    if let Some(u) = &p.base_url {
        b = b.base_url(u.clone());
    }
    if let Some(n) = &p.netrc {
        b = b.netrc_file(expand_home(n));
    }
    for s in p.required_scope.iter().flat_map(|s| s.to_vec()) {
        b = b.required_scope(s);
    }
    for i in p.trusted_issuers.iter().flatten() {
        b = b.trusted_issuer(i.clone());
    }
    for a in p.token_audience.iter().flat_map(|a| a.to_vec()) {
        b = b.token_audience(a);
    }
    if p.verify_signature == Some(true) {
        let http = super::oauth::provider_source(resolved)?.http()?;
        b = b
            .verify_signature(true)
            .insecure(p.insecure == Some(true))
            .oauth_http(http);
    }
    if p.force_noauth != Some(true) {
        match (&p.cert, &p.key) {
            (Some(c), Some(k)) => b = b.x509_credential(credential::X509::from_files(expand_home(c), expand_home(k))?),
            (Some(c), None) => b = b.x509_credential(credential::X509::from_proxy_file(expand_home(c))?),
            _ => {}
        }
    }
    Ok(Arc::new(b.build()?))
}

/// `token_discovery` / `x509_discovery`: `required`, `optional` or `off` (`None`: the
/// `SESAME_FIND_*` variable decides, as without the key).
fn discovery_mode(key: &str, value: Option<&str>) -> Result<Option<credential::grid::tokens::Mode>> {
    use credential::grid::tokens::Mode;
    let Some(v) = value else { return Ok(None) };
    Ok(Some(match v.trim().to_ascii_lowercase().as_str() {
        "required" => Mode::Required,
        "optional" => Mode::Optional,
        "off" => Mode::Disabled,
        _ => {
            return Err(Error::config(format!(
                "{key} = \"{}\" is not valid: use \"required\", \"optional\" or \"off\"",
                sesame::oauth::clean(v, 40)
            )));
        }
    }))
}

/// With no `auth` key: a token means bearer, a username basic, a certificate x509, else none.
pub(super) fn infer_kind(p: &super::Profile) -> AuthKind {
    if p.token.is_some() {
        AuthKind::Bearer
    } else if p.client_id.is_some() && p.client_secret.is_some() {
        AuthKind::ClientCredentials
    } else if p.username.is_some() && p.password.is_some() {
        AuthKind::Basic
    } else if p.cert.is_some() {
        AuthKind::X509
    } else {
        AuthKind::None
    }
}

impl super::Profile {
    /// The auth kind: `auth` if set, else inferred from the keys present (a token means
    /// bearer, username and password basic, client id and secret client-credentials, a
    /// certificate x509, else none).
    pub fn auth_kind(&self) -> AuthKind {
        self.auth.unwrap_or_else(|| infer_kind(self))
    }
}
