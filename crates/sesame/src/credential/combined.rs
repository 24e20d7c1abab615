//! Several credentials at once: a token header plus an X.509 client certificate, as grid
//! services expect (docs/credentials.md `discover`).

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::header::HeaderMap;

use super::{Attachment, AuthRequest, Credential, CredentialInfo, Rejection};
use crate::Result;

/// Attaches each of its parts in order. The TLS identity is the first part's that has one;
/// a 401 is passed to every part and retried if any of them renewed itself.
#[derive(Debug, Clone)]
pub struct Combined {
    parts: Vec<Arc<dyn Credential>>,
}

impl Combined {
    /// Combines credentials.
    pub fn new(parts: Vec<Arc<dyn Credential>>) -> Self {
        Combined { parts }
    }
}

#[async_trait]
impl Credential for Combined {
    async fn attach(&self, req: &AuthRequest<'_>, headers: &mut HeaderMap) -> Result<Attachment> {
        let mut first = Attachment::default();
        for (i, p) in self.parts.iter().enumerate() {
            let a = p.attach(req, headers).await?;
            if i == 0 {
                first = a;
            }
        }
        Ok(first)
    }

    async fn rejected(
        &self,
        req: &AuthRequest<'_>,
        attachment: &Attachment,
        challenge: Option<&str>,
    ) -> Result<Rejection> {
        let mut decision = Rejection::GiveUp;
        for (i, p) in self.parts.iter().enumerate() {
            let a = if i == 0 {
                attachment.clone()
            } else {
                Attachment::default()
            };
            if p.rejected(req, &a, challenge).await? == Rejection::Retry {
                decision = Rejection::Retry;
            }
        }
        Ok(decision)
    }

    async fn token(&self, min_valid: std::time::Duration, force: bool) -> Result<Option<crate::token::Token>> {
        for p in &self.parts {
            if let Some(t) = p.token(min_valid, force).await? {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }

    fn cached_token(&self) -> Option<crate::token::Token> {
        self.parts.iter().find_map(|p| p.cached_token())
    }

    fn as_oauth(&self) -> Option<&super::OAuth> {
        self.parts.iter().find_map(|p| p.as_oauth())
    }

    fn tls_identity(&self) -> Result<Option<reqwest::Identity>> {
        for p in &self.parts {
            if let Some(id) = p.tls_identity()? {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    fn info(&self) -> CredentialInfo {
        let kinds: Vec<String> = self.parts.iter().map(|p| p.info().kind).collect();
        let mut info = CredentialInfo::new(kinds.join("+"));
        for p in &self.parts {
            info.details.extend(p.info().details);
        }
        info
    }
}

/// A credential that must attach something: a request for which `inner` has neither a
/// header nor a TLS identity fails before it is sent (`fail_if_noauth` for netrc, whose
/// file may have no entry for the request's host).
#[derive(Debug, Clone)]
pub struct RequireAny {
    inner: Arc<dyn Credential>,
}

impl RequireAny {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Credential>) -> Self {
        RequireAny { inner }
    }
}

#[async_trait]
impl Credential for RequireAny {
    async fn attach(&self, req: &AuthRequest<'_>, headers: &mut HeaderMap) -> Result<Attachment> {
        let a = self.inner.attach(req, headers).await?;
        if headers.is_empty() && self.inner.tls_identity()?.is_none() {
            return Err(super::super::error::CredentialError::Config(format!(
                "no credential for {} ({} found nothing for this host) and fail_if_noauth is set; nothing was sent",
                req.url.host_str().unwrap_or_default(),
                self.inner.info().kind
            ))
            .into());
        }
        Ok(a)
    }

    async fn rejected(
        &self,
        req: &AuthRequest<'_>,
        attachment: &Attachment,
        challenge: Option<&str>,
    ) -> Result<Rejection> {
        self.inner.rejected(req, attachment, challenge).await
    }

    async fn token(&self, min_valid: std::time::Duration, force: bool) -> Result<Option<crate::token::Token>> {
        self.inner.token(min_valid, force).await
    }

    fn cached_token(&self) -> Option<crate::token::Token> {
        self.inner.cached_token()
    }

    fn as_oauth(&self) -> Option<&super::OAuth> {
        self.inner.as_oauth()
    }

    fn tls_identity(&self) -> Result<Option<reqwest::Identity>> {
        self.inner.tls_identity()
    }

    fn info(&self) -> CredentialInfo {
        let mut info = self.inner.info();
        info.details.push(("fail_if_noauth".into(), "true".into()));
        info
    }
}
