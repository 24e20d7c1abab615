//! Keyword arguments → a [`Profile`] of overrides, then the configuration file and the
//! environment layered under them by the library (`argument > SESAME_<KEY> > file`).

use std::path::PathBuf;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde::Deserialize;
use sesame::config::{BuildOptions, Config, Profile, ResolvedProfile, session_builder_with};

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

/// Reads the configuration, layers the overrides and builds the session (no network).
pub fn build(req: Request) -> Result<Built, sesame::Error> {
    let config = Config::load(req.config.as_deref())?;
    let resolved = config.resolve(req.profile.as_deref(), req.overrides)?;
    let session = session_builder_with(&resolved, &BuildOptions::default())?.build()?;
    Ok(Built { session, resolved })
}

/// Converts `(key, value)` arguments to a profile. `None` values are "not given".
pub fn overrides(py: Python<'_>, args: Vec<(String, Bound<'_, PyAny>)>) -> PyResult<Profile> {
    let mut table = toml::Table::new();
    for (key, value) in args {
        if value.is_none() {
            continue;
        }
        if !Profile::KEYS.contains(&key.as_str()) {
            return Err(unknown_key(py, &key));
        }
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
        let v = to_toml(&key, &value)?;
        table.insert(key, v);
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
        let s: String = v.extract()?;
        if key == "scopes" {
            return Ok(Value::Array(
                s.split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            ));
        }
        return Ok(Value::String(s));
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
