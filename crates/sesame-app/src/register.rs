//! Registration to profile: RFC 7591 dynamic client registration at a profile's provider,
//! and the registered client saved as a new profile — `sesame register --save-profile` and
//! Python's `Session.register(save_profile=…)` are this one use-case.

use std::path::{Path, PathBuf};

use sesame::oauth::registration::{self, Registration, RegistrationRequest};
use sesame::oauth::{ClientConfig, LazyClient, OAuthError};
use sesame::{Error, Result};

use crate::config::write::{self, WriteOptions};
use crate::config::{AuthKind, Profile, ResolvedProfile, SecretSource, provider_source};

/// A client registered at a profile's provider.
#[derive(Debug)]
pub struct Registered {
    /// The provider's answer (client id, secret, registration access token, metadata).
    pub registration: Registration,
    /// The issuer the provider's metadata names (empty when it names none).
    pub issuer: String,
    /// The grant types asked for (used when the answer does not list the registered ones).
    pub requested_grant_types: Vec<String>,
}

/// Registers `request` at the registration endpoint of `resolved`'s provider (found by
/// discovery: the profile needs `issuer` or a WebFinger base URL, not a client).
pub async fn register(
    resolved: &ResolvedProfile,
    request: &RegistrationRequest,
    initial_access_token: Option<&str>,
) -> Result<Registered> {
    let source = provider_source(resolved)?;
    // Discovery does not need a client id; a placeholder client finds the provider.
    let lazy = LazyClient::new(source, ClientConfig::public("sesame-register"));
    let client = lazy.get().await?;
    let endpoint = client
        .metadata()
        .registration_endpoint
        .clone()
        .ok_or_else(|| OAuthError::Setup("the provider has no registration_endpoint (RFC 7591)".into()))?;
    let endpoint = sesame::Url::parse(&endpoint).map_err(|e| Error::config(format!("registration_endpoint: {e}")))?;
    let registration = registration::register(client.http(), &endpoint, request, initial_access_token).await?;
    Ok(Registered {
        registration,
        issuer: client.metadata().issuer.as_str().to_string(),
        requested_grant_types: request.grant_types.clone(),
    })
}

/// [`register`], then [`save_profile`] when `save` names the configuration file and the
/// profile name: the name is checked (valid, not taken) before anything is registered, so
/// a refused name leaves no orphan client at the provider.
pub async fn register_to_profile(
    resolved: &ResolvedProfile,
    request: &RegistrationRequest,
    initial_access_token: Option<&str>,
    save: Option<(&Path, &str)>,
) -> Result<(Registered, Option<SavedProfile>)> {
    if let Some((config, name)) = save {
        write::check_name(name)?;
        let probe = Profile {
            auth: Some(AuthKind::None),
            ..Profile::default()
        };
        write::updated_text(
            &write::read_or_empty(config)?,
            config,
            name,
            &probe,
            WriteOptions::default(),
        )?;
    }
    let registered = register(resolved, request, initial_access_token).await?;
    let saved = match save {
        Some((config, name)) => Some(save_profile(config, name, &resolved.profile, &registered)?),
        None => None,
    };
    Ok((registered, saved))
}

/// Where [`save_profile`] wrote the new profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedProfile {
    /// The configuration file.
    pub config: PathBuf,
    /// The 0600 file holding the client secret, when the client has one.
    pub secret_file: Option<PathBuf>,
}

/// Saves a registered client as profile `name` of the configuration file at `config`: the
/// auth kind from its grant types (authorization code → `oidc`, device code → `device`,
/// client credentials → `client-credentials`), the issuer, base URL, scopes, redirect URI
/// and CA bundle of `from` (the profile it was registered with). The secret is never
/// written into the file: it goes to `<name>.client_secret` (0600) beside it, written
/// first, and the profile names it as `client_secret = { file = … }`.
pub fn save_profile(config: &Path, name: &str, from: &Profile, registered: &Registered) -> Result<SavedProfile> {
    write::check_name(name)?;
    let reg = &registered.registration;
    let grant_types = granted(registered);
    let has = |g: &str| grant_types.iter().any(|x| x == g);
    let auth = if has("authorization_code") {
        AuthKind::Oidc
    } else if has("urn:ietf:params:oauth:grant-type:device_code") {
        AuthKind::Device
    } else if has("client_credentials") {
        AuthKind::ClientCredentials
    } else {
        return Err(Error::config(
            "the registered grant types name no auth kind sesame can use (authorization_code, device_code or client_credentials)",
        ));
    };
    let mut profile = Profile {
        base_url: from.base_url.clone(),
        auth: Some(auth),
        issuer: Some(registered.issuer.clone())
            .filter(|i| !i.is_empty())
            .or_else(|| from.issuer.clone()),
        client_id: Some(reg.client_id.clone()),
        scopes: from.scopes.clone(),
        redirect_uri: from.redirect_uri.clone(),
        ca_bundle: from.ca_bundle.clone(),
        ..Profile::default()
    };
    if profile.issuer.is_none() {
        profile.webfinger_prefix = from.webfinger_prefix.clone();
    }
    let secret_file = reg.client_secret.as_ref().map(|_| {
        config
            .parent()
            .map(|d| d.join(format!("{name}.client_secret")))
            .unwrap_or_else(|| format!("{name}.client_secret").into())
    });
    if let Some(f) = &secret_file {
        profile.client_secret = Some(SecretSource::File(f.clone()));
    }
    let old = write::read_or_empty(config)?;
    let text = write::updated_text(&old, config, name, &profile, WriteOptions::default())?;
    write::check_text(&text, config, name)?;
    // The secret first: a profile is never written that names a file not there yet.
    if let (Some(f), Some(s)) = (&secret_file, &reg.client_secret) {
        write::write_atomically(f, &format!("{}\n", s.expose()))?;
    }
    write::write_atomically(config, &text)?;
    Ok(SavedProfile {
        config: config.to_path_buf(),
        secret_file,
    })
}

/// The grant types the provider registered (its answer), else those asked for, else
/// `authorization_code` (RFC 7591 §2: the default when a registration names none).
fn granted(r: &Registered) -> Vec<String> {
    match r.registration.metadata.get("grant_types").and_then(|g| g.as_array()) {
        Some(list) => list.iter().filter_map(|g| g.as_str().map(str::to_string)).collect(),
        None if !r.requested_grant_types.is_empty() => r.requested_grant_types.clone(),
        None => vec!["authorization_code".to_string()],
    }
}
