//! A synchronous facade over [`Session`](crate::Session), for callers without an async
//! runtime (scripts, the Python binding's synchronous API, tests).
//!
//! One background multi-thread tokio runtime per process drives every blocking session,
//! so many threads can share one `blocking::Session` and its connection pool. Calling
//! these methods from inside an async task is refused with an error rather than a panic.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::{Error, ErrorKind, Result};

fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sesame-blocking")
            // Token renewals run as spawned tasks here; an unoptimised build's futures can
            // outgrow tokio's 2 MiB default stacks (reserved, not committed, memory).
            .thread_stack_size(8 * 1024 * 1024)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start the sesame runtime: {e}")))
}

/// Runs a future to completion on sesame's runtime, from synchronous code.
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::config(
            "sesame::blocking was called from inside an async runtime; use the async Session there",
        ));
    }
    Ok(runtime()?.block_on(f))
}

/// A blocking session: the same engine as [`crate::Session`].
#[derive(Debug, Clone)]
pub struct Session {
    inner: crate::Session,
}

impl Session {
    /// Wraps an async session.
    pub fn new(inner: crate::Session) -> Self {
        Session { inner }
    }

    /// The async session underneath.
    pub fn as_async(&self) -> &crate::Session {
        &self.inner
    }

    /// A request with any method.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        RequestBuilder {
            inner: self.inner.request(method, url),
        }
    }
    /// A GET request.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request(Method::GET, url)
    }
    /// A POST request.
    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request(Method::POST, url)
    }
    /// A PUT request.
    pub fn put(&self, url: &str) -> RequestBuilder {
        self.request(Method::PUT, url)
    }
    /// A PATCH request.
    pub fn patch(&self, url: &str) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }
    /// A DELETE request.
    pub fn delete(&self, url: &str) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }
    /// A HEAD request.
    pub fn head(&self, url: &str) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }
}

/// A blocking request being prepared.
#[must_use = "a request does nothing until .send() is called"]
#[derive(Debug)]
pub struct RequestBuilder {
    inner: crate::RequestBuilder,
}

impl RequestBuilder {
    /// Adds a header.
    pub fn header(self, name: &str, value: &str) -> Self {
        RequestBuilder {
            inner: self.inner.header(name, value),
        }
    }
    /// Appends query parameters.
    pub fn query<T: Serialize + ?Sized>(self, q: &T) -> Self {
        RequestBuilder {
            inner: self.inner.query(q),
        }
    }
    /// A raw body.
    pub fn body(self, body: impl Into<Bytes>) -> Self {
        RequestBuilder {
            inner: self.inner.body(body),
        }
    }
    /// A JSON body.
    pub fn json<T: Serialize + ?Sized>(self, v: &T) -> Self {
        RequestBuilder {
            inner: self.inner.json(v),
        }
    }
    /// A form body.
    pub fn form<T: Serialize + ?Sized>(self, v: &T) -> Self {
        RequestBuilder {
            inner: self.inner.form(v),
        }
    }
    /// A timeout for this request.
    pub fn timeout(self, t: Duration) -> Self {
        RequestBuilder {
            inner: self.inner.timeout(t),
        }
    }
    /// Sends the request and reads the whole body.
    pub fn send(self) -> Result<Response> {
        block_on(async move {
            let r = self.inner.send().await?;
            let status = r.status();
            let headers = r.headers().clone();
            let url = r.url().clone();
            let body = r.bytes().await?;
            Ok(Response {
                status,
                headers,
                url,
                body,
            })
        })?
    }
}

/// A blocking response with its body read.
#[derive(Clone)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    url: Url,
    body: Bytes,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body may be a token service's answer: only its size.
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &crate::redact::redact_url(&self.url))
            .field("headers", &crate::redact::redact_headers(&self.headers, &[]))
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Response {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
    /// The final URL.
    pub fn url(&self) -> &Url {
        &self.url
    }
    /// The body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }
    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| Error::decode(format!("response is not the expected JSON: {e}")))
    }
}
