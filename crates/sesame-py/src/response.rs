//! `sesame.Response` (the names of `requests.Response`), its `Headers` and the body
//! iterators. A response read in full holds its body as bytes; a streamed one holds the
//! library response and reads it chunk by chunk on the shared runtime.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyStopAsyncIteration, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyIterator, PyList, PyString};
use sesame::session::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use sesame::session::{Method, StatusCode};
use sesame::{RequestBuilder, Url};

use crate::errors::{self, py_err};
use crate::runtime::wait;

/// What a request produced, before it becomes a Python object.
pub struct Fetched {
    status: StatusCode,
    method: Method,
    url: Url,
    headers: HeaderMap,
    version: &'static str,
    body: Fetch,
    sent_credentials: HeaderMap,
}

enum Fetch {
    Full(Bytes),
    Stream(Box<sesame::Response>),
}

/// Sends a request; reads the whole body unless `stream`.
pub async fn execute(rb: RequestBuilder, method: Method, stream: bool) -> sesame::Result<Fetched> {
    let resp = rb.send().await?;
    let status = resp.status();
    let url = resp.url().clone();
    let headers = resp.headers().clone();
    let sent_credentials = resp.sent_credentials().clone();
    let version = match resp.version() {
        v if v == reqwest::Version::HTTP_2 => "HTTP/2",
        v if v == reqwest::Version::HTTP_10 => "HTTP/1.0",
        v if v == reqwest::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    };
    let body = if stream {
        Fetch::Stream(Box::new(resp))
    } else {
        Fetch::Full(resp.bytes().await?)
    };
    Ok(Fetched {
        status,
        method,
        url,
        headers,
        version,
        body,
        sent_credentials,
    })
}

/// A streamed body: the library response and what was read ahead of the caller.
pub struct Stream {
    resp: Option<sesame::Response>,
    buf: BytesMut,
    eof: bool,
}

type SharedStream = Arc<tokio::sync::Mutex<Stream>>;

enum BodyState {
    /// Read in full, not yet a `bytes` object.
    Full(Bytes),
    /// Not read yet (`stream=True`).
    Stream(SharedStream),
    /// `content` holds it.
    Cached,
    /// Handed to `iter_content`/`aiter_content`, or closed.
    Consumed,
}

/// The response to an HTTP request. The names are those of `requests.Response`.
#[pyclass(module = "sesame", name = "Response", frozen)]
pub struct PyResponse {
    /// The credential headers the request carried, masked in `raise_for_status`'s message
    /// (an API may echo them in its error body). The mask of their encoded forms is made
    /// there, not per response: it costs more than the rest of the response.
    sent_credentials: HeaderMap,
    status: StatusCode,
    method: Method,
    url: Url,
    headers: HeaderMap,
    version: &'static str,
    body: Mutex<BodyState>,
    content: PyOnceLock<Py<PyBytes>>,
    headers_obj: PyOnceLock<Py<PyHeaders>>,
    encoding: Mutex<Option<String>>,
}

impl From<Fetched> for PyResponse {
    fn from(f: Fetched) -> Self {
        let body = match f.body {
            Fetch::Full(b) => BodyState::Full(b),
            Fetch::Stream(r) => BodyState::Stream(Arc::new(tokio::sync::Mutex::new(Stream {
                resp: Some(*r),
                buf: BytesMut::new(),
                eof: false,
            }))),
        };
        PyResponse {
            sent_credentials: f.sent_credentials,
            status: f.status,
            method: f.method,
            url: f.url,
            headers: f.headers,
            version: f.version,
            body: Mutex::new(body),
            content: PyOnceLock::new(),
            headers_obj: PyOnceLock::new(),
            encoding: Mutex::new(None),
        }
    }
}

/// The next chunk of a streamed body: `want` bytes (fewer at the end), or whatever arrives
/// next when `want` is `None`. `None` at the end.
async fn next_chunk(stream: SharedStream, want: Option<usize>) -> sesame::Result<Option<Bytes>> {
    let mut g = stream.lock().await;
    loop {
        if let Some(c) = take_buffered(&mut g, want) {
            return Ok(Some(c));
        }
        if g.eof {
            return Ok(None);
        }
        let next = match g.resp.as_mut() {
            Some(r) => r.chunk().await?,
            None => None,
        };
        match next {
            Some(c) => g.buf.extend_from_slice(&c),
            None => {
                g.eof = true;
                g.resp = None;
            }
        }
    }
}

