//! OAuth 2.0 credentials: a [`TokenSource`] behind the [`Credential`] trait, and the
//! grants that feed it (client credentials, password, token exchange, and the interactive
//! kinds whose first token comes from `sesame login`).

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use super::{Attachment, AuthRequest, Credential, CredentialInfo, Rejection};
use crate::oauth::{LazyClient, OAuthClient, TokenOptions};
use crate::secret::{AccessToken, Password, RefreshToken};
use crate::token::{Grant, Lease, Token, TokenSource};
use crate::{Error, Result};

/// Seconds a token must have left to be attached to a request: enough for the request to
/// arrive (and for some clock skew), at most a quarter of a short token's lifetime.
pub const ATTACH_MIN_VALID: Duration = Duration::from_secs(10);

/// An OAuth credential: attaches `Authorization: Bearer` with a token from its source.
#[derive(Clone)]
pub struct OAuth {
    source: TokenSource,
    kind: String,
    client: Option<Arc<LazyClient>>,
    /// The `Bearer …` (or `DPoP …`) header value of the last token attached, with its
    /// generation and, for a DPoP token, its `ath`: built (and checked) once per token
    /// instead of once per request.
    header: Arc<RwLock<Option<CachedHeader>>>,
}

#[derive(Clone)]
struct CachedHeader {
    generation: u64,
    value: HeaderValue,
    /// `Some` for a DPoP-bound token.
    dpop: bool,
}

impl fmt::Debug for OAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl OAuth {
    /// A credential over a token source; `kind` names it for `status`.
    pub fn new(kind: impl Into<String>, source: TokenSource, client: Option<Arc<LazyClient>>) -> Self {
        OAuth {
            source,
            kind: kind.into(),
            client,
            header: Arc::default(),
        }
    }

    /// The provider's issuer as known without network: configured, discovered earlier in
    /// this process, or recorded with the cached token when it was obtained. `None` for
    /// a provider given only by its endpoints, or not discovered yet.
    pub fn issuer(&self) -> Option<String> {
        if let Some(i) = self.client.as_ref().and_then(|c| c.known_issuer()) {
            return Some(i.to_string());
        }
        self.source.peek().and_then(|t| self.recorded_issuer(&t))
    }

    /// The issuer recorded with `token`, unless it is the cache key's stand-in (a token
    /// cached before the issuer was recorded carries that instead).
    pub fn recorded_issuer(&self, token: &crate::token::Token) -> Option<String> {
        let stand_in = &self.source.key().issuer;
        token
            .issuer
            .clone()
            .filter(|i| !i.is_empty() && i != stand_in && !i.starts_with("webfinger:"))
    }

    /// The auth kind this credential was built for (`oidc`, `client-credentials`, …).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// A token with fewer scopes or other audiences than the profile's (down-scoping), never
    /// a wider grant: requested scopes must be among those granted. Cached under its own
    /// key and reused while it has `min_valid` left ([`TokenSource::narrowed`]); obtained
    /// by refreshing the grant with the narrower request (RFC 6749 §6, RFC 8707), or, for
    /// a grant without a refresh token (client credentials), by a new token request.
    pub async fn narrowed(&self, scopes: &[String], audience: &[String], min_valid: Duration) -> Result<Arc<Token>> {
        let grant = self.source.token(min_valid).await?.token;
        if !scopes.is_empty() && !grant.scopes.is_empty() {
            let wider: Vec<&str> = scopes
                .iter()
                .filter(|s| !grant.scopes.contains(s))
                .map(String::as_str)
                .collect();
            if !wider.is_empty() {
                return Err(Error::config(format!(
                    "narrowing to scope {} would widen the grant (granted: {}); use a profile with those scopes",
                    wider.join(" "),
                    grant.scopes.join(" ")
                )));
            }
        }
        let client = self.client().await?;
        let opts = TokenOptions {
            scopes: (!scopes.is_empty()).then(|| scopes.to_vec()),
            audience: (!audience.is_empty()).then(|| audience.to_vec()),
        };
        let key = self.source.key().narrowed(scopes, audience);
        self.source
            .narrowed(&key, min_valid, |rt| async move {
                match rt {
                    Some(rt) => client.refresh(&rt, &opts).await,
                    None => client.client_credentials(&opts).await,
                }
            })
            .await
    }

