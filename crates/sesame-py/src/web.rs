//! The web-app login of `Session` (oxd-python's job): `authorization_url`, `exchange_code`,
//! and the end users' tokens (`for_user`, `forget_user`). Thin: the flow is
//! `sesame::oauth::web_login`, the per-user store `sesame::credential::WebUsers`.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyMapping, PyString};
use sesame::Error;
use sesame::credential::{Credential, OAuth, WebUsers};
use sesame::oauth::LazyClient;
use sesame::oauth::web_login::{self, PendingLogin};
use sesame_app::config::ResolvedProfile;

use crate::errors::py_err;

/// The OAuth credential of a session, or the error for a profile without one.
fn oauth(cred: &Option<Arc<dyn Credential>>, resolved: &ResolvedProfile) -> sesame::Result<OAuth> {
    cred.as_ref().and_then(|c| c.as_oauth()).cloned().ok_or_else(|| {
        Error::config(format!(
            "profile `{}` has no OAuth provider: a web login needs auth=\"oidc\" with `issuer`, `client_id` (and `client_secret` for a confidential client)",
            resolved.name
        ))
        .with_hint(sesame::Hint::SetKey("auth"))
    })
}

/// The end users' store of a session: the profile's `cache` (`memory`: this session's
/// own; `file`/`keyring`: one entry per subject in the shared cache folder).
pub fn users(cred: &Option<Arc<dyn Credential>>, resolved: &ResolvedProfile) -> sesame::Result<WebUsers> {
    let o = oauth(cred, resolved)?;
    let client = o
        .lazy_client()
        .cloned()
        .ok_or_else(|| Error::config("this credential has no OAuth provider"))?;
    let store = sesame_app::config::store_for(resolved.profile.cache.as_deref())?;
    let issuer = resolved
        .profile
        .issuer
        .clone()
        .or_else(|| client.configured_issuer().map(str::to_owned))
        .unwrap_or_default();
    Ok(WebUsers::new(client, store, issuer))
}

/// `authorization_url(…)` without the GIL: `(url, pending as JSON)`.
pub async fn authorization_url_op(
    client: Arc<LazyClient>,
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
) -> sesame::Result<(String, String)> {
    let client = client.get().await?;
    let (url, pending) = web_login::start(client, &redirect_uri, state.as_deref(), nonce.as_deref()).await?;
    Ok((url.to_string(), pending.to_json()))
}

/// What `exchange_code` returns, before it becomes a dict.
pub struct Exchanged {
    subject: String,
    claims: serde_json::Value,
    access_token: String,
    expires_at: Option<i64>,
    scopes: Vec<String>,
    refresh_token: bool,
}

/// `exchange_code(…)` without the GIL: checks the callback, exchanges the code, stores the
/// tokens under the end user's subject.
pub async fn exchange_code_op(
    users: WebUsers,
    pending: PendingLogin,
    params: Vec<(String, String)>,
    max_age: Duration,
) -> sesame::Result<Exchanged> {
    let client = users.client().get().await?;
    let outcome = web_login::finish(client, &pending, &params, max_age).await?;
    let subject = outcome.subject().map(str::to_owned).ok_or_else(|| {
        Error::config(
            "the provider returned no ID token with a `sub`: a web login needs the `openid` scope (the subject keys the end user's tokens)",
        )
    })?;
    let t = &outcome.token;
    let done = Exchanged {
        subject: subject.clone(),
        claims: outcome.claims.clone().unwrap_or_default(),
        access_token: t.access_token.expose().to_string(),
        expires_at: t.expires_at,
        scopes: t.scopes.clone(),
        refresh_token: t.refresh_token.is_some(),
    };
    users.save(&subject, outcome.token)?;
    Ok(done)
}

impl Exchanged {
    pub fn into_py(self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        let d = PyDict::new(py);
        d.set_item("subject", &self.subject)?;
        let claims = py.import("json")?.getattr("loads")?.call1((self.claims.to_string(),))?;
        d.set_item("claims", claims)?;
        d.set_item("access_token", &self.access_token)?;
        d.set_item("expires_at", self.expires_at)?;
        d.set_item("scopes", self.scopes)?;
        d.set_item("refresh_token", self.refresh_token)?;
        Ok(d.unbind())
    }
}

/// The callback's parameters from what a web framework has: the URL the provider
/// redirected to (absolute, or the path with its query, or the query alone), or a mapping
/// of parameter names to a str or a list of str (`parse_qs`, Flask's `request.args`
/// converted with `.to_dict(flat=False)`). A list of more than one value is kept, to be
/// refused.
pub fn params(callback: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    if callback.cast::<PyString>().is_ok() {
        let s: String = callback.extract()?;
        return Ok(web_login::callback_params(&s));
    }
    let Ok(m) = callback.cast::<PyMapping>() else {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "callback must be the callback URL (str) or a mapping of its query parameters",
        ));
    };
    let mut out = Vec::new();
    for item in m.items()?.iter() {
        let (k, v): (String, Bound<'_, PyAny>) = item.extract()?;
        if let Ok(s) = v.extract::<String>() {
            out.push((k, s));
        } else {
            let many: Vec<String> = v.extract().map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(format!(
                    "callback parameter `{k}` must be a str or a list of str"
                ))
            })?;
            out.extend(many.into_iter().map(|s| (k.clone(), s)));
        }
    }
    Ok(out)
}

/// The pending login from what `authorization_url` returned.
pub fn pending(s: &str) -> PyResult<PendingLogin> {
    PendingLogin::from_json(s).map_err(py_err)
}

/// How old a pending login may be: the profile's `login_timeout`, else the default.
pub fn max_age(resolved: &ResolvedProfile) -> Duration {
    resolved
        .profile
        .login_timeout
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .unwrap_or(web_login::DEFAULT_MAX_AGE)
}

/// The engine session acting for `subject`: the profile's base URL, TLS and scope, with
/// the end user's credential.
pub fn user_session(resolved: &ResolvedProfile, users: &WebUsers, subject: &str) -> sesame::Result<sesame::Session> {
    if subject.is_empty() {
        return Err(Error::config("for_user() needs the end user's subject"));
    }
    let cred: Arc<dyn Credential> = Arc::new(users.credential(subject));
    sesame_app::config::session_builder(resolved)?
        .credential_arc(cred)
        .build()
}
