//! sesame credentials for any [`reqwest_middleware`] client: the same scoping (origin and
//! path prefix) and the same single 401 retry as a [`Session`](crate::Session), for code
//! that keeps its own HTTP client.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use sesame::middleware::CredentialMiddleware;
//! let session = sesame::Session::builder()
//!     .base_url("https://api.example.com/v1/")?
//!     .credential(sesame::credential::Bearer::new("token"))
//!     .build()?;
//! // Follow no redirects in reqwest: it only strips `Authorization` on its own.
//! let inner = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
//! let client = reqwest_middleware::ClientBuilder::new(inner)
//!     .with(CredentialMiddleware::from_session(&session).expect("session has a credential"))
//!     .build();
//! let resp = client.get("https://api.example.com/v1/items").send().await?;
//! # let _ = resp; Ok(()) }
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use http::Extensions;
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use reqwest_middleware::{Middleware, Next};

use crate::credential::{AuthRequest, Credential, Rejection};
use crate::scope::CredentialScope;

/// Attaches a credential to requests within its scope; renews once on 401.
#[derive(Debug, Clone)]
pub struct CredentialMiddleware {
    credential: Arc<dyn Credential>,
    scope: CredentialScope,
}

impl CredentialMiddleware {
    /// The credential and scope of a session (`None` if it has no credential).
    pub fn from_session(session: &crate::Session) -> Option<Self> {
        Some(CredentialMiddleware {
            credential: session.credential()?.clone(),
            scope: session.scope()?.clone(),
        })
    }

    /// A credential scoped to a base URL.
    pub fn new(credential: Arc<dyn Credential>, base_url: &url::Url) -> Option<Self> {
        Some(CredentialMiddleware {
            credential,
            scope: CredentialScope::from_base(base_url)?,
        })
    }
}

fn wrap(e: crate::Error) -> reqwest_middleware::Error {
    reqwest_middleware::Error::middleware(e)
}

#[async_trait]
impl Middleware for CredentialMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        if !self.scope.covers(req.url()) {
            return next.run(req, extensions).await;
        }
        let spare = req.try_clone();
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
        let resp = next.clone().run(req, extensions).await?;
        if resp.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let Some(mut again) = spare else { return Ok(resp) };
        let challenge = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let req_info = AuthRequest {
            method: &method,
            url: &url,
        };
        if self
            .credential
            .rejected(&req_info, &attachment, challenge.as_deref())
            .await
            .map_err(wrap)?
            != Rejection::Retry
        {
            return Ok(resp);
        }
        let mut headers = HeaderMap::new();
        self.credential.attach(&req_info, &mut headers).await.map_err(wrap)?;
        for (k, mut v) in headers {
            if let Some(k) = k {
                v.set_sensitive(true);
                again.headers_mut().insert(k, v);
            }
        }
        next.run(again, extensions).await
    }
}
