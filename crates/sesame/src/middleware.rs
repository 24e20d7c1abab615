//! sesame credentials for a [`reqwest_middleware`] client: the same scoping (origin and
//! path prefix, judged on every redirect hop) and the same single 401 retry as a
//! [`Session`](crate::Session), for code that keeps its own HTTP client.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use sesame::middleware::CredentialMiddleware;
//! let session = sesame::Session::builder()
//!     .base_url("https://api.example.com/v1/")?
//!     .credential(sesame::credential::Bearer::new("token"))
//!     .build()?;
//! let client = CredentialMiddleware::from_session(&session)
//!     .expect("session has a credential")
//!     .client_builder(reqwest::Client::builder())?
//!     // more middleware may follow: it runs inside, once per hop
//!     .build();
//! let resp = client.get("https://api.example.com/v1/items").send().await?;
//! # let _ = resp; Ok(()) }
//! ```
//!
//! **Why the middleware builds the client.** A middleware only sees what the client hands
//! it: when reqwest follows a redirect itself, the hops happen below the middleware, with
//! the headers it attached to the first request — and reqwest strips only
//! `Authorization`, `Cookie` and `Proxy-Authorization`, and only when the host or port
//! changes (not on `https` → `http`). An `X-API-Key` would follow a 302 to any origin. The
//! middleware cannot ask a [`reqwest::Client`] whether it follows redirects, so it does
//! not take one: [`CredentialMiddleware::client_builder`] builds the client with
//! reqwest's following off and puts the middleware first in the stack, and the middleware
//! follows redirects itself under its [`RedirectPolicy`], attaching the credential afresh
//! on each hop that is in scope and dropping hand-set credential headers on each hop that
//! leaves the origin. There is no public way to put it on a client it did not build (see
//! docs/design/origin-scoping.md).

use std::sync::Arc;

use async_trait::async_trait;
use http::Extensions;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName};
use reqwest::{Method, StatusCode};
use reqwest_middleware::{Middleware, Next};

use crate::credential::Credential;
use crate::credential::exchange::{AuthExchange, challenge};
use crate::redact::redact_url;
use crate::scope::CredentialScope;
use crate::session::{NextMethod, RedirectPolicy, drop_credential_headers, next_hop, too_many};

/// Attaches a credential to requests within its scope, follows redirects judging each hop,
/// renews once on 401. Use it through [`CredentialMiddleware::client_builder`].
#[derive(Debug, Clone)]
pub struct CredentialMiddleware {
    credential: Arc<dyn Credential>,
    scope: CredentialScope,
    redirect: RedirectPolicy,
    max_redirects: usize,
    credential_headers: Vec<HeaderName>,
}

impl CredentialMiddleware {
    /// The credential, scope, redirect policy and credential header names of a session
    /// (`None` if it has no credential).
    pub fn from_session(session: &crate::Session) -> Option<Self> {
        Some(CredentialMiddleware {
            credential: session.credential()?.clone(),
            scope: session.scope()?.clone(),
            redirect: session.redirect_policy(),
            max_redirects: session.max_redirects(),
            credential_headers: session.credential_headers().to_vec(),
        })
    }

    /// A credential scoped to a base URL; same-origin redirects, at most 10.
    pub fn new(credential: Arc<dyn Credential>, base_url: &url::Url) -> Option<Self> {
        Some(CredentialMiddleware {
            credential,
            scope: CredentialScope::from_base(base_url)?,
            redirect: RedirectPolicy::default(),
            max_redirects: 10,
            credential_headers: Vec::new(),
        })
    }

    /// Which redirects to follow (credentials still never leave the scope).
    pub fn redirects(mut self, policy: RedirectPolicy) -> Self {
        self.redirect = policy;
        self
    }

