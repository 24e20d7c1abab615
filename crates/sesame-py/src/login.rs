//! `Session.login(mode=None)`: the login `sesame login` runs ([`sesame_app::login::login`]),
//! shown on Python's `sys.stderr` (so notebooks and redirected `sys.stderr` see it too).
//!
//! The binding only supplies what Python knows: whether `sys.stdin` and `sys.stderr` are
//! terminals, where text goes, and the mode. The rules (when a person may be involved, when
//! a browser is opened), the flows and the token cache are the library's. The GIL is
//! released while the login waits, and Ctrl-C ends it (see `runtime::wait`), which closes
//! the loopback listener.

use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use sesame::credential::Credential;
use sesame::credential::oauth::LoginHandler;
use sesame::credential::{InteractiveLogin, LoginMethod};
use sesame::oauth::landing::{PageHandler, PageInfo, PageKind};
use sesame::{Error, Result};
use sesame_app::config::ResolvedProfile;
use sesame_app::login::{Caller, Facts, LoginRequest, TextLoginUi, TextOutput, UiSettings, require_person};

/// `login(mode=…)`: the flow to force and whether a browser may be opened.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    method: Option<LoginMethod>,
    no_browser: bool,
}

impl Mode {
    /// `None`, `"browser"`, `"device"` or `"no-browser"` (the flags of `sesame login`).
    pub fn parse(mode: Option<&str>) -> PyResult<Mode> {
        let (method, no_browser) = match mode {
            None => (None, false),
            Some("browser") => (Some(LoginMethod::Browser), false),
            Some("device") => (Some(LoginMethod::Device), false),
            Some("no-browser") => (None, true),
            Some(m) => {
                return Err(PyValueError::new_err(format!(
                    "login mode `{m}` is not one of None, \"browser\", \"device\", \"no-browser\""
                )));
            }
        };
        Ok(Mode { method, no_browser })
    }
}

/// Python's `sys.stderr` (nothing when it is `None`, as under `pythonw`).
#[derive(Debug)]
struct PyStderr;

impl TextOutput for PyStderr {
    fn write(&self, text: &str) {
        Python::attach(|py| {
            let written = (|| -> PyResult<()> {
                let err = py.import("sys")?.getattr("stderr")?;
                if !err.is_none() {
                    err.call_method1("write", (text,))?;
                    err.call_method0("flush")?;
                }
                Ok(())
            })();
            if let Err(e) = written {
                tracing::debug!(error = %e, "cannot write the login prompt to sys.stderr");
            }
        });
    }

    /// In a notebook, the device code is cell output: HTML with the link, the code and the
    /// QR code (`text/plain` is the terminal's prompt), where a person can scan it.
    fn show_device_code(&self, prompt: &sesame::credential::DevicePrompt<'_>, text: &str) -> bool {
        Python::attach(|py| {
            if !in_notebook(py) {
                return false;
            }
            let shown = (|| -> PyResult<()> {
                let bundle = PyDict::new(py);
                bundle.set_item("text/html", sesame_app::login::device_code_html(prompt))?;
                bundle.set_item("text/plain", text)?;
                let kwargs = PyDict::new(py);
                kwargs.set_item("raw", true)?;
                py.import("IPython.display")?
                    .getattr("display")?
                    .call((bundle,), Some(&kwargs))?;
                Ok(())
            })();
            match shown {
                Ok(()) => true,
                Err(e) => {
                    tracing::debug!(error = %e, "cannot display the device code in the notebook");
                    false
                }
            }
        })
    }
}

/// Whether this runs in a notebook: an IPython kernel (Jupyter, JupyterLab, VS Code
/// notebooks) is the running shell. A terminal IPython has no `kernel`.
fn in_notebook(py: Python<'_>) -> bool {
    let Ok(modules) = py.import("sys").and_then(|s| s.getattr("modules")) else {
        return false;
    };
    let Ok(Some(ipython)) = modules
        .call_method1("get", ("IPython",))
        .map(|m| (!m.is_none()).then_some(m))
    else {
        return false;
    };
    ipython
        .call_method0("get_ipython")
        .and_then(|shell| shell.getattr("kernel"))
        .map(|k| !k.is_none())
        .unwrap_or(false)
}

/// Whether `sys.<name>` is a terminal (`False` when it is missing or cannot say).
fn is_tty(py: Python<'_>, name: &str) -> bool {
    py.import("sys")
        .and_then(|sys| sys.getattr(name))
        .and_then(|s| s.call_method0("isatty"))
        .and_then(|r| r.extract::<bool>())
        .unwrap_or(false)
}

