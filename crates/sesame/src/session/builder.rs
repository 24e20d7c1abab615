//! [`SessionBuilder`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::clients::ClientRecipe;
use super::http_cache::HttpCache;
use super::{Inner, RedirectPolicy, RetryPolicy, Session};
use crate::credential::Credential;
use crate::scope::CredentialScope;
use crate::tls::TlsOptions;
use crate::{Error, Result};

/// Builds a [`Session`]. Every setter consumes and returns the builder.
#[must_use = "a builder does nothing until .build() is called"]
#[derive(Debug)]
pub struct SessionBuilder {
    base: Option<Url>,
    credential: Option<Arc<dyn Credential>>,
    tls: TlsOptions,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    redirect: RedirectPolicy,
    max_redirects: usize,
    error_for_status: bool,
    default_headers: HeaderMap,
    user_agent: String,
    pool_idle_timeout: Option<Duration>,
    retry: RetryPolicy,
    http_cache: Option<HttpCache>,
    allow_http: bool,
    credential_headers: Vec<HeaderName>,
}

impl Default for SessionBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionBuilder {
    /// Defaults: no base URL, no credential, 60 s request timeout, 10 s connect timeout,
    /// same-origin redirects (at most 10), TLS verified.
    pub fn new() -> Self {
        SessionBuilder {
            base: None,
            credential: None,
            tls: TlsOptions::default(),
            timeout: Some(Duration::from_secs(60)),
            connect_timeout: Duration::from_secs(10),
            redirect: RedirectPolicy::default(),
            max_redirects: 10,
            error_for_status: false,
            default_headers: HeaderMap::new(),
            user_agent: crate::USER_AGENT.to_string(),
            pool_idle_timeout: Some(Duration::from_secs(90)),
            retry: RetryPolicy::default(),
            http_cache: None,
            allow_http: false,
            credential_headers: Vec::new(),
        }
    }

    /// The base URL: relative request URLs join here, and the credential is sent only to
    /// its origin and path prefix. A base without a trailing `/` gets one, so that
    /// `https://h/api` + `users` is `https://h/api/users` (what people mean).
    pub fn base_url(mut self, url: &str) -> Result<Self> {
        let mut u = Url::parse(url).map_err(|e| Error::config(format!("base URL `{url}` is not a valid URL: {e}")))?;
        if !matches!(u.scheme(), "http" | "https") || !u.has_host() {
            return Err(Error::config(format!(
                "base URL `{url}` must be an http:// or https:// URL with a host"
            )));
        }
        if u.query().is_some() || u.fragment().is_some() {
            return Err(Error::config(format!(
                "base URL `{url}` must not have a query or fragment"
            )));
        }
        if !u.path().ends_with('/') {
            let p = format!("{}/", u.path());
            u.set_path(&p);
        }
        self.base = Some(u);
        Ok(self)
    }

    /// Sets the base URL from a parsed URL.
    pub fn base(self, url: Url) -> Result<Self> {
        self.base_url(url.as_str())
    }

    /// The credential to attach within the base URL's scope.
    pub fn credential(mut self, credential: impl Credential) -> Self {
        self.credential = Some(Arc::new(credential));
        self
    }

    /// The credential, shared.
    pub fn credential_arc(mut self, credential: Arc<dyn Credential>) -> Self {
        self.credential = Some(credential);
        self
    }

    /// Total time allowed for one request, `None` for none (streaming downloads): the
    /// deadline of the whole call, retries, redirects and the 401 resend included (to
    /// within a millisecond).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time allowed to connect (TCP and TLS).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Adds a PEM file of trust anchors to the system roots.
    pub fn ca_bundle(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.ca_bundles.push(path.into());
        self
    }

