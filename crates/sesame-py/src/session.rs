//! `sesame.Session` and `sesame.AsyncSession`: one library session (base URL, TLS, the
//! profile's credential) shared by every thread or task that uses the object.
//!
//! Every blocking call releases the GIL and runs on the shared runtime; the asynchronous
//! class hands the same futures to asyncio. Token renewal, the single flight, the 401 retry
//! and scoping all happen in the library.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use sesame::credential::Credential;
use sesame::session::Method;
use sesame::{Error, Url};
use sesame_app::Status;
use sesame_app::config::ResolvedProfile;

use crate::errors::{self, py_err};
use crate::exchange::PyAuthExchange;
use crate::login;
use crate::profile;
use crate::request::{self, Args};
use crate::response::{PyResponse, execute};
use crate::runtime::wait;

/// What `Session` and `AsyncSession` share.
pub struct Core {
    session: RwLock<Option<sesame::Session>>,
    /// The main thread's copy of `session`, made on its first blocking request there
    /// ([`Core::main_session`]); dropped with `session` on close.
    main_copy: std::sync::Mutex<Option<sesame::Session>>,
    resolved: ResolvedProfile,
    /// `page_handler=`: the program's landing pages (cegal's page handler).
    page_handler: Option<sesame::oauth::landing::PageHandler>,
    /// The end users' tokens of a web login (made on first use, shared with `for_user`).
    web_users: std::sync::OnceLock<sesame::credential::WebUsers>,
    /// `raise_for_status`: a response with a status of 400 or more raises, as
    /// `Response.raise_for_status()` would (the exception carries the response).
    raise_for_status: bool,
}

