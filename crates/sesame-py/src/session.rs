//! `sesame.Session` and `sesame.AsyncSession`: one library session (base URL, TLS, the
//! profile's credential) shared by every thread or task that uses the object.
//!
//! Every blocking call releases the GIL and runs on the shared runtime; the asynchronous
//! class hands the same futures to asyncio. Token renewal, the single flight, the 401 retry
//! and scoping all happen in the library.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use sesame::config::ResolvedProfile;
use sesame::credential::{Attachment, AuthRequest, Credential, Rejection};
use sesame::session::Method;
use sesame::session::header::HeaderMap;
use sesame::{Error, Url};

use crate::errors::{self, py_err};
use crate::profile;
use crate::request::{self, Args};
use crate::response::{PyResponse, execute};
use crate::runtime::wait;

/// What `Session` and `AsyncSession` share.
pub struct Core {
    session: RwLock<Option<sesame::Session>>,
    resolved: ResolvedProfile,
}

type Named<'py> = Vec<(&'static str, Option<Bound<'py, PyAny>>)>;
/// Where an adapter's request goes when it is in scope: the credential, method and URL.
type Target = (Arc<dyn Credential>, Method, Url);
/// Credential headers and the attachment id to quote on a 401.
type Attached = (Vec<(String, String)>, u64);

