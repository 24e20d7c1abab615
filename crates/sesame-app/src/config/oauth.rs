//! From a profile to an OAuth credential: the provider source, the client registration,
//! the cache key, the token store and the grant of the profile's `auth` kind.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::{AuthKind, BuildOptions, ResolvedProfile, expand_home};
use sesame::credential::OAuth;
use sesame::credential::oauth::{ClientCredentialsGrant, InteractiveGrant, PasswordGrant};
use sesame::oauth::dpop::{Dpop, DpopMode};
use sesame::oauth::{ClientAuth, ClientAuthMethod, ClientConfig, LazyClient, ProviderMetadata, ProviderSource};
use sesame::secret::{ClientSecret, Password};
use sesame::tls::TlsOptions;
use sesame::token::openbao::{ClusterFallback, OpenBaoAuth, OpenBaoCache, OpenBaoSettings, SecretFrom};
use sesame::token::{CacheKey, FileStore, Grant, MemoryStore, RenewPolicy, SecretBinding, TokenSource, TokenStore};
use sesame::{Error, Result};

/// The OAuth pieces of a profile, for commands that talk to the provider directly
/// (`discover`, `introspect`, `register`).
#[derive(Debug, Clone)]
pub struct OAuthParts {
    /// Where the provider comes from.
    pub source: ProviderSource,
    /// The client registration.
    pub client: ClientConfig,
    /// The cache key of this profile's tokens.
    pub key: CacheKey,
}

/// Where a profile's provider comes from (issuer, WebFinger base, explicit endpoints, TLS).
pub fn provider_source(resolved: &ResolvedProfile) -> Result<ProviderSource> {
    let p = &resolved.profile;
    let mut tls = TlsOptions::default();
    if let Some(ca) = &p.ca_bundle {
        tls.ca_bundles.push(expand_home(ca));
    }
    tls.insecure = p.insecure == Some(true);
    let base_url = match &p.base_url {
        Some(u) => {
            Some(url::Url::parse(u).map_err(|e| Error::config(format!("base_url `{u}` is not a valid URL: {e}")))?)
        }
        None => None,
    };
    let explicit = ProviderMetadata {
        issuer: p.issuer.clone().unwrap_or_default(),
        authorization_endpoint: p.authorization_endpoint.clone(),
        token_endpoint: p.token_endpoint.clone(),
        device_authorization_endpoint: p.device_authorization_endpoint.clone(),
        revocation_endpoint: p.revocation_endpoint.clone(),
        introspection_endpoint: p.introspection_endpoint.clone(),
        userinfo_endpoint: p.userinfo_endpoint.clone(),
        end_session_endpoint: p.end_session_endpoint.clone(),
        jwks_uri: p.jwks_uri.clone(),
        ..Default::default()
    };
    let secs = |v: Option<f64>, d: u64| {
        v.filter(|v| *v > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::from_secs(d))
    };
    Ok(ProviderSource {
        issuer: p.issuer.clone(),
        base_url,
        webfinger_prefix: p.webfinger_prefix.clone(),
        explicit,
        tls,
        timeout: secs(p.timeout, 30),
        connect_timeout: secs(p.connect_timeout, 10),
        retries: p.retries,
        trusted_issuers: p.trusted_issuers.clone().unwrap_or_default(),
    })
}

/// Builds the provider source, client configuration and cache key of a profile.
pub fn oauth_parts(resolved: &ResolvedProfile, auth: AuthKind) -> Result<OAuthParts> {
    let client_secret = match &resolved.profile.client_secret {
        Some(s) => Some(ClientSecret::new(
            s.resolve("client_secret")?.expose_secret().to_string(),
        )),
        None => None,
    };
    oauth_parts_with(resolved, auth, client_secret)
}

