//! [`RequestBuilder`]: a request being prepared; [`send`](RequestBuilder::send) hands it to
//! the send path (`send.rs`).

use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use url::Url;

use super::send::{Call, Options, Parts};
use super::{Response, Session};
use crate::redact::{redact_headers, redact_url};
use crate::{Error, Result};

/// A request body. Bodies are kept as bytes so that a request can be resent after a 401
/// or a 307/308 redirect.
#[derive(Debug, Clone, Default)]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// Bytes, sent as they are.
    Bytes(Bytes),
}

/// A request being prepared. Built from [`Session::request`] and friends.
#[must_use = "a request does nothing until .send() is awaited"]
pub struct RequestBuilder {
    session: Session,
    method: Method,
    url: Result<Url>,
    headers: HeaderMap,
    body: Body,
    timeout: Option<Duration>,
    error: Option<Error>,
    error_for_status: Option<bool>,
    idempotent: bool,
    retries: Option<u32>,
}

impl std::fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("url", &self.url.as_ref().map(redact_url).ok())
            .field(
                "headers",
                &redact_headers(&self.headers, self.session.inner().credential_headers()),
            )
            .finish_non_exhaustive()
    }
}

impl RequestBuilder {
    pub(crate) fn new(session: Session, method: Method, url: Result<Url>) -> Self {
        RequestBuilder {
            session,
            method,
            url,
            headers: HeaderMap::new(),
            body: Body::Empty,
            timeout: None,
            error: None,
            error_for_status: None,
            idempotent: false,
            retries: None,
        }
    }

    fn fail(&mut self, e: Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Adds a header (kept on redirects within the origin; `Authorization`, `Cookie` and
    /// other credential-like headers set here are dropped on redirects that leave it).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            (Ok(n), Ok(mut v)) => {
                if self.session.inner().is_hand_set_credential_header(&n) {
                    v.set_sensitive(true);
                }
                self.headers.append(n, v);
            }
            (Err(_), _) => self.fail(Error::config(format!("`{name}` is not a valid header name"))),
            (_, Err(_)) => self.fail(Error::config(format!(
                "the value of header `{name}` has characters not allowed in a header"
            ))),
        }
        self
    }

    /// Adds typed headers.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        for (k, v) in headers.iter() {
            self.headers.append(k.clone(), v.clone());
        }
        self
    }

    /// Appends query parameters.
    pub fn query<T: Serialize + ?Sized>(mut self, query: &T) -> Self {
        if let Ok(url) = self.url.as_mut() {
            match serde_urlencoded::to_string(query) {
                Ok(q) if !q.is_empty() => {
                    let merged = match url.query() {
                        Some(existing) if !existing.is_empty() => format!("{existing}&{q}"),
                        _ => q,
                    };
                    url.set_query(Some(&merged));
                }
                Ok(_) => {}
                Err(e) => self.fail(Error::config(format!("cannot encode query parameters: {e}"))),
            }
        }
        self
    }

    /// A raw body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Body::Bytes(body.into());
        self
    }

    /// A JSON body (`Content-Type: application/json` unless set).
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(v) => {
                self.body = Body::Bytes(v.into());
                if !self.headers.contains_key(CONTENT_TYPE) {
                    self.headers
                        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
            }
            Err(e) => self.fail(Error::config(format!("cannot encode the JSON body: {e}"))),
        }
        self
    }

    /// A form body (`application/x-www-form-urlencoded`).
    pub fn form<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_urlencoded::to_string(value) {
            Ok(v) => {
                self.body = Body::Bytes(v.into());
                self.headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
            }
            Err(e) => self.fail(Error::config(format!("cannot encode the form body: {e}"))),
        }
        self
    }

    /// Total time for this request, overriding the session's.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Overrides the session's `error_for_status` for this request.
    pub fn error_for_status(mut self, on: bool) -> Self {
        self.error_for_status = Some(on);
        self
    }

    /// Marks a non-idempotent request (POST, PATCH) as safe to repeat, so that it is
    /// retried like a GET (e.g. an API that de-duplicates by an `Idempotency-Key`).
    pub fn idempotent(mut self, on: bool) -> Self {
        self.idempotent = on;
        self
    }

    /// Retries for this request, overriding the session's.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = Some(n);
        self
    }

    /// The URL this request will go to (after joining the base URL).
    pub fn url(&self) -> Option<&Url> {
        self.url.as_ref().ok()
    }

    /// Sends the request, following redirects per the session's policy (the stages are
    /// in `session/send.rs`).
    pub async fn send(self) -> Result<Response> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let parts = Parts {
            method: self.method,
            url: self.url?,
            headers: self.headers,
            body: self.body,
        };
        let options = Options {
            timeout: self.timeout,
            retries: self.retries,
            idempotent: self.idempotent,
            error_for_status: self.error_for_status,
        };
        Call::new(self.session.inner(), parts, options).run().await
    }
}