impl Core {
    fn new(
        py: Python<'_>,
        profile: Option<String>,
        config: Option<PathBuf>,
        named: Named<'_>,
        more: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Core> {
        crate::logging::sync_level(py);
        let mut args: Vec<(String, Bound<'_, PyAny>)> = named
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
            .collect();
        if let Some(more) = more {
            for (k, v) in more.iter() {
                args.push((k.extract()?, v));
            }
        }
        let overrides = profile::overrides(py, args)?;
        let req = profile::Request {
            profile,
            config,
            overrides,
        };
        let built = py.detach(move || profile::build(req)).map_err(py_err)?;
        Ok(Core {
            session: RwLock::new(Some(built.session)),
            resolved: built.resolved,
        })
    }

    fn session(&self) -> PyResult<sesame::Session> {
        self.session
            .read()
            .map_err(|_| errors::internal("session lock"))?
            .clone()
            .ok_or_else(errors::closed)
    }

    fn credential(&self) -> PyResult<Option<Arc<dyn Credential>>> {
        Ok(self.session()?.credential().cloned())
    }

    fn kind(&self) -> &'static str {
        self.resolved.profile.auth_kind().as_str()
    }

    fn close(&self) {
        if let Ok(mut s) = self.session.write() {
            *s = None;
        }
    }

    fn repr(&self, class: &str) -> String {
        let base = self
            .resolved
            .profile
            .base_url
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
            .map(|u| sesame::redact::redact_url(&u));
        let closed = self.session.read().map(|s| s.is_none()).unwrap_or(false);
        format!(
            "<sesame.{class} profile={:?} auth={:?} base_url={}{}>",
            self.resolved.name,
            self.kind(),
            base.map(|b| format!("{b:?}")).unwrap_or_else(|| "None".into()),
            if closed { " closed" } else { "" }
        )
    }

    fn in_scope(&self, url: &Bound<'_, PyAny>) -> PyResult<bool> {
        let url = request::url_string(url)?;
        Ok(match Url::parse(&url) {
            Ok(u) => self.session()?.in_scope(&u),
            Err(_) => false,
        })
    }

    /// The credential and parsed URL for an adapter, or `None` when out of scope.
    fn adapter_target(&self, method: &str, url: &Bound<'_, PyAny>) -> PyResult<Option<Target>> {
        let session = self.session()?;
        let url = request::url_string(url)?;
        let Ok(url) = Url::parse(&url) else {
            return Ok(None);
        };
        if !session.in_scope(&url) {
            return Ok(None);
        }
        let cred = session
            .credential()
            .cloned()
            .ok_or_else(|| errors::internal("in scope without credential"))?;
        Ok(Some((cred, request::method(method)?, url)))
    }

    /// The library request of a Python call.
    fn prepare(
        &self,
        py: Python<'_>,
        method: Method,
        url: &Bound<'_, PyAny>,
        args: Args<'_>,
    ) -> PyResult<sesame::RequestBuilder> {
        let session = self.session()?;
        request::build(py, &session, method, url, args)
    }

    fn status(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        status_dict(py, &self.resolved, self.credential()?)
    }
}

async fn attach_op(cred: Arc<dyn Credential>, method: Method, url: Url) -> sesame::Result<Attached> {
    let mut headers = HeaderMap::new();
    let att = cred
        .attach(
            &AuthRequest {
                method: &method,
                url: &url,
            },
            &mut headers,
        )
        .await?;
    let pairs = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    Ok((pairs, att.id))
}

async fn rejected_op(
    cred: Arc<dyn Credential>,
    method: Method,
    url: Url,
    attachment: u64,
    challenge: Option<String>,
) -> sesame::Result<bool> {
    let r = cred
        .rejected(
            &AuthRequest {
                method: &method,
                url: &url,
            },
            &Attachment { id: attachment },
            challenge.as_deref(),
        )
        .await?;
    Ok(r == Rejection::Retry)
}

async fn token_op(
    cred: Option<Arc<dyn Credential>>,
    name: String,
    kind: &'static str,
    min_valid: u64,
    force: bool,
) -> sesame::Result<String> {
    let cred = cred.ok_or_else(|| {
        Error::config(format!(
            "profile `{name}` has no credential (auth = none): set `auth` in the profile or pass auth=…"
        ))
    })?;
    match cred.token(Duration::from_secs(min_valid), force).await? {
        Some(t) => Ok(t.access_token.expose().to_string()),
        None => Err(Error::config(format!(
            "profile `{name}` uses auth = \"{kind}\", which is not a token credential; token() needs a token kind (bearer, oidc, client-credentials, …)"
        ))),
    }
}

fn check_mode(mode: Option<&str>) -> PyResult<()> {
    match mode {
        None | Some("browser" | "device" | "no-browser") => Ok(()),
        Some(m) => Err(PyValueError::new_err(format!(
            "login mode `{m}` is not one of None, \"browser\", \"device\", \"no-browser\""
        ))),
    }
}

async fn login_op(cred: Option<Arc<dyn Credential>>, name: String, kind: &'static str) -> sesame::Result<()> {
    let Some(cred) = cred else {
        return Err(Error::config(format!(
            "profile `{name}` has no credential (auth = none): there is nothing to log in to"
        )));
    };
    let Some(oauth) = cred.as_oauth() else {
        // Static credentials (bearer, basic, netrc, X.509, …) need no login.
        return Ok(());
    };
    match kind {
        "client-credentials" | "password" => {
            oauth.source().force_refresh().await?;
            Ok(())
        }
        _ => Err(Error::login_required(format!(
            "profile `{name}` (auth = \"{kind}\") needs a person to log in, and the Python package cannot run a browser or device login yet: run `sesame login --profile {name}` in a terminal; this session then uses the tokens it stores"
        ))),
    }
}

async fn logout_op(cred: Option<Arc<dyn Credential>>, revoke: bool) -> sesame::Result<Option<String>> {
    let Some(oauth) = cred.as_ref().and_then(|c| c.as_oauth()) else {
        return Ok(None);
    };
    let cached = oauth.source().cached(Duration::ZERO)?.map(|l| l.token);
    let stored = cached.or_else(|| oauth.source().peek());
    let id_token = stored
        .as_ref()
        .and_then(|t| t.id_token.as_ref())
        .map(|t| t.expose().to_string());
    let mut end_session = None;
    if revoke || id_token.is_some() {
        match oauth.client().await {
            Ok(client) => {
                if revoke && let Some(t) = &stored {
                    if let Some(rt) = &t.refresh_token {
                        client.revoke(rt.expose(), Some("refresh_token")).await?;
                    }
                    client.revoke(t.access_token.expose(), Some("access_token")).await?;
                }
                end_session = client.end_session_url(id_token.as_deref()).map(|u| u.to_string());
            }
            Err(e) if revoke => return Err(e),
            Err(e) => tracing::debug!(error = %e, "no provider metadata for the end-session URL"),
        }
    }
    oauth.source().clear()?;
    Ok(end_session)
}

/// `status()`: the profile and its credential, secrets masked, no network.
fn status_dict(py: Python<'_>, resolved: &ResolvedProfile, cred: Option<Arc<dyn Credential>>) -> PyResult<Py<PyDict>> {
    let d = PyDict::new(py);
    let p = &resolved.profile;
    d.set_item("profile", &resolved.name)?;
    d.set_item("config", resolved.config_path.as_ref().map(|p| p.display().to_string()))?;
    d.set_item("base_url", &p.base_url)?;
    d.set_item("issuer", &p.issuer)?;
    let info = cred
        .as_ref()
        .map(|c| c.info())
        .unwrap_or_else(|| sesame::credential::CredentialInfo::new("none"));
    d.set_item("auth", &info.kind)?;
    let details = PyDict::new(py);
    for (k, v) in &info.details {
        details.set_item(k, v)?;
    }
    d.set_item("credential", details)?;
    let mut valid = true;
    let now = sesame::token::now_unix();
    if let Some(c) = &cred
        && let Some(oauth) = c.as_oauth()
    {
        match c.cached_token().or_else(|| oauth.source().peek().map(|t| (*t).clone())) {
            Some(t) => {
                let claims = sesame::token::jwt_claims(t.access_token.expose()).unwrap_or_default();
                let id_claims = t
                    .id_token
                    .as_ref()
                    .and_then(|i| sesame::token::jwt_claims(i.expose()))
                    .unwrap_or_default();
                let sub = id_claims
                    .get("sub")
                    .or_else(|| claims.get("sub"))
                    .and_then(|s| s.as_str())
                    .map(str::to_owned);
                d.set_item("subject", sub)?;
                d.set_item("scopes", t.scopes.clone())?;
                if let Some(aud) = claims.get("aud") {
                    let aud: Vec<String> = match aud {
                        serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
                        serde_json::Value::String(s) => vec![s.clone()],
                        _ => Vec::new(),
                    };
                    d.set_item("audience", aud)?;
                }
                d.set_item("token", sesame::secret::mask(t.access_token.expose()))?;
                let left = t.expires_at.map(|e| e - now);
                d.set_item("seconds_left", left)?;
                d.set_item("refresh_token", t.refresh_token.is_some())?;
                let usable = left.is_none_or(|l| l > 0) || t.refresh_token.is_some();
                valid = usable || !matches!(info.kind.as_str(), "oidc" | "device");
            }
            None => {
                d.set_item("token", py.None())?;
                valid = !matches!(info.kind.as_str(), "oidc" | "device");
            }
        }
    } else if let Some(t) = cred.as_ref().and_then(|c| c.cached_token()) {
        d.set_item("token", sesame::secret::mask(t.access_token.expose()))?;
    }
    d.set_item("valid", valid)?;
    Ok(d.unbind())
}

macro_rules! session_named {
    ($($name:ident),*) => {
        vec![$((stringify!($name), $name)),*]
    };
}

/// An authenticated HTTP session from a sesame profile. Thread-safe: share one between
/// threads; the GIL is released while requests and token work run.
#[pyclass(module = "sesame", name = "Session", subclass, frozen)]
pub struct PySession {
    core: Arc<Core>,
}

impl PySession {
    fn send(
        &self,
        py: Python<'_>,
        method: Method,
        url: &Bound<'_, PyAny>,
        args: Args<'_>,
        stream: bool,
    ) -> PyResult<PyResponse> {
        let rb = self.core.prepare(py, method.clone(), url, args)?;
        let fetched = wait(py, execute(rb, method, stream))?.map_err(py_err)?;
        Ok(PyResponse::from(fetched))
    }
}

#[allow(clippy::too_many_arguments)]
#[pymethods]
impl PySession {
    #[new]
    #[pyo3(signature = (profile=None, *, base_url=None, auth=None, issuer=None, client_id=None, client_secret=None, scopes=None, audience=None, token=None, cert=None, key=None, ca_bundle=None, insecure=None, timeout=None, retries=None, config=None, **more))]
    fn new(
        py: Python<'_>,
        profile: Option<String>,
        base_url: Option<Bound<'_, PyAny>>,
        auth: Option<Bound<'_, PyAny>>,
        issuer: Option<Bound<'_, PyAny>>,
        client_id: Option<Bound<'_, PyAny>>,
        client_secret: Option<Bound<'_, PyAny>>,
        scopes: Option<Bound<'_, PyAny>>,
        audience: Option<Bound<'_, PyAny>>,
        token: Option<Bound<'_, PyAny>>,
        cert: Option<Bound<'_, PyAny>>,
        key: Option<Bound<'_, PyAny>>,
        ca_bundle: Option<Bound<'_, PyAny>>,
        insecure: Option<Bound<'_, PyAny>>,
        timeout: Option<Bound<'_, PyAny>>,
        retries: Option<Bound<'_, PyAny>>,
        config: Option<PathBuf>,
        more: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let named = session_named!(
            base_url,
            auth,
            issuer,
            client_id,
            client_secret,
            scopes,
            audience,
            token,
            cert,
            key,
            ca_bundle,
            insecure,
            timeout,
            retries
        );
        Ok(PySession {
            core: Arc::new(Core::new(py, profile, config, named, more.as_ref())?),
        })
    }

