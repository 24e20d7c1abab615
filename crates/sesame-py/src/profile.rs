//! Keyword arguments → a [`Profile`] of overrides, then the configuration file and the
//! environment layered under them by the library (`argument > SESAME_<KEY> > file`).

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde::Deserialize;
use sesame::credential::oauth::LoginHandler;
use sesame_app::config::{BuildOptions, Config, Profile, ResolvedProfile, session_builder_with};

use crate::errors;

/// What a `Session(...)` call asks for.
pub struct Request {
    /// The profile name (`None`: `$SESAME_PROFILE`, `default_profile`, the only one).
    pub profile: Option<String>,
    /// An explicit configuration file (must exist).
    pub config: Option<PathBuf>,
    /// Keys given as arguments.
    pub overrides: Profile,
}

/// A profile resolved and built into a session.
pub struct Built {
    pub session: sesame::Session,
    pub resolved: ResolvedProfile,
}

/// Reads the configuration, layers the overrides and builds the session (no network), with
/// the login handler `login` makes for the resolved profile (`None`: an interactive
/// credential raises `LoginRequired` when it needs a person).
pub fn build_with(
    req: Request,
    login: impl FnOnce(&ResolvedProfile) -> Result<Option<Arc<dyn LoginHandler>>, sesame::Error>,
) -> Result<Built, sesame::Error> {
    let config = Config::load(req.config.as_deref())?;
    let resolved = config.resolve(req.profile.as_deref(), req.overrides)?;
    let opts = BuildOptions {
        login: login(&resolved)?,
        ..BuildOptions::default()
    };
    // `raise_for_status` is applied by the binding (`Core`), so that the exception carries
    // the response as `Response.raise_for_status()`'s does.
    let session = session_builder_with(&resolved, &opts)?
        .raise_for_status(false)
        .build()?;
    Ok(Built { session, resolved })
}

/// Converts `(key, value)` arguments to a profile. `None` values are "not given".
///
/// Python shapes beyond the file's TOML types:
/// - `timeout=(connect, read)` (requests' form) sets `connect_timeout` and `timeout`;
/// - `auth=(username, password)` (requests' form) means `auth = "basic"` with that username
///   and password (the password is a secret like `password=`: a str or `{"env"|"file": …}`);
/// - a list-valued key ([`list_shape`]) takes a str, a list or a tuple (any sequence) of str;
/// - `expires_after` takes seconds (int or float), a `datetime.timedelta` or a dict of
///   `timedelta`'s keyword arguments (`{"days": 1, "hours": 2}`).
pub fn overrides(py: Python<'_>, args: Vec<(String, Bound<'_, PyAny>)>) -> PyResult<Profile> {
    let mut table = toml::Table::new();
    let mut basic_pair = false;
    let mut given = Vec::new();
    for (key, value) in args {
        if value.is_none() {
            continue;
        }
        if !Profile::KEYS.contains(&key.as_str()) {
            return Err(unknown_key(py, &key));
        }
        given.push(key.clone());
        if key == "timeout"
            && let Ok(t) = value.cast::<PyTuple>()
        {
            // requests' (connect, read) form.
            let (connect, read): (f64, f64) = t
                .extract()
                .map_err(|_| PyTypeError::new_err("timeout must be a number of seconds or a (connect, read) tuple"))?;
            table.insert("connect_timeout".into(), toml::Value::Float(connect));
            table.insert("timeout".into(), toml::Value::Float(read));
            continue;
        }
        if key == "auth"
            && let Ok(t) = value.cast::<PyTuple>()
        {
            // requests' (username, password) form: HTTP Basic.
            let (username, password) = basic_pair_of(t)?;
            table.insert("auth".into(), toml::Value::String("basic".into()));
            table.insert("username".into(), username);
            table.insert("password".into(), password);
            basic_pair = true;
            continue;
        }
        let v = if key == "expires_after" {
            expires_after(py, &value)?
        } else if let Some(shape) = list_shape(&key) {
            list_value(py, &key, shape, &value)?
        } else {
            to_toml(&key, &value)?
        };
        table.insert(key, v);
    }
    if basic_pair && let Some(k) = given.iter().find(|k| *k == "username" || *k == "password") {
        return Err(errors::error(
            "ConfigError",
            "config",
            format!("auth=(username, password) and `{k}=` both give the Basic credentials: pass one or the other"),
        ));
    }
    match Profile::deserialize(toml::Value::Table(table.clone())) {
        Ok(p) => Ok(p),
        Err(whole) => {
            // Name the argument at fault.
            for (k, v) in table {
                let mut one = toml::Table::new();
                one.insert(k.clone(), v);
                if let Err(e) = Profile::deserialize(toml::Value::Table(one)) {
                    return Err(errors::error(
                        "ConfigError",
                        "config",
                        format!("argument `{k}`: {}", e.message()),
                    ));
                }
            }
            Err(errors::error("ConfigError", "config", whole.message()))
        }
    }
}

