//! Python request arguments (`params`, `headers`, `data`, `json`, `files`, `timeout`) → a
//! library [`RequestBuilder`], with the same meanings as in `requests`.

use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMemoryView, PyString, PyTuple};
use sesame::RequestBuilder;
use sesame::session::Method;

use crate::multipart::{self, Part};

/// The optional arguments of `Session.request`.
#[derive(Default)]
pub struct Args<'py> {
    pub params: Option<Bound<'py, PyAny>>,
    pub headers: Option<Bound<'py, PyAny>>,
    pub data: Option<Bound<'py, PyAny>>,
    pub json: Option<Bound<'py, PyAny>>,
    pub files: Option<Bound<'py, PyAny>>,
    pub timeout: Option<Bound<'py, PyAny>>,
}

/// A request method from its name (`get`, `POST`, `PROPFIND`).
pub fn method(name: &str) -> PyResult<Method> {
    Method::from_bytes(name.trim().to_ascii_uppercase().as_bytes())
        .map_err(|_| PyValueError::new_err(format!("`{name}` is not a valid HTTP method")))
}

/// A URL argument: a `str`, or anything whose `str()` is a URL (`httpx.URL`, `yarl.URL`).
pub fn url_string(url: &Bound<'_, PyAny>) -> PyResult<String> {
    match url.extract::<String>() {
        Ok(s) => Ok(s),
        Err(_) => Ok(url.str()?.extract()?),
    }
}

/// Builds the library request. `url` is resolved against the session's base URL.
pub fn build(
    py: Python<'_>,
    session: &sesame::Session,
    method: Method,
    url: &Bound<'_, PyAny>,
    args: Args<'_>,
) -> PyResult<RequestBuilder> {
    let mut url = url_string(url)?;
    let mut query: Vec<(String, String)> = Vec::new();
    if let Some(p) = args.params.as_ref().filter(|p| !p.is_none()) {
        if let Ok(s) = p.extract::<String>() {
            // A ready-made query string.
            let s = s.trim_start_matches('?');
            if !s.is_empty() {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(s);
            }
        } else if let Ok(b) = p.cast::<PyBytes>() {
            let s = String::from_utf8_lossy(b.as_bytes()).into_owned();
            if !s.is_empty() {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(s.trim_start_matches('?'));
            }
        } else {
            query = pairs(p, "params")?;
        }
    }
    let mut rb = session.request(method, &url);
    if !query.is_empty() {
        rb = rb.query(&query);
    }
    let mut user_content_type = false;
    if let Some(h) = args.headers.as_ref().filter(|h| !h.is_none()) {
        for (k, v) in header_pairs(h)? {
            if k.eq_ignore_ascii_case("content-type") {
                user_content_type = true;
            }
            rb = rb.header(&k, &v);
        }
    }
    let files = args.files.as_ref().filter(|f| !f.is_none());
    let data = args.data.as_ref().filter(|d| !d.is_none());
    if let Some(files) = files {
        let mut parts = Vec::new();
        if let Some(d) = data {
            for (k, v) in pairs(d, "data")? {
                parts.push(Part::field(k, v.into_bytes()));
            }
        }
        parts.extend(file_parts(files)?);
        let (body, content_type) = multipart::encode(&parts);
        if !user_content_type {
            rb = rb.header("Content-Type", &content_type);
        }
        rb = rb.body(body);
    } else if let Some(d) = data {
        match body_or_form(d)? {
            Body::Bytes(b) => rb = rb.body(b),
            Body::Form(f) => {
                // `.form()` sets the form content type itself.
                rb = rb.form(&f);
            }
        }
    } else if let Some(j) = args.json.as_ref().filter(|j| !j.is_none()) {
        let text = json_dumps(py, j)?;
        if !user_content_type {
            rb = rb.header("Content-Type", "application/json");
        }
        rb = rb.body(text.into_bytes());
    }
    if let Some(t) = args.timeout.as_ref().filter(|t| !t.is_none()) {
        rb = rb.timeout(timeout(t)?);
    }
    Ok(rb)
}

