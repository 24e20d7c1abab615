//! [`Uma`]: a credential that answers UMA 2.0 challenges (docs/credentials.md).
//!
//! It wraps another credential (normally an [`OAuth`](super::OAuth) one) and attaches it as
//! usual. When a request it authenticated gets a 401 with
//! `WWW-Authenticate: UMA as_uri=…, ticket=…`, it exchanges the ticket for a requesting
//! party token (RPT) at that authorization server — pushing the wrapped credential's
//! access token as the claim token — and tells the session to resend once, now with the
//! RPT. The RPT is kept for that resource (scheme, host, port and path) until it expires,
//! and offered to the server for upgrading when the next resource asks for one.
//!
//! **Trust.** The `as_uri` comes from the resource server's answer. Sending the client's
//! secret and the user's token wherever a response points would hand them to anyone who
//! can answer one request, so only the wrapped credential's own issuer is trusted, plus
//! the servers named with [`Uma::trust_authorization_server`]; any other `as_uri` is a
//! [`UmaError::UntrustedServer`] error and nothing is sent.
//!
//! One resend, never a loop: the session resends at most once after a 401, whatever the
//! credential says.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use url::Url;

use super::{Attachment, AuthRequest, Credential, CredentialInfo, OAuth, Rejection};
use crate::oauth::uma::{self, RptRequest, UmaConfiguration, UmaError};
use crate::oauth::{OAuthClient, OAuthError};
use crate::secret::AccessToken;
use crate::token::{Clock, SystemClock, Token};
use crate::{Error, Result};

/// Marks an [`Attachment`] id as "the RPT was attached" (the wrapped credential's ids are
/// token generations, far below this).
const RPT_FLAG: u64 = 1 << 63;
/// RPTs kept (one per resource), oldest dropped first.
const MAX_RPTS: usize = 256;
/// An RPT with less than this left is not attached.
const RPT_MIN_VALID: i64 = 10;

struct Held {
    rpt: AccessToken,
    expires_at: Option<i64>,
    as_uri: String,
    generation: u64,
}

#[derive(Default)]
struct State {
    rpts: HashMap<String, Held>,
    order: VecDeque<String>,
    pcts: HashMap<String, AccessToken>,
    configs: HashMap<String, Arc<UmaConfiguration>>,
    generation: u64,
}

/// A credential that handles UMA 2.0 challenges on top of another one.
pub struct Uma {
    inner: Arc<dyn Credential>,
    client: Option<OAuthClient>,
    trusted: Vec<String>,
    push_claim_token: bool,
    insecure: bool,
    state: Mutex<State>,
    /// Whether any RPT is held: while none is (an API that never asked for UMA), `attach`
    /// goes straight to the wrapped credential, without the lock or the resource key.
    holds_rpts: AtomicBool,
    /// The clock RPT expiry is judged by.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Uma {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uma")
            .field("inner", &self.inner)
            .field("trusted", &self.trusted)
            .field("rpts", &self.state.lock().map(|s| s.rpts.len()).unwrap_or(0))
            .finish()
    }
}

fn norm(u: &str) -> String {
    u.trim_end_matches('/').to_string()
}