    /// Sends a request; a relative `url` joins the profile's `base_url`.
    #[pyo3(signature = (method, url, *, params=None, headers=None, data=None, json=None, files=None, timeout=None, stream=false))]
    fn request(
        &self,
        py: Python<'_>,
        method: &str,
        url: &Bound<'_, PyAny>,
        params: Option<Bound<'_, PyAny>>,
        headers: Option<Bound<'_, PyAny>>,
        data: Option<Bound<'_, PyAny>>,
        json: Option<Bound<'_, PyAny>>,
        files: Option<Bound<'_, PyAny>>,
        timeout: Option<Bound<'_, PyAny>>,
        stream: bool,
    ) -> PyResult<PyResponse> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, request::method(method)?, url, args, stream)
    }

    /// A GET request.
    #[pyo3(signature = (url, params=None, *, headers=None, data=None, json=None, files=None, timeout=None, stream=false))]
    fn get(
        &self,
        py: Python<'_>,
        url: &Bound<'_, PyAny>,
        params: Option<Bound<'_, PyAny>>,
        headers: Option<Bound<'_, PyAny>>,
        data: Option<Bound<'_, PyAny>>,
        json: Option<Bound<'_, PyAny>>,
        files: Option<Bound<'_, PyAny>>,
        timeout: Option<Bound<'_, PyAny>>,
        stream: bool,
    ) -> PyResult<PyResponse> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, Method::GET, url, args, stream)
    }

    /// An OPTIONS request.
    #[pyo3(signature = (url, *, params=None, headers=None, data=None, json=None, files=None, timeout=None, stream=false))]
    fn options(
        &self,
        py: Python<'_>,
        url: &Bound<'_, PyAny>,
        params: Option<Bound<'_, PyAny>>,
        headers: Option<Bound<'_, PyAny>>,
        data: Option<Bound<'_, PyAny>>,
        json: Option<Bound<'_, PyAny>>,
        files: Option<Bound<'_, PyAny>>,
        timeout: Option<Bound<'_, PyAny>>,
        stream: bool,
    ) -> PyResult<PyResponse> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, Method::OPTIONS, url, args, stream)
    }

    /// A HEAD request.
    #[pyo3(signature = (url, *, params=None, headers=None, data=None, json=None, files=None, timeout=None, stream=false))]
    fn head(
        &self,
        py: Python<'_>,
        url: &Bound<'_, PyAny>,
        params: Option<Bound<'_, PyAny>>,
        headers: Option<Bound<'_, PyAny>>,
        data: Option<Bound<'_, PyAny>>,
        json: Option<Bound<'_, PyAny>>,
        files: Option<Bound<'_, PyAny>>,
        timeout: Option<Bound<'_, PyAny>>,
        stream: bool,
    ) -> PyResult<PyResponse> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, Method::HEAD, url, args, stream)
    }

    /// A POST request.
    #[pyo3(signature = (url, data=None, json=None, *, params=None, headers=None, files=None, timeout=None, stream=false))]
    fn post(
        &self,
        py: Python<'_>,
        url: &Bound<'_, PyAny>,
        data: Option<Bound<'_, PyAny>>,
        json: Option<Bound<'_, PyAny>>,
        params: Option<Bound<'_, PyAny>>,
        headers: Option<Bound<'_, PyAny>>,
        files: Option<Bound<'_, PyAny>>,
        timeout: Option<Bound<'_, PyAny>>,
        stream: bool,
    ) -> PyResult<PyResponse> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, Method::POST, url, args, stream)
    }

    /// A PUT request.
    #[pyo3(signature = (url, data=None, *, params=None, headers=None, json=None, files=None, timeout=None, stream=false))]
    fn put(
        &self,
        py: Python<'_>,
        url: &Bound<'_, PyAny>,
        data: Option<Bound<'_, PyAny>>,
        params: Option<Bound<'_, PyAny>>,
        headers: Option<Bound<'_, PyAny>>,
        json: Option<Bound<'_, PyAny>>,
        files: Option<Bound<'_, PyAny>>,
        timeout: Option<Bound<'_, PyAny>>,
        stream: bool,
    ) -> PyResult<PyResponse> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, Method::PUT, url, args, stream)
    }

    /// A PATCH request.
    #[pyo3(signature = (url, data=None, *, params=None, headers=None, json=None, files=None, timeout=None, stream=false))]
    fn patch(
        &self,
        py: Python<'_>,
        url: &Bound<'_, PyAny>,
        data: Option<Bound<'_, PyAny>>,
        params: Option<Bound<'_, PyAny>>,
        headers: Option<Bound<'_, PyAny>>,
        json: Option<Bound<'_, PyAny>>,
        files: Option<Bound<'_, PyAny>>,
        timeout: Option<Bound<'_, PyAny>>,
        stream: bool,
    ) -> PyResult<PyResponse> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, Method::PATCH, url, args, stream)
    }

    /// A DELETE request.
    #[pyo3(signature = (url, *, params=None, headers=None, data=None, json=None, files=None, timeout=None, stream=false))]
    fn delete(
        &self,
        py: Python<'_>,
        url: &Bound<'_, PyAny>,
        params: Option<Bound<'_, PyAny>>,
        headers: Option<Bound<'_, PyAny>>,
        data: Option<Bound<'_, PyAny>>,
        json: Option<Bound<'_, PyAny>>,
        files: Option<Bound<'_, PyAny>>,
        timeout: Option<Bound<'_, PyAny>>,
        stream: bool,
    ) -> PyResult<PyResponse> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, Method::DELETE, url, args, stream)
    }

    /// A valid access token with at least `min_valid` seconds left (renewed first if
    /// needed; `force_refresh=True` renews regardless).
    #[pyo3(signature = (min_valid=60, *, force_refresh=false))]
    fn token(&self, py: Python<'_>, min_valid: u64, force_refresh: bool) -> PyResult<String> {
        let fut = token_op(
            self.core.credential()?,
            self.core.resolved.name.clone(),
            self.core.kind(),
            min_valid,
            force_refresh,
        );
        wait(py, fut)?.map_err(py_err)
    }

    /// Gets tokens now (unattended grants), or raises `LoginRequired` for kinds that need a
    /// person (browser/device logins are not available in the Python package yet).
    #[pyo3(signature = (mode=None))]
    fn login(&self, py: Python<'_>, mode: Option<&str>) -> PyResult<()> {
        check_mode(mode)?;
        let fut = login_op(
            self.core.credential()?,
            self.core.resolved.name.clone(),
            self.core.kind(),
        );
        wait(py, fut)?.map_err(py_err)
    }

    /// Deletes the profile's cached tokens (revoking them first with `revoke=True`).
    /// Returns the provider's end-session URL, if it has one.
    #[pyo3(signature = (revoke=false))]
    fn logout(&self, py: Python<'_>, revoke: bool) -> PyResult<Option<String>> {
        let fut = logout_op(self.core.credential()?, revoke);
        wait(py, fut)?.map_err(py_err)
    }

    /// The profile and its credential as a dict, tokens masked; no network.
    fn status(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        self.core.status(py)
    }

    /// Whether the credential would be sent to `url` (its origin and path prefix).
    fn in_scope(&self, url: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.core.in_scope(url)
    }

    /// The profile name.
    #[getter]
    fn profile(&self) -> String {
        self.core.resolved.name.clone()
    }

    /// The auth kind (`client-credentials`, `bearer`, …).
    #[getter]
    fn auth(&self) -> &'static str {
        self.core.kind()
    }

    /// The base URL relative URLs join (`None` without one).
    #[getter]
    fn base_url(&self) -> PyResult<Option<String>> {
        Ok(self.core.session()?.base_url().map(|u| u.to_string()))
    }

    /// Closes the session: its connections are released; later requests fail.
    fn close(&self) {
        self.core.close();
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) -> bool {
        self.core.close();
        false
    }

    fn __repr__(&self) -> String {
        self.core.repr("Session")
    }

    /// For adapters: the credential headers for `method url` and the attachment id to quote
    /// in `_rejected`, or `None` when `url` is out of scope.
    fn _auth_headers(&self, py: Python<'_>, method: &str, url: &Bound<'_, PyAny>) -> PyResult<Option<Attached>> {
        let Some((cred, method, url)) = self.core.adapter_target(method, url)? else {
            return Ok(None);
        };
        wait(py, attach_op(cred, method, url))?.map_err(py_err).map(Some)
    }

    /// For adapters: the server answered 401 to a request that carried `attachment`.
    /// Returns whether the credential renewed itself (resend once) or not.
    #[pyo3(signature = (method, url, attachment, challenge=None))]
    fn _rejected(
        &self,
        py: Python<'_>,
        method: &str,
        url: &Bound<'_, PyAny>,
        attachment: u64,
        challenge: Option<String>,
    ) -> PyResult<bool> {
        let Some((cred, method, url)) = self.core.adapter_target(method, url)? else {
            return Ok(false);
        };
        wait(py, rejected_op(cred, method, url, attachment, challenge))?.map_err(py_err)
    }

    /// `_auth_headers` as an awaitable (for asyncio adapters).
    fn _auth_headers_async<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        url: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let target = self.core.adapter_target(method, url)?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match target {
                None => Ok(None),
                Some((cred, method, url)) => attach_op(cred, method, url).await.map(Some).map_err(py_err),
            }
        })
    }

    /// `_rejected` as an awaitable.
    #[pyo3(signature = (method, url, attachment, challenge=None))]
    fn _rejected_async<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        url: &Bound<'py, PyAny>,
        attachment: u64,
        challenge: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let target = self.core.adapter_target(method, url)?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match target {
                None => Ok(false),
                Some((cred, method, url)) => rejected_op(cred, method, url, attachment, challenge)
                    .await
                    .map_err(py_err),
            }
        })
    }
}

