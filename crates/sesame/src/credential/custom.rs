//! A credential from a closure, for one-off schemes (signed headers, tenant ids).

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::header::HeaderMap;

use super::{Attachment, AuthRequest, Credential, CredentialInfo};
use crate::Result;

type AttachFn = dyn Fn(&AuthRequest<'_>, &mut HeaderMap) -> Result<()> + Send + Sync;

/// A credential whose `attach` is a closure.
///
/// ```
/// use sesame::credential::FnCredential;
/// let cred = FnCredential::new("tenant", |_req, headers| {
///     headers.insert("x-tenant", "physics".parse().unwrap());
///     Ok(())
/// });
/// # let _ = cred;
/// ```
#[derive(Clone)]
pub struct FnCredential {
    kind: String,
    f: Arc<AttachFn>,
}

impl FnCredential {
    /// A credential named `kind` (shown by `status`) that runs `f` for each request in scope.
    pub fn new<F>(kind: impl Into<String>, f: F) -> Self
    where
        F: Fn(&AuthRequest<'_>, &mut HeaderMap) -> Result<()> + Send + Sync + 'static,
    {
        FnCredential {
            kind: kind.into(),
            f: Arc::new(f),
        }
    }
}

impl std::fmt::Debug for FnCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnCredential")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Credential for FnCredential {
    async fn attach(&self, req: &AuthRequest<'_>, headers: &mut HeaderMap) -> Result<Attachment> {
        (self.f)(req, headers)?;
        Ok(Attachment::default())
    }

    fn info(&self) -> CredentialInfo {
        CredentialInfo::new(self.kind.clone())
    }
}