type Named<'py> = Vec<(&'static str, Option<Bound<'py, PyAny>>)>;

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
        // Session options that are not profile keys (cegal's shapes, issue 15).
        let mut auto_login = false;
        let mut page_handler = None;
        if let Some(more) = more {
            for (k, v) in more.iter() {
                let k: String = k.extract()?;
                match k.as_str() {
                    "auto_login" => auto_login = v.extract::<bool>()?,
                    "page_handler" if v.is_none() => {}
                    "page_handler" if v.is_callable() => page_handler = Some(login::page_handler(v.unbind())),
                    "page_handler" => {
                        return Err(pyo3::exceptions::PyTypeError::new_err(
                            "page_handler must be a callable (kind, info) -> str | None",
                        ));
                    }
                    // igwn-auth-utils' `url=`: the URL the session will query, here its
                    // base URL (relative URLs join it, the credential goes only there).
                    "url" if v.is_none() => {}
                    "url" => {
                        if args.iter().any(|(k, _)| k == "base_url") {
                            return Err(pyo3::exceptions::PyTypeError::new_err(
                                "url= and base_url= name the same thing: pass one of them",
                            ));
                        }
                        args.push(("base_url".into(), v))
                    }
                    _ => args.push((k, v)),
                }
            }
        }
        let overrides = profile::overrides(py, args)?;
        let req = profile::Request {
            profile,
            config,
            overrides,
        };
        let facts = auto_login.then(|| login::terminal_facts(py));
        let pages = page_handler.clone();
        let built = py
            .detach(move || {
                profile::build_with(req, |resolved| match facts {
                    Some(f) => login::implicit_handler(f, resolved, pages),
                    None => Ok(None),
                })
            })
            .map_err(py_err)?;
        if built.resolved.insecure() {
            // docs/session-rules.md#tls: on every use, whatever the `sesame` logger's level.
            errors::insecure_warning(py, &built.resolved.name)?;
        }
        Ok(Core {
            session: RwLock::new(Some(built.session)),
            main_copy: Default::default(),
            raise_for_status: built.resolved.profile.raise_for_status == Some(true),
            resolved: built.resolved,
            page_handler,
            web_users: std::sync::OnceLock::new(),
        })
    }

    /// The session the main thread's blocking requests go through: a copy of `session` with
    /// the same credential, scope, policies and response cache, and a connection pool of its
    /// own, driven by the main thread's own runtime (`runtime::wait_on_main`). A request
    /// then starts, waits and ends on the main thread, with no hand-off to a runtime worker
    /// and back: a sequential loop measured 1.7x the requests per second of the shared pool
    /// with the server on the same CPU, and a third less CPU per request on two
    /// (docs/design/python-performance.md). Other threads keep the shared pool: copies
    /// of their own, each on its own runtime, were measured slower under a thread pool.
    ///
    /// The credential's work (a renewal, a login) still runs on the shared runtime
    /// (`Session::with_own_connections`), so a renewal other threads wait on never depends
    /// on the main thread going on polling.
    fn main_session(&self) -> PyResult<sesame::Session> {
        // The copy's lock first: a `close` on another thread clears `session` and then the
        // copy, so a copy made here either sees the session closed or is cleared after.
        let mut copy = self.main_copy.lock().map_err(|_| errors::internal("session lock"))?;
        let parent = self.session()?;
        if let Some(s) = copy.as_ref() {
            return Ok(s.clone());
        }
        let made = parent
            .with_own_connections(crate::runtime::runtime().handle().clone())
            .map_err(py_err)?;
        *copy = Some(made.clone());
        Ok(made)
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
        if let Ok(mut s) = self.main_copy.lock() {
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

    /// `token(min_valid, force_refresh=…, login=…)`, to run without the GIL. With `login`,
    /// a `LoginRequired` is answered by an implicit login (the rules of `sesame token`: a
    /// terminal is needed) and the token asked for again.
    fn token(
        &self,
        py: Python<'_>,
        min_valid: u64,
        force: bool,
        login: bool,
        narrow: Narrow,
    ) -> PyResult<impl Future<Output = sesame::Result<String>> + use<>> {
        let cred = self.credential()?;
        let (name, kind) = (self.resolved.name.clone(), self.kind());
        let first = token_op(cred.clone(), name.clone(), kind, min_valid, force, narrow.clone());
        let then = login.then(|| {
            let log_in = login::login_op(
                py,
                cred.clone(),
                &self.resolved,
                login::Mode::parse(None).expect("the default mode"),
                true,
                self.page_handler.clone(),
            );
            (log_in, token_op(cred, name, kind, min_valid, false, narrow))
        });
        Ok(async move {
            match (first.await, then) {
                (Err(e), Some((log_in, again))) if e.is_login_required() => {
                    log_in.await?;
                    again.await
                }
                (r, _) => r,
            }
        })
    }

    /// `login(mode)`, to run without the GIL.
    fn login(&self, py: Python<'_>, mode: Option<&str>) -> PyResult<impl Future<Output = sesame::Result<()>> + use<>> {
        let mode = login::Mode::parse(mode)?;
        Ok(login::login_op(
            py,
            self.credential()?,
            &self.resolved,
            mode,
            false,
            self.page_handler.clone(),
        ))
    }

    /// `logout(revoke)`, to run without the GIL.
    fn logout(&self, revoke: bool) -> PyResult<impl Future<Output = sesame::Result<Option<String>>> + use<>> {
        Ok(logout_op(self.credential()?, revoke))
    }
}

// ---------------------------------------------------------------- web-app login (crate::web)

impl Core {
    fn web_users(&self) -> PyResult<sesame::credential::WebUsers> {
        if let Some(u) = self.web_users.get() {
            return Ok(u.clone());
        }
        let u = crate::web::users(&self.credential()?, &self.resolved).map_err(py_err)?;
        Ok(self.web_users.get_or_init(|| u).clone())
    }

    fn web_authorization_url(
        &self,
        redirect_uri: String,
        state: Option<String>,
        nonce: Option<String>,
    ) -> PyResult<impl Future<Output = sesame::Result<(String, String)>> + use<>> {
        Ok(crate::web::authorization_url_op(
            self.web_users()?.client().clone(),
            redirect_uri,
            state,
            nonce,
        ))
    }

    fn web_exchange_code(
        &self,
        pending: &str,
        callback: &Bound<'_, PyAny>,
    ) -> PyResult<impl Future<Output = sesame::Result<crate::web::Exchanged>> + use<>> {
        let pending = crate::web::pending(pending)?;
        let params = crate::web::params(callback)?;
        Ok(crate::web::exchange_code_op(
            self.web_users()?,
            pending,
            params,
            crate::web::max_age(&self.resolved),
        ))
    }

    /// A core acting for the end user `subject` (same profile, the user's credential).
    fn for_user(&self, subject: &str) -> PyResult<Core> {
        let users = self.web_users()?;
        let session = crate::web::user_session(&self.resolved, &users, subject).map_err(py_err)?;
        let web_users = std::sync::OnceLock::new();
        let _ = web_users.set(users);
        Ok(Core {
            session: RwLock::new(Some(session)),
            main_copy: Default::default(),
            raise_for_status: self.raise_for_status,
            resolved: self.resolved.clone(),
            page_handler: self.page_handler.clone(),
            web_users,
        })
    }

    fn forget_user(&self, subject: &str) -> PyResult<()> {
        self.web_users()?.forget(subject).map_err(py_err)
    }
}

/// `token(scope=…, audience=…)`: down-scoping (RFC 6749 §6 refresh with fewer scopes, RFC
/// 8707 resource), as `sesame token --scope/--audience`.
#[derive(Debug, Clone, Default)]
pub struct Narrow {
    scopes: Vec<String>,
    audiences: Vec<String>,
}

impl Narrow {
    /// From `scope=` / `audience=`: a str (space-separated, as a token's `scope`) or a
    /// sequence of str.
    fn from_py(scope: Option<&Bound<'_, PyAny>>, audience: Option<&Bound<'_, PyAny>>) -> PyResult<Narrow> {
        fn words(v: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<String>> {
            let Some(v) = v.filter(|v| !v.is_none()) else {
                return Ok(Vec::new());
            };
            if let Ok(s) = v.extract::<String>() {
                return Ok(s.split_whitespace().map(str::to_string).collect());
            }
            v.extract::<Vec<String>>().map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(format!("{what} must be a str or a sequence of str"))
            })
        }
        Ok(Narrow {
            scopes: words(scope, "scope")?,
            audiences: words(audience, "audience")?,
        })
    }

    fn is_empty(&self) -> bool {
        self.scopes.is_empty() && self.audiences.is_empty()
    }
}

