//! One auth exchange: the protocol between a request and its credential, written once and
//! driven by every sender — [`Session`](crate::Session)'s send path,
//! [`CredentialMiddleware`](crate::middleware::CredentialMiddleware) and the Python
//! `requests` / `httpx` adapters (through the binding) — so that scoping, the 401 handling
//! and UMA cannot drift apart between them.
//!
//! ```text
//!            attach (each hop)                      on_response (status, WWW-Authenticate)
//! ready ──────────────────────────▶ sent ─────────────────────────────────────────────────▶ Done
//!   ▲   in scope: the credential's headers          │ 401 to a request that carried it,
//!   │   out of scope: nothing                       │ first time, and the credential says:
//!   │                                               ├─ renewed        → RenewAndResend
//!   └──────────── attach again, resend ◀────────────┴─ UMA ticket     → UmaTicket (an RPT now)
//! ```
//!
//! A call resends at most once after a 401, whatever the credential says and however many
//! redirect hops it takes; a second 401 is [`Step::Done`]. The sender does the sending,
//! the redirects and the header bookkeeping of its own HTTP stack; the exchange decides.

use reqwest::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use url::Url;

use super::{Attachment, AuthRequest, Credential, Rejection};
use crate::Result;
use crate::redact::redact_url;
use crate::scope::CredentialScope;

/// What the sender does after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Hand the response on (to the redirect stage, then the caller).
    Done,
    /// The credential renewed itself after a 401: attach again and resend, once.
    RenewAndResend,
    /// The 401 carried a UMA permission ticket and the credential exchanged it for an RPT:
    /// attach again (the RPT now) and resend, once.
    UmaTicket,
}

impl Step {
    /// Whether the request is to be attached again and resent.
    pub fn resend(self) -> bool {
        self != Step::Done
    }

    /// The step's name (`done`, `renew-and-resend`, `uma-ticket`), for bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Done => "done",
            Step::RenewAndResend => "renew-and-resend",
            Step::UmaTicket => "uma-ticket",
        }
    }
}

/// Where an exchange stands between two calls, for a sender that cannot keep the
/// [`AuthExchange`] itself alive across them (a binding's request object).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExchangeState {
    attachment: Option<Attachment>,
    resent: bool,
}

impl ExchangeState {
    /// Whether the credential went with the last request attached.
    pub fn attached(&self) -> bool {
        self.attachment.is_some()
    }
}

/// One request's auth exchange (see the [module documentation](self)).
#[derive(Debug)]
pub struct AuthExchange<'a> {
    credential: Option<&'a dyn Credential>,
    scope: Option<&'a CredentialScope>,
    state: ExchangeState,
}

impl<'a> AuthExchange<'a> {
    /// An exchange for a request that may carry `credential` within `scope` (neither: it
    /// never attaches anything).
    pub fn new(credential: Option<&'a dyn Credential>, scope: Option<&'a CredentialScope>) -> Self {
        Self::resume(credential, scope, ExchangeState::default())
    }

    /// An exchange picked up where [`state`](Self::state) left it.
    pub fn resume(
        credential: Option<&'a dyn Credential>,
        scope: Option<&'a CredentialScope>,
        state: ExchangeState,
    ) -> Self {
        AuthExchange {
            credential,
            scope,
            state,
        }
    }

    /// Where the exchange stands.
    pub fn state(&self) -> ExchangeState {
        self.state.clone()
    }

    /// Whether the credential may be sent to `url`.
    pub fn covers(&self, url: &Url) -> bool {
        self.credential.is_some() && self.scope.is_some_and(|s| s.covers(url))
    }

    /// Attaches the credential to one hop within the scope: its headers are written into
    /// `headers` (an empty map, so that the sender knows exactly which headers are the
    /// credential's), marked sensitive. Returns whether the hop is in scope; a hop out of
    /// scope gets nothing, and a 401 to it is [`Step::Done`].
    pub async fn attach(&mut self, method: &Method, url: &Url, headers: &mut HeaderMap) -> Result<bool> {
        self.state.attachment = None;
        let Some(credential) = self.credential.filter(|_| self.covers(url)) else {
            return Ok(false);
        };
        let attachment = credential.attach(&AuthRequest { method, url }, headers).await?;
        for v in headers.values_mut() {
            v.set_sensitive(true);
        }
        self.state.attachment = Some(attachment);
        Ok(true)
    }

    /// The credential, when it went with the last hop attached.
    pub fn attached(&self) -> Option<&'a dyn Credential> {
        self.credential.filter(|_| self.state.attachment.is_some())
    }

    /// The verdict on a response to the last hop attached: on the first 401 to a hop that
    /// carried the credential, the credential is told (with the `WWW-Authenticate`
    /// challenge) and decides whether one resend may succeed.
    pub async fn on_response(
        &mut self,
        method: &Method,
        url: &Url,
        status: StatusCode,
        challenge: Option<&str>,
    ) -> Result<Step> {
        if status != StatusCode::UNAUTHORIZED || self.state.resent {
            return Ok(Step::Done);
        }
        let (Some(credential), Some(attachment)) = (self.credential, self.state.attachment.as_ref()) else {
            return Ok(Step::Done);
        };
        let request = AuthRequest { method, url };
        if credential.rejected(&request, attachment, challenge).await? == Rejection::GiveUp {
            return Ok(Step::Done);
        }
        self.state.resent = true;
        let step = if challenge.is_some_and(carries_uma_ticket) {
            tracing::debug!(url = %redact_url(url), "UMA ticket exchanged for an RPT after 401; resending once");
            Step::UmaTicket
        } else {
            tracing::debug!(url = %redact_url(url), "credential renewed after 401; resending once");
            Step::RenewAndResend
        };
        Ok(step)
    }
}