    /// The token source.
    pub fn source(&self) -> &TokenSource {
        &self.source
    }

    /// The lazily discovered provider client, shared with credentials built from it (the
    /// per-user credentials of a web login, [`super::WebUsers`]).
    pub fn lazy_client(&self) -> Option<&Arc<LazyClient>> {
        self.client.as_ref()
    }

    /// The provider client (discovering it on first call).
    pub async fn client(&self) -> Result<&OAuthClient> {
        match &self.client {
            Some(c) => c.get().await,
            None => Err(Error::config("this credential has no OAuth provider")),
        }
    }

    /// `Bearer <token>` for a lease: built (and checked) once per token generation, then
    /// cloned (a reference count). A new generation (a renewal, a token adopted from the
    /// store, the one after a 401) gets a new value.
    fn header_for(&self, lease: &Lease) -> Result<CachedHeader> {
        if let Some(h) = &*self.header.read().expect("header cache")
            && h.generation == lease.generation
        {
            return Ok(h.clone());
        }
        // RFC 9449 §7.1: a DPoP token goes with the DPoP scheme, never downgraded to Bearer.
        let dpop = lease.token.token_type.eq_ignore_ascii_case("dpop");
        let scheme = if dpop { "DPoP" } else { "Bearer" };
        let mut v =
            HeaderValue::from_maybe_shared(Bytes::from(format!("{scheme} {}", lease.token.access_token.expose())))
                .map_err(|_| Error::config("the provider issued a token that is not a valid header value"))?;
        v.set_sensitive(true);
        let h = CachedHeader {
            generation: lease.generation,
            value: v,
            dpop,
        };
        *self.header.write().expect("header cache") = Some(h.clone());
        Ok(h)
    }

    /// The DPoP binding of this credential's tokens, if the profile has one.
    pub fn dpop(&self) -> Option<&Arc<crate::oauth::dpop::Dpop>> {
        self.client.as_ref().and_then(|c| c.dpop())
    }

    /// Notes what a response from the API says about DPoP (a `DPoP-Nonce` to prove the
    /// next request with, RFC 9449 §9).
    pub fn observe_response(&self, url: &url::Url, headers: &HeaderMap) {
        if let Some(d) = self.dpop() {
            d.remember_nonce(url, headers);
        }
    }

    fn attach_min_valid(token: &Token) -> Duration {
        let lifetime = token.expires_at.map(|e| (e - token.issued_at).max(0) as u64);
        match lifetime {
            Some(l) => ATTACH_MIN_VALID.min(Duration::from_secs(l / 4)),
            None => ATTACH_MIN_VALID,
        }
    }
}

#[async_trait]
impl Credential for OAuth {
    async fn attach(&self, req: &AuthRequest<'_>, headers: &mut HeaderMap) -> Result<Attachment> {
        // A short-lived token needs a smaller margin than the default: the one that fits
        // the token held. With none valid the next token is a fresh one, judged by the
        // lifetime of the last one, if any; asking a fresh token for more than its
        // lifetime would make every task that waited on the single flight renew once more.
        let lease = self
            .source
            .token_with_margin(|held| held.map(Self::attach_min_valid).unwrap_or(Duration::ZERO))
            .await?;
        let h = self.header_for(&lease)?;
        if h.dpop {
            let d = self.dpop().ok_or_else(|| {
                Error::config(
                    "the cached token is DPoP-bound but this profile has no DPoP key: set `dpop` in the profile, or log in again",
                )
            })?;
            // A fresh proof for this very request (its method and URL, the token's hash).
            let proof = d.header(
                req.method.as_str(),
                req.url,
                Some(lease.token.access_token.expose()),
                &[],
                self.source.clock().now(),
            )?;
            headers.insert(crate::oauth::dpop::DPOP_HEADER, proof);
        }
        headers.insert(AUTHORIZATION, h.value);
        Ok(Attachment { id: lease.generation })
    }