/// The resource an RPT is kept for: the URL without query or fragment.
fn resource_key(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

impl Uma {
    /// Wraps `inner`. Its OAuth client (if it is an OAuth credential) authenticates at the
    /// UMA authorization server, whose `as_uri` must be the client's issuer.
    pub fn new(inner: Arc<dyn Credential>) -> Self {
        Uma {
            inner,
            client: None,
            trusted: Vec::new(),
            push_claim_token: true,
            insecure: false,
            state: Mutex::new(State::default()),
            holds_rpts: AtomicBool::new(false),
            clock: Arc::new(SystemClock),
        }
    }

    /// Judges RPT expiry by `clock` (tests: controlled time).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The client registration to use at the authorization server (for a wrapped
    /// credential that is not an OAuth one, or to use another client). Its issuer is
    /// trusted.
    pub fn with_client(mut self, client: OAuthClient) -> Self {
        self.trusted.push(norm(&client.metadata().issuer));
        self.client = Some(client);
        self
    }

    /// Also trusts this authorization server (its `as_uri`).
    pub fn trust_authorization_server(mut self, as_uri: &str) -> Self {
        self.trusted.push(norm(as_uri));
        self
    }

    /// Whether to push the wrapped credential's access token as the claim token (default
    /// on).
    pub fn push_claim_token(mut self, on: bool) -> Self {
        self.push_claim_token = on;
        self
    }

    /// Allow plain-http authorization servers other than loopback (the profile's
    /// `insecure`).
    pub fn insecure(mut self, on: bool) -> Self {
        self.insecure = on;
        self
    }

    /// The wrapped credential.
    pub fn inner(&self) -> &Arc<dyn Credential> {
        &self.inner
    }

    /// The RPT held for a URL, if any (for tests and diagnostics).
    pub fn rpt_for(&self, url: &Url) -> Option<AccessToken> {
        let s = self.state.lock().expect("uma state");
        s.rpts.get(&resource_key(url)).map(|h| h.rpt.clone())
    }

    async fn base_client(&self) -> Result<&OAuthClient> {
        if let Some(c) = &self.client {
            return Ok(c);
        }
        match self.inner.as_oauth() {
            Some(o) => o.client().await,
            None => Err(Error::config(
                "a UMA challenge needs an OAuth client registration: wrap an OAuth credential or use Uma::with_client",
            )),
        }
    }

    async fn trusted(&self, as_uri: &str) -> Result<bool> {
        let a = norm(as_uri);
        if self.trusted.contains(&a) {
            return Ok(true);
        }
        Ok(match self.base_client().await {
            Ok(c) => norm(&c.metadata().issuer) == a,
            Err(_) => false,
        })
    }

    async fn config(&self, client: &OAuthClient, as_uri: &str) -> Result<Arc<UmaConfiguration>> {
        if let Some(c) = self
            .state
            .lock()
            .expect("uma state")
            .configs
            .get(&norm(as_uri))
            .cloned()
        {
            return Ok(c);
        }
        let cfg = Arc::new(uma::discover(client.http(), as_uri, self.insecure).await?);
        self.state
            .lock()
            .expect("uma state")
            .configs
            .insert(norm(as_uri), cfg.clone());
        Ok(cfg)
    }

    /// Exchanges `ticket` at `as_uri` and keeps the RPT for `url`.
    async fn obtain(&self, url: &Url, as_uri: &str, ticket: &str) -> Result<()> {
        if !self.trusted(as_uri).await? {
            return Err(OAuthError::Uma(UmaError::UntrustedServer {
                as_uri: as_uri.chars().filter(|c| !c.is_control()).take(300).collect(),
            })
            .into());
        }
        let base = self.base_client().await?;
        let cfg = self.config(base, as_uri).await?;
        let client = uma::client_for(base, as_uri, &cfg);
        let claim: Option<Token> = if self.push_claim_token {
            match self.inner.token(Duration::from_secs(10), false).await {
                Ok(t) => t.filter(|t| crate::token::jwt_claims(t.access_token.expose()).is_some()),
                Err(e) => {
                    tracing::debug!(error = %e, "UMA: no claim token from the wrapped credential");
                    None
                }
            }
        } else {
            None
        };
        let now = self.clock.now();
        let (pct, previous) = {
            let s = self.state.lock().expect("uma state");
            let pct = s.pcts.get(&norm(as_uri)).cloned();
            // The newest valid RPT of the same server, to be upgraded.
            let previous = s
                .rpts
                .values()
                .filter(|h| h.as_uri == norm(as_uri) && h.expires_at.is_none_or(|e| e - now > RPT_MIN_VALID))
                .max_by_key(|h| h.generation)
                .map(|h| h.rpt.clone());
            (pct, previous)
        };
        let req = RptRequest {
            ticket,
            claim_token: claim.as_ref().map(|t| &t.access_token),
            claim_token_format: Some(uma::JWT_CLAIM_TOKEN_FORMAT),
            pct: pct.as_ref().map(|p| p.expose()),
            rpt: previous.as_ref(),
            scopes: &[],
        };
        tracing::debug!(as_uri = %norm(as_uri), resource = %crate::redact::redact_url(url), claim_token = claim.is_some(), upgrade = previous.is_some(), "UMA: exchanging a permission ticket for an RPT");
        let rpt = uma::request_rpt(&client, &cfg, &req).await?;
        let mut s = self.state.lock().expect("uma state");
        s.generation += 1;
        let generation = s.generation;
        if let Some(p) = rpt.pct {
            s.pcts.insert(norm(as_uri), p);
        }
        if rpt.upgraded
            && let Some(old) = &previous
        {
            // The new RPT carries the old one's permissions: it replaces it everywhere.
            for h in s.rpts.values_mut() {
                if &h.rpt == old {
                    h.rpt = rpt.token.access_token.clone();
                    h.expires_at = rpt.token.expires_at;
                    h.generation = generation;
                }
            }
        }
        self.keep(
            &mut s,
            resource_key(url),
            Held {
                rpt: rpt.token.access_token,
                expires_at: rpt.token.expires_at,
                as_uri: norm(as_uri),
                generation,
            },
        );
        Ok(())
    }

    /// Keeps an RPT for the resource `key`, dropping the oldest beyond [`MAX_RPTS`].
    fn keep(&self, s: &mut State, key: String, held: Held) {
        s.order.retain(|k| k != &key);
        s.order.push_back(key.clone());
        s.rpts.insert(key, held);
        while s.order.len() > MAX_RPTS {
            if let Some(k) = s.order.pop_front() {
                s.rpts.remove(&k);
            }
        }
        self.note_rpts(s);
    }

    /// Drops the RPT kept for `key`, if any.
    fn forget(&self, s: &mut State, key: &str) {
        if s.rpts.remove(key).is_some() {
            s.order.retain(|k| k != key);
        }
        self.note_rpts(s);
    }

    /// Publishes whether any RPT is held, for [`attach`](Credential::attach)'s fast path.
    /// Called with the state lock held after every change to `rpts`, so the flag is `true`
    /// whenever one is kept. An `attach` that happens after the RPT was kept (the resend
    /// in the same task, or any task that synchronised with it) cannot read an older
    /// `false` (coherence), and the Release/Acquire pair makes the map visible too, though
    /// it is read under the lock anyway. An `attach` racing with `obtain` may miss the
    /// RPT, exactly as it could by taking the lock first.
    fn note_rpts(&self, s: &State) {
        self.holds_rpts.store(!s.rpts.is_empty(), Ordering::Release);
    }
}

#[async_trait]
impl Credential for Uma {
    async fn attach(&self, request: &AuthRequest<'_>, headers: &mut HeaderMap) -> Result<Attachment> {
        // No RPT held (an API that never asked for UMA): no lock, no resource key.
        if !self.holds_rpts.load(Ordering::Acquire) {
            return self.inner.attach(request, headers).await;
        }
        let held = {
            let mut s = self.state.lock().expect("uma state");
            let key = resource_key(request.url);
            match s.rpts.get(&key) {
                Some(h) if h.expires_at.is_none_or(|e| e - self.clock.now() > RPT_MIN_VALID) => {
                    Some((h.rpt.clone(), h.generation))
                }
                Some(_) => {
                    self.forget(&mut s, &key);
                    None
                }
                None => None,
            }
        };
        match held {
            Some((rpt, generation)) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {}", rpt.expose()))
                    .map_err(|_| Error::config("the UMA server issued an RPT that is not a valid header value"))?;
                v.set_sensitive(true);
                headers.insert(AUTHORIZATION, v);
                Ok(Attachment {
                    id: RPT_FLAG | generation,
                })
            }
            None => self.inner.attach(request, headers).await,
        }
    }

    async fn rejected(
        &self,
        request: &AuthRequest<'_>,
        attachment: &Attachment,
        challenge: Option<&str>,
    ) -> Result<Rejection> {
        let challenges = challenge.map(super::www_authenticate::parse).unwrap_or_default();
        let uma = challenges.iter().find(|c| c.scheme == "uma").and_then(|c| {
            let as_uri = c.param("as_uri")?;
            let ticket = c.param("ticket")?;
            (!as_uri.is_empty() && !ticket.is_empty()).then(|| (as_uri.to_string(), ticket.to_string()))
        });
        if let Some((as_uri, ticket)) = uma {
            self.obtain(request.url, &as_uri, &ticket).await?;
            return Ok(Rejection::Retry);
        }
        if attachment.id & RPT_FLAG != 0 {
            // The RPT itself was refused (expired, revoked): forget it; the resend carries
            // the wrapped credential, and a UMA challenge to that starts afresh next time.
            let mut s = self.state.lock().expect("uma state");
            self.forget(&mut s, &resource_key(request.url));
            return Ok(Rejection::Retry);
        }
        self.inner.rejected(request, attachment, challenge).await
    }

    fn tls_identity(&self) -> Result<Option<reqwest::Identity>> {
        self.inner.tls_identity()
    }

    fn info(&self) -> CredentialInfo {
        self.inner.info()
    }

    async fn token(&self, min_valid: Duration, force_refresh: bool) -> Result<Option<Token>> {
        self.inner.token(min_valid, force_refresh).await
    }

    fn cached_token(&self) -> Option<Token> {
        self.inner.cached_token()
    }

    fn as_oauth(&self) -> Option<&OAuth> {
        self.inner.as_oauth()
    }
}