async fn token_op(
    cred: Option<Arc<dyn Credential>>,
    name: String,
    kind: &'static str,
    min_valid: u64,
    force: bool,
    narrow: Narrow,
) -> sesame::Result<String> {
    let cred = cred.ok_or_else(|| {
        Error::config(format!(
            "profile `{name}` has no credential (auth = none): set `auth` in the profile or pass auth=…"
        ))
    })?;
    let found = cred.token(Duration::from_secs(min_valid), force).await?;
    let found = match (found, narrow.is_empty()) {
        (Some(_), false) => {
            // The library's down-scoping: cached under its own key while valid.
            let oauth = cred.as_oauth().ok_or_else(|| {
                Error::config(format!(
                    "token(scope=…, audience=…) needs an OAuth profile; `{name}` uses auth = \"{kind}\""
                ))
            })?;
            Some(
                (*oauth
                    .narrowed(&narrow.scopes, &narrow.audiences, Duration::from_secs(min_valid))
                    .await?)
                    .clone(),
            )
        }
        (t, _) => t,
    };
    match found {
        // A DPoP-bound token is useless as a bearer token (RFC 9449): requests through the
        // session and the adapters carry it with a proof.
        Some(t) if sesame::oauth::dpop::is_bound(&t) => Err(sesame::oauth::dpop::bound_token_error(
            "returned as a bearer token; use the session or its requests/httpx adapters",
        )),
        Some(t) => Ok(t.access_token.expose().to_string()),
        None => Err(Error::config(format!(
            "profile `{name}` uses auth = \"{kind}\", which is not a token credential; token() needs a token kind (bearer, oidc, client-credentials, …)"
        ))),
    }
}

async fn logout_op(cred: Option<Arc<dyn Credential>>, revoke: bool) -> sesame::Result<Option<String>> {
    let Some(oauth) = cred.as_ref().and_then(|c| c.as_oauth()) else {
        return Ok(None);
    };
    let done = sesame_app::login::logout(oauth, revoke).await?;
    Ok(done.end_session_url.map(|u| u.to_string()))
}

/// `status()`: the profile and its credential, secrets masked. The fields and their types
/// are the engine's [`Status::gather`] / [`Status::to_json`], shared with
/// `sesame status --json`: no network, except one read of the shared record (the `cluster`
/// object) for a `cache = "openbao"` profile, without the GIL.
fn status_dict(py: Python<'_>, resolved: &ResolvedProfile, cred: Option<Arc<dyn Credential>>) -> PyResult<Py<PyDict>> {
    let st = if Status::needs_network(resolved) {
        let resolved = resolved.clone();
        wait(py, async move { Status::gather(&resolved, cred.as_ref()).await })?
    } else {
        Status::of(resolved, cred.as_ref())
    };
    json_dict(py, &st)
}

fn json_dict(py: Python<'_>, st: &Status) -> PyResult<Py<PyDict>> {
    let text = serde_json::Value::Object(st.to_json()).to_string();
    let d = py.import("json")?.call_method1("loads", (text,))?;
    Ok(d.cast_into::<PyDict>()?.unbind())
}

macro_rules! session_named {
    ($($name:ident),*) => {
        vec![$((stringify!($name), $name)),*]
    };
}