    async fn rejected(
        &self,
        _req: &AuthRequest<'_>,
        attachment: &Attachment,
        challenge: Option<&str>,
    ) -> Result<Rejection> {
        let parsed = challenge
            .map(crate::credential::www_authenticate::parse)
            .unwrap_or_default();
        if parsed.iter().any(|c| c.error.as_deref() == Some("insufficient_scope")) {
            // A new token with the same scopes would be refused again.
            return Ok(Rejection::GiveUp);
        }
        if self.dpop().is_some() && crate::oauth::dpop::asks_for_nonce(challenge) {
            // RFC 9449 §9: the token is fine; the proof lacked the server's nonce, which
            // the response carried. The session resends (once) with a proof that has it.
            tracing::debug!("the resource server asks for a DPoP nonce; resending once");
            return Ok(Rejection::Retry);
        }
        let was_current = self.source.reject(attachment.id);
        tracing::debug!(was_current, "token rejected with 401; renewing once");
        Ok(Rejection::Retry)
    }

    async fn token(&self, min_valid: Duration, force_refresh: bool) -> Result<Option<Token>> {
        let lease = if force_refresh {
            self.source.force_refresh().await?
        } else {
            self.source.token(min_valid).await?
        };
        Ok(Some((*lease.token).clone()))
    }

    fn cached_token(&self) -> Option<Token> {
        self.source
            .cached(Duration::ZERO)
            .ok()
            .flatten()
            .map(|l| (*l.token).clone())
    }

    fn as_oauth(&self) -> Option<&OAuth> {
        Some(self)
    }

    fn info(&self) -> CredentialInfo {
        let mut i = CredentialInfo::new(self.kind.clone()).with("store", self.source.store().describe());
        let key = self.source.key();
        if !key.client_id.is_empty() {
            i = i.with("client_id", key.client_id.clone());
        }
        // The key's issuer may be a stand-in (`webfinger:{base_url}`, the token endpoint):
        // only a real issuer is shown, and `Status` finds it (configured, discovered, or
        // recorded with the cached token).
        if let Some(issuer) = self.issuer() {
            i = i.with("issuer", issuer);
        }
        i
    }
}

/// The client credentials grant.
#[derive(Debug)]
pub struct ClientCredentialsGrant {
    client: Arc<LazyClient>,
    options: TokenOptions,
}

impl ClientCredentialsGrant {
    /// A grant with the client's default scopes and audience.
    pub fn new(client: Arc<LazyClient>) -> Self {
        ClientCredentialsGrant {
            client,
            options: TokenOptions::default(),
        }
    }
}

#[async_trait]
impl Grant for ClientCredentialsGrant {
    async fn obtain(&self) -> Result<Token> {
        self.client.get().await?.client_credentials(&self.options).await
    }
    async fn refresh(&self, rt: &RefreshToken) -> Result<Token> {
        self.client.get().await?.refresh(rt, &self.options).await
    }
    fn unattended(&self) -> bool {
        true
    }
}

/// The resource owner password grant.
pub struct PasswordGrant {
    client: Arc<LazyClient>,
    username: String,
    password: PasswordSource,
}

/// The password, or how to read it when a grant is sent: a cached or refreshed token never
/// needs it, so a shell without the password's variable can still use the cache.
enum PasswordSource {
    Given(Password),
    Deferred(Box<dyn Fn() -> Result<Password> + Send + Sync>),
}

impl fmt::Debug for PasswordGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordGrant")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

impl PasswordGrant {
    /// A password grant for `username`.
    pub fn new(client: Arc<LazyClient>, username: impl Into<String>, password: Password) -> Self {
        PasswordGrant {
            client,
            username: username.into(),
            password: PasswordSource::Given(password),
        }
    }

    /// A password grant whose password is read by `read` only when the grant is sent
    /// (not for cached tokens, not for refreshes).
    pub fn deferred(
        client: Arc<LazyClient>,
        username: impl Into<String>,
        read: impl Fn() -> Result<Password> + Send + Sync + 'static,
    ) -> Self {
        PasswordGrant {
            client,
            username: username.into(),
            password: PasswordSource::Deferred(Box::new(read)),
        }
    }
}

#[async_trait]
impl Grant for PasswordGrant {
    async fn obtain(&self) -> Result<Token> {
        let read;
        let password = match &self.password {
            PasswordSource::Given(p) => p,
            PasswordSource::Deferred(f) => {
                read = f()?;
                &read
            }
        };
        self.client
            .get()
            .await?
            .password(&self.username, password, &TokenOptions::default())
            .await
    }
    async fn refresh(&self, rt: &RefreshToken) -> Result<Token> {
        self.client.get().await?.refresh(rt, &TokenOptions::default()).await
    }
    fn unattended(&self) -> bool {
        true
    }
}