/// [`oauth_parts`] with the client secret given (or left out, to be read later).
fn oauth_parts_with(
    resolved: &ResolvedProfile,
    auth: AuthKind,
    client_secret: Option<ClientSecret>,
) -> Result<OAuthParts> {
    let p = &resolved.profile;
    let name = &resolved.name;
    let source = provider_source(resolved)?;
    let client_id = p.client_id.clone().ok_or_else(|| {
        Error::config(format!(
            "profile `{name}` uses auth = \"{auth}\" but has no `client_id`"
        ))
        .with_hint(sesame::Hint::SetKey("client_id"))
    })?;
    let method = match &p.client_auth {
        Some(m) => m.parse::<ClientAuthMethod>()?,
        None if p.client_secret.is_some() => ClientAuthMethod::Basic,
        None if p.client_key.is_some() => ClientAuthMethod::PrivateKeyJwt,
        None => ClientAuthMethod::None,
    };
    let client_auth = match method {
        ClientAuthMethod::Basic => ClientAuth::Basic,
        ClientAuthMethod::Post => ClientAuth::Post,
        ClientAuthMethod::None => ClientAuth::None,
        ClientAuthMethod::PrivateKeyJwt => {
            let path = p.client_key.as_ref().map(|k| expand_home(k)).ok_or_else(|| {
                Error::config(format!(
                    "profile `{name}`: client_auth = \"private-key-jwt\" needs `client_key` (a PEM private key)"
                ))
            })?;
            sesame::permissions::check_private(&path, "client key")?;
            let pem = std::fs::read_to_string(&path)
                .map_err(|e| Error::config(format!("cannot read client_key {}: {e}", path.display())))?;
            ClientAuth::private_key_jwt(&pem, None, None)?
        }
    };
    let mut scopes = p.scopes.clone().unwrap_or_default();
    if matches!(auth, AuthKind::Oidc) && !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    let audience = p.audience.as_ref().map(|a| a.to_vec()).unwrap_or_default();
    let client = ClientConfig {
        client_id: client_id.clone(),
        client_secret,
        auth: client_auth,
        scopes: scopes.clone(),
        audience: audience.clone(),
        resource: p.resource == Some(true),
        insecure: p.insecure == Some(true),
    };
    // The key names the issuer as configured; without one, the token endpoint or the
    // base URL it will be discovered from stands in for it.
    let issuer_for_key = p
        .issuer
        .clone()
        .or_else(|| p.token_endpoint.clone())
        .or_else(|| p.base_url.clone().map(|b| format!("webfinger:{b}")))
        .unwrap_or_default();
    let username = match auth {
        AuthKind::Password => p.username.as_deref(),
        _ => None,
    };
    // A DPoP profile's tokens are bound to its key: a profile that differs only in `dpop`
    // must neither adopt them as bearer tokens nor hand its bearer tokens to the DPoP one.
    let dpop_on = match &p.dpop {
        Some(d) => d.mode()? != sesame::oauth::dpop::DpopMode::Off,
        None => false,
    };
    let auth_for_key = if dpop_on {
        format!("{}+dpop", auth.as_str())
    } else {
        auth.as_str().to_string()
    };
    let mut key = CacheKey::new(&issuer_for_key, &client_id, &auth_for_key, &scopes, &audience, username);
    if let Some(src) = p.client_secret.clone() {
        // Records carry a keyed fingerprint of the secret that obtained them: a token
        // obtained with another secret is not this configuration's (token/key.rs).
        key = key.with_client_secret(SecretBinding::new(move || src.resolve("client_secret").ok()));
    }
    Ok(OAuthParts { source, client, key })
}

/// The token store of a profile's `cache` setting.
pub fn store_for(cache: Option<&str>) -> Result<Arc<dyn TokenStore>> {
    match cache.unwrap_or("file") {
        "file" => Ok(Arc::new(FileStore::new(FileStore::default_dir()?))),
        "memory" => Ok(Arc::new(MemoryStore::default())),
        // The local store in front of the cluster's (see `cluster_store`).
        "openbao" => Ok(Arc::new(FileStore::new(FileStore::default_dir()?))),
        #[cfg(feature = "keyring")]
        "keyring" => Ok(sesame::token::KeyringStore::open_or_file(FileStore::default_dir()?)),
        #[cfg(not(feature = "keyring"))]
        "keyring" => {
            // The engine never prints: the CLI's default filter shows warnings on stderr.
            tracing::warn!(
                "this build of sesame has no OS keyring support (cargo feature `keyring`); keeping tokens in the file cache"
            );
            Ok(Arc::new(FileStore::new(FileStore::default_dir()?)))
        }
        other => Err(Error::config(format!(
            "unknown cache `{other}`: use file, keyring, memory or openbao"
        ))),
    }
}