/// `auth=(username, password)` → the `username` and `password` values. The messages never
/// show the values (the password is a secret).
fn basic_pair_of(t: &Bound<'_, PyTuple>) -> PyResult<(toml::Value, toml::Value)> {
    if t.len() != 2 {
        return Err(PyTypeError::new_err(format!(
            "auth=(username, password) takes two items, not {}",
            t.len()
        )));
    }
    let username = t.get_item(0)?;
    if !username.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "auth=(username, password): the username must be a str, not {}",
            username.get_type().name()?
        )));
    }
    let password = t.get_item(1)?;
    if !(password.is_instance_of::<PyString>() || password.is_instance_of::<PyDict>()) {
        return Err(PyTypeError::new_err(format!(
            "auth=(username, password): the password must be a str or a dict ({{\"env\": \"VAR\"}} or {{\"file\": \"path\"}}), not {}",
            password.get_type().name()?
        )));
    }
    Ok((to_toml("username", &username)?, to_toml("password", &password)?))
}

/// How a list-valued profile key (the engine's `=> List` keys) is typed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ListShape {
    /// `Vec<String>`: always a list.
    Many,
    /// `OneOrMany`: a string or a list.
    OneOrMany,
}

/// The shape of `key` when it holds strings in a list (read from the engine's key table, so
/// a new list key is covered without a change here).
fn list_shape(key: &str) -> Option<ListShape> {
    let (_, ty) = Profile::KEY_TYPES.iter().find(|(k, _)| *k == key)?;
    let ty: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
    match ty.as_str() {
        "Vec<String>" => Some(ListShape::Many),
        "OneOrMany" => Some(ListShape::OneOrMany),
        _ => None,
    }
}

/// A list-valued key's value: a str, or a list / tuple (any sequence) of str. A str is one
/// value, except for `scopes`, where it is OAuth's space-separated list (commas also
/// separate, as in `SESAME_SCOPES`).
fn list_value(py: Python<'_>, key: &str, shape: ListShape, v: &Bound<'_, PyAny>) -> PyResult<toml::Value> {
    use toml::Value;
    if v.is_instance_of::<PyString>() {
        let s: String = v.extract()?;
        if key == "scopes" {
            return Ok(Value::Array(
                s.split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            ));
        }
        return Ok(match shape {
            ListShape::OneOrMany => Value::String(s),
            ListShape::Many => Value::Array(vec![Value::String(s)]),
        });
    }
    let sequence = !(v.is_instance_of::<PyBytes>() || v.is_instance_of::<PyByteArray>())
        && (v.is_instance_of::<PyList>()
            || v.is_instance_of::<PyTuple>()
            || v.is_instance(&py.import("collections.abc")?.getattr("Sequence")?)?);
    if !sequence {
        return Err(PyTypeError::new_err(format!(
            "`{key}` must be a str or a list or tuple of str, not {}",
            v.get_type().name()?
        )));
    }
    let mut items = Vec::new();
    for item in v.try_iter()? {
        let item = item?;
        if !item.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(format!(
                "`{key}`: every item must be a str, not {}",
                item.get_type().name()?
            )));
        }
        items.push(Value::String(item.extract()?));
    }
    Ok(Value::Array(items))
}