/// A chunk from what was read ahead, if there is enough (or the end was reached).
fn take_buffered(g: &mut Stream, want: Option<usize>) -> Option<Bytes> {
    let have = g.buf.len();
    match want {
        Some(n) if have >= n => Some(g.buf.split_to(n).freeze()),
        _ if have > 0 && (want.is_none() || g.eof) => Some(g.buf.split().freeze()),
        _ => None,
    }
}

fn chunk_size(size: Option<isize>) -> PyResult<Option<usize>> {
    match size {
        None => Ok(None),
        Some(n) if n > 0 => Ok(Some(n as usize)),
        Some(_) => Err(PyValueError::new_err("chunk_size must be a positive integer or None")),
    }
}

impl PyResponse {
    fn consumed() -> PyErr {
        PyRuntimeError::new_err("the content of this response was already consumed (by iter_content or close())")
    }

    fn content_type(&self) -> Option<&str> {
        self.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
    }

    /// The charset parameter of `Content-Type`, if any.
    fn charset(&self) -> Option<String> {
        let ct = self.content_type()?;
        ct.split(';').skip(1).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| v.trim().trim_matches('"').to_string())
                .filter(|v| !v.is_empty())
        })
    }

    /// The body as a `bytes` object (reading the rest of a stream first).
    fn load(&self, py: Python<'_>) -> PyResult<Py<PyBytes>> {
        if let Some(c) = self.content.get(py) {
            return Ok(c.clone_ref(py));
        }
        let stream = {
            let mut g = self.body.lock().map_err(|_| errors::internal("response lock"))?;
            match &*g {
                BodyState::Full(b) => {
                    let b = b.clone();
                    *g = BodyState::Cached;
                    drop(g);
                    let obj = PyBytes::new(py, &b).unbind();
                    let _ = self.content.set(py, obj);
                    return self
                        .content
                        .get(py)
                        .map(|c| c.clone_ref(py))
                        .ok_or_else(|| errors::internal("response content"));
                }
                BodyState::Stream(s) => s.clone(),
                BodyState::Cached => {
                    return self
                        .content
                        .get(py)
                        .map(|c| c.clone_ref(py))
                        .ok_or_else(|| errors::internal("response content"));
                }
                BodyState::Consumed => return Err(Self::consumed()),
            }
        };
        let read = wait(py, async move {
            let mut g = stream.lock().await;
            let mut out = BytesMut::new();
            out.extend_from_slice(&g.buf.split());
            if let Some(r) = g.resp.take() {
                out.extend_from_slice(&r.bytes().await?);
            }
            g.eof = true;
            Ok::<_, sesame::Error>(out.freeze())
        })?
        .map_err(py_err)?;
        if self.content.get(py).is_none() {
            let _ = self.content.set(py, PyBytes::new(py, &read).unbind());
        }
        if let Ok(mut g) = self.body.lock() {
            *g = BodyState::Cached;
        }
        self.content
            .get(py)
            .map(|c| c.clone_ref(py))
            .ok_or_else(|| errors::internal("response content"))
    }

    /// Where `iter_content` reads from: the cached content, or the stream (then consumed).
    fn source(&self, py: Python<'_>) -> PyResult<Source> {
        {
            let mut g = self.body.lock().map_err(|_| errors::internal("response lock"))?;
            match &*g {
                BodyState::Stream(s) => {
                    let s = s.clone();
                    *g = BodyState::Consumed;
                    return Ok(Source::Stream(s));
                }
                BodyState::Consumed => return Err(Self::consumed()),
                _ => {}
            }
        }
        Ok(Source::Cached {
            data: self.load(py)?,
            pos: 0,
        })
    }
}

#[pymethods]
impl PyResponse {
    /// The HTTP status code (`200`).
    #[getter]
    fn status_code(&self) -> u16 {
        self.status.as_u16()
    }

    /// `True` for a status below 400.
    #[getter]
    fn ok(&self) -> bool {
        self.status.as_u16() < 400
    }

    /// The status' reason phrase (`"Not Found"`).
    #[getter]
    fn reason(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("")
    }

    /// The final URL, after redirects.
    #[getter]
    fn url(&self) -> String {
        self.url.to_string()
    }

    /// The request method.
    #[getter]
    fn method(&self) -> String {
        self.method.to_string()
    }

