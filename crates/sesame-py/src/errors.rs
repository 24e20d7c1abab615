//! `sesame::Error` → the Python exceptions of `sesame._errors`, by [`ErrorKind`].
//!
//! The library's messages are free of secrets (URLs redacted, server messages summarized),
//! so they are passed on as they are.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};
use sesame::ErrorKind;

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    ERRORS
        .get_or_try_init(py, || py.import("sesame._errors").map(Bound::unbind))
        .map(|m| m.bind(py))
}

/// An exception of class `class` (a name in `sesame._errors`) with `message` and keyword
/// attributes.
pub fn make(py: Python<'_>, class: &str, message: &str, kwargs: &Bound<'_, PyDict>) -> PyErr {
    let built = module(py)
        .and_then(|m| m.getattr(class))
        .and_then(|cls| cls.call((message,), Some(kwargs)));
    match built {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// Issues `sesame.InsecureWarning` (a `UserWarning`) for a session of `profile` built
/// with TLS verification off. A warning, not a log record: the `sesame` logger's level (the
/// package's quiet setting) must not hide it, and Python's warning filters are how a
/// program that means it (a test suite) silences it. Raises when the filters turn warnings
/// into errors.
pub fn insecure_warning(py: Python<'_>, profile: &str) -> PyResult<()> {
    let category = module(py)?.getattr("InsecureWarning")?;
    let text = format!(
        "TLS certificate verification is DISABLED for profile `{profile}` (insecure=True): anyone on the network path can read or change the traffic, including the credentials sent; use it only with test servers"
    );
    let text = std::ffi::CString::new(text.replace('\0', "")).map_err(|_| internal("warning text"))?;
    // stacklevel 1: the Python line that created the session.
    PyErr::warn(py, &category, &text, 1)
}

/// The Python package's wording of a library hint: its methods and arguments (the engine
/// chooses the advice, each front end words it; the command line says `sesame login`, a
/// Python program is told to call `Session.login()`).
pub fn word(hint: &sesame::Hint) -> String {
    use sesame::Hint;
    match hint {
        Hint::Login => "call `Session.login()`: the tokens it stores serve every session of the profile (and the `sesame` command)".into(),
        Hint::LoginInTerminal => "call `Session.login()` where a person can answer (a terminal; in a notebook `login(mode=\"device\")`): the tokens it stores serve every session of the profile".into(),
        Hint::LoginTimedOut => "call `Session.login()` again, or give it more time with `login_timeout=` (seconds)".into(),
        Hint::UseBrowserLogin => "use the browser login (`Session.login(mode=\"browser\")`), or set `device_authorization_endpoint`".into(),
        Hint::CheckCredentials => "check the profile's username and password (`username=`, `password=`)".into(),
        Hint::CredentialRejected => "check the credential: `Session.status()` shows what the profile uses (a person's token comes from `Session.login()`)".into(),
        Hint::SetKey(key) => format!("set `{key}` in the profile or pass `{key}=` to the Session"),
        Hint::CheckFile => "check the path (profile key or argument), and that the file exists and is readable by you".into(),
        Hint::CheckConfigFile => "check the configuration file (its path is $SESAME_CONFIG or the `config=` argument)".into(),
        Hint::ReplaceProfile => "pick another name for `save_profile`, or remove that profile from the configuration file first".into(),
        Hint::PickProfile => "pass an existing profile name (`Session(\"NAME\")`), or add a [profiles.NAME] table".into(),
        Hint::SeeConfiguration => "see docs/configuration.md for the keys and their values".into(),
        Hint::CheckNetwork => "check that the server is up and reachable from here (host name, port, firewall, HTTPS_PROXY/NO_PROXY); logging.getLogger(\"sesame\").setLevel(logging.DEBUG) shows each attempt".into(),
        Hint::SetContentType => "set the body's type with `headers={\"Content-Type\": …}`".into(),
        Hint::UseDpopProof => "a DPoP-bound token is sent with a fresh proof per request: send requests through the Session (or its requests/httpx adapters), or pass `dpop=False`".into(),
        Hint::UserLogin => "send the end user through the web login again: redirect to a new `Session.authorization_url(…)`".into(),
        other => other.to_string(),
    }
}

/// A `sesame.Error` of the right subclass for a library error.
pub fn to_pyerr(py: Python<'_>, e: &sesame::Error) -> PyErr {
    let kw = PyDict::new(py);
    let message = e.to_string();
    let kind = kind_name(e.kind());
    let fill = || -> PyResult<&'static str> {
        kw.set_item("kind", kind)?;
        kw.set_item("hint", e.hint().map(|h| word(&h)))?;
        Ok(match e.kind() {
            ErrorKind::Config => "ConfigError",
            ErrorKind::Credential => "CredentialError",
            ErrorKind::LoginRequired => "LoginRequired",
            ErrorKind::Transport => "TransportError",
            ErrorKind::Timeout => "Timeout",
            ErrorKind::Decode => "DecodeError",
            ErrorKind::OAuth => {
                let o = e.as_oauth();
                kw.set_item("error", o.and_then(|o| o.code()))?;
                kw.set_item("error_description", o.and_then(|o| o.description()))?;
                "AuthError"
            }
            ErrorKind::Http => match e.as_http() {
                Some(h) => {
                    kw.set_item("status", h.status.as_u16())?;
                    kw.set_item("url", &h.url)?;
                    kw.set_item("method", &h.method)?;
                    kw.set_item("message", &h.message)?;
                    http_class(h.status.as_u16())
                }
                None => "HTTPError",
            },
            _ => "Error",
        })
    };
    match fill() {
        Ok(class) => make(py, class, &message, &kw),
        Err(err) => err,
    }
}

/// The `sesame._errors` class for an error status: `HTTPError`'s subclass for the status
/// when it has one (`NotFound`, `ServerError` for every 5xx, …), else `HTTPError` itself.
pub fn http_class(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        429 => "TooManyRequests",
        500..=599 => "ServerError",
        _ => "HTTPError",
    }
}

/// [`to_pyerr`] for use in `map_err` (attaches to the interpreter if needed).
pub fn py_err(e: sesame::Error) -> PyErr {
    Python::attach(|py| to_pyerr(py, &e))
}

/// A `sesame.Error` of a given class with a message (binding-level failures).
pub fn error(class: &str, kind: &str, message: impl AsRef<str>) -> PyErr {
    Python::attach(|py| {
        let kw = PyDict::new(py);
        if let Err(e) = kw.set_item("kind", kind) {
            return e;
        }
        make(py, class, message.as_ref(), &kw)
    })
}

/// "This session is closed."
pub fn closed() -> PyErr {
    error("Error", "closed", "this sesame session is closed; create a new one")
}

/// The name of an error kind as Python sees it (`Error.kind`).
pub fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Config => "config",
        ErrorKind::Credential => "credential",
        ErrorKind::Http => "http",
        ErrorKind::Transport => "transport",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Decode => "decode",
        ErrorKind::OAuth => "oauth",
        ErrorKind::LoginRequired => "login_required",
        ErrorKind::Io => "io",
        ErrorKind::Interrupted => "interrupted",
        _ => "other",
    }
}

/// A panic-free `RuntimeError` for states that should not happen.
pub fn internal(what: &str) -> PyErr {
    PyRuntimeError::new_err(format!("sesame: internal error: {what}"))
}