/// The `#[pymethods]` block of a session class: what `Session` and `AsyncSession` share
/// (the constructor, the request methods, scope and properties), written once; `$ret` is
/// what a request returns (a response, or an awaitable of one) and `send` (an inherent
/// method of each class) makes it. The class's own methods follow in `$rest`.
macro_rules! session_pymethods {
    ($class:ident, $ret:ty, { $($rest:tt)* }) => {
        session_pymethods!(@impl $class, $ret, { $($rest)* }, [
            (
                "A GET request (`AsyncSession`: awaitable).",
                get,
                Method::GET,
                (url, params=None, *, headers=None, data=None, json=None, files=None, timeout=None, stream=false),
                [params, headers, data, json, files, timeout]
            ),
            (
                "An OPTIONS request (`AsyncSession`: awaitable).",
                options,
                Method::OPTIONS,
                (url, *, params=None, headers=None, data=None, json=None, files=None, timeout=None, stream=false),
                [params, headers, data, json, files, timeout]
            ),
            (
                "A HEAD request (`AsyncSession`: awaitable).",
                head,
                Method::HEAD,
                (url, *, params=None, headers=None, data=None, json=None, files=None, timeout=None, stream=false),
                [params, headers, data, json, files, timeout]
            ),
            (
                "A POST request (`AsyncSession`: awaitable).",
                post,
                Method::POST,
                (url, data=None, json=None, *, params=None, headers=None, files=None, timeout=None, stream=false),
                [data, json, params, headers, files, timeout]
            ),
            (
                "A PUT request (`AsyncSession`: awaitable).",
                put,
                Method::PUT,
                (url, data=None, *, params=None, headers=None, json=None, files=None, timeout=None, stream=false),
                [data, params, headers, json, files, timeout]
            ),
            (
                "A PATCH request (`AsyncSession`: awaitable).",
                patch,
                Method::PATCH,
                (url, data=None, *, params=None, headers=None, json=None, files=None, timeout=None, stream=false),
                [data, params, headers, json, files, timeout]
            ),
            (
                "A DELETE request (`AsyncSession`: awaitable).",
                delete,
                Method::DELETE,
                (url, *, params=None, headers=None, data=None, json=None, files=None, timeout=None, stream=false),
                [params, headers, data, json, files, timeout]
            ),
        ]);
    };
    // One request method per row: (doc, name, HTTP method, Python signature, the Rust
    // parameters in the signature's order).
    (@impl $class:ident, $ret:ty, { $($rest:tt)* }, [
        $(($doc:tt, $name:ident, $method:expr, $sig:tt, [$($arg:ident),*])),* $(,)?
    ]) => {
        #[allow(clippy::too_many_arguments)]
        #[pymethods]
        impl $class {
            #[new]
            #[pyo3(signature = (profile=None, *, base_url=None, auth=None, issuer=None, client_id=None, client_secret=None, scopes=None, audience=None, token=None, cert=None, key=None, ca_bundle=None, insecure=None, timeout=None, retries=None, config=None, **more))]
            fn new<'py>(
                py: Python<'py>,
                profile: Option<String>,
                base_url: Option<Bound<'py, PyAny>>,
                auth: Option<Bound<'py, PyAny>>,
                issuer: Option<Bound<'py, PyAny>>,
                client_id: Option<Bound<'py, PyAny>>,
                client_secret: Option<Bound<'py, PyAny>>,
                scopes: Option<Bound<'py, PyAny>>,
                audience: Option<Bound<'py, PyAny>>,
                token: Option<Bound<'py, PyAny>>,
                cert: Option<Bound<'py, PyAny>>,
                key: Option<Bound<'py, PyAny>>,
                ca_bundle: Option<Bound<'py, PyAny>>,
                insecure: Option<Bound<'py, PyAny>>,
                timeout: Option<Bound<'py, PyAny>>,
                retries: Option<Bound<'py, PyAny>>,
                config: Option<PathBuf>,
                more: Option<Bound<'py, PyDict>>,
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
                Ok(Self {
                    core: Arc::new(Core::new(py, profile, config, named, more.as_ref())?),
                })
            }

            /// Sends a request; a relative `url` joins the profile's `base_url` (`AsyncSession`:
            /// awaitable).
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
            ) -> $ret {
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

            $(
                #[doc = $doc]
                #[pyo3(signature = $sig)]
                fn $name<'py>(
                    &self,
                    py: Python<'py>,
                    url: &Bound<'py, PyAny>,
                    $($arg: Option<Bound<'py, PyAny>>,)*
                    stream: bool,
                ) -> $ret {
                    self.send(py, $method, url, Args { $($arg),* }, stream)
                }
            )*

            /// Whether the credential would be sent to `url` (its origin and path prefix; not
            /// awaitable: no I/O).
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

            $($rest)*
        }
    };
}