/// A timeout argument: seconds, or requests' `(connect, read)` (their sum bounds the whole
/// request, which is what sesame's timeout is).
pub fn timeout(t: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let secs = if let Ok(t) = t.cast::<PyTuple>() {
        let (c, r): (Option<f64>, Option<f64>) = t
            .extract()
            .map_err(|_| PyTypeError::new_err("timeout must be seconds or a (connect, read) tuple"))?;
        c.unwrap_or(0.0) + r.unwrap_or(0.0)
    } else {
        t.extract::<f64>()
            .map_err(|_| PyTypeError::new_err("timeout must be a number of seconds"))?
    };
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| PyValueError::new_err("timeout must be a positive number of seconds"))
}

enum Body {
    Bytes(Vec<u8>),
    Form(Vec<(String, String)>),
}

fn body_or_form(d: &Bound<'_, PyAny>) -> PyResult<Body> {
    if let Some(b) = as_bytes(d)? {
        return Ok(Body::Bytes(b));
    }
    if d.is_instance_of::<PyDict>() || d.is_instance_of::<PyList>() || d.is_instance_of::<PyTuple>() || is_mapping(d)? {
        return Ok(Body::Form(pairs(d, "data")?));
    }
    if d.hasattr("read")? {
        let content = d.call_method0("read")?;
        return Ok(Body::Bytes(as_bytes(&content)?.ok_or_else(|| {
            PyTypeError::new_err("data.read() must return bytes or str")
        })?));
    }
    // Any other iterable (a generator of chunks): sent as one body.
    let mut out = Vec::new();
    for chunk in d.try_iter().map_err(|_| {
        PyTypeError::new_err("data must be bytes, str, a dict, a list of pairs, a file or an iterable of bytes")
    })? {
        let chunk = chunk?;
        out.extend(as_bytes(&chunk)?.ok_or_else(|| PyTypeError::new_err("data chunks must be bytes or str"))?);
    }
    Ok(Body::Bytes(out))
}

fn as_bytes(v: &Bound<'_, PyAny>) -> PyResult<Option<Vec<u8>>> {
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(Some(b.as_bytes().to_vec()));
    }
    if v.is_instance_of::<PyString>() {
        return Ok(Some(v.extract::<String>()?.into_bytes()));
    }
    if v.is_instance_of::<PyByteArray>() || v.is_instance_of::<PyMemoryView>() {
        let b = v.py().get_type::<PyBytes>().call1((v,))?;
        return Ok(Some(b.cast::<PyBytes>()?.as_bytes().to_vec()));
    }
    Ok(None)
}

fn is_mapping(v: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(v.hasattr("items")? && v.hasattr("keys")?)
}

/// A str for a form or query value (requests' rules: bytes as UTF-8, others `str()`).
fn text(v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = v.extract::<String>() {
        return Ok(s);
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(String::from_utf8_lossy(b.as_bytes()).into_owned());
    }
    v.str()?.extract()
}

/// `{k: v}`, `{k: [v1, v2]}` or `[(k, v), …]` → pairs; `None` values are dropped.
fn pairs(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<(String, String)>> {
    let items: Bound<'_, PyAny> = if is_mapping(v)? {
        v.call_method0("items")?
    } else {
        v.clone()
    };
    let mut out = Vec::new();
    for item in items.try_iter()? {
        let item = item?;
        let (k, val): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("{what} must be a dict or a list of (key, value) pairs")))?;
        let k = text(&k)?;
        if val.is_none() {
            continue;
        }
        if val.is_instance_of::<PyList>() || val.is_instance_of::<PyTuple>() {
            for x in val.try_iter()? {
                let x = x?;
                if !x.is_none() {
                    out.push((k.clone(), text(&x)?));
                }
            }
        } else {
            out.push((k, text(&val)?));
        }
    }
    Ok(out)
}