/// The `WWW-Authenticate` header of a response, if it is text.
pub fn challenge(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(WWW_AUTHENTICATE)
        .and_then(|v: &HeaderValue| v.to_str().ok())
}

fn carries_uma_ticket(challenge: &str) -> bool {
    super::www_authenticate::parse(challenge)
        .iter()
        .any(|c| c.scheme == "uma" && c.param("ticket").is_some_and(|t| !t.is_empty()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use async_trait::async_trait;

    use super::*;

    /// Renews on every 401 and counts what it is asked.
    #[derive(Debug, Default)]
    struct Renewing {
        attached: AtomicU32,
        rejected: AtomicU32,
    }

    #[async_trait]
    impl Credential for Renewing {
        async fn attach(&self, _r: &AuthRequest<'_>, headers: &mut HeaderMap) -> Result<Attachment> {
            let n = self.attached.fetch_add(1, Ordering::SeqCst);
            headers.insert("x-key", HeaderValue::from_static("secret"));
            Ok(Attachment { id: n as u64 })
        }
        async fn rejected(&self, _r: &AuthRequest<'_>, _a: &Attachment, _c: Option<&str>) -> Result<Rejection> {
            self.rejected.fetch_add(1, Ordering::SeqCst);
            Ok(Rejection::Retry)
        }
    }

    fn setup() -> (Arc<Renewing>, CredentialScope) {
        let base = Url::parse("https://api.test/v1/").unwrap();
        (Arc::default(), CredentialScope::from_base(&base).unwrap())
    }

    #[tokio::test]
    async fn one_resend_per_call_whatever_the_credential_says() {
        let (cred, scope) = setup();
        let url = Url::parse("https://api.test/v1/items").unwrap();
        let mut ex = AuthExchange::new(Some(&*cred), Some(&scope));
        let mut h = HeaderMap::new();
        assert!(ex.attach(&Method::GET, &url, &mut h).await.unwrap());
        assert!(h.get("x-key").unwrap().is_sensitive());
        let s = ex.on_response(&Method::GET, &url, StatusCode::UNAUTHORIZED, None).await;
        assert_eq!(s.unwrap(), Step::RenewAndResend);
        ex.attach(&Method::GET, &url, &mut HeaderMap::new()).await.unwrap();
        let s = ex.on_response(&Method::GET, &url, StatusCode::UNAUTHORIZED, None).await;
        assert_eq!(s.unwrap(), Step::Done, "a second 401 goes back to the caller");
        assert_eq!(cred.rejected.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn out_of_scope_hops_carry_nothing_and_their_401_is_final() {
        let (cred, scope) = setup();
        let mut ex = AuthExchange::new(Some(&*cred), Some(&scope));
        for url in [
            "https://api.test/v2/x",
            "http://api.test/v1/x",
            "https://other.test/v1/x",
        ] {
            let url = Url::parse(url).unwrap();
            let mut h = HeaderMap::new();
            assert!(!ex.attach(&Method::GET, &url, &mut h).await.unwrap());
            assert!(h.is_empty() && ex.attached().is_none());
            let s = ex.on_response(&Method::GET, &url, StatusCode::UNAUTHORIZED, None).await;
            assert_eq!(s.unwrap(), Step::Done);
        }
        assert_eq!(cred.attached.load(Ordering::SeqCst), 0);
        assert_eq!(cred.rejected.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_uma_ticket_is_told_apart_and_the_state_survives_a_resume() {
        let (cred, scope) = setup();
        let url = Url::parse("https://api.test/v1/doc").unwrap();
        let mut ex = AuthExchange::new(Some(&*cred), Some(&scope));
        ex.attach(&Method::GET, &url, &mut HeaderMap::new()).await.unwrap();
        let state = ex.state();
        assert!(state.attached());
        let mut ex = AuthExchange::resume(Some(&*cred), Some(&scope), state);
        let challenge = r#"UMA realm="r", as_uri="https://as.test", ticket="t-1""#;
        let s = ex
            .on_response(&Method::GET, &url, StatusCode::UNAUTHORIZED, Some(challenge))
            .await;
        assert_eq!(s.unwrap(), Step::UmaTicket);
        let mut ex = AuthExchange::resume(Some(&*cred), Some(&scope), ex.state());
        ex.attach(&Method::GET, &url, &mut HeaderMap::new()).await.unwrap();
        let s = ex
            .on_response(&Method::GET, &url, StatusCode::UNAUTHORIZED, Some(challenge))
            .await;
        assert_eq!(s.unwrap(), Step::Done);
        let s = ex.on_response(&Method::GET, &url, StatusCode::FORBIDDEN, None).await;
        assert_eq!(s.unwrap(), Step::Done);
    }
}