/// An authenticated HTTP session from a sesame profile. Thread-safe: share one between
/// threads; the GIL is released while requests and token work run.
#[pyclass(module = "sesame", name = "Session", subclass, frozen)]
pub struct PySession {
    core: Arc<Core>,
}

impl PySession {
    fn send<'py>(
        &self,
        py: Python<'py>,
        method: Method,
        url: &Bound<'py, PyAny>,
        args: Args<'py>,
        stream: bool,
    ) -> PyResult<Py<PyResponse>> {
        // A streamed body may be read from any thread, later: its connection must be driven
        // by the shared runtime, so streams never use the main thread's copy.
        let fetched = if !stream && crate::runtime::can_wait_on_main(py) {
            let rb = request::build(py, &self.core.main_session()?, method.clone(), url, args)?;
            crate::runtime::wait_on_main(py, execute(rb, method, false))?
        } else {
            let rb = self.core.prepare(py, method.clone(), url, args)?;
            wait(py, execute(rb, method, stream))?
        }
        .map_err(py_err)?;
        let resp = Bound::new(py, PyResponse::from(fetched))?;
        if self.core.raise_for_status {
            resp.call_method0("raise_for_status")?;
        }
        Ok(resp.unbind())
    }
}

session_pymethods!(PySession, PyResult<Py<PyResponse>>, {
    /// A valid access token with at least `min_valid` seconds left (renewed first if
    /// needed; `force_refresh=True` renews regardless).
    /// `login=True` (cegal's `get_access_token()`): when no usable token is cached, log the
    /// person in first, under the rules of `sesame token` (a terminal on stdin and stderr;
    /// else `LoginRequired` as without it).
    #[pyo3(signature = (min_valid=60, *, force_refresh=false, login=false, scope=None, audience=None))]
    fn token(
        &self,
        py: Python<'_>,
        min_valid: u64,
        force_refresh: bool,
        login: bool,
        scope: Option<Bound<'_, PyAny>>,
        audience: Option<Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let narrow = Narrow::from_py(scope.as_ref(), audience.as_ref())?;
        wait(py, self.core.token(py, min_valid, force_refresh, login, narrow)?)?.map_err(py_err)
    }

    /// Logs in now and stores the tokens in the profile's cache (the one `sesame login` and
    /// `sesame token` use). `oidc`: the browser flow — the URL is printed to `sys.stderr`,
    /// then a browser is opened (`$BROWSER`, else the platform's) unless `mode="no-browser"`,
    /// `$SSH_CONNECTION` is set or there is no display; it falls back to the device flow when
    /// no browser can be opened. `device`: the device flow — the code and where to enter it
    /// are printed. `mode="browser"` / `"device"` pick the flow whatever the profile says.
    /// Unattended kinds (client-credentials, password) get a new token; static credentials
    /// need nothing. Raises `LoginRequired` at once when nobody can take part (stdin and
    /// stderr are not terminals and `$BROWSER` is not set), `Timeout` after `login_timeout`.
    /// The GIL is released while it waits; Ctrl-C stops it.
    #[pyo3(signature = (mode=None))]
    fn login(&self, py: Python<'_>, mode: Option<&str>) -> PyResult<()> {
        wait(py, self.core.login(py, mode)?)?.map_err(py_err)
    }

    /// Deletes the profile's cached tokens (revoking them first with `revoke=True`).
    /// Returns the provider's end-session URL, if it has one.
    #[pyo3(signature = (revoke=false))]
    fn logout(&self, py: Python<'_>, revoke: bool) -> PyResult<Option<String>> {
        wait(py, self.core.logout(revoke)?)?.map_err(py_err)
    }

    /// The profile and its credential as a dict, tokens masked; no network, except one
    /// read of the cluster's record (the `cluster` entry) for a `cache = "openbao"` profile.
    fn status(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        self.core.status(py)
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

    // ------------------------------------------------------------ web-app login (oxd-python)

    /// Starts a web-app login for an end user (the server-side authorization code flow with
    /// PKCE, `state`, `nonce`; a pushed request when the provider offers one). Returns the
    /// URL to redirect the user's browser to and the pending login: a str to keep in the
    /// application's **server-side** session until the callback (it holds the PKCE
    /// verifier). `state`/`nonce`: random unless given.
    #[pyo3(signature = (redirect_uri, state=None, nonce=None))]
    fn authorization_url(
        &self,
        py: Python<'_>,
        redirect_uri: String,
        state: Option<String>,
        nonce: Option<String>,
    ) -> PyResult<(String, String)> {
        wait(py, self.core.web_authorization_url(redirect_uri, state, nonce)?)?.map_err(py_err)
    }

    /// Finishes a web-app login on the application's callback route: `callback` is the URL
    /// the provider redirected to (or its path and query, or a mapping of the query
    /// parameters). Checks `state`, `iss` (RFC 9207) and the provider's `error`, exchanges
    /// the code with the PKCE verifier, verifies the ID token and its `nonce`, and stores
    /// the tokens under the end user's subject (the profile's `cache`: `memory` for this
    /// session, `file` one file per subject). Returns `{"subject", "claims",
    /// "access_token", "expires_at", "scopes", "refresh_token"}` (`refresh_token`: whether
    /// one is stored).
    fn exchange_code(&self, py: Python<'_>, pending: &str, callback: &Bound<'_, PyAny>) -> PyResult<Py<PyDict>> {
        let done = wait(py, self.core.web_exchange_code(pending, callback)?)?.map_err(py_err)?;
        done.into_py(py)
    }

    /// A `Session` acting for the end user `subject` (after `exchange_code`): its requests
    /// carry the user's token, renewed with their refresh token; `LoginRequired` when the
    /// user has to log in again.
    fn for_user(&self, subject: &str) -> PyResult<PySession> {
        Ok(PySession {
            core: Arc::new(self.core.for_user(subject)?),
        })
    }

    /// Deletes the stored tokens of the end user `subject` (the application's logout).
    fn forget_user(&self, subject: &str) -> PyResult<()> {
        self.core.forget_user(subject)
    }

    // ------------------------------------------------------------ provider endpoints (oxd-python)

    /// The userinfo endpoint's claims for the session's token (OIDC Core §5.3).
    fn userinfo(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let fut = crate::provider::userinfo_op(self.core.credential()?, self.core.resolved.name.clone());
        let v = wait(py, fut)?.map_err(py_err)?;
        crate::provider::to_py(py, &v)
    }

    /// RFC 7662 introspection of `token` (default: the session's access token), with this
    /// profile's client authentication.
    #[pyo3(signature = (token=None))]
    fn introspect(&self, py: Python<'_>, token: Option<String>) -> PyResult<Py<PyAny>> {
        let fut = crate::provider::introspect_op(self.core.credential()?, self.core.resolved.name.clone(), token);
        let v = wait(py, fut)?.map_err(py_err)?;
        crate::provider::to_py(py, &v)
    }

    /// Revokes the session's cached tokens at the provider (RFC 7009) and deletes them.
    /// Returns whether there were any.
    fn revoke(&self, py: Python<'_>) -> PyResult<bool> {
        let fut = crate::provider::revoke_op(self.core.credential()?, self.core.resolved.name.clone());
        wait(py, fut)?.map_err(py_err)
    }

    /// The provider's end-session URL (RP-Initiated Logout), naming the client, not the
    /// person; tokens are kept. `None` without an end-session endpoint.
    #[pyo3(signature = (post_logout_redirect_uri=None))]
    fn end_session_url(&self, py: Python<'_>, post_logout_redirect_uri: Option<String>) -> PyResult<Option<String>> {
        let fut = crate::provider::end_session_op(
            self.core.credential()?,
            self.core.resolved.name.clone(),
            post_logout_redirect_uri,
        );
        wait(py, fut)?.map_err(py_err)
    }

    /// The issuer `url` names by WebFinger (RFC 7033, under `webfinger_prefix`) and its
    /// discovered metadata.
    #[pyo3(signature = (url, webfinger_prefix=None))]
    fn discover(&self, py: Python<'_>, url: String, webfinger_prefix: Option<String>) -> PyResult<Py<PyAny>> {
        let fut = crate::provider::discover_op(self.core.resolved.clone(), url, webfinger_prefix);
        let v = wait(py, fut)?.map_err(py_err)?;
        crate::provider::to_py(py, &v)
    }

    /// RFC 7591 dynamic registration at the profile's provider. Returns the whole
    /// response: `client_id`, `client_secret`, `registration_access_token`,
    /// `registration_client_uri`, …
    #[pyo3(signature = (*, redirect_uris=None, client_name=None, grant_types=None, response_types=None, token_endpoint_auth_method=None, application_type=None, scope=None, initial_access_token=None, save_profile=None))]
    fn register(
        &self,
        py: Python<'_>,
        redirect_uris: Option<Vec<String>>,
        client_name: Option<String>,
        grant_types: Option<Vec<String>>,
        response_types: Option<Vec<String>>,
        token_endpoint_auth_method: Option<String>,
        application_type: Option<String>,
        scope: Option<String>,
        initial_access_token: Option<String>,
        save_profile: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let req = sesame::oauth::registration::RegistrationRequest {
            redirect_uris: redirect_uris.unwrap_or_default(),
            client_name,
            grant_types: grant_types.unwrap_or_default(),
            response_types,
            token_endpoint_auth_method,
            application_type,
            scope,
        };
        let fut = crate::provider::register_op(self.core.resolved.clone(), req, initial_access_token, save_profile);
        let v = wait(py, fut)?.map_err(py_err)?;
        crate::provider::to_py(py, &v)
    }

    /// RFC 7592 read: the registration's current metadata.
    fn read_registration(
        &self,
        py: Python<'_>,
        registration_client_uri: String,
        registration_access_token: String,
    ) -> PyResult<Py<PyAny>> {
        let fut = crate::provider::read_registration_op(
            self.core.resolved.clone(),
            registration_client_uri,
            registration_access_token,
        );
        let v = wait(py, fut)?.map_err(py_err)?;
        crate::provider::to_py(py, &v)
    }

    /// RFC 7592 update: replaces the registration's metadata with `metadata`.
    fn update_registration(
        &self,
        py: Python<'_>,
        registration_client_uri: String,
        registration_access_token: String,
        metadata: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let metadata = crate::provider::from_py(metadata)?;
        let fut = crate::provider::update_registration_op(
            self.core.resolved.clone(),
            registration_client_uri,
            registration_access_token,
            metadata,
        );
        let v = wait(py, fut)?.map_err(py_err)?;
        crate::provider::to_py(py, &v)
    }

    /// RFC 7592 delete: removes the registration.
    fn delete_registration(
        &self,
        py: Python<'_>,
        registration_client_uri: String,
        registration_access_token: String,
    ) -> PyResult<()> {
        let fut = crate::provider::delete_registration_op(
            self.core.resolved.clone(),
            registration_client_uri,
            registration_access_token,
        );
        wait(py, fut)?.map_err(py_err)
    }

    /// For adapters: a new auth exchange for one request (`sesame._AuthExchange`).
    fn _exchange(&self) -> PyResult<PyAuthExchange> {
        Ok(PyAuthExchange::new(&self.core.session()?))
    }
});

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
        let raise = self.core.raise_for_status;
        crate::aio::spawn(py, execute(rb, method, stream), move |py, fetched| {
            let resp = Bound::new(py, PyResponse::from(fetched.map_err(py_err)?))?;
            if raise {
                resp.call_method0("raise_for_status")?;
            }
            Ok(resp.into_any().unbind())
        })
    }
}