/// The asynchronous session: the same API as `Session`, every call awaitable on asyncio.
#[pyclass(module = "sesame", name = "AsyncSession", subclass, frozen)]
pub struct PyAsyncSession {
    core: Arc<Core>,
}

impl PyAsyncSession {
    fn send<'py>(
        &self,
        py: Python<'py>,
        method: Method,
        url: &Bound<'py, PyAny>,
        args: Args<'py>,
        stream: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::runtime::check_fork()?;
        let rb = self.core.prepare(py, method.clone(), url, args)?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let fetched = execute(rb, method, stream).await.map_err(py_err)?;
            Ok(PyResponse::from(fetched))
        })
    }
}

#[allow(clippy::too_many_arguments)]
#[pymethods]
impl PyAsyncSession {
    #[new]
    #[pyo3(signature = (profile=None, *, base_url=None, auth=None, issuer=None, client_id=None, client_secret=None, scopes=None, audience=None, token=None, cert=None, key=None, ca_bundle=None, insecure=None, timeout=None, retries=None, config=None, **more))]
    fn new(
        py: Python<'_>,
        profile: Option<String>,
        base_url: Option<Bound<'_, PyAny>>,
        auth: Option<Bound<'_, PyAny>>,
        issuer: Option<Bound<'_, PyAny>>,
        client_id: Option<Bound<'_, PyAny>>,
        client_secret: Option<Bound<'_, PyAny>>,
        scopes: Option<Bound<'_, PyAny>>,
        audience: Option<Bound<'_, PyAny>>,
        token: Option<Bound<'_, PyAny>>,
        cert: Option<Bound<'_, PyAny>>,
        key: Option<Bound<'_, PyAny>>,
        ca_bundle: Option<Bound<'_, PyAny>>,
        insecure: Option<Bound<'_, PyAny>>,
        timeout: Option<Bound<'_, PyAny>>,
        retries: Option<Bound<'_, PyAny>>,
        config: Option<PathBuf>,
        more: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let named = session_named!(
            base_url,
            auth,
            issuer,
            client_id,
            client_secret,
            scopes,
            audience,
            token,
            cert,
            key,
            ca_bundle,
            insecure,
            timeout,
            retries
        );
        Ok(PyAsyncSession {
            core: Arc::new(Core::new(py, profile, config, named, more.as_ref())?),
        })
    }

