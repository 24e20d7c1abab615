//! A provider found lazily: explicit endpoints skip discovery; else the issuer's metadata
//! is discovered; else the issuer is found by WebFinger on the API's base URL. Nothing is
//! fetched (and no TLS client is built) until a grant actually needs the provider, so a
//! cached token costs no network at all.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;
use url::Url;

use super::dpop::Dpop;
use super::{ClientConfig, OAuthClient, OAuthError, OAuthHttp, ProviderMetadata, discovery, webfinger};
use crate::Result;
use crate::secret::ClientSecret;
use crate::tls::TlsOptions;

/// Where the provider's metadata comes from.
#[derive(Debug, Clone)]
pub struct ProviderSource {
    /// The issuer, if known.
    pub issuer: Option<String>,
    /// The API base URL, for WebFinger when the issuer is not known.
    pub base_url: Option<Url>,
    /// WebFinger path prefix.
    pub webfinger_prefix: Option<String>,
    /// Endpoints given explicitly (a `token_endpoint` here skips discovery).
    pub explicit: ProviderMetadata,
    /// TLS options for the provider.
    pub tls: TlsOptions,
    /// Timeout per call.
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Retries for the provider's endpoints (the profile's `retries`).
    pub retries: Option<u32>,
    /// Issuers a confidential client may authenticate to when WebFinger names them (the
    /// profile's `trusted_issuers`). A configured `issuer` is trusted by being configured.
    pub trusted_issuers: Vec<String>,
}

impl ProviderSource {
    /// The HTTP client for this provider: its TLS options, timeouts and retries.
    pub fn http(&self) -> Result<OAuthHttp> {
        let http = OAuthHttp::new(&self.tls, self.timeout, self.connect_timeout)?;
        Ok(match self.retries {
            Some(n) => http.with_retry(crate::transport::retry::RetryPolicy::new(n)),
            None => http,
        })
    }
}

/// An [`OAuthClient`] built on first use.
#[derive(Debug)]
pub struct LazyClient {
    source: ProviderSource,
    config: ClientConfig,
    secret: Option<DeferredSecret>,
    cell: OnceCell<OAuthClient>,
    dpop: Option<Arc<Dpop>>,
    par: Option<bool>,
}

/// Reads the client secret when the provider is first needed.
#[derive(Clone)]
struct DeferredSecret(Arc<dyn Fn() -> Result<ClientSecret> + Send + Sync>);

impl std::fmt::Debug for DeferredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeferredSecret")
    }
}

impl LazyClient {
    /// A lazy client.
    pub fn new(source: ProviderSource, config: ClientConfig) -> Arc<Self> {
        Arc::new(LazyClient {
            source,
            config,
            secret: None,
            cell: OnceCell::new(),
            dpop: None,
            par: None,
        })
    }

    /// A lazy client whose secret (for `config.client_secret`, which is left empty) is
    /// read by `read` only when the provider is first needed — so that a cached token is
    /// usable in a shell without the secret's variable, and a missing secret is reported
    /// only when a request to the provider needs it.
    pub fn with_deferred_secret(
        source: ProviderSource,
        config: ClientConfig,
        read: impl Fn() -> Result<ClientSecret> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(LazyClient {
            source,
            config,
            secret: Some(DeferredSecret(Arc::new(read))),
            cell: OnceCell::new(),
            dpop: None,
            par: None,
        })
    }

    /// Binds the tokens of this client with `dpop` (RFC 9449) and sets whether browser
    /// logins push their authorization request (RFC 9126; `None`: when the provider
    /// offers it). Only before first use (the client is built once): `this` must not be
    /// shared yet.
    pub fn set_options(this: &mut Arc<Self>, dpop: Option<Arc<Dpop>>, par: Option<bool>) -> Result<()> {
        let me = Arc::get_mut(this).ok_or_else(|| crate::Error::config("the OAuth client is already in use"))?;
        me.dpop = dpop;
        me.par = par;
        Ok(())
    }

    /// The DPoP binding given with [`set_dpop`](Self::set_dpop), if any.
    pub fn dpop(&self) -> Option<&Arc<Dpop>> {
        self.dpop.as_ref()
    }