/// Says why a secret that is missing (unset variable, empty file) was needed; other errors
/// (an unsafe file, say) keep their own type.
pub(super) fn needed_for(e: Error, why: &str) -> Error {
    match e.as_credential() {
        Some(sesame::CredentialError::Config(_)) => sesame::CredentialError::Config(format!("{why}: {e}")).into(),
        _ => e,
    }
}

/// The OAuth credential of a profile.
pub(crate) fn credential(resolved: &ResolvedProfile, auth: AuthKind, opts: &BuildOptions) -> Result<OAuth> {
    let p = &resolved.profile;
    // The secret is read only when the provider must be called: a cached token is usable
    // without it (item 17 of issue 13, docs/design/files-and-permissions.md).
    let parts = oauth_parts_with(resolved, auth, None)?;
    let mut client = match p.client_secret.clone() {
        Some(src) => LazyClient::with_deferred_secret(parts.source, parts.client, move || {
            let s = src.resolve("client_secret").map_err(|e| {
                needed_for(
                    e,
                    "the provider must be asked for a token, and that needs the client secret",
                )
            })?;
            Ok(ClientSecret::new(s.expose_secret().to_string()))
        }),
        None => LazyClient::new(parts.source, parts.client),
    };
    let store = match &opts.store {
        Some(s) => s.clone(),
        None => store_for(p.cache.as_deref())?,
    };
    let dpop_mode = match &p.dpop {
        Some(d) => d.mode()?,
        None => DpopMode::Off,
    };
    // The key lives with the tokens it binds (docs/design/dpop.md).
    let dpop = (dpop_mode != DpopMode::Off).then(|| Dpop::stored(dpop_mode, store.clone(), parts.key.clone()));
    LazyClient::set_options(&mut client, dpop, p.par)?;
    let grant: Arc<dyn Grant> = match auth {
        AuthKind::ClientCredentials => {
            if !client.has_client_secret() && !matches!(client.config().auth, ClientAuth::PrivateKeyJwt { .. }) {
                return Err(Error::config(format!(
                    "profile `{}` uses auth = \"client-credentials\" but has no client_secret (or client_key for private-key-jwt)",
                    resolved.name
                )));
            }
            Arc::new(ClientCredentialsGrant::new(client.clone()))
        }
        AuthKind::Password => {
            let user = p.username.clone().ok_or_else(|| {
                Error::config(format!(
                    "profile `{}` uses auth = \"password\" but has no `username`",
                    resolved.name
                ))
            })?;
            let pw = p.password.clone().ok_or_else(|| {
                Error::config(format!(
                    "profile `{}` uses auth = \"password\" but has no `password`",
                    resolved.name
                ))
            })?;
            // Read when a grant is sent, not for a cached token or a refresh.
            Arc::new(PasswordGrant::deferred(client.clone(), user, move || {
                let s = pw.resolve("password").map_err(|e| {
                    needed_for(
                        e,
                        "a new token must be obtained with the password grant, and that needs the password",
                    )
                })?;
                Ok(Password::new(s.expose_secret().to_string()))
            }))
        }
        _ => Arc::new(InteractiveGrant::new(client.clone(), opts.login.clone())),
    };
    // A batch cluster shares one token record: only the host that wins the claim calls the
    // provider (docs/design/cluster-cache.md).
    let grant = match p.cache.as_deref() {
        Some("openbao") => cluster_store(resolved)?.grant(&parts.key, grant, store.clone()),
        _ => grant,
    };
    let policy = RenewPolicy {
        renew_before: Duration::from_secs(p.renew_before.unwrap_or(60)),
        ..RenewPolicy::default()
    };
    let source = TokenSource::builder(parts.key, grant)
        .store(store)
        .policy(policy)
        .build();
    Ok(OAuth::new(auth.as_str(), source, Some(client)))
}

