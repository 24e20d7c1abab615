//! [`Session`]: a base URL, TLS settings and a credential, shared cheaply between tasks.
//!
//! The session owns the rules of docs/session-rules.md#credential-scope: a credential is attached only to requests
//! whose URL is within the base URL's origin and path prefix ([`CredentialScope`]); the
//! session follows redirects itself (reqwest's own following is off) so that every hop is
//! judged afresh — a hop that leaves the scope carries no credential header, whichever
//! header the credential used — and a 401 on a request that carried a credential gives
//! that credential one chance to renew, and the request one resend, never a loop.

mod builder;
mod clients;
pub mod http_cache;
mod redirect;
mod request;
mod response;
pub use crate::transport::retry;
mod send;

use std::sync::Arc;

use reqwest::header::HeaderName;
use url::Url;

pub use builder::SessionBuilder;
pub use redirect::RedirectPolicy;
pub(crate) use redirect::{NextMethod, drop_credential_headers, next_hop, too_many};
pub use request::{Body, RequestBuilder};
pub use reqwest::{Method, StatusCode, header};
pub use response::Response;
pub use retry::RetryPolicy;

use crate::credential::{Credential, CredentialInfo};
use crate::scope::CredentialScope;
use crate::{Error, Result};

/// An authenticated HTTP session. Cloning is cheap (one `Arc`): clones share the
/// connection pool and the credential.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    base: Option<Url>,
    scope: Option<CredentialScope>,
    credential: Option<Arc<dyn Credential>>,
    /// The HTTP clients: one used within the scope (it presents the TLS client identity,
    /// if any), one outside it.
    clients: clients::Clients,
    /// What the clients were made from, for [`Session::with_own_connections`].
    recipe: Arc<clients::ClientRecipe>,
    /// The runtime whose context the credential's work runs in, when it is not the
    /// caller's (see [`Session::with_own_connections`]).
    credential_runtime: Option<tokio::runtime::Handle>,
    redirect: RedirectPolicy,
    max_redirects: usize,
    error_for_status: bool,
    insecure: bool,
    /// The session's request timeout: with retries, the deadline of a whole call.
    timeout: Option<std::time::Duration>,
    retry: RetryPolicy,
    http_cache: Option<http_cache::HttpCache>,
    /// Header names set by hand that carry credentials, beyond the conventional ones
    /// ([`crate::redact::is_sensitive_header`]): the profile's `credential_headers` and the
    /// credential's own header.
    credential_headers: Vec<HeaderName>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("base_url", &self.inner.base.as_ref().map(crate::redact::redact_url))
            .field("credential", &self.inner.credential)
            .field("redirect", &self.inner.redirect)
            .field("insecure", &self.inner.insecure)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A builder with sesame's defaults: TLS verified, 60 s request timeout, 10 s connect
    /// timeout, same-origin redirects, no credential.
    pub fn builder() -> SessionBuilder {
        SessionBuilder::new()
    }

    /// The base URL relative URLs are joined to.
    pub fn base_url(&self) -> Option<&Url> {
        self.inner.base.as_ref()
    }

    /// Where the credential may be sent.
    pub fn scope(&self) -> Option<&CredentialScope> {
        self.inner.scope.as_ref()
    }

    /// The session's credential, if any.
    pub fn credential(&self) -> Option<&Arc<dyn Credential>> {
        self.inner.credential.as_ref()
    }

    /// A secret-free description of the credential (`none` without one).
    pub fn credential_info(&self) -> CredentialInfo {
        self.inner
            .credential
            .as_ref()
            .map(|c| c.info())
            .unwrap_or_else(|| CredentialInfo::new("none"))
    }

    /// Whether a credential would be attached to a request for `url`.
    pub fn in_scope(&self, url: &Url) -> bool {
        self.inner.credential.is_some() && self.inner.scope.as_ref().is_some_and(|s| s.covers(url))
    }

    /// Resolves `url` against the base URL (absolute URLs are kept as they are).
    pub fn resolve(&self, url: &str) -> Result<Url> {
        match Url::parse(url) {
            Ok(u) if u.has_host() => Ok(u),
            Ok(u) if matches!(u.scheme(), "http" | "https") => Err(Error::config(format!("URL `{url}` has no host"))),
            Ok(_) | Err(url::ParseError::RelativeUrlWithoutBase) => {
                let base = self.inner.base.as_ref().ok_or_else(|| {
                    Error::config(format!(
                        "`{url}` is a relative URL but the session has no base URL (`base_url`)"
                    ))
                    .with_hint(crate::Hint::SetKey("base_url"))
                })?;
                base.join(url)
                    .map_err(|e| Error::config(format!("cannot join `{url}` to the base URL: {e}")))
            }
            Err(e) => Err(Error::config(format!("`{url}` is not a valid URL: {e}"))),
        }
    }

    /// A request with any method.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, self.resolve(url))
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

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// The redirect policy.
    pub fn redirect_policy(&self) -> RedirectPolicy {
        self.inner.redirect
    }

    /// The most redirects followed for one request.
    pub fn max_redirects(&self) -> usize {
        self.inner.max_redirects
    }

    /// Extra header names that carry credentials when set by hand (`credential_headers`
    /// and the credential's own header), beyond the conventional ones.
    pub fn credential_headers(&self) -> &[HeaderName] {
        &self.inner.credential_headers
    }

    /// The response cache, if `http_cache` is on.
    pub fn http_cache(&self) -> Option<&http_cache::HttpCache> {
        self.inner.http_cache.as_ref()
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// A session that shares this one's credential, scope, policies and response cache
    /// but has a connection pool of its own, for a thread that drives its requests on a
    /// runtime of its own (a current-thread runtime per thread: a request's I/O then
    /// never leaves the thread that waits for it, where a shared pool's connections are
    /// driven by the shared runtime's workers and every response crosses threads twice).
    ///
    /// Connections of the new session belong to whichever runtime first polls a request
    /// that opens them, so use it from one thread's runtime only. The credential's work
    /// (token renewal, an exchange after a 401) is run in the context of
    /// `credential_runtime`: the connections, timers and tasks it makes belong to that
    /// runtime, so a renewal that other callers wait on (single flight) never depends on
    /// the thread that happened to start it going on polling.
    ///
    /// The clients are made again from the settings this session was built with (CA
    /// certificates as they were read then; no file is read again).
    ///
    /// ```no_run
    /// # async fn demo(session: sesame::Session) -> sesame::Result<()> {
    /// // In the shared (multi-thread) runtime: renewals started by the copy run here.
    /// let copy = session.with_own_connections(tokio::runtime::Handle::current())?;
    /// let worker = std::thread::spawn(move || {
    ///     let own = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    ///     // The copy's connections live on this thread's runtime only.
    ///     own.block_on(async { copy.get("https://api.example.org/v1/items").send().await?.text().await })
    /// });
    /// let body = worker.join().expect("the worker thread")?;
    /// # let _ = body; Ok(()) }
    /// ```
    pub fn with_own_connections(&self, credential_runtime: tokio::runtime::Handle) -> Result<Session> {
        let i = &*self.inner;
        Ok(Session {
            inner: Arc::new(Inner {
                base: i.base.clone(),
                scope: i.scope.clone(),
                credential: i.credential.clone(),
                clients: i.recipe.build()?,
                recipe: i.recipe.clone(),
                credential_runtime: Some(credential_runtime),
                redirect: i.redirect,
                max_redirects: i.max_redirects,
                error_for_status: i.error_for_status,
                insecure: i.insecure,
                timeout: i.timeout,
                retry: i.retry.clone(),
                http_cache: i.http_cache.clone(),
                credential_headers: i.credential_headers.clone(),
            }),
        })
    }
}

impl Inner {
    /// Whether a header a user set by hand carries a credential: such headers are dropped
    /// when a redirect leaves the origin, as curl does, key the HTTP cache and are
    /// redacted (credential headers set by a [`Credential`] are never carried in the
    /// first place: they are attached per hop).
    pub(crate) fn is_hand_set_credential_header(&self, name: &HeaderName) -> bool {
        crate::redact::is_sensitive_header(name, &self.credential_headers)
    }

    /// The extra credential header names (see [`Inner::is_hand_set_credential_header`]).
    pub(crate) fn credential_headers(&self) -> &[HeaderName] {
        &self.credential_headers
    }
}