    /// Whether the client has a client secret, given now or to be read when needed.
    pub fn has_client_secret(&self) -> bool {
        self.config.client_secret.is_some() || self.secret.is_some()
    }

    /// The client configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The issuer as configured (before discovery).
    pub fn configured_issuer(&self) -> Option<&str> {
        self.source
            .issuer
            .as_deref()
            .or(Some(self.source.explicit.issuer.as_str()).filter(|s| !s.is_empty()))
    }

    /// The issuer as known without network: configured, or discovered by an earlier call.
    pub fn known_issuer(&self) -> Option<&str> {
        self.configured_issuer().or_else(|| {
            self.cell
                .get()
                .map(|c| c.metadata().issuer.as_str())
                .filter(|s| !s.is_empty())
        })
    }

    /// The client, discovering the provider on first call.
    pub async fn get(&self) -> Result<&OAuthClient> {
        self.cell.get_or_try_init(|| self.build()).await
    }

    async fn build(&self) -> Result<OAuthClient> {
        let mut config = self.config.clone();
        if config.client_secret.is_none()
            && let Some(read) = &self.secret
        {
            config.client_secret = Some((read.0)()?);
        }
        let http = self.source.http()?;
        let insecure = self.config.insecure;
        let ex = &self.source.explicit;
        let mut found_on = None;
        let meta = if ex.token_endpoint.is_some() {
            let mut m = ex.clone();
            if m.issuer.is_empty() {
                m.issuer = self.source.issuer.clone().unwrap_or_default();
            }
            Arc::new(m)
        } else {
            let issuer = match &self.source.issuer {
                Some(i) => i.clone(),
                None => {
                    let base = self.source.base_url.as_ref().ok_or_else(|| {
                        OAuthError::Setup("no `issuer`, no `token_endpoint` and no `base_url` to run WebFinger on: set `issuer` in the profile".into())
                    })?;
                    let found =
                        webfinger::issuer_for(&http, base, self.source.webfinger_prefix.as_deref(), insecure).await?;
                    self.check_webfinger_issuer(&found, base)?;
                    found_on = Some(base.clone());
                    found
                }
            };
            let discovered = discovery::discover(&http, &issuer, insecure).await?;
            // Explicit endpoints still win over discovered ones.
            let mut m = (*discovered).clone();
            macro_rules! over {
                ($($f:ident),*) => { $( if ex.$f.is_some() { m.$f = ex.$f.clone(); } )* };
            }
            over!(
                authorization_endpoint,
                device_authorization_endpoint,
                revocation_endpoint,
                introspection_endpoint,
                userinfo_endpoint,
                end_session_endpoint,
                jwks_uri
            );
            Arc::new(m)
        };
        let client = OAuthClient::new(config, meta, http)
            .with_dpop(self.dpop.clone())
            .with_par(self.par);
        Ok(match found_on {
            Some(base) => client.with_issuer_found_on(base),
            None => client,
        })
    }

    /// A confidential client (a secret or a private key) authenticates only to an issuer
    /// the profile chose: WebFinger is answered by the API, and whoever controls the API's
    /// origin (or one of its paths) could otherwise name a token endpoint of its own and
    /// collect the client secret. A public client has nothing to give away: it follows
    /// WebFinger, and the login shows the person the issuer before the browser opens.
    fn check_webfinger_issuer(&self, issuer: &str, base: &Url) -> Result<()> {
        // `self.secret` is a client secret read only when needed: confidential all the same.
        if !self.config.is_confidential() && self.secret.is_none() {
            return Ok(());
        }
        let norm = |s: &str| s.trim_end_matches('/').to_string();
        if self.source.trusted_issuers.iter().any(|t| norm(t) == norm(issuer)) {
            return Ok(());
        }
        tracing::warn!(
            issuer,
            "WebFinger named an issuer that is not trusted for a confidential client"
        );
        Err(OAuthError::UntrustedIssuer {
            issuer: super::error::clean(issuer, 300),
            base_url: crate::redact::redact_url(base),
        }
        .into())
    }
}