    /// Adds trust anchors given as PEM text.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.ca_pems.push(pem.into());
        self
    }

    /// Disables TLS certificate verification for this session only. Every request made
    /// with it logs a warning.
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.tls.insecure = insecure;
        self
    }

    /// Lets the credential travel over plain `http://` to a host that is not loopback.
    /// Without it (or [`insecure`](Self::insecure)) such a session is refused at
    /// [`build`](Self::build): RFC 6750 §5.3 and RFC 9700 require TLS for bearer tokens,
    /// and a cleartext credential is readable and replayable by anyone on the path.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Marks a request header as a credential when it is set by hand
    /// ([`RequestBuilder::header`](super::RequestBuilder::header)): it is dropped on a
    /// redirect that leaves the origin, keys the HTTP cache (hashed), and is redacted in
    /// logs. `Authorization`, `Proxy-Authorization`, `Cookie`, the API-key header and the
    /// names that look like credentials (`*token*`, `*secret*`, …) always are.
    pub fn credential_header(mut self, name: &str) -> Result<Self> {
        let n = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| Error::config(format!("`{name}` is not a valid header name (credential_headers)")))?;
        if !self.credential_headers.contains(&n) {
            self.credential_headers.push(n);
        }
        Ok(self)
    }

    /// The redirect policy.
    pub fn redirects(mut self, policy: RedirectPolicy) -> Self {
        self.redirect = policy;
        self
    }

    /// The most redirects followed for one request.
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.max_redirects = n;
        self
    }

    /// Turn responses with a status ≥ 400 into [`Error`]s carrying the server's message
    /// (off by default in the library, on in the CLI).
    pub fn error_for_status(mut self, on: bool) -> Self {
        self.error_for_status = on;
        self
    }

    /// [`error_for_status`](Self::error_for_status) under the name of the profile key
    /// `raise_for_status` (and of igwn-auth-utils' and the Python package's argument).
    pub fn raise_for_status(self, on: bool) -> Self {
        self.error_for_status(on)
    }

    /// A header sent with every request (to any origin: do not put credentials here).
    pub fn default_header(mut self, name: &str, value: &str) -> Result<Self> {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::config(format!("`{name}` is not a valid header name")))?;
        let v =
            HeaderValue::from_str(value).map_err(|_| Error::config(format!("invalid value for header `{name}`")))?;
        self.default_headers.insert(n, v);
        Ok(self)
    }

    /// Replaces the `User-Agent` (default `sesame/<version>`).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// How long idle pooled connections are kept.
    pub fn pool_idle_timeout(mut self, d: Option<Duration>) -> Self {
        self.pool_idle_timeout = d;
        self
    }

    /// Retries of idempotent requests (default 2; see [`RetryPolicy`]).
    pub fn retries(mut self, n: u32) -> Self {
        self.retry = self.retry.with_max_retries(n);
        self
    }

    /// The whole retry policy (backoff, `Retry-After` cap, budget, jitter).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Also retry non-idempotent requests (POST, PATCH) on retryable statuses and broken
    /// connections: only for APIs whose unsafe requests may be repeated.
    pub fn retry_non_idempotent(mut self, on: bool) -> Self {
        self.retry = self.retry.retry_non_idempotent(on);
        self
    }

    /// An RFC 9111 response cache for GET requests (see [`HttpCache`]).
    pub fn http_cache(mut self, cache: Option<HttpCache>) -> Self {
        self.http_cache = cache;
        self
    }

    /// Builds the session: loads TLS material, asks the credential for a TLS identity.
    pub fn build(self) -> Result<Session> {
        let identity = match &self.credential {
            Some(c) => c.tls_identity()?,
            None => None,
        };
        let recipe = ClientRecipe {
            user_agent: self.user_agent.clone(),
            connect_timeout: self.connect_timeout,
            pool_idle_timeout: self.pool_idle_timeout,
            default_headers: self.default_headers.clone(),
            timeout: self.timeout,
            tls: self.tls.load()?,
            identity,
        };
        let clients = recipe.build()?;
        if self.tls.insecure {
            tracing::warn!(target: "sesame::insecure", "TLS certificate verification is DISABLED for this session (insecure = true)");
        }
        let scope = self.base.as_ref().and_then(CredentialScope::from_base);
        if self.credential.is_some() && scope.is_none() {
            return Err(
                Error::config("a credential needs a base URL (`base_url`) to scope it to")
                    .with_hint(crate::Hint::SetKey("base_url")),
            );
        }
        if let (Some(_), Some(base)) = (&self.credential, &self.base)
            && base.scheme() == "http"
            && !crate::scope::is_loopback(base)
            && !self.allow_http
            && !self.tls.insecure
        {
            // Known before anything is sent: refusing here means the first request never
            // puts the credential on the wire in clear.
            return Err(Error::config(format!(
                "base URL `{}` is plain http:// to a host that is not loopback: the credential would \
                 cross the network unencrypted, readable and replayable by anyone on the path \
                 (RFC 6750 §5.3). Use an https:// base URL, or set `allow_http = true` in the \
                 profile to accept that risk",
                crate::redact::redact_url(base)
            )));
        }
        let mut credential_headers = self.credential_headers;
        // The credential's own header (an API key's `api_key_header`) is a credential
        // when a caller also sets it by hand.
        if let Some(c) = &self.credential
            && let Some((_, h)) = c.info().details.iter().find(|(k, _)| k == "header")
            && let Ok(n) = HeaderName::from_bytes(h.as_bytes())
            && !credential_headers.contains(&n)
        {
            credential_headers.push(n);
        }
        Ok(Session {
            inner: Arc::new(Inner {
                base: self.base,
                scope,
                credential: self.credential,
                clients,
                recipe: Arc::new(recipe),
                credential_runtime: None,
                redirect: self.redirect,
                max_redirects: self.max_redirects,
                error_for_status: self.error_for_status,
                insecure: self.tls.insecure,
                timeout: self.timeout,
                retry: self.retry,
                http_cache: self.http_cache,
                credential_headers,
            }),
        })
    }
}