/// Token exchange (RFC 8693): tokens for this client's audience, obtained by trading the
/// token of another credential.
#[derive(Debug)]
pub struct TokenExchangeGrant {
    client: Arc<LazyClient>,
    subject: Arc<dyn Credential>,
    subject_token_type: String,
}

impl TokenExchangeGrant {
    /// Trades `subject`'s access token.
    pub fn new(client: Arc<LazyClient>, subject: Arc<dyn Credential>) -> Self {
        TokenExchangeGrant {
            client,
            subject,
            subject_token_type: crate::oauth::ACCESS_TOKEN_TYPE.into(),
        }
    }
}

#[async_trait]
impl Grant for TokenExchangeGrant {
    async fn obtain(&self) -> Result<Token> {
        let subject = self
            .subject
            .token(ATTACH_MIN_VALID, false)
            .await?
            .ok_or_else(|| Error::config("token exchange needs a subject credential that has a token"))?;
        self.client
            .get()
            .await?
            .token_exchange(
                &subject.access_token,
                &self.subject_token_type,
                &TokenOptions::default(),
            )
            .await
    }
    async fn refresh(&self, rt: &RefreshToken) -> Result<Token> {
        self.client.get().await?.refresh(rt, &TokenOptions::default()).await
    }
    fn unattended(&self) -> bool {
        true
    }
}

/// Presents an interactive login to a person (browser or device code). The CLI and the
/// Python binding provide one; without it, interactive grants report "login required".
#[async_trait]
pub trait LoginHandler: Send + Sync + fmt::Debug {
    /// Runs a login with `client` and returns the tokens.
    async fn login(&self, client: &OAuthClient) -> Result<Token>;
}

/// The first token of an interactive kind (`oidc`, `device`) comes from a person; after
/// that the refresh token keeps it going.
#[derive(Debug)]
pub struct InteractiveGrant {
    client: Arc<LazyClient>,
    login: Option<Arc<dyn LoginHandler>>,
}

impl InteractiveGrant {
    /// An interactive grant; `login` is used when no token can be had otherwise.
    pub fn new(client: Arc<LazyClient>, login: Option<Arc<dyn LoginHandler>>) -> Self {
        InteractiveGrant { client, login }
    }
}

#[async_trait]
impl Grant for InteractiveGrant {
    async fn obtain(&self) -> Result<Token> {
        match &self.login {
            Some(l) => l.login(self.client.get().await?).await,
            None => Err(Error::login_required(
                "no valid token in the cache, and logging in needs a person",
            )),
        }
    }
    async fn refresh(&self, rt: &RefreshToken) -> Result<Token> {
        self.client.get().await?.refresh(rt, &TokenOptions::default()).await
    }
    fn unattended(&self) -> bool {
        false
    }
}

/// A static token as a grant (for tests and for exchanging a fixed subject token).
#[derive(Debug)]
pub struct StaticGrant(pub AccessToken);

#[async_trait]
impl Grant for StaticGrant {
    async fn obtain(&self) -> Result<Token> {
        Ok(Token::bare(self.0.clone()))
    }
    async fn refresh(&self, _rt: &RefreshToken) -> Result<Token> {
        self.obtain().await
    }
    fn unattended(&self) -> bool {
        true
    }
}