    /// The HTTP version (`"HTTP/1.1"`, `"HTTP/2"`).
    #[getter]
    fn http_version(&self) -> &'static str {
        self.version
    }

    /// The response headers: a read-only, case-insensitive mapping.
    #[getter]
    fn headers(&self, py: Python<'_>) -> PyResult<Py<PyHeaders>> {
        self.headers_obj
            .get_or_try_init(py, || {
                Py::new(
                    py,
                    PyHeaders {
                        map: self.headers.clone(),
                    },
                )
            })
            .map(|h| h.clone_ref(py))
    }

    /// The body as bytes (for a streamed response, reads the rest of it).
    #[getter]
    fn content(&self, py: Python<'_>) -> PyResult<Py<PyBytes>> {
        self.load(py)
    }

    /// The encoding used by `text`: set by you, else the `charset` of `Content-Type`,
    /// else `None` (then `text` decodes UTF-8).
    #[getter]
    fn get_encoding(&self) -> Option<String> {
        self.encoding
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .or_else(|| self.charset())
    }

    #[setter]
    fn set_encoding(&self, value: Option<String>) {
        if let Ok(mut e) = self.encoding.lock() {
            *e = value;
        }
    }

    /// The body decoded as text (`encoding`, else UTF-8; undecodable bytes replaced).
    #[getter]
    fn text<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let content = self.load(py)?.into_bound(py);
        let encoding = self.get_encoding().unwrap_or_else(|| "utf-8".into());
        match content.call_method1("decode", (encoding.as_str(), "replace")) {
            Ok(s) => Ok(s),
            Err(_) => content.call_method1("decode", ("utf-8", "replace")),
        }
    }

    /// The body parsed as JSON (`json.loads`, keyword arguments passed on).
    #[pyo3(signature = (**kwargs))]
    fn json<'py>(&self, py: Python<'py>, kwargs: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        let content = self.load(py)?;
        py.import("json")?.getattr("loads")?.call((content,), kwargs)
    }

    /// Raises `sesame.HTTPError` (with status, URL and the server's message) when the
    /// status is 400 or more: its subclass for the status when there is one (`NotFound`,
    /// `ServerError`, …).
    fn raise_for_status(slf: &Bound<'_, Self>) -> PyResult<()> {
        let this = slf.get();
        if this.status.as_u16() < 400 {
            return Ok(());
        }
        let py = slf.py();
        let content = this.load(py).ok();
        let body: &[u8] = match &content {
            Some(c) => c.as_bytes(py),
            None => &[],
        };
        let cap = body.len().min(1024 * 1024);
        let mask = sesame::redact::SecretMask::of_header_values(&this.sent_credentials);
        let err = sesame::HttpError {
            status: this.status,
            method: this.method.to_string(),
            url: sesame::redact::redact_url(&this.url),
            message: mask.mask(&sesame::message::summarize(
                this.content_type(),
                &mask.mask_bytes(&body[..cap]),
            )),
        };
        let kw = PyDict::new(py);
        kw.set_item("kind", "http")?;
        kw.set_item("status", this.status.as_u16())?;
        kw.set_item("url", &err.url)?;
        kw.set_item("method", &err.method)?;
        kw.set_item("message", &err.message)?;
        kw.set_item("response", slf)?;
        Err(errors::make(
            py,
            errors::http_class(this.status.as_u16()),
            &err.to_string(),
            &kw,
        ))
    }

    /// Iterates over the body in chunks of `chunk_size` bytes (`None`: as they arrive).
    /// With `stream=True` the body is read from the network as you go; else it is sliced
    /// from `content`. `decode_unicode=True` yields `str` decoded with `encoding`.
    #[pyo3(signature = (chunk_size = Some(1), decode_unicode = false))]
    fn iter_content(&self, py: Python<'_>, chunk_size: Option<isize>, decode_unicode: bool) -> PyResult<ContentIter> {
        let want = self::chunk_size(chunk_size)?;
        let decoder = if decode_unicode {
            let enc = self.get_encoding().unwrap_or_else(|| "utf-8".into());
            let codecs = py.import("codecs")?;
            let factory = codecs
                .call_method1("getincrementaldecoder", (enc.as_str(),))
                .or_else(|_| codecs.call_method1("getincrementaldecoder", ("utf-8",)))?;
            let kw = PyDict::new(py);
            kw.set_item("errors", "replace")?;
            Some(factory.call((), Some(&kw))?.unbind())
        } else {
            None
        };
        Ok(ContentIter {
            source: self.source(py)?,
            want,
            decoder,
            done: false,
        })
    }

    /// `async for chunk in response.aiter_content(chunk_size)`: the body in chunks, read
    /// on the event loop without blocking it (for `AsyncSession` with `stream=True`).
    #[pyo3(signature = (chunk_size = None))]
    fn aiter_content(&self, py: Python<'_>, chunk_size: Option<isize>) -> PyResult<AsyncContentIter> {
        let want = self::chunk_size(chunk_size)?;
        let source = self.source(py)?;
        let stream = match source {
            Source::Stream(s) => s,
            Source::Cached { data, .. } => {
                // Already in memory: serve it through the same machinery.
                let bytes = Bytes::copy_from_slice(data.as_bytes(py));
                Arc::new(tokio::sync::Mutex::new(Stream {
                    resp: None,
                    buf: BytesMut::from(&bytes[..]),
                    eof: true,
                }))
            }
        };
        Ok(AsyncContentIter { stream, want })
    }

    /// `await response.aread()`: reads the rest of a streamed body without blocking the
    /// event loop; returns `content`.
    fn aread<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let stream = match &*this.body.lock().map_err(|_| errors::internal("response lock"))? {
            BodyState::Stream(s) => Some(s.clone()),
            BodyState::Consumed => return Err(Self::consumed()),
            _ => None,
        };
        let me = slf.clone().unbind();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let read = match stream {
                Some(s) => {
                    let mut g = s.lock().await;
                    let mut out = BytesMut::new();
                    out.extend_from_slice(&g.buf.split());
                    if let Some(r) = g.resp.take() {
                        out.extend_from_slice(&r.bytes().await.map_err(py_err)?);
                    }
                    g.eof = true;
                    Some(out.freeze())
                }
                None => None,
            };
            Python::attach(|py| {
                let this = me.get();
                if let Some(b) = read
                    && this.content.get(py).is_none()
                {
                    let _ = this.content.set(py, PyBytes::new(py, &b).unbind());
                    if let Ok(mut g) = this.body.lock() {
                        *g = BodyState::Cached;
                    }
                }
                this.load(py)
            })
        })
    }

    /// Releases the connection of a streamed response that will not be read further.
    fn close(&self) {
        if let Ok(mut g) = self.body.lock()
            && matches!(&*g, BodyState::Stream(_))
        {
            *g = BodyState::Consumed;
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close();
        false
    }

    fn __bool__(&self) -> bool {
        self.ok()
    }

    fn __repr__(&self) -> String {
        format!("<Response [{}]>", self.status.as_u16())
    }
}