#[cfg(test)]
mod tests {
    use reqwest::Method;

    use super::*;
    use crate::credential::Bearer;
    use crate::token::ManualClock;

    /// A clock reading far from today, so that a decision made by the system clock shows.
    const START: i64 = 1_000_000_000;

    fn uma() -> Arc<Uma> {
        uma_at(&ManualClock::new(START))
    }

    fn uma_at(clock: &ManualClock) -> Arc<Uma> {
        Arc::new(Uma::new(Arc::new(Bearer::new("access-token"))).with_clock(Arc::new(clock.clone())))
    }

    fn held(rpt: &str, expires_at: Option<i64>) -> Held {
        Held {
            rpt: AccessToken::new(rpt),
            expires_at,
            as_uri: "https://as.test".into(),
            generation: 1,
        }
    }

    fn keep(u: &Uma, url: &str, h: Held) {
        let mut s = u.state.lock().unwrap();
        u.keep(&mut s, resource_key(&Url::parse(url).unwrap()), h);
    }

    async fn attach(u: &Uma, url: &str) -> (String, Attachment) {
        let url = Url::parse(url).unwrap();
        let req = AuthRequest {
            method: &Method::GET,
            url: &url,
        };
        let mut h = HeaderMap::new();
        let a = u.attach(&req, &mut h).await.unwrap();
        (h.get(AUTHORIZATION).unwrap().to_str().unwrap().to_string(), a)
    }

