//! OAuth 2.0 credentials: a [`TokenSource`] behind the [`Credential`] trait, and the
//! grants that feed it (client credentials, password, token exchange, and the interactive
//! kinds whose first token comes from `sesame login`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use super::{Attachment, AuthRequest, Credential, CredentialInfo, Rejection};
use crate::oauth::{LazyClient, OAuthClient, TokenOptions};
use crate::secret::{AccessToken, Password, RefreshToken};
use crate::token::{Grant, Token, TokenSource};
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
        }
    }

    /// The token source.
    pub fn source(&self) -> &TokenSource {
        &self.source
    }

    /// The provider client (discovering it on first call).
    pub async fn client(&self) -> Result<&OAuthClient> {
        match &self.client {
            Some(c) => c.get().await,
            None => Err(Error::config("this credential has no OAuth provider")),
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
    async fn attach(&self, _req: &AuthRequest<'_>, headers: &mut HeaderMap) -> Result<Attachment> {
        // A short-lived token needs a smaller margin than the default: look at what is
        // cached first (cheap), then ask with the margin that fits it.
        let min_valid = match self.source.cached(Duration::ZERO)? {
            Some(l) => Self::attach_min_valid(&l.token),
            // Nothing valid cached: the next token is a fresh one. Judge it by the lifetime
            // of the last one, if any; asking a fresh token for more than its lifetime
            // would make every task that waited on the single flight renew once more.
            None => self
                .source
                .peek()
                .map(|t| Self::attach_min_valid(&t))
                .unwrap_or(Duration::ZERO),
        };
        let lease = self.source.token(min_valid).await?;
        let mut v = HeaderValue::from_str(&format!("Bearer {}", lease.token.access_token.expose()))
            .map_err(|_| Error::config("the provider issued a token that is not a valid header value"))?;
        v.set_sensitive(true);
        headers.insert(AUTHORIZATION, v);
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
        i = i.with("client_id", key.client_id.clone());
        if !key.issuer.is_empty() {
            i = i.with("issuer", key.issuer.clone());
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
    password: Password,
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
            password,
        }
    }
}

#[async_trait]
impl Grant for PasswordGrant {
    async fn obtain(&self) -> Result<Token> {
        self.client
            .get()
            .await?
            .password(&self.username, &self.password, &TokenOptions::default())
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
                "no valid token in the cache and logging in needs a person: run `sesame login`",
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
