//! `Session._exchange()`: the engine's auth exchange ([`sesame::credential::AuthExchange`])
//! for the `requests` and `httpx` adapters, one object per request, so that scoping, the
//! single 401 resend and UMA tickets are decided by the same code as in `Session`.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use sesame::credential::{AuthExchange, Credential, ExchangeState};
use sesame::session::header::HeaderMap;
use sesame::session::{Method, StatusCode};
use sesame::{CredentialScope, Url};

use crate::errors::{self, py_err};
use crate::request;
use crate::runtime::wait;

/// Credential headers as `(name, value)` pairs.
type Pairs = Vec<(String, String)>;

/// One request's auth exchange, driven by an adapter: `attach` before each send,
/// `on_response` after a 401.
#[pyclass(module = "sesame", name = "_AuthExchange", frozen)]
pub struct PyAuthExchange {
    credential: Option<Arc<dyn Credential>>,
    scope: Option<CredentialScope>,
    state: Arc<Mutex<ExchangeState>>,
}

impl PyAuthExchange {
    pub fn new(session: &sesame::Session) -> Self {
        PyAuthExchange {
            credential: session.credential().cloned(),
            scope: session.scope().cloned(),
            state: Arc::default(),
        }
    }

    fn state(&self) -> PyResult<ExchangeState> {
        Ok(self.lock()?.clone())
    }

    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, ExchangeState>> {
        self.state.lock().map_err(|_| errors::internal("exchange lock"))
    }

    /// The parts an operation owns while it runs without the GIL.
    fn op(&self, method: &str, url: &Bound<'_, PyAny>) -> PyResult<Option<Op>> {
        let Ok(url) = Url::parse(&request::url_string(url)?) else {
            return Ok(None);
        };
        Ok(Some(Op {
            credential: self.credential.clone(),
            scope: self.scope.clone(),
            state: self.state.clone(),
            start: self.state()?,
            method: request::method(method)?,
            url,
        }))
    }
}

struct Op {
    credential: Option<Arc<dyn Credential>>,
    scope: Option<CredentialScope>,
    state: Arc<Mutex<ExchangeState>>,
    start: ExchangeState,
    method: Method,
    url: Url,
}

impl Op {
    async fn attach(self) -> sesame::Result<Option<Pairs>> {
        let mut ex = AuthExchange::resume(self.credential.as_deref(), self.scope.as_ref(), self.start.clone());
        let mut headers = HeaderMap::new();
        let attached = ex.attach(&self.method, &self.url, &mut headers).await;
        self.keep(ex.state());
        if !attached? {
            return Ok(None);
        }
        let pairs = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        Ok(Some(pairs))
    }

    async fn on_response(self, status: StatusCode, challenge: Option<String>) -> sesame::Result<&'static str> {
        let mut ex = AuthExchange::resume(self.credential.as_deref(), self.scope.as_ref(), self.start.clone());
        let step = ex
            .on_response(&self.method, &self.url, status, challenge.as_deref())
            .await;
        self.keep(ex.state());
        Ok(step?.as_str())
    }

    fn keep(&self, state: ExchangeState) {
        if let Ok(mut s) = self.state.lock() {
            *s = state;
        }
    }
}

fn status(code: u16) -> PyResult<StatusCode> {
    StatusCode::from_u16(code)
        .map_err(|_| pyo3::exceptions::PyValueError::new_err(format!("{code} is not an HTTP status")))
}

#[pymethods]
impl PyAuthExchange {
    /// The credential headers for `method url`, or `None` when it is out of scope.
    fn attach(&self, py: Python<'_>, method: &str, url: &Bound<'_, PyAny>) -> PyResult<Option<Pairs>> {
        match self.op(method, url)? {
            Some(op) => wait(py, op.attach())?.map_err(py_err),
            None => Ok(None),
        }
    }

    /// `attach` as an awaitable.
    fn attach_async<'py>(&self, py: Python<'py>, method: &str, url: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let op = self.op(method, url)?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match op {
                Some(op) => op.attach().await.map_err(py_err),
                None => Ok(None),
            }
        })
    }

    /// The step after a response to the last request attached: `"done"`, or
    /// `"renew-and-resend"` / `"uma-ticket"` (attach again and resend, once).
    #[pyo3(signature = (method, url, status, challenge=None))]
    fn on_response(
        &self,
        py: Python<'_>,
        method: &str,
        url: &Bound<'_, PyAny>,
        status: u16,
        challenge: Option<String>,
    ) -> PyResult<&'static str> {
        let status = self::status(status)?;
        match self.op(method, url)? {
            Some(op) => wait(py, op.on_response(status, challenge))?.map_err(py_err),
            None => Ok("done"),
        }
    }

    /// `on_response` as an awaitable.
    #[pyo3(signature = (method, url, status, challenge=None))]
    fn on_response_async<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        url: &Bound<'py, PyAny>,
        status: u16,
        challenge: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let status = self::status(status)?;
        let op = self.op(method, url)?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match op {
                Some(op) => op.on_response(status, challenge).await.map_err(py_err),
                None => Ok("done"),
            }
        })
    }

    /// Whether the credential went with the last request attached.
    #[getter]
    fn attached(&self) -> PyResult<bool> {
        Ok(self.state()?.attached())
    }
}