/// The login of `cred` (the session's credential of `resolved`), ready to run without the
/// GIL. Static credentials need nothing; `auth = none` has nothing to log in to.
pub fn login_op(
    py: Python<'_>,
    cred: Option<Arc<dyn Credential>>,
    resolved: &ResolvedProfile,
    mode: Mode,
    implicit: bool,
    page_handler: Option<PageHandler>,
) -> impl Future<Output = Result<()>> + Send + use<> {
    let facts = terminal_facts(py);
    let name = resolved.name.clone();
    let profile = resolved.profile.clone();
    async move {
        let Some(cred) = cred else {
            return Err(Error::config(format!(
                "profile `{name}` has no credential (auth = none): there is nothing to log in to"
            )));
        };
        let Some(oauth) = cred.as_oauth() else {
            // Static credentials (bearer, basic, netrc, X.509, …) need no login.
            return Ok(());
        };
        let out: Arc<dyn TextOutput> = Arc::new(PyStderr);
        let settings = UiSettings {
            no_browser: mode.no_browser,
            ..UiSettings::default()
        };
        let caller = if implicit {
            Caller::Implicit
        } else {
            Caller::LoginCall {
                no_browser: mode.no_browser,
            }
        };
        let request = LoginRequest {
            method: mode.method,
            caller,
            ui: Arc::new(TextLoginUi::new(facts.clone(), settings, out.clone())),
            facts,
            page_handler,
        };
        let kind = cred.info().kind;
        let done = sesame_app::login::login(oauth, &kind, &name, &profile, request).await?;
        if done.interactive {
            out.write(&format!(
                "{}\n",
                sesame_app::login::summary(oauth, &name, &done.token, done.adopted)
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- auto_login and page_handler
// cegal-keystoneauth's shapes (issue 15): `Session(auto_login=True)`, `token(login=True)` and
// `Session(page_handler=callable)`.

/// Whether a person could take part here: `sys.stdin` and `sys.stderr` are terminals.
pub fn terminal_facts(py: Python<'_>) -> Facts {
    Facts::with_terminals(false, is_tty(py, "stdin"), is_tty(py, "stderr"))
}

/// The login handler of `Session(auto_login=True)`: an interactive profile logs the person
/// in when a request or `token()` finds no usable token — under the rules of `sesame token`
/// (an implicit login: only with a terminal on stdin and stderr). `None` when those rules
/// say no (the credential then raises `LoginRequired` as without `auto_login`) or the kind
/// needs no person.
pub fn implicit_handler(
    facts: Facts,
    resolved: &ResolvedProfile,
    page_handler: Option<PageHandler>,
) -> Result<Option<Arc<dyn LoginHandler>>> {
    let kind = resolved.profile.auth_kind();
    if !sesame_app::login::is_interactive_kind(kind.as_str()) || require_person(&facts, Caller::Implicit).is_err() {
        return Ok(None);
    }
    let mut options = sesame_app::login::login_options(&resolved.profile)?;
    if let Some(h) = page_handler {
        options.pages = options.pages.with_handler(h);
    }
    let ui = Arc::new(TextLoginUi::new(facts, UiSettings::default(), Arc::new(PyStderr)));
    Ok(Some(Arc::new(InteractiveLogin::new(ui, options))))
}

/// `page_handler=callable`: `callable(kind, info)` with `kind` `"success"` or `"failure"`
/// and `info` a dict (`issuer`, `error`, `error_description`, `message`; the provider's text
/// cleaned and capped) returns the page's HTML, or `None` for the template or built-in page.
/// A handler that raises or returns something else gets the built-in page shown and a
/// warning logged: the person still learns how the login ended.
pub fn page_handler(callable: Py<PyAny>) -> PageHandler {
    PageHandler::new(move |kind: PageKind, info: &PageInfo<'_>| {
        Python::attach(|py| {
            let written = (|| -> PyResult<Option<String>> {
                let d = PyDict::new(py);
                d.set_item("issuer", info.issuer)?;
                d.set_item("error", info.error)?;
                d.set_item("error_description", info.error_description)?;
                d.set_item("message", info.message)?;
                let page = callable.call1(py, (kind.as_str(), d))?;
                if page.is_none(py) {
                    return Ok(None);
                }
                Ok(Some(page.extract::<String>(py)?))
            })();
            written.unwrap_or_else(|e| {
                tracing::warn!(error = %e, page = kind.as_str(), "the page handler failed; showing the built-in page");
                None
            })
        })
    })
}
