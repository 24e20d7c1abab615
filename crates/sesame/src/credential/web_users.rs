//! The tokens of a web application's end users, one entry per subject: what a web login
//! ([`crate::oauth::web_login`]) obtained, kept in a [`TokenStore`] (in memory, or the
//! file store with one file per subject) and renewed with the user's refresh token. A
//! user whose token cannot be renewed gets [`ErrorKind::LoginRequired`](crate::ErrorKind)
//! with [`Hint::UserLogin`](crate::Hint::UserLogin): the application sends them through the
//! web login again; sesame never starts a login for an end user itself.
//!
//! The cache key of a user is the profile's issuer, client id and scopes with the auth
//! kind `web-login` and the subject as its user name: users never share an entry, and no
//! entry meets a profile's own (`oidc`) tokens.

use std::sync::Arc;

use async_trait::async_trait;

use super::OAuth;
use crate::oauth::{LazyClient, TokenOptions};
use crate::secret::RefreshToken;
use crate::token::{CacheKey, Clock, Grant, SystemClock, Token, TokenSource, TokenStore};
use crate::{Error, Result};

/// The auth kind in a user's cache key.
pub const WEB_LOGIN_KIND: &str = "web-login";

/// The per-user token store of a web application.
#[derive(Debug, Clone)]
pub struct WebUsers {
    client: Arc<LazyClient>,
    store: Arc<dyn TokenStore>,
    issuer: String,
    /// The clock the users' token sources judge expiry by.
    clock: Arc<dyn Clock>,
}

impl WebUsers {
    /// Users of `client`'s provider, their tokens in `store`. `issuer` names the provider in
    /// the cache keys (the profile's, as configured).
    pub fn new(client: Arc<LazyClient>, store: Arc<dyn TokenStore>, issuer: impl Into<String>) -> Self {
        WebUsers {
            client,
            store,
            issuer: issuer.into(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The users' tokens judged by `clock` (tests: controlled time).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The provider client.
    pub fn client(&self) -> &Arc<LazyClient> {
        &self.client
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.store
    }

    /// The cache key of `subject`.
    pub fn key(&self, subject: &str) -> CacheKey {
        let c = self.client.config();
        CacheKey::new(
            &self.issuer,
            &c.client_id,
            WEB_LOGIN_KIND,
            &c.scopes,
            &c.audience,
            Some(subject),
        )
    }

    fn source(&self, subject: &str) -> TokenSource {
        let grant = UserGrant {
            client: self.client.clone(),
            subject: subject.to_string(),
        };
        TokenSource::builder(self.key(subject), Arc::new(grant))
            .store(self.store.clone())
            .clock(self.clock.clone())
            .build()
    }

    /// Stores the tokens a web login obtained for `subject` (replacing any before).
    pub fn save(&self, subject: &str, token: Token) -> Result<()> {
        if subject.is_empty() {
            return Err(Error::config(
                "a web login's tokens need the end user's subject (`sub`)",
            ));
        }
        self.source(subject).install(token).map(|_| ())
    }

    /// The credential of `subject`: attaches the user's token, renewed with their refresh
    /// token; [`ErrorKind::LoginRequired`](crate::ErrorKind) when there is none (or it is refused).
    pub fn credential(&self, subject: &str) -> OAuth {
        OAuth::new(WEB_LOGIN_KIND, self.source(subject), Some(self.client.clone()))
    }

    /// Whether `subject` has a stored token (valid or renewable or not).
    pub fn has(&self, subject: &str) -> Result<bool> {
        Ok(self.store.load(&self.key(subject))?.is_some())
    }

    /// Deletes `subject`'s tokens (the application's logout).
    pub fn forget(&self, subject: &str) -> Result<()> {
        self.store.delete(&self.key(subject))
    }
}

#[derive(Debug)]
struct UserGrant {
    client: Arc<LazyClient>,
    subject: String,
}

#[async_trait]
impl Grant for UserGrant {
    async fn obtain(&self) -> Result<Token> {
        Err(Error::login_required(format!(
            "the end user `{}` has no valid token (never logged in here, or it could not be renewed)",
            crate::oauth::error::clean(&self.subject, 100)
        ))
        .with_hint(crate::Hint::UserLogin))
    }
    async fn refresh(&self, rt: &RefreshToken) -> Result<Token> {
        self.client.get().await?.refresh(rt, &TokenOptions::default()).await
    }
    fn unattended(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::{ClientConfig, ProviderMetadata, ProviderSource};
    use crate::token::{FileStore, MemoryStore};

    fn users(store: Arc<dyn TokenStore>) -> WebUsers {
        let mut cfg = ClientConfig::confidential("web", "s");
        cfg.scopes = vec!["openid".into()];
        let source = ProviderSource {
            issuer: Some("https://idp.example".into()),
            base_url: None,
            webfinger_prefix: None,
            explicit: ProviderMetadata::explicit("https://idp.example"),
            tls: Default::default(),
            timeout: std::time::Duration::from_secs(5),
            connect_timeout: std::time::Duration::from_secs(5),
            retries: None,
            trusted_issuers: Vec::new(),
        };
        WebUsers::new(LazyClient::new(source, cfg), store, "https://idp.example")
    }

    fn token(v: &str) -> Token {
        let mut t = Token::bare(v.to_string());
        t.expires_at = Some(crate::token::Clock::now(&crate::token::SystemClock) + 300);
        t
    }

    #[tokio::test]
    async fn each_subject_has_its_own_entry() {
        let dir = tempfile::tempdir().unwrap();
        for store in [
            Arc::new(MemoryStore::default()) as Arc<dyn TokenStore>,
            Arc::new(FileStore::new(dir.path())),
        ] {
            let u = users(store);
            u.save("alice", token("at-alice")).unwrap();
            u.save("dinah", token("at-dinah")).unwrap();
            let a = u.credential("alice").token_now().await.unwrap();
            let d = u.credential("dinah").token_now().await.unwrap();
            assert_eq!((a.as_str(), d.as_str()), ("at-alice", "at-dinah"));
            assert_ne!(u.key("alice").hash(), u.key("dinah").hash());
            let err = u.credential("mallory").token_now().await.unwrap_err();
            assert!(err.is_login_required(), "{err}");
            assert_eq!(err.hint(), Some(crate::Hint::UserLogin));
            u.forget("alice").unwrap();
            assert!(!u.has("alice").unwrap() && u.has("dinah").unwrap());
            assert!(u.save("", token("x")).is_err());
        }
        assert_eq!(
            std::fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
                .count(),
            1,
            "dinah's file is left"
        );
    }

    #[tokio::test]
    async fn a_user_token_expired_by_the_clock_needs_a_login() {
        const START: i64 = 1_000_000_000;
        let clock = crate::token::ManualClock::new(START);
        let u = users(Arc::new(MemoryStore::default())).with_clock(Arc::new(clock.clone()));
        let mut t = token("at-alice");
        t.expires_at = Some(START + 300);
        u.save("alice", t).unwrap();
        assert_eq!(u.credential("alice").token_now().await.unwrap(), "at-alice");
        clock.advance(300);
        let err = u.credential("alice").token_now().await.unwrap_err();
        assert!(err.is_login_required(), "expired by the clock, no refresh token: {err}");
    }

    impl OAuth {
        async fn token_now(&self) -> Result<String> {
            Ok(self
                .source()
                .token(std::time::Duration::from_secs(10))
                .await?
                .token
                .access_token
                .expose()
                .to_string())
        }
    }
}