session_pymethods!(PyAsyncSession, PyResult<Bound<'py, PyAny>>, {
    /// `await session.token(min_valid=60)`.
    #[pyo3(signature = (min_valid=60, *, force_refresh=false, login=false, scope=None, audience=None))]
    fn token<'py>(
        &self,
        py: Python<'py>,
        min_valid: u64,
        force_refresh: bool,
        login: bool,
        scope: Option<Bound<'py, PyAny>>,
        audience: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let narrow = Narrow::from_py(scope.as_ref(), audience.as_ref())?;
        let fut = self.core.token(py, min_valid, force_refresh, login, narrow)?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move { fut.await.map_err(py_err) })
    }

    /// `await session.login(mode=None)`: see `Session.login`.
    #[pyo3(signature = (mode=None))]
    fn login<'py>(&self, py: Python<'py>, mode: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.core.login(py, mode)?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move { fut.await.map_err(py_err) })
    }

    /// `await session.logout(revoke=False)`.
    #[pyo3(signature = (revoke=false))]
    fn logout<'py>(&self, py: Python<'py>, revoke: bool) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.core.logout(revoke)?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move { fut.await.map_err(py_err) })
    }

    /// `await session.status()` (the cluster's record is read in the awaitable).
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if !Status::needs_network(&self.core.resolved) {
            let d = self.core.status(py)?;
            return pyo3_async_runtimes::tokio::future_into_py(py, async move { Ok(d) });
        }
        let (resolved, cred) = (self.core.resolved.clone(), self.core.credential()?);
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let st = Status::gather(&resolved, cred.as_ref()).await;
            Python::attach(|py| json_dict(py, &st))
        })
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

    // ------------------------------------------------------------ web-app login (oxd-python)
    // The same as `Session`'s (see there), awaitable: async web frameworks call these on
    // their request handlers.

    /// `await session.authorization_url(redirect_uri, state=None, nonce=None)`.
    #[pyo3(signature = (redirect_uri, state=None, nonce=None))]
    fn authorization_url<'py>(
        &self,
        py: Python<'py>,
        redirect_uri: String,
        state: Option<String>,
        nonce: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.core.web_authorization_url(redirect_uri, state, nonce)?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move { fut.await.map_err(py_err) })
    }

    /// `await session.exchange_code(pending, callback)`.
    fn exchange_code<'py>(
        &self,
        py: Python<'py>,
        pending: &str,
        callback: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.core.web_exchange_code(pending, callback)?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let done = fut.await.map_err(py_err)?;
            Python::attach(|py| done.into_py(py))
        })
    }

    /// An `AsyncSession` acting for the end user `subject` (not awaitable: no I/O).
    fn for_user(&self, subject: &str) -> PyResult<PyAsyncSession> {
        Ok(PyAsyncSession {
            core: Arc::new(self.core.for_user(subject)?),
        })
    }

    /// Deletes the stored tokens of the end user `subject` (not awaitable: local files).
    fn forget_user(&self, subject: &str) -> PyResult<()> {
        self.core.forget_user(subject)
    }

    // ------------------------------------------------------------ provider endpoints (oxd-python)

    /// `await session.userinfo()`.
    fn userinfo<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fut = crate::provider::userinfo_op(self.core.credential()?, self.core.resolved.name.clone());
        json_future(py, fut)
    }

    /// `await session.introspect(token=None)`.
    #[pyo3(signature = (token=None))]
    fn introspect<'py>(&self, py: Python<'py>, token: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        let fut = crate::provider::introspect_op(self.core.credential()?, self.core.resolved.name.clone(), token);
        json_future(py, fut)
    }

    /// `await session.revoke()`.
    fn revoke<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fut = crate::provider::revoke_op(self.core.credential()?, self.core.resolved.name.clone());
        pyo3_async_runtimes::tokio::future_into_py(py, async move { fut.await.map_err(py_err) })
    }

    /// `await session.end_session_url(post_logout_redirect_uri=None)`.
    #[pyo3(signature = (post_logout_redirect_uri=None))]
    fn end_session_url<'py>(
        &self,
        py: Python<'py>,
        post_logout_redirect_uri: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let fut = crate::provider::end_session_op(
            self.core.credential()?,
            self.core.resolved.name.clone(),
            post_logout_redirect_uri,
        );
        pyo3_async_runtimes::tokio::future_into_py(py, async move { fut.await.map_err(py_err) })
    }

    /// `await session.discover(url, webfinger_prefix=None)`.
    #[pyo3(signature = (url, webfinger_prefix=None))]
    fn discover<'py>(
        &self,
        py: Python<'py>,
        url: String,
        webfinger_prefix: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let fut = crate::provider::discover_op(self.core.resolved.clone(), url, webfinger_prefix);
        json_future(py, fut)
    }

    /// `await session.register(…)`: see `Session.register`.
    #[pyo3(signature = (*, redirect_uris=None, client_name=None, grant_types=None, response_types=None, token_endpoint_auth_method=None, application_type=None, scope=None, initial_access_token=None, save_profile=None))]
    fn register<'py>(
        &self,
        py: Python<'py>,
        redirect_uris: Option<Vec<String>>,
        client_name: Option<String>,
        grant_types: Option<Vec<String>>,
        response_types: Option<Vec<String>>,
        token_endpoint_auth_method: Option<String>,
        application_type: Option<String>,
        scope: Option<String>,
        initial_access_token: Option<String>,
        save_profile: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let req = sesame::oauth::registration::RegistrationRequest {
            redirect_uris: redirect_uris.unwrap_or_default(),
            client_name,
            grant_types: grant_types.unwrap_or_default(),
            response_types,
            token_endpoint_auth_method,
            application_type,
            scope,
        };
        let fut = crate::provider::register_op(self.core.resolved.clone(), req, initial_access_token, save_profile);
        json_future(py, fut)
    }
});

/// An awaitable of a provider call whose JSON answer becomes Python objects.
fn json_future<'py>(
    py: Python<'py>,
    fut: impl Future<Output = sesame::Result<serde_json::Value>> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>> {
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        let v = fut.await.map_err(py_err)?;
        Python::attach(|py| crate::provider::to_py(py, &v))
    })
}
