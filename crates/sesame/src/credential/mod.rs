//! Credentials: what a [`Session`](crate::Session) attaches to the requests it sends
//! within its scope.
//!
//! A [`Credential`] is asked to [`attach`](Credential::attach) itself to each request
//! about to be sent to the session's origin and path prefix. It writes headers into an
//! empty map (so the session knows exactly which headers are credential headers and can
//! keep every one of them — not only `Authorization` — from crossing origins), may supply a
//! TLS client identity, and is told when the server rejects it with a 401.
//!
//! Implemented here: [`Basic`], [`Bearer`], [`ApiKey`], [`Netrc`], [`X509`], [`Discover`]
//! (grid token and certificate discovery), and
//! [`FnCredential`] for closures. Implement the trait yourself for anything else (the
//! equivalent of Python's `requests.auth.AuthBase`).

mod api_key;
mod basic;
mod bearer;
mod combined;
mod custom;
pub mod exchange;
pub mod grid;
pub mod interactive;
mod netrc;
pub mod oauth;
mod uma;
mod web_users;
pub use crate::transport::www_authenticate;
mod x509;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use reqwest::header::HeaderMap;
use url::Url;

pub use api_key::{ApiKey, DEFAULT_HEADER as API_KEY_DEFAULT_HEADER};
pub use basic::Basic;
pub use bearer::Bearer;
pub use combined::{Combined, RequireAny};
pub use custom::FnCredential;
pub use exchange::{AuthExchange, ExchangeState, Step};
pub use grid::tokens::Discover;
pub use grid::{X509Discovery, discover_x509, enable_proxy_client_certificates};
pub use interactive::{
    BrowserLaunch, DevicePrompt, InteractiveLogin, LoginMethod, LoginOptions, LoginOutcome, LoginUi, Waiting,
};
pub use netrc::{Netrc, NetrcEntry};
pub use oauth::OAuth;
pub use uma::Uma;
pub use web_users::WebUsers;
pub use x509::{X509, X509Info};

use crate::Result;
use crate::token::Token;

/// The request a credential is asked to authenticate.
#[derive(Debug, Clone, Copy)]
pub struct AuthRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// The full URL (always within the session's scope).
    pub url: &'a Url,
}

/// What a credential attached to one request, handed back to
/// [`Credential::rejected`] so the credential can tell whether the rejected value is still
/// the current one (compare-and-swap: a 401 for an old token must not discard a new one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    /// An identifier of the attached value (a token generation or fingerprint); 0 when the
    /// credential does not track one.
    pub id: u64,
}

/// What the session should do after a credential was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The credential cannot do better: return the 401 to the caller.
    GiveUp,
    /// The credential renewed itself: attach again and resend once.
    Retry,
}

/// A short, secret-free description of a credential, for `sesame status` and logs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CredentialInfo {
    /// The auth kind (`basic`, `bearer`, `api-key`, `netrc`, `x509`, `custom`, …).
    pub kind: String,
    /// Non-secret details as key/value pairs (username, header name, certificate subject).
    pub details: Vec<(String, String)>,
}

impl CredentialInfo {
    /// A description with a kind and no details.
    pub fn new(kind: impl Into<String>) -> Self {
        CredentialInfo {
            kind: kind.into(),
            details: Vec::new(),
        }
    }

    /// Adds a detail.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.details.push((key.into(), value.into()));
        self
    }
}

/// Something that authenticates requests. Implementations must keep secrets out of their
/// `Debug` output.
#[async_trait]
pub trait Credential: Send + Sync + fmt::Debug + 'static {
    /// Adds what this credential needs to `headers` (an empty map; anything written there
    /// is treated as a credential header and never sent outside the session's scope).
    async fn attach(&self, request: &AuthRequest<'_>, headers: &mut HeaderMap) -> Result<Attachment>;

    /// The server answered 401 to a request that carried `attachment`.
    /// `challenge` is the `WWW-Authenticate` header, if any. Return
    /// [`Rejection::Retry`] only if attaching again may succeed (a renewed token); the
    /// session resends at most once.
    async fn rejected(
        &self,
        _request: &AuthRequest<'_>,
        _attachment: &Attachment,
        _challenge: Option<&str>,
    ) -> Result<Rejection> {
        Ok(Rejection::GiveUp)
    }

    /// A TLS client identity (certificate chain and key) to present to servers in scope.
    fn tls_identity(&self) -> Result<Option<reqwest::Identity>> {
        Ok(None)
    }

    /// A secret-free description.
    fn info(&self) -> CredentialInfo {
        CredentialInfo::new("custom")
    }

    /// The bearer token this credential attaches, valid for at least `min_valid` (renewed
    /// first if needed; `force_refresh` renews regardless), for tools that need the token
    /// itself: `sesame token`, `sesame exec`, bearer-token files. `Ok(None)` for
    /// credentials that are not tokens (basic, netrc, X.509).
    async fn token(&self, _min_valid: Duration, _force_refresh: bool) -> Result<Option<Token>> {
        Ok(None)
    }

    /// The token held now, without any network (for `status`), if this is a token
    /// credential that has one.
    fn cached_token(&self) -> Option<Token> {
        None
    }

    /// This credential as an OAuth credential (for login, logout, introspection).
    fn as_oauth(&self) -> Option<&OAuth> {
        None
    }
}