/// Hands a response of the API to the credential that authenticated its request (the
/// session's one call into DPoP: it keeps the nonce for the next proof).
pub(crate) fn observe_dpop(credential: &dyn super::Credential, url: &url::Url, headers: &HeaderMap) {
    // The credential first: a header lookup by a `&str` name parses the name, on every
    // response, for the many sessions without DPoP.
    if let Some(o) = credential.as_oauth()
        && o.dpop().is_some()
        && headers.contains_key(crate::oauth::dpop::NONCE_HEADER)
    {
        o.observe_response(url, headers);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use reqwest::Method;
    use url::Url;

    use super::*;
    use crate::token::{CacheKey, Clock, ManualClock};

    /// A clock reading far from today, so that a decision made by the system clock shows.
    const START: i64 = 1_000_000_000;

    /// Hands out `tok-1`, `tok-2`, … living an hour of its clock.
    #[derive(Debug)]
    struct Numbered(AtomicU32, ManualClock);

    impl Default for Numbered {
        fn default() -> Self {
            Numbered(AtomicU32::default(), ManualClock::new(START))
        }
    }

    #[async_trait]
    impl Grant for Numbered {
        async fn obtain(&self) -> Result<Token> {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            let mut t = Token::bare(format!("tok-{n}"));
            t.issued_at = self.1.now();
            t.expires_at = Some(t.issued_at + 3600);
            Ok(t)
        }
        async fn refresh(&self, _rt: &RefreshToken) -> Result<Token> {
            self.obtain().await
        }
        fn unattended(&self) -> bool {
            true
        }
    }

    fn credential() -> (OAuth, Arc<Numbered>) {
        let grant = Arc::new(Numbered::default());
        let key = CacheKey::new("https://issuer.test", "client", "client-credentials", &[], &[], None);
        let source = TokenSource::builder(key, grant.clone())
            .clock(Arc::new(grant.1.clone()))
            .build();
        (OAuth::new("client-credentials", source, None), grant)
    }

    async fn attach(c: &OAuth) -> (String, Attachment) {
        let url = Url::parse("https://api.test/v1/items").unwrap();
        let req = AuthRequest {
            method: &Method::GET,
            url: &url,
        };
        let mut h = HeaderMap::new();
        let a = c.attach(&req, &mut h).await.unwrap();
        let v = h.get(AUTHORIZATION).unwrap();
        assert!(v.is_sensitive());
        (v.to_str().unwrap().to_string(), a)
    }

    #[tokio::test]
    async fn the_cached_bearer_header_follows_the_token() {
        let (c, grant) = credential();
        let (h1, a1) = attach(&c).await;
        assert_eq!(h1, "Bearer tok-1");
        let (again, a) = attach(&c).await;
        assert_eq!(
            (again.as_str(), a.id),
            ("Bearer tok-1", a1.id),
            "same token, same header"
        );
        assert_eq!(grant.0.load(Ordering::SeqCst), 1);

        // A renewal: the next request carries the new token.
        c.token(Duration::ZERO, true).await.unwrap();
        let (h2, a2) = attach(&c).await;
        assert_eq!(h2, "Bearer tok-2");

        // A 401 for the current token: the resend carries a new one, and so does every
        // request after it.
        let url = Url::parse("https://api.test/v1/items").unwrap();
        let req = AuthRequest {
            method: &Method::GET,
            url: &url,
        };
        assert_eq!(c.rejected(&req, &a2, None).await.unwrap(), Rejection::Retry);
        assert_eq!(attach(&c).await.0, "Bearer tok-3");
        assert_eq!(attach(&c).await.0, "Bearer tok-3");

        // A token installed from elsewhere (a login), and a clone of the credential.
        let mut t = Token::bare("tok-installed");
        t.expires_at = Some(START + 3600);
        c.source().install(t).unwrap();
        assert_eq!(attach(&c.clone()).await.0, "Bearer tok-installed");
        assert_eq!(attach(&c).await.0, "Bearer tok-installed");
        assert_eq!(grant.0.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_token_the_clock_says_is_expired_is_renewed() {
        let (c, grant) = credential();
        assert_eq!(attach(&c).await.0, "Bearer tok-1");
        // A minute later by the source's clock: still fresh, reused.
        grant.1.advance(60);
        assert_eq!(attach(&c).await.0, "Bearer tok-1");
        // Past its hour by the source's clock: renewed before it is attached.
        grant.1.advance(3600);
        assert_eq!(attach(&c).await.0, "Bearer tok-2");
        assert_eq!(grant.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_token_that_is_not_a_header_value_is_an_error_every_time() {
        let (c, _) = credential();
        let mut t = Token::bare("bad\ntoken");
        t.expires_at = Some(START + 3600);
        c.source().install(t).unwrap();
        let url = Url::parse("https://api.test/").unwrap();
        let req = AuthRequest {
            method: &Method::GET,
            url: &url,
        };
        for _ in 0..2 {
            let mut h = HeaderMap::new();
            assert!(c.attach(&req, &mut h).await.is_err());
            assert!(h.get(AUTHORIZATION).is_none());
        }
    }
}
