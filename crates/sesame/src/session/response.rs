//! [`Response`]: reqwest's response with sesame's error mapping.

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::HttpError;
use crate::redact::{SecretMask, redact_url};
use crate::{Error, Result};

/// Bytes of an error body read to build the error message.
const ERROR_BODY_CAP: usize = 1024 * 1024;

/// A response. The body is read with [`bytes`](Self::bytes), [`text`](Self::text),
/// [`json`](Self::json) or streamed with [`chunk`](Self::chunk).
pub struct Response {
    inner: reqwest::Response,
    method: Method,
    /// The request's URL (the session follows redirects itself, so it is the response's
    /// too), kept for the errors of a body read, which consumes `inner`.
    url: Url,
    /// The credential headers the request carried: an API that echoes them in an error
    /// body (`{"received": "Bearer …"}`) must not get them into the error message.
    sent_credentials: HeaderMap,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // reqwest's own Debug shows the URL with its query (`?access_token=…`) and every
        // header (`Set-Cookie`).
        f.debug_struct("Response")
            .field("method", &self.method)
            .field("url", &redact_url(self.inner.url()))
            .field("status", &self.inner.status())
            .field("headers", &crate::redact::redact_headers(self.inner.headers(), &[]))
            .finish_non_exhaustive()
    }
}

impl Response {
    pub(crate) fn new(inner: reqwest::Response, method: Method, url: Url) -> Self {
        Response {
            inner,
            method,
            url,
            sent_credentials: HeaderMap::new(),
        }
    }

    /// The same response, masking these header values (and their encodings) in the error
    /// built from it.
    pub(crate) fn with_sent_credentials(mut self, values: HeaderMap) -> Self {
        self.sent_credentials = values;
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The final URL (after redirects).
    pub fn url(&self) -> &Url {
        self.inner.url()
    }

    /// The HTTP version.
    pub fn version(&self) -> reqwest::Version {
        self.inner.version()
    }

    /// The `Content-Length`, if known.
    pub fn content_length(&self) -> Option<u64> {
        self.inner.content_length()
    }

    /// The whole body.
    pub async fn bytes(self) -> Result<Bytes> {
        let (url, m) = (self.url, self.method);
        self.inner
            .bytes()
            .await
            .map_err(|e| Error::from_reqwest(e, m.as_str(), &url))
    }

    /// The body as text (charset from `Content-Type`, else UTF-8, lossy).
    pub async fn text(self) -> Result<String> {
        let (url, m) = (self.url, self.method);
        self.inner
            .text()
            .await
            .map_err(|e| Error::from_reqwest(e, m.as_str(), &url))
    }

    /// The body parsed as JSON.
    pub async fn json<T: DeserializeOwned>(self) -> Result<T> {
        let url = redact_url(self.inner.url());
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::decode(format!("response from {url} is not the expected JSON: {e}")))
    }

    /// The next chunk of the body, `None` at the end (streaming download).
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        self.inner
            .chunk()
            .await
            .map_err(|e| Error::from_reqwest(e, self.method.as_str(), &self.url))
    }

    /// `Ok(self)` for statuses below 400, else an [`HttpError`] with the server's message.
    pub async fn error_for_status(self) -> Result<Self> {
        if self.status().as_u16() >= 400 {
            Err(self.into_error().await)
        } else {
            Ok(self)
        }
    }

    /// The secrets this response's request carried (its credential header values, in the
    /// encodings a server may echo), for a binding that builds its own error message from
    /// the body (the Python package's `raise_for_status`).
    pub fn sent_secrets(&self) -> SecretMask {
        SecretMask::of_header_values(&self.sent_credentials)
    }

    /// The credential header values this response's request carried, as they were sent:
    /// what [`sent_secrets`](Self::sent_secrets) encodes, for a binding that builds the
    /// mask only when it needs one (encoding every form costs more than the request's
    /// own client-side work, and most responses never need it).
    pub fn sent_credentials(&self) -> &HeaderMap {
        &self.sent_credentials
    }

    /// Reads (at most 1 MiB of) the body and turns it into an HTTP error.
    pub(crate) async fn into_error(mut self) -> Error {
        let status = self.status();
        let content_type = self
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let url = redact_url(self.url());
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = self.inner.chunk().await {
            let room = ERROR_BODY_CAP.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= ERROR_BODY_CAP {
                break;
            }
        }
        let mask = self.sent_secrets();
        HttpError {
            status,
            method: self.method.to_string(),
            url,
            // Masked before summarizing (which may wrap or cut a long token) and after.
            message: mask.mask(&crate::message::summarize(
                content_type.as_deref(),
                &mask.mask_bytes(&body),
            )),
        }
        .into()
    }

    /// The underlying reqwest response.
    pub fn into_inner(self) -> reqwest::Response {
        self.inner
    }
}
