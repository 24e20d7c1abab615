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
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use reqwest_middleware::{Middleware, Next};
use url::Url;

use crate::credential::{AuthRequest, Credential, Rejection};
use crate::redact::redact_url;
use crate::scope::CredentialScope;
use crate::session::{NextMethod, RedirectPolicy, next_method};

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

    async fn attach(
        &self,
        req: &mut reqwest::Request,
    ) -> reqwest_middleware::Result<Option<crate::credential::Attachment>> {
        if !self.scope.covers(req.url()) {
            return Ok(None);
        }
        let method = req.method().clone();
        let url = req.url().clone();
        let mut headers = HeaderMap::new();
        let attachment = self
            .credential
            .attach(
                &AuthRequest {
                    method: &method,
                    url: &url,
                },
                &mut headers,
            )
            .await
            .map_err(wrap)?;
        for (k, mut v) in headers {
            if let Some(k) = k {
                v.set_sensitive(true);
                req.headers_mut().insert(k, v);
            }
        }
        Ok(Some(attachment))
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
        let mut retried_after_401 = false;
        let mut hops = 0usize;
        loop {
            // The request as the caller made it, before any credential: the 401 resend and
            // the next hop start from it (`None` for a streaming body, which cannot be
            // replayed).
            let spare = req.try_clone();
            let method = req.method().clone();
            let url = req.url().clone();
            let attachment = m.attach(&mut req).await?;
            let resp = next.clone().run(req, extensions).await?;
            let status = resp.status();

            if status == StatusCode::UNAUTHORIZED
                && !retried_after_401
                && let (Some(att), Some(again)) = (&attachment, spare.as_ref().and_then(|r| r.try_clone()))
            {
                let challenge = resp
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let info = AuthRequest {
                    method: &method,
                    url: &url,
                };
                if m.credential
                    .rejected(&info, att, challenge.as_deref())
                    .await
                    .map_err(wrap)?
                    == Rejection::Retry
                {
                    retried_after_401 = true;
                    req = again;
                    continue;
                }
                return Ok(resp);
            }

            let Some(target) = redirect_target(&resp, &url) else {
                return Ok(resp);
            };
            let cross_origin = !CredentialScope::origin_of(&url).is_some_and(|o| o.same_origin(&target));
            let follow = match m.redirect {
                RedirectPolicy::None => false,
                RedirectPolicy::SameOrigin => !cross_origin,
                RedirectPolicy::All => true,
            };
            let (true, Some(rule), Some(mut hop)) = (follow, next_method(status, &method), spare) else {
                return Ok(resp);
            };
            hops += 1;
            if hops > m.max_redirects {
                return Err(wrap(crate::Error::new(
                    crate::ErrorKind::Transport,
                    format!(
                        "{method} {}: more than {} redirects; the server may be redirecting in a loop",
                        redact_url(&url),
                        m.max_redirects
                    ),
                )));
            }
            *hop.url_mut() = target;
            if let NextMethod::Get = rule {
                *hop.method_mut() = Method::GET;
                *hop.body_mut() = None;
                hop.headers_mut().remove(CONTENT_TYPE);
                hop.headers_mut().remove(CONTENT_LENGTH);
            }
            if cross_origin {
                let drop: Vec<HeaderName> = hop
                    .headers()
                    .keys()
                    .filter(|k| m.is_credential_header(k))
                    .cloned()
                    .collect();
                for k in drop {
                    hop.headers_mut().remove(&k);
                }
            }
            tracing::debug!(
                status = status.as_u16(),
                from = %redact_url(&url),
                to = %redact_url(hop.url()),
                cross_origin,
                "following redirect"
            );
            req = hop;
        }
    }
}

fn redirect_target(resp: &reqwest::Response, current: &Url) -> Option<Url> {
    if !resp.status().is_redirection() {
        return None;
    }
    let loc = resp.headers().get(LOCATION)?.to_str().ok()?;
    let next = current.join(loc).ok()?;
    matches!(next.scheme(), "http" | "https").then_some(next)
}