enum Source {
    Cached { data: Py<PyBytes>, pos: usize },
    Stream(SharedStream),
}

/// The iterator of `Response.iter_content`.
#[pyclass(module = "sesame")]
pub struct ContentIter {
    source: Source,
    want: Option<usize>,
    decoder: Option<Py<PyAny>>,
    done: bool,
}

impl ContentIter {
    fn next_bytes(&mut self, py: Python<'_>) -> PyResult<Option<Bytes>> {
        match &mut self.source {
            Source::Cached { data, pos } => {
                let all = data.as_bytes(py);
                if *pos >= all.len() {
                    return Ok(None);
                }
                let end = match self.want {
                    Some(n) => (*pos + n).min(all.len()),
                    None => all.len(),
                };
                let chunk = Bytes::copy_from_slice(&all[*pos..end]);
                *pos = end;
                Ok(Some(chunk))
            }
            Source::Stream(s) => {
                // Serve read-ahead without a round trip to the runtime.
                if let Ok(mut g) = s.try_lock()
                    && let Some(c) = take_buffered(&mut g, self.want)
                {
                    return Ok(Some(c));
                }
                let s = s.clone();
                let want = self.want;
                wait(py, next_chunk(s, want))?.map_err(py_err)
            }
        }
    }
}

#[pymethods]
impl ContentIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        loop {
            if self.done {
                return Ok(None);
            }
            let chunk = self.next_bytes(py)?;
            match (&self.decoder, chunk) {
                (None, Some(c)) => return Ok(Some(PyBytes::new(py, &c).into_any().unbind())),
                (None, None) => {
                    self.done = true;
                    return Ok(None);
                }
                (Some(d), Some(c)) => {
                    let s = d.bind(py).call_method1("decode", (PyBytes::new(py, &c),))?;
                    if s.cast::<PyString>().map(|s| s.len().unwrap_or(0) > 0).unwrap_or(true) {
                        return Ok(Some(s.unbind()));
                    }
                }
                (Some(d), None) => {
                    self.done = true;
                    let s = d.bind(py).call_method1("decode", (PyBytes::new(py, b""), true))?;
                    if s.cast::<PyString>().map(|s| s.len().unwrap_or(0) > 0).unwrap_or(false) {
                        return Ok(Some(s.unbind()));
                    }
                    return Ok(None);
                }
            }
        }
    }
}