    #[tokio::test]
    async fn without_rpts_the_wrapped_credential_is_attached() {
        let u = uma();
        assert!(!u.holds_rpts.load(Ordering::Acquire));
        let (h, a) = attach(&u, "https://api.test/doc?x=1").await;
        assert_eq!(h, "Bearer access-token");
        assert_eq!(a.id & RPT_FLAG, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_rpt_kept_by_another_task_is_attached() {
        let u = uma();
        // Kept on another worker thread, the way a 401 on another task keeps one.
        let k = u.clone();
        tokio::spawn(async move { keep(&k, "https://api.test/doc", held("rpt-1", None)) })
            .await
            .unwrap();
        let (h, a) = attach(&u, "https://api.test/doc?page=2").await;
        assert_eq!(h, "Bearer rpt-1", "the query is not part of the resource");
        assert_ne!(a.id & RPT_FLAG, 0);
        // Other resources still get the wrapped credential.
        assert_eq!(attach(&u, "https://api.test/other").await.0, "Bearer access-token");
    }

    #[tokio::test]
    async fn an_expired_or_refused_rpt_is_dropped_and_the_fast_path_comes_back() {
        let u = uma();
        keep(&u, "https://api.test/old", held("rpt-old", Some(START - 1)));
        keep(&u, "https://api.test/doc", held("rpt-1", Some(START + 3600)));
        assert_eq!(attach(&u, "https://api.test/old").await.0, "Bearer access-token");
        assert!(u.holds_rpts.load(Ordering::Acquire), "one RPT is still held");
        let (h, a) = attach(&u, "https://api.test/doc").await;
        assert_eq!(h, "Bearer rpt-1");

        // The server refuses the RPT (no UMA challenge): it is forgotten.
        let url = Url::parse("https://api.test/doc").unwrap();
        let req = AuthRequest {
            method: &Method::GET,
            url: &url,
        };
        assert_eq!(u.rejected(&req, &a, None).await.unwrap(), Rejection::Retry);
        assert!(!u.holds_rpts.load(Ordering::Acquire));
        assert!(u.state.lock().unwrap().order.is_empty());
        assert_eq!(attach(&u, "https://api.test/doc").await.0, "Bearer access-token");
    }

    #[tokio::test]
    async fn an_rpt_expired_by_the_clock_is_not_reused() {
        let clock = ManualClock::new(START);
        let u = uma_at(&clock);
        keep(&u, "https://api.test/doc", held("rpt-1", Some(START + 60)));
        assert_eq!(attach(&u, "https://api.test/doc").await.0, "Bearer rpt-1");
        // Ten seconds short of its expiry: too little left to be sent.
        clock.advance(50);
        assert_eq!(attach(&u, "https://api.test/doc").await.0, "Bearer access-token");
        assert!(
            u.rpt_for(&Url::parse("https://api.test/doc").unwrap()).is_none(),
            "dropped"
        );
    }

    #[test]
    fn the_oldest_rpts_are_dropped_beyond_the_limit() {
        let u = uma();
        for i in 0..=MAX_RPTS {
            keep(&u, &format!("https://api.test/doc{i}"), held(&format!("rpt-{i}"), None));
        }
        let s = u.state.lock().unwrap();
        assert_eq!((s.rpts.len(), s.order.len()), (MAX_RPTS, MAX_RPTS));
        assert!(!s.rpts.contains_key("https://api.test/doc0"));
        assert!(u.holds_rpts.load(Ordering::Acquire));
    }
}