fn secret_from(src: &super::SecretSource, key: &str) -> Result<SecretFrom> {
    Ok(match src {
        super::SecretSource::Env(v) => SecretFrom::Env(v.clone()),
        super::SecretSource::File(f) => SecretFrom::File(super::expand_home(f)),
        other => SecretFrom::Value(other.resolve(key)?),
    })
}

/// The cluster token store of a profile with `cache = "openbao"`: its `openbao_*` keys and
/// `cluster_fallback`.
pub fn cluster_store(resolved: &ResolvedProfile) -> Result<OpenBaoCache> {
    cluster_store_of(&resolved.name, &resolved.profile)
}

/// [`cluster_store`] of a profile by its name and keys.
pub fn cluster_store_of(name: &str, p: &super::Profile) -> Result<OpenBaoCache> {
    let addrs = p.openbao_addr.as_ref().map(|a| a.to_vec()).unwrap_or_default();
    if addrs.is_empty() {
        return Err(Error::config(format!(
            "profile `{name}` uses cache = \"openbao\" but sets no `openbao_addr` (the URL of one or more OpenBao nodes)"
        )));
    }
    let mount = |default: &str| p.openbao_auth_mount.clone().unwrap_or_else(|| default.into());
    let auth = match p.openbao_auth.as_deref().unwrap_or("token") {
        "token" => OpenBaoAuth::Token {
            from: p.openbao_token.as_ref().map(|s| secret_from(s, "openbao_token")).transpose()?,
        },
        "approle" => {
            let need = |v: &Option<super::SecretSource>, key: &str| {
                v.as_ref().map(|s| secret_from(s, key)).transpose()?.ok_or_else(|| {
                    Error::config(format!("profile `{name}` uses openbao_auth = \"approle\" but sets no `{key}`"))
                })
            };
            OpenBaoAuth::AppRole {
                mount: mount("approle"),
                role_id: need(&p.openbao_role_id, "openbao_role_id")?,
                secret_id: need(&p.openbao_secret_id, "openbao_secret_id")?,
                wrapped: p.openbao_secret_id_wrapped.unwrap_or(false),
            }
        }
        "jwt" => OpenBaoAuth::Jwt {
            mount: mount("jwt"),
            role: p.openbao_role.clone().ok_or_else(|| {
                Error::config(format!("profile `{name}` uses openbao_auth = \"jwt\" but sets no `openbao_role`"))
            })?,
            file: p.openbao_jwt.as_deref().map(super::expand_home).ok_or_else(|| {
                Error::config(format!(
                    "profile `{name}` uses openbao_auth = \"jwt\" but sets no `openbao_jwt` (the file holding the workload's JWT)"
                ))
            })?,
        },
        other => {
            return Err(Error::config(format!(
                "profile `{name}`: unknown openbao_auth `{other}`: use token, approle or jwt"
            )));
        }
    };
    let addrs: Vec<&str> = addrs.iter().map(String::as_str).collect();
    let mut settings = OpenBaoSettings::new(&addrs, auth)?;
    if let Some(m) = &p.openbao_mount {
        settings.mount = m.clone();
    }
    if let Some(path) = &p.openbao_path {
        settings.path = path.trim_matches('/').to_string();
    }
    settings.fallback = match p.cluster_fallback.as_deref() {
        None => None,
        Some("local") => Some(ClusterFallback::Local),
        Some("fail") => Some(ClusterFallback::Fail),
        Some(other) => {
            return Err(Error::config(format!(
                "profile `{name}`: unknown cluster_fallback `{other}`: use local or fail"
            )));
        }
    };
    OpenBaoCache::new(settings)
}