/// `expires_after` as the whole seconds the engine takes: an int as it is; a float, a
/// `datetime.timedelta` or a dict of `timedelta`'s keyword arguments rounded up to a whole
/// second (a positive duration never becomes 0).
fn expires_after(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<toml::Value> {
    use toml::Value;
    const SHAPES: &str = "seconds (int or float), a datetime.timedelta or a dict such as {\"days\": 1, \"hours\": 2}";
    if v.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "`expires_after` must be {SHAPES}, not bool"
        )));
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(Value::Integer(v.extract()?));
    }
    let timedelta = py.import("datetime")?.getattr("timedelta")?;
    let seconds: f64 = if v.is_instance_of::<PyFloat>() {
        v.extract()?
    } else if v.is_instance(&timedelta)? {
        v.call_method0("total_seconds")?.extract()?
    } else if let Ok(d) = v.cast::<PyDict>() {
        timedelta
            .call((), Some(d))
            .map_err(|e| {
                PyTypeError::new_err(format!(
                    "`expires_after`: a dict takes the keyword arguments of datetime.timedelta (weeks, days, hours, minutes, seconds, …): {}",
                    e.value(py)
                ))
            })?
            .call_method0("total_seconds")?
            .extract()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "`expires_after` must be {SHAPES}, not {}",
            v.get_type().name()?
        )));
    };
    if !seconds.is_finite() || seconds < 0.0 || seconds.ceil() > i64::MAX as f64 {
        return Err(errors::error(
            "ConfigError",
            "config",
            format!("argument `expires_after`: {seconds} seconds is not a duration (zero or more seconds)"),
        ));
    }
    Ok(Value::Integer(seconds.ceil() as i64))
}

fn unknown_key(py: Python<'_>, key: &str) -> PyErr {
    let hint = py
        .import("difflib")
        .and_then(|d| d.call_method1("get_close_matches", (key, Profile::KEYS.to_vec(), 1)))
        .and_then(|m| m.extract::<Vec<String>>())
        .ok()
        .and_then(|m| m.into_iter().next())
        .map(|m| format!(" (did you mean `{m}`?)"))
        .unwrap_or_default();
    if hint.is_empty() {
        PyTypeError::new_err(format!(
            "unexpected keyword argument `{key}`: sesame takes the profile keys of the configuration file ({})",
            Profile::KEYS.join(", ")
        ))
    } else {
        PyTypeError::new_err(format!("unexpected keyword argument `{key}`{hint}"))
    }
}

/// A Python value as a TOML value of the configuration file.
fn to_toml(key: &str, v: &Bound<'_, PyAny>) -> PyResult<toml::Value> {
    use toml::Value;
    if v.is_instance_of::<PyBool>() {
        return Ok(Value::Boolean(v.extract()?));
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(Value::Integer(v.extract()?));
    }
    if v.is_instance_of::<PyFloat>() {
        return Ok(Value::Float(v.extract()?));
    }
    if v.is_instance_of::<PyString>() {
        return Ok(Value::String(v.extract()?));
    }
    if v.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(format!("`{key}` must be a str, not bytes")));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut t = toml::Table::new();
        for (k, item) in d.iter() {
            let k: String = k
                .extract()
                .map_err(|_| PyTypeError::new_err(format!("`{key}`: dictionary keys must be str")))?;
            t.insert(k, to_toml(key, &item)?);
        }
        return Ok(Value::Table(t));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for item in v.try_iter()? {
            items.push(to_toml(key, &item?)?);
        }
        return Ok(Value::Array(items));
    }
    if v.hasattr("__fspath__")? {
        let p: PathBuf = v.extract()?;
        return Ok(Value::String(p.to_string_lossy().into_owned()));
    }
    Err(PyTypeError::new_err(format!(
        "`{key}`: unsupported value of type {}",
        v.get_type().name()?
    )))
}