/// Header pairs from a mapping or a list of pairs; `None` values are dropped, bytes
/// values are read as Latin-1 (as requests does).
fn header_pairs(h: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    let items: Bound<'_, PyAny> = if is_mapping(h)? {
        h.call_method0("items")?
    } else {
        h.clone()
    };
    let mut out = Vec::new();
    for item in items.try_iter()? {
        let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?
            .extract()
            .map_err(|_| PyTypeError::new_err("headers must be a dict or a list of (name, value) pairs"))?;
        if v.is_none() {
            continue;
        }
        let k = text(&k)?;
        let v = if let Ok(b) = v.cast::<PyBytes>() {
            b.as_bytes().iter().map(|&c| c as char).collect()
        } else if v.is_instance_of::<PyString>() {
            v.extract()?
        } else {
            return Err(PyTypeError::new_err(format!(
                "header `{k}`: the value must be str or bytes, not {}",
                v.get_type().name()?
            )));
        };
        out.push((k, v));
    }
    Ok(out)
}

/// `files` as requests takes it: `{name: file | bytes | str | (filename, content[,
/// content_type[, headers]])}` or a list of `(name, …)` pairs.
fn file_parts(files: &Bound<'_, PyAny>) -> PyResult<Vec<Part>> {
    let items: Bound<'_, PyAny> = if is_mapping(files)? {
        files.call_method0("items")?
    } else {
        files.clone()
    };
    let mut out = Vec::new();
    for item in items.try_iter()? {
        let (name, spec): (String, Bound<'_, PyAny>) = item?
            .extract()
            .map_err(|_| PyTypeError::new_err("files must be a dict or a list of (name, file) pairs"))?;
        let (filename, content, content_type, headers) = if let Ok(t) = spec.cast::<PyTuple>() {
            let n = t.len();
            if !(2..=4).contains(&n) {
                return Err(PyTypeError::new_err(
                    "a files tuple is (filename, content[, content_type[, headers]])",
                ));
            }
            let filename: Option<String> = t.get_item(0)?.extract()?;
            let content = t.get_item(1)?;
            let ct: Option<String> = if n > 2 { t.get_item(2)?.extract()? } else { None };
            let headers = if n > 3 {
                let h = t.get_item(3)?;
                if h.is_none() { Vec::new() } else { header_pairs(&h)? }
            } else {
                Vec::new()
            };
            (filename, content, ct, headers)
        } else {
            let filename = guess_filename(&spec)?.or_else(|| Some(name.clone()));
            (filename, spec, None, Vec::new())
        };
        let data = if let Some(b) = as_bytes(&content)? {
            b
        } else if content.hasattr("read")? {
            let c = content.call_method0("read")?;
            as_bytes(&c)?.ok_or_else(|| PyTypeError::new_err("a file's read() must return bytes or str"))?
        } else {
            return Err(PyTypeError::new_err(format!(
                "files[`{name}`]: the content must be bytes, str or a file"
            )));
        };
        out.push(Part {
            name,
            filename,
            content_type,
            headers,
            data,
        });
    }
    Ok(out)
}

fn guess_filename(v: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if !v.hasattr("name")? {
        return Ok(None);
    }
    let Ok(name) = v.getattr("name")?.extract::<String>() else {
        return Ok(None);
    };
    if name.starts_with('<') && name.ends_with('>') {
        return Ok(None);
    }
    Ok(std::path::Path::new(&name)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned()))
}

static JSON_DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `json.dumps(value, allow_nan=False)`, as requests encodes `json=`.
fn json_dumps(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<String> {
    let dumps = JSON_DUMPS.get_or_try_init(py, || py.import("json")?.getattr("dumps").map(Bound::unbind))?;
    let kw = PyDict::new(py);
    kw.set_item("allow_nan", false)?;
    dumps
        .bind(py)
        .call((value,), Some(&kw))
        .map_err(|e| PyValueError::new_err(format!("json= is not JSON-serializable: {e}")))?
        .extract()
}
