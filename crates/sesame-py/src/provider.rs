//! The provider's other endpoints as `Session` methods (oxd-python's protocol calls):
//! `userinfo`, `introspect`, `register` with RFC 7592 read/update/delete, `discover`,
//! `revoke`, `end_session_url`. Thin: each is one engine call.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use sesame::credential::{Credential, OAuth};
use sesame::oauth::registration::{self, Registration, RegistrationRequest};
use sesame::oauth::{ClientConfig, LazyClient};
use sesame::secret::AccessToken;
use sesame::{Error, Url};
use sesame_app::config::ResolvedProfile;

/// JSON to a Python object (`json.loads`).
pub fn to_py(py: Python<'_>, v: &serde_json::Value) -> PyResult<Py<PyAny>> {
    Ok(py.import("json")?.getattr("loads")?.call1((v.to_string(),))?.unbind())
}

fn oauth(cred: Option<Arc<dyn Credential>>, name: &str, what: &str) -> sesame::Result<OAuth> {
    cred.as_ref().and_then(|c| c.as_oauth()).cloned().ok_or_else(|| {
        Error::config(format!(
            "profile `{name}` has no OAuth credential: {what} needs a token from the provider (auth = oidc, device, client-credentials, password, …)"
        ))
    })
}

/// A client for the profile's provider that is not the profile's own (registration,
/// discovery): the profile's issuer (or WebFinger base) and TLS, no client id needed.
fn provider_client(resolved: &ResolvedProfile) -> sesame::Result<Arc<LazyClient>> {
    let source = sesame_app::config::provider_source(resolved)?;
    let mut cfg = ClientConfig::public("sesame-register");
    cfg.insecure = resolved.profile.insecure == Some(true);
    Ok(LazyClient::new(source, cfg))
}

/// `userinfo()`.
pub async fn userinfo_op(cred: Option<Arc<dyn Credential>>, name: String) -> sesame::Result<serde_json::Value> {
    let o = oauth(cred, &name, "userinfo()")?;
    let lease = o.source().token(Duration::from_secs(10)).await?;
    o.client().await?.userinfo(&lease.token.access_token).await
}

/// `introspect(token=None)`.
pub async fn introspect_op(
    cred: Option<Arc<dyn Credential>>,
    name: String,
    token: Option<String>,
) -> sesame::Result<serde_json::Value> {
    let o = oauth(cred, &name, "introspect()")?;
    let token = match token {
        Some(t) => AccessToken::new(t),
        None => o
            .source()
            .token(Duration::from_secs(10))
            .await?
            .token
            .access_token
            .clone(),
    };
    o.client().await?.introspect(&token, None).await
}

/// `revoke()`.
pub async fn revoke_op(cred: Option<Arc<dyn Credential>>, name: String) -> sesame::Result<bool> {
    let o = oauth(cred, &name, "revoke()")?;
    sesame_app::login::revoke(&o).await
}

/// `end_session_url(post_logout_redirect_uri=None)`.
pub async fn end_session_op(
    cred: Option<Arc<dyn Credential>>,
    name: String,
    post_logout_redirect_uri: Option<String>,
) -> sesame::Result<Option<String>> {
    let o = oauth(cred, &name, "end_session_url()")?;
    let client = o.client().await?;
    Ok(client
        .end_session_url_to(None, post_logout_redirect_uri.as_deref())
        .map(|u| u.to_string()))
}

/// `discover(url, webfinger_prefix=None)`: the issuer an API names by WebFinger, and its
/// metadata.
pub async fn discover_op(
    resolved: ResolvedProfile,
    url: String,
    prefix: Option<String>,
) -> sesame::Result<serde_json::Value> {
    let source = sesame_app::config::provider_source(&resolved)?;
    let http = source.http()?;
    let insecure = resolved.profile.insecure == Some(true);
    let base = Url::parse(&url).map_err(|e| Error::config(format!("`{url}` is not a URL: {e}")))?;
    let issuer = sesame::oauth::webfinger::issuer_for(&http, &base, prefix.as_deref(), insecure).await?;
    let meta = sesame::oauth::discovery::discover(&http, &issuer, insecure).await?;
    serde_json::to_value(&*meta).map_err(|e| Error::config(e.to_string()))
}

/// The whole registration response, the secrets included (the caller asked for them).
fn registration_json(r: &Registration) -> serde_json::Value {
    let mut v = r.metadata.clone();
    if let Some(o) = v.as_object_mut() {
        if let Some(s) = &r.client_secret {
            o.insert("client_secret".into(), s.expose().into());
        }
        if let Some(t) = &r.registration_access_token {
            o.insert("registration_access_token".into(), t.expose().into());
        }
    }
    v
}

async fn http_of(resolved: &ResolvedProfile) -> sesame::Result<(Arc<LazyClient>, sesame::oauth::OAuthHttp)> {
    let c = provider_client(resolved)?;
    let http = c.get().await?.http().clone();
    Ok((c, http))
}

/// `register(…, save_profile=NAME)`: the registration use-case of the app layer (the same
/// as `sesame register --save-profile`); the answer gains `saved_profile` (`name`,
/// `config`, `secret_file`) when the client was saved.
pub async fn register_op(
    resolved: ResolvedProfile,
    request: RegistrationRequest,
    initial_access_token: Option<String>,
    save_profile: Option<String>,
) -> sesame::Result<serde_json::Value> {
    let config = match (&save_profile, &resolved.config_path) {
        (None, _) => None,
        (Some(_), Some(p)) => Some(p.clone()),
        (Some(_), None) => Some(sesame_app::config::write::config_path(None)?),
    };
    let save = config.as_deref().zip(save_profile.as_deref());
    let (registered, saved) =
        sesame_app::register::register_to_profile(&resolved, &request, initial_access_token.as_deref(), save).await?;
    let mut v = registration_json(&registered.registration);
    if let (Some(saved), Some(name), Some(o)) = (saved, save_profile, v.as_object_mut()) {
        o.insert(
            "saved_profile".into(),
            serde_json::json!({
                "name": name,
                "config": saved.config.display().to_string(),
                "secret_file": saved.secret_file.map(|f| f.display().to_string()),
            }),
        );
    }
    Ok(v)
}

/// `read_registration(uri, token)`.
pub async fn read_registration_op(
    resolved: ResolvedProfile,
    uri: String,
    token: String,
) -> sesame::Result<serde_json::Value> {
    let (_, http) = http_of(&resolved).await?;
    let r = registration::read(&http, &uri, &AccessToken::new(token)).await?;
    Ok(registration_json(&r))
}

/// `update_registration(uri, token, metadata)`.
pub async fn update_registration_op(
    resolved: ResolvedProfile,
    uri: String,
    token: String,
    metadata: serde_json::Value,
) -> sesame::Result<serde_json::Value> {
    let (_, http) = http_of(&resolved).await?;
    let client_id = metadata
        .get("client_id")
        .and_then(|c| c.as_str())
        .unwrap_or_default()
        .to_string();
    let r = registration::update(&http, &uri, &AccessToken::new(token), &client_id, &metadata).await?;
    Ok(registration_json(&r))
}

/// `delete_registration(uri, token)`.
pub async fn delete_registration_op(resolved: ResolvedProfile, uri: String, token: String) -> sesame::Result<()> {
    let (_, http) = http_of(&resolved).await?;
    registration::delete(&http, &uri, &AccessToken::new(token)).await
}

/// A Python object (dict) to JSON (`json.dumps`).
pub fn from_py(v: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    let s: String = v.py().import("json")?.getattr("dumps")?.call1((v,))?.extract()?;
    serde_json::from_str(&s).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}