    /// Builds `client` with reqwest's redirect following turned off (the middleware follows
    /// them, hop by hop) and returns a middleware client builder with this middleware
    /// first; add further middleware to it as usual.
    pub fn client_builder(self, client: reqwest::ClientBuilder) -> crate::Result<reqwest_middleware::ClientBuilder> {
        let client = client
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| crate::Error::config(format!("cannot build the HTTP client: {}", e.without_url())))?;
        Ok(reqwest_middleware::ClientBuilder::new(client).with(Guarded(self)))
    }

    fn is_credential_header(&self, name: &HeaderName) -> bool {
        crate::redact::is_sensitive_header(name, &self.credential_headers)
    }

    /// The exchange's attach stage on a reqwest request: the credential's headers when the
    /// hop is in scope.
    async fn attach(
        &self,
        exchange: &mut AuthExchange<'_>,
        req: &mut reqwest::Request,
    ) -> reqwest_middleware::Result<()> {
        let (method, url) = (req.method().clone(), req.url().clone());
        let mut headers = HeaderMap::new();
        exchange.attach(&method, &url, &mut headers).await.map_err(wrap)?;
        for (k, v) in headers {
            if let Some(k) = k {
                req.headers_mut().insert(k, v);
            }
        }
        Ok(())
    }

    /// The redirect stage: the next hop, made from the request as the caller made it
    /// (`None` for a streaming body, which cannot be replayed), or `None` to hand the
    /// response back.
    fn redirect(
        &self,
        spare: Option<reqwest::Request>,
        resp: &reqwest::Response,
        hops: &mut usize,
    ) -> reqwest_middleware::Result<Option<reqwest::Request>> {
        let Some(mut hop) = spare else {
            return Ok(None);
        };
        let (method, url) = (hop.method(), hop.url());
        let Some(next) = next_hop(self.redirect, resp.status(), method, url, resp.headers()) else {
            return Ok(None);
        };
        *hops += 1;
        if *hops > self.max_redirects {
            return Err(wrap(too_many(method, url, self.max_redirects)));
        }
        tracing::debug!(
            status = resp.status().as_u16(),
            from = %redact_url(url),
            to = %redact_url(&next.url),
            cross_origin = next.cross_origin,
            "following redirect"
        );
        *hop.url_mut() = next.url;
        if let NextMethod::Get = next.rule {
            *hop.method_mut() = Method::GET;
            *hop.body_mut() = None;
            hop.headers_mut().remove(CONTENT_TYPE);
            hop.headers_mut().remove(CONTENT_LENGTH);
        }
        if next.cross_origin {
            drop_credential_headers(hop.headers_mut(), |k| self.is_credential_header(k));
        }
        Ok(Some(hop))
    }
}

fn wrap(e: crate::Error) -> reqwest_middleware::Error {
    reqwest_middleware::Error::middleware(e)
}

/// The middleware as installed by [`CredentialMiddleware::client_builder`], on a client
/// that follows no redirects. Private, so that it cannot be put on any other client.
struct Guarded(CredentialMiddleware);

#[async_trait]
impl Middleware for Guarded {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let m = &self.0;
        let mut req = req;
        let mut exchange = AuthExchange::new(Some(&*m.credential), Some(&m.scope));
        let mut hops = 0usize;
        loop {
            // The request as the caller made it, before any credential: the 401 resend and
            // the next hop start from it (`None` for a streaming body, which cannot be
            // replayed).
            let spare = req.try_clone();
            let (method, url) = (req.method().clone(), req.url().clone());
            m.attach(&mut exchange, &mut req).await?;
            let resp = next.clone().run(req, extensions).await?;
            if resp.status() == StatusCode::UNAUTHORIZED
                && let Some(again) = spare.as_ref().and_then(|r| r.try_clone())
                && exchange
                    .on_response(&method, &url, resp.status(), challenge(resp.headers()))
                    .await
                    .map_err(wrap)?
                    .resend()
            {
                req = again;
                continue;
            }
            match m.redirect(spare, &resp, &mut hops)? {
                Some(hop) => req = hop,
                None => return Ok(resp),
            }
        }
    }
}