    /// `await session.request(method, url, …)`.
    #[pyo3(signature = (method, url, *, params=None, headers=None, data=None, json=None, files=None, timeout=None, stream=false))]
    fn request<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        url: &Bound<'py, PyAny>,
        params: Option<Bound<'py, PyAny>>,
        headers: Option<Bound<'py, PyAny>>,
        data: Option<Bound<'py, PyAny>>,
        json: Option<Bound<'py, PyAny>>,
        files: Option<Bound<'py, PyAny>>,
        timeout: Option<Bound<'py, PyAny>>,
        stream: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, request::method(method)?, url, args, stream)
    }

    /// `await session.get(url, …)`.
    #[pyo3(signature = (url, params=None, *, headers=None, data=None, json=None, files=None, timeout=None, stream=false))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        url: &Bound<'py, PyAny>,
        params: Option<Bound<'py, PyAny>>,
        headers: Option<Bound<'py, PyAny>>,
        data: Option<Bound<'py, PyAny>>,
        json: Option<Bound<'py, PyAny>>,
        files: Option<Bound<'py, PyAny>>,
        timeout: Option<Bound<'py, PyAny>>,
        stream: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, Method::GET, url, args, stream)
    }

    /// `await session.options(url, …)`.
    #[pyo3(signature = (url, *, params=None, headers=None, data=None, json=None, files=None, timeout=None, stream=false))]
    fn options<'py>(
        &self,
        py: Python<'py>,
        url: &Bound<'py, PyAny>,
        params: Option<Bound<'py, PyAny>>,
        headers: Option<Bound<'py, PyAny>>,
        data: Option<Bound<'py, PyAny>>,
        json: Option<Bound<'py, PyAny>>,
        files: Option<Bound<'py, PyAny>>,
        timeout: Option<Bound<'py, PyAny>>,
        stream: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, Method::OPTIONS, url, args, stream)
    }

    /// `await session.head(url, …)`.
    #[pyo3(signature = (url, *, params=None, headers=None, data=None, json=None, files=None, timeout=None, stream=false))]
    fn head<'py>(
        &self,
        py: Python<'py>,
        url: &Bound<'py, PyAny>,
        params: Option<Bound<'py, PyAny>>,
        headers: Option<Bound<'py, PyAny>>,
        data: Option<Bound<'py, PyAny>>,
        json: Option<Bound<'py, PyAny>>,
        files: Option<Bound<'py, PyAny>>,
        timeout: Option<Bound<'py, PyAny>>,
        stream: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, Method::HEAD, url, args, stream)
    }

    /// `await session.post(url, data, json, …)`.
    #[pyo3(signature = (url, data=None, json=None, *, params=None, headers=None, files=None, timeout=None, stream=false))]
    fn post<'py>(
        &self,
        py: Python<'py>,
        url: &Bound<'py, PyAny>,
        data: Option<Bound<'py, PyAny>>,
        json: Option<Bound<'py, PyAny>>,
        params: Option<Bound<'py, PyAny>>,
        headers: Option<Bound<'py, PyAny>>,
        files: Option<Bound<'py, PyAny>>,
        timeout: Option<Bound<'py, PyAny>>,
        stream: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, Method::POST, url, args, stream)
    }

    /// `await session.put(url, data, …)`.
    #[pyo3(signature = (url, data=None, *, params=None, headers=None, json=None, files=None, timeout=None, stream=false))]
    fn put<'py>(
        &self,
        py: Python<'py>,
        url: &Bound<'py, PyAny>,
        data: Option<Bound<'py, PyAny>>,
        params: Option<Bound<'py, PyAny>>,
        headers: Option<Bound<'py, PyAny>>,
        json: Option<Bound<'py, PyAny>>,
        files: Option<Bound<'py, PyAny>>,
        timeout: Option<Bound<'py, PyAny>>,
        stream: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, Method::PUT, url, args, stream)
    }

    /// `await session.patch(url, data, …)`.
    #[pyo3(signature = (url, data=None, *, params=None, headers=None, json=None, files=None, timeout=None, stream=false))]
    fn patch<'py>(
        &self,
        py: Python<'py>,
        url: &Bound<'py, PyAny>,
        data: Option<Bound<'py, PyAny>>,
        params: Option<Bound<'py, PyAny>>,
        headers: Option<Bound<'py, PyAny>>,
        json: Option<Bound<'py, PyAny>>,
        files: Option<Bound<'py, PyAny>>,
        timeout: Option<Bound<'py, PyAny>>,
        stream: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, Method::PATCH, url, args, stream)
    }

    /// `await session.delete(url, …)`.
    #[pyo3(signature = (url, *, params=None, headers=None, data=None, json=None, files=None, timeout=None, stream=false))]
    fn delete<'py>(
        &self,
        py: Python<'py>,
        url: &Bound<'py, PyAny>,
        params: Option<Bound<'py, PyAny>>,
        headers: Option<Bound<'py, PyAny>>,
        data: Option<Bound<'py, PyAny>>,
        json: Option<Bound<'py, PyAny>>,
        files: Option<Bound<'py, PyAny>>,
        timeout: Option<Bound<'py, PyAny>>,
        stream: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = Args {
            params,
            headers,
            data,
            json,
            files,
            timeout,
        };
        self.send(py, Method::DELETE, url, args, stream)
    }

    /// `await session.token(min_valid=60)`.
    #[pyo3(signature = (min_valid=60, *, force_refresh=false))]
    fn token<'py>(&self, py: Python<'py>, min_valid: u64, force_refresh: bool) -> PyResult<Bound<'py, PyAny>> {
        let fut = token_op(
            self.core.credential()?,
            self.core.resolved.name.clone(),
            self.core.kind(),
            min_valid,
            force_refresh,
        );
        pyo3_async_runtimes::tokio::future_into_py(py, async move { fut.await.map_err(py_err) })
    }

    /// `await session.login(mode=None)`.
    #[pyo3(signature = (mode=None))]
    fn login<'py>(&self, py: Python<'py>, mode: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        check_mode(mode)?;
        let fut = login_op(
            self.core.credential()?,
            self.core.resolved.name.clone(),
            self.core.kind(),
        );
        pyo3_async_runtimes::tokio::future_into_py(py, async move { fut.await.map_err(py_err) })
    }

    /// `await session.logout(revoke=False)`.
    #[pyo3(signature = (revoke=false))]
    fn logout<'py>(&self, py: Python<'py>, revoke: bool) -> PyResult<Bound<'py, PyAny>> {
        let fut = logout_op(self.core.credential()?, revoke);
        pyo3_async_runtimes::tokio::future_into_py(py, async move { fut.await.map_err(py_err) })
    }

    /// `await session.status()`.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let d = self.core.status(py)?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move { Ok(d) })
    }

    /// Whether the credential would be sent to `url` (not awaitable: no I/O).
    fn in_scope(&self, url: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.core.in_scope(url)
    }

    /// The profile name.
    #[getter]
    fn profile(&self) -> String {
        self.core.resolved.name.clone()
    }

    /// The auth kind.
    #[getter]
    fn auth(&self) -> &'static str {
        self.core.kind()
    }

    /// The base URL relative URLs join.
    #[getter]
    fn base_url(&self) -> PyResult<Option<String>> {
        Ok(self.core.session()?.base_url().map(|u| u.to_string()))
    }

    /// `await session.close()`.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.core.close();
        pyo3_async_runtimes::tokio::future_into_py(py, async move { Ok(()) })
    }

    /// `await session.aclose()` (httpx's name for `close`).
    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.close(py)
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let me = slf.unbind();
        pyo3_async_runtimes::tokio::future_into_py(py, async move { Ok(me) })
    }

    #[pyo3(signature = (*_args))]
    fn __aexit__<'py>(&self, py: Python<'py>, _args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        self.core.close();
        pyo3_async_runtimes::tokio::future_into_py(py, async move { Ok(false) })
    }

    fn __repr__(&self) -> String {
        self.core.repr("AsyncSession")
    }
}