/// The asynchronous iterator of `Response.aiter_content`.
#[pyclass(module = "sesame")]
pub struct AsyncContentIter {
    stream: SharedStream,
    want: Option<usize>,
}

#[pymethods]
impl AsyncContentIter {
    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = self.stream.clone();
        let want = self.want;
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match next_chunk(s, want).await.map_err(py_err)? {
                Some(c) => Ok(Python::attach(|py| PyBytes::new(py, &c).unbind())),
                None => Err(PyStopAsyncIteration::new_err(())),
            }
        })
    }
}

/// Response headers: a read-only mapping with case-insensitive names. Several values of
/// one name are joined with `", "` (as in requests); `get_all` gives them one by one.
#[pyclass(module = "sesame", name = "Headers", frozen, mapping)]
pub struct PyHeaders {
    map: HeaderMap,
}

fn value_str(v: &HeaderValue) -> String {
    match v.to_str() {
        Ok(s) => s.to_string(),
        Err(_) => v.as_bytes().iter().map(|&b| b as char).collect(),
    }
}

impl PyHeaders {
    fn joined(&self, name: &str) -> Option<String> {
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        let mut values = self.map.get_all(&name).iter().peekable();
        values.peek()?;
        Some(values.map(value_str).collect::<Vec<_>>().join(", "))
    }

    fn names(&self) -> Vec<&str> {
        self.map.keys().map(|k| k.as_str()).collect()
    }
}

#[pymethods]
impl PyHeaders {
    fn __getitem__(&self, name: &str) -> PyResult<String> {
        self.joined(name).ok_or_else(|| PyKeyError::new_err(name.to_string()))
    }

    /// The value of `name` (any case), or `default`.
    #[pyo3(signature = (name, default = None))]
    fn get<'py>(&self, py: Python<'py>, name: &str, default: Option<Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        match self.joined(name) {
            Some(v) => Ok(PyString::new(py, &v).into_any()),
            None => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
        }
    }

    /// Every value of `name`, one per header line.
    fn get_all(&self, name: &str) -> Vec<String> {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(n) => self.map.get_all(&n).iter().map(value_str).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// `get_all` under httpx's name.
    fn get_list(&self, name: &str) -> Vec<String> {
        self.get_all(name)
    }

    fn __contains__(&self, name: &Bound<'_, PyAny>) -> bool {
        name.extract::<String>()
            .ok()
            .and_then(|n| HeaderName::from_bytes(n.as_bytes()).ok())
            .is_some_and(|n| self.map.contains_key(n))
    }

    fn __len__(&self) -> usize {
        self.map.keys_len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIterator>> {
        PyList::new(py, self.names())?.try_iter()
    }

    /// The header names (lower case).
    fn keys(&self) -> Vec<&str> {
        self.names()
    }

    /// The values, in the order of `keys()`.
    fn values(&self) -> Vec<String> {
        self.names().iter().filter_map(|n| self.joined(n)).collect()
    }

    /// `(name, value)` pairs.
    fn items(&self) -> Vec<(String, String)> {
        self.names()
            .iter()
            .filter_map(|n| self.joined(n).map(|v| (n.to_string(), v)))
            .collect()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let pairs: Vec<(String, String)> = if let Ok(h) = other.cast::<PyHeaders>() {
            h.get().items()
        } else if other.hasattr("items")? {
            other.call_method0("items")?.extract()?
        } else {
            return Ok(false);
        };
        let mut mine = self.items();
        let mut theirs: Vec<(String, String)> = pairs.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
        mine.sort();
        theirs.sort();
        Ok(mine == theirs)
    }

    fn __repr__(&self) -> String {
        let shown: Vec<String> = self
            .map
            .keys()
            .map(|k| {
                let v = if sesame::redact::is_sensitive_header(k, &[]) {
                    "[redacted]".to_string()
                } else {
                    self.joined(k.as_str()).unwrap_or_default()
                };
                format!("{:?}: {:?}", k.as_str(), v)
            })
            .collect();
        format!("Headers({{{}}})", shown.join(", "))
    }
}
