//! [`OAuthClient`]: one client registration at one provider, and the grants it runs.
//!
//! Every grant (client credentials, password, refresh, authorization code, device, token
//! exchange, UMA) is one form post with this client's authentication
//! ([`OAuthClient::post_authenticated`]) and one strict token-response parser
//! ([`parse_token_reply`]): `expires_in` is read the same way everywhere (a number or a
//! numeric string, capped at a year, zero or negative = expires now), and every error built
//! from the reply has the request's secrets masked.

use std::sync::Arc;

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::Deserialize;
use url::Url;

use super::client_auth::{ClientAuth, JWT_BEARER_ASSERTION};
use super::discovery::{ProviderMetadata, check_transport};
use super::dpop::{self, Dpop};
use super::http::{HttpFailure, Reply, require_json, status_error};
use super::id_token::{self, IdTokenCheck};
use super::{OAuthError, OAuthHttp};
use crate::redact::SecretMask;
use crate::redact::redact_url;
use crate::secret::{AccessToken, ClientSecret, IdToken, Password, RefreshToken};
use crate::token::{Clock, DEFAULT_LIFETIME, SystemClock, Token, jwt_exp};
use crate::{Error, Result};

/// The RFC 8693 grant type.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The RFC 8693 token type of an access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A client registration: id, secret, authentication method and the request defaults.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`, for `Basic` and `Post`.
    pub client_secret: Option<ClientSecret>,
    /// How the client authenticates.
    pub auth: ClientAuth,
    /// Scopes to request.
    pub scopes: Vec<String>,
    /// Audiences to request (`audience` parameter).
    pub audience: Vec<String>,
    /// Also send the audiences as RFC 8707 `resource` parameters.
    pub resource: bool,
    /// Allow plain-http endpoints and skip TLS verification (the profile's `insecure`).
    pub insecure: bool,
}

impl ClientConfig {
    /// Whether the client authenticates with a secret or a private key (anything it sends
    /// to a token endpoint could be replayed by whoever runs that endpoint).
    pub fn is_confidential(&self) -> bool {
        self.client_secret.is_some() || !matches!(self.auth, ClientAuth::None)
    }

    /// A public client with this id.
    pub fn public(client_id: impl Into<String>) -> Self {
        ClientConfig {
            client_id: client_id.into(),
            client_secret: None,
            auth: ClientAuth::None,
            scopes: Vec::new(),
            audience: Vec::new(),
            resource: false,
            insecure: false,
        }
    }

    /// A confidential client with `client_secret_basic`.
    pub fn confidential(client_id: impl Into<String>, secret: impl Into<ClientSecret>) -> Self {
        ClientConfig {
            client_secret: Some(secret.into()),
            auth: ClientAuth::Basic,
            ..Self::public(client_id)
        }
    }
}

/// A client at a provider whose metadata is known.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    config: Arc<ClientConfig>,
    meta: Arc<ProviderMetadata>,
    http: OAuthHttp,
    /// The API base URL whose WebFinger named the issuer, when it was found that way.
    issuer_found_on: Option<Url>,
    /// The profile's DPoP binding (RFC 9449), if it has one.
    dpop: Option<Arc<Dpop>>,
    /// The profile's `par` (RFC 9126): `None` pushes when the provider offers it.
    par: Option<bool>,
    /// The clock that dates the tokens it obtains, its client assertions and proofs.
    clock: Arc<dyn Clock>,
}

/// Options for a token request beyond the client's defaults (down-scoping).
#[derive(Clone, Debug, Default)]
pub struct TokenOptions {
    /// Scopes instead of the client's.
    pub scopes: Option<Vec<String>>,
    /// Audiences instead of the client's.
    pub audience: Option<Vec<String>>,
}

impl OAuthClient {
    /// A client for a provider with known metadata.
    pub fn new(config: ClientConfig, meta: Arc<ProviderMetadata>, http: OAuthHttp) -> Self {
        OAuthClient {
            config: Arc::new(config),
            meta,
            http,
            issuer_found_on: None,
            dpop: None,
            par: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same client on another clock (tests: tokens dated, and pending logins aged,
    /// in controlled time).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The clock that dates this client's tokens.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The same client with the profile's `par` setting (RFC 9126).
    pub fn with_par(mut self, par: Option<bool>) -> Self {
        self.par = par;
        self
    }

    /// The profile's `par` setting.
    pub fn par(&self) -> Option<bool> {
        self.par
    }

    /// The same client, its token requests carrying DPoP proofs of `dpop` (when the
    /// binding applies to this provider: [`Dpop::applies_to`]).
    pub fn with_dpop(mut self, dpop: Option<Arc<Dpop>>) -> Self {
        self.dpop = dpop;
        self
    }

    /// The DPoP binding, when this client's token requests carry proofs.
    pub fn dpop(&self) -> Option<&Arc<Dpop>> {
        self.dpop
            .as_ref()
            .filter(|d| d.applies_to(&self.meta.dpop_signing_alg_values_supported))
    }

    /// The same client, its issuer having been found by WebFinger on `base_url`.
    pub fn with_issuer_found_on(mut self, base_url: Url) -> Self {
        self.issuer_found_on = Some(base_url);
        self
    }

    /// The API base URL whose WebFinger named this client's issuer, if it was found that
    /// way (a login shows it, so that the person sees where they are sent).
    pub fn issuer_found_on(&self) -> Option<&Url> {
        self.issuer_found_on.as_ref()
    }

    /// The provider's metadata.
    pub fn metadata(&self) -> &ProviderMetadata {
        &self.meta
    }

    /// The client's configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The HTTP client used for the provider.
    pub fn http(&self) -> &OAuthHttp {
        &self.http
    }

    fn endpoint(&self, name: &str, value: &Option<String>) -> Result<Url> {
        let v = value.as_deref().ok_or_else(|| {
            OAuthError::Setup(format!(
                "the provider has no {name}: it was not discovered and `{name}` is not set in the profile"
            ))
        })?;
        let u = Url::parse(v).map_err(|e| OAuthError::Setup(format!("{name} `{v}` is not a URL: {e}")))?;
        check_transport(&u, self.config.insecure, name)?;
        Ok(u)
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> Result<Url> {
        self.endpoint("token_endpoint", &self.meta.token_endpoint)
    }

    fn extra_params(&self, opts: &TokenOptions) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        let audience = opts.audience.as_ref().unwrap_or(&self.config.audience);
        for a in audience {
            out.push(("audience".to_string(), a.clone()));
            if self.config.resource {
                out.push(("resource".to_string(), a.clone()));
            }
        }
        if let Some(assertion) = self.config.auth.assertion(
            &self.config.client_id,
            self.token_endpoint()?.as_str(),
            self.clock.now(),
        )? {
            out.push(("client_assertion_type".into(), JWT_BEARER_ASSERTION.into()));
            out.push(("client_assertion".into(), assertion));
        }
        Ok(out)
    }

    fn scopes<'a>(&'a self, opts: &'a TokenOptions) -> &'a [String] {
        opts.scopes.as_deref().unwrap_or(&self.config.scopes)
    }

    /// The client credentials grant ([RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4)).
    pub async fn client_credentials(&self, opts: &TokenOptions) -> Result<Token> {
        let mut form = vec![("grant_type".to_string(), "client_credentials".to_string())];
        push_scope(&mut form, self.scopes(opts));
        self.standard_grant(form, opts, self.scopes(opts), None).await
    }

    /// The resource owner password grant ([RFC 6749 §4.3](https://www.rfc-editor.org/rfc/rfc6749#section-4.3)).
    /// `invalid_grant` here means the username or password was refused, and the error says so
    /// ([`ProviderHint::CheckCredentials`](super::ProviderHint::CheckCredentials)).
    pub async fn password(&self, username: &str, password: &Password, opts: &TokenOptions) -> Result<Token> {
        let mut form = vec![
            ("grant_type".to_string(), "password".to_string()),
            ("username".to_string(), username.to_string()),
            ("password".to_string(), password.expose().to_string()),
        ];
        push_scope(&mut form, self.scopes(opts));
        self.standard_grant(form, opts, self.scopes(opts), None)
            .await
            .map_err(|e| match e.as_oauth() {
                Some(o) if o.code() == Some("invalid_grant") => o.clone().for_password_grant().into(),
                _ => e,
            })
    }

    /// The refresh grant ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)).
    /// A rotated refresh token in the reply replaces the old one; otherwise the old one is
    /// kept. `scopes` may narrow, never widen, the grant.
    pub async fn refresh(&self, refresh_token: &RefreshToken, opts: &TokenOptions) -> Result<Token> {
        let mut form = vec![
            ("grant_type".to_string(), "refresh_token".to_string()),
            ("refresh_token".to_string(), refresh_token.expose().to_string()),
        ];
        if let Some(scopes) = &opts.scopes {
            push_scope(&mut form, scopes);
        }
        // Audience/resource may be repeated on refresh (only values already granted).
        let audience_only = TokenOptions {
            scopes: None,
            audience: opts.audience.clone(),
        };
        let mut t = self
            .standard_grant(form, &audience_only, self.scopes(opts), None)
            .await?;
        if t.refresh_token.is_none() {
            t.refresh_token = Some(refresh_token.clone());
        }
        Ok(t)
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens and verifies the
    /// ID token against `nonce`.
    pub async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
        nonce: Option<&str>,
    ) -> Result<Token> {
        Url::parse(redirect_uri)
            .map_err(|e| OAuthError::Setup(format!("redirect_uri `{redirect_uri}` is not a URL: {e}")))?;
        let form = vec![
            ("grant_type".to_string(), "authorization_code".to_string()),
            ("code".to_string(), code.to_string()),
            ("redirect_uri".to_string(), redirect_uri.to_string()),
            ("code_verifier".to_string(), verifier.to_string()),
        ];
        // The code is bound to the authorization request: no audience parameters here.
        let none = TokenOptions {
            scopes: None,
            audience: Some(Vec::new()),
        };
        let t = self
            .standard_grant(form, &none, &self.config.scopes, Some(nonce))
            .await?;
        if t.id_token.is_none() && self.config.scopes.iter().any(|s| s == "openid") {
            return Err(OAuthError::Malformed {
                endpoint: self.endpoint_label(),
                message: "no id_token in the reply to an `openid` authorization".into(),
            }
            .into());
        }
        Ok(t)
    }

    /// One RFC 6749 grant: posts `form` (with the audience and client authentication),
    /// parses the reply with the one token-response parser every grant shares, and
    /// verifies an ID token in it (against `nonce` for the code grant).
    async fn standard_grant(
        &self,
        form: Vec<(String, String)>,
        opts: &TokenOptions,
        requested: &[String],
        nonce: Option<Option<&str>>,
    ) -> Result<Token> {
        let (reply, bound) = self.post_token(form, opts).await?;
        let parsed = parse_token_reply(&reply, &self.endpoint_label())?;
        let t = self.token_from_raw(parsed, requested, bound)?;
        if let Some(raw) = &t.id_token {
            self.verify_id_token(raw.expose(), nonce.flatten(), Some(t.access_token.expose()))
                .await?;
        }
        Ok(t)
    }

    /// Token exchange ([RFC 8693 §2.1](https://www.rfc-editor.org/rfc/rfc8693#section-2.1)):
    /// trades `subject_token` for a token for another audience or with fewer scopes.
    pub async fn token_exchange(
        &self,
        subject_token: &AccessToken,
        subject_token_type: &str,
        opts: &TokenOptions,
    ) -> Result<Token> {
        let mut form: Vec<(String, String)> = vec![
            ("grant_type".into(), TOKEN_EXCHANGE_GRANT.into()),
            ("subject_token".into(), subject_token.expose().to_string()),
            ("subject_token_type".into(), subject_token_type.into()),
            ("requested_token_type".into(), ACCESS_TOKEN_TYPE.into()),
        ];
        let scopes = self.scopes(opts);
        if !scopes.is_empty() {
            form.push(("scope".into(), scopes.join(" ")));
        }
        self.post_token_form(form, opts).await
    }

    /// Posts any grant to the token endpoint with this client's authentication and
    /// parses the standard token response (used for token exchange, UMA and extension
    /// grants). `form` must carry `grant_type`.
    pub async fn post_token_form(&self, form: Vec<(String, String)>, opts: &TokenOptions) -> Result<Token> {
        let (reply, bound) = self.post_token(form, opts).await?;
        let parsed: RawTokenResponse = parse_token_reply(&reply, &self.endpoint_label())?;
        self.token_from_raw(parsed, self.scopes(opts), bound)
    }

    /// Posts a grant to the token endpoint (with the audience and client authentication),
    /// with a DPoP proof when the client binds its tokens: a provider that answers
    /// `use_dpop_nonce` (RFC 9449 §8) gets the request once more, proved with its nonce
    /// (and a new client assertion: the old one's `jti` is spent). Returns the reply and
    /// whether it answers a proved request.
    async fn post_token(&self, form: Vec<(String, String)>, opts: &TokenOptions) -> Result<(Reply, bool)> {
        let url = self.token_endpoint()?;
        let dpop = self.dpop();
        let mut resent = false;
        loop {
            let mut full = form.clone();
            full.extend(self.extra_params(opts)?);
            let mut headers = HeaderMap::new();
            if let Some(d) = dpop {
                let proof = d.header(
                    "POST",
                    &url,
                    None,
                    &self.meta.dpop_signing_alg_values_supported,
                    self.clock.now(),
                )?;
                headers.insert(dpop::DPOP_HEADER, proof);
            }
            let reply = self.post_authenticated_with(&url, full, false, headers).await?;
            if let Some(d) = dpop {
                let fresh = d.remember_nonce(&url, &reply.headers);
                if !resent && fresh && reply.status.as_u16() == 400 && reply_error(&reply) == Some(dpop::USE_DPOP_NONCE)
                {
                    tracing::debug!("the provider asks for a DPoP nonce; resending the token request once");
                    resent = true;
                    continue;
                }
            }
            return Ok((reply, dpop.is_some()));
        }
    }

    /// POSTs a form to one of the provider's endpoints with this client's authentication
    /// (the client assertion, if any, is added unless `form` already has one).
    pub(crate) async fn post_authenticated(
        &self,
        url: &Url,
        form: Vec<(String, String)>,
        add_assertion: bool,
    ) -> Result<Reply> {
        self.post_authenticated_with(url, form, add_assertion, HeaderMap::new())
            .await
    }

    /// [`post_authenticated`](Self::post_authenticated) with extra headers (a DPoP proof).
    pub(crate) async fn post_authenticated_with(
        &self,
        url: &Url,
        mut form: Vec<(String, String)>,
        add_assertion: bool,
        mut headers: HeaderMap,
    ) -> Result<Reply> {
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        // Everything secret this request sends, so that an error built from a reply that
        // echoes the request cannot carry it (the Basic header is added by `send`).
        let mut mask = SecretMask::new();
        if let Some(s) = &self.config.client_secret {
            mask.add_basic(&self.config.client_id, s.expose());
        }
        match (&self.config.auth, &self.config.client_secret) {
            (ClientAuth::Basic, Some(s)) => {
                // RFC 6749 §2.3.1: form-urlencode id and secret before base64.
                let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
                let mut v = crate::transport::headers::basic_header(&enc(&self.config.client_id), &enc(s.expose()));
                v.set_sensitive(true);
                headers.insert(AUTHORIZATION, v);
            }
            (ClientAuth::Post, Some(s)) => {
                form.push(("client_id".into(), self.config.client_id.clone()));
                form.push(("client_secret".into(), s.expose().to_string()));
            }
            (ClientAuth::Basic | ClientAuth::Post, None) => {
                return Err(
                    OAuthError::Setup(format!("client `{}` needs a client_secret", self.config.client_id)).into(),
                );
            }
            (ClientAuth::None | ClientAuth::PrivateKeyJwt { .. }, _) => {
                form.push(("client_id".into(), self.config.client_id.clone()));
                if add_assertion
                    && let Some(a) = self.config.auth.assertion(
                        &self.config.client_id,
                        self.token_endpoint()?.as_str(),
                        self.clock.now(),
                    )?
                {
                    form.push(("client_assertion_type".into(), JWT_BEARER_ASSERTION.into()));
                    form.push(("client_assertion".into(), a));
                }
            }
        }
        for (k, v) in &form {
            if !PUBLIC_FORM_KEYS.contains(&k.as_str()) {
                mask.add(v);
            }
        }
        let body =
            serde_urlencoded::to_string(&form).map_err(|e| Error::config(format!("cannot encode the request: {e}")))?;
        self.http
            .send_masked(Method::POST, url, headers, Some(body.into_bytes()), mask)
            .await
    }

    /// Checks what a login will need from the configuration before a person is involved
    /// (before a browser opens or a device code is shown): the token endpoint the code is
    /// exchanged at, the authorization endpoint of a browser login, and the issuer and keys
    /// the ID token is checked against when they are set. Without this, a bad value would
    /// surface only after the person had finished logging in.
    pub fn preflight_login(&self, browser: bool) -> Result<()> {
        self.token_endpoint()?;
        if browser {
            self.named_endpoint("authorization_endpoint")?;
        }
        if self.meta.jwks_uri.is_some() {
            self.named_endpoint("jwks_uri")?;
        }
        if !self.meta.issuer.is_empty() {
            Url::parse(&self.meta.issuer).map_err(|e| {
                OAuthError::Setup(format!(
                    "issuer `{}` is not a URL: {e}",
                    super::error::clean(&self.meta.issuer, 200)
                ))
            })?;
        }
        Ok(())
    }

    /// An endpoint from the metadata by name, checked for transport security.
    pub(crate) fn named_endpoint(&self, name: &str) -> Result<Url> {
        let v = match name {
            "introspection_endpoint" => &self.meta.introspection_endpoint,
            "revocation_endpoint" => &self.meta.revocation_endpoint,
            "userinfo_endpoint" => &self.meta.userinfo_endpoint,
            "end_session_endpoint" => &self.meta.end_session_endpoint,
            "registration_endpoint" => &self.meta.registration_endpoint,
            "authorization_endpoint" => &self.meta.authorization_endpoint,
            "pushed_authorization_request_endpoint" => &self.meta.pushed_authorization_request_endpoint,
            "device_authorization_endpoint" => &self.meta.device_authorization_endpoint,
            "jwks_uri" => &self.meta.jwks_uri,
            _ => &self.meta.token_endpoint,
        };
        self.endpoint(name, v)
    }

    /// `bound`: the request carried a DPoP proof, so a `DPoP` token is expected (RFC 9449
    /// §5) and kept as one: it is never sent as a bearer token.
    fn token_from_raw(&self, r: RawTokenResponse, requested: &[String], bound: bool) -> Result<Token> {
        let issued_type = r.issued_token_type.as_deref();
        let dpop_type = r.token_type.eq_ignore_ascii_case("dpop");
        let ok_type = r.token_type.eq_ignore_ascii_case("bearer")
            || (dpop_type && bound)
            || (r.token_type.eq_ignore_ascii_case("n_a") && issued_type.is_some());
        if !ok_type {
            let why = if dpop_type {
                "the request carried no DPoP proof".to_string()
            } else {
                "sesame sends Bearer and DPoP tokens".to_string()
            };
            return Err(OAuthError::Malformed {
                endpoint: self.endpoint_label(),
                message: format!(
                    "token_type `{}` is not supported ({why})",
                    super::error::clean(&r.token_type, 40)
                ),
            }
            .into());
        }
        if r.access_token.is_empty() {
            return Err(OAuthError::Malformed {
                endpoint: self.endpoint_label(),
                message: "empty access_token".into(),
            }
            .into());
        }
        let now = self.clock.now();
        let expires_at = expiry(now, r.expires_in, &r.access_token);
        Ok(Token {
            token_type: if dpop_type { "DPoP" } else { "Bearer" }.into(),
            expires_at,
            issued_at: now,
            refresh_token: r.refresh_token.map(RefreshToken::new),
            id_token: r.id_token.map(IdToken::new),
            scopes: r
                .scope
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_else(|| requested.to_vec()),
            issuer: Some(self.meta.issuer.clone()).filter(|i| !i.is_empty()),
            access_token: AccessToken::new(r.access_token),
        })
    }

    /// Verifies an ID token issued to this client (signature, iss, aud, exp, iat, nonce,
    /// at_hash) and returns its claims.
    pub async fn verify_id_token(
        &self,
        raw: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<serde_json::Value> {
        self.verify_id_token_at(raw, nonce, access_token, None).await
    }

    /// [`verify_id_token`](Self::verify_id_token) at a given time (Unix seconds).
    pub async fn verify_id_token_at(
        &self,
        raw: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
        now: Option<i64>,
    ) -> Result<serde_json::Value> {
        // Unknown keys are allowed: see `id_token::verify` on tokens from the token endpoint.
        let jwks = match &self.meta.jwks_uri {
            Some(_) => Some(self.endpoint("jwks_uri", &self.meta.jwks_uri)?),
            None => None,
        };
        let secret = match self.config.auth {
            ClientAuth::Basic | ClientAuth::Post => self.config.client_secret.as_ref().map(|s| s.expose()),
            _ => None,
        };
        id_token::verify(
            &self.http,
            raw,
            &IdTokenCheck {
                issuer: &self.meta.issuer,
                jwks_uri: jwks.as_ref(),
                client_id: &self.config.client_id,
                client_secret: secret,
                nonce,
                access_token,
                now,
            },
        )
        .await
    }

    fn endpoint_label(&self) -> String {
        match &self.meta.token_endpoint {
            Some(t) => format!(
                "token endpoint {}",
                Url::parse(t).map(|u| redact_url(&u)).unwrap_or_else(|_| t.clone())
            ),
            None => "token endpoint".into(),
        }
    }
}

/// The `error` of an RFC 6749 §5.2 error body.
fn reply_error(reply: &Reply) -> Option<&str> {
    #[derive(Deserialize)]
    struct E<'a> {
        #[serde(borrow)]
        error: &'a str,
    }
    serde_json::from_slice::<E<'_>>(&reply.body).ok().map(|e| e.error)
}

fn push_scope(form: &mut Vec<(String, String)>, scopes: &[String]) {
    if !scopes.is_empty() {
        form.push(("scope".into(), scopes.join(" ")));
    }
}

/// Form parameters whose values are not secret (everything else a form carries is masked
/// in errors built from the reply).
const PUBLIC_FORM_KEYS: &[&str] = &[
    "grant_type",
    "scope",
    "audience",
    "resource",
    "client_id",
    "username",
    "redirect_uri",
    "client_assertion_type",
    "subject_token_type",
    "actor_token_type",
    "requested_token_type",
    "claim_token_format",
    "token_type_hint",
    "permission",
];

impl From<openidconnect::ConfigurationError> for Error {
    fn from(e: openidconnect::ConfigurationError) -> Self {
        OAuthError::Setup(e.to_string()).into()
    }
}

/// The longest lifetime sesame believes a token response: a year. A larger (or absurd,
/// `i64::MAX`) `expires_in` is a provider bug; capping keeps the arithmetic in range and
/// still renews the token some day.
pub(crate) const MAX_EXPIRES_IN: i64 = 365 * 24 * 3600;

/// When a token expires, from the reply's `expires_in` (RFC 6749 §5.1), else the access
/// token's own `exp`, else [`DEFAULT_LIFETIME`]. `expires_in` is capped at
/// [`MAX_EXPIRES_IN`]; zero or negative means "expires now" (the provider said so: the
/// token is used for the call at hand and renewed on the next).
pub(crate) fn expiry(now: i64, expires_in: Option<i64>, access_token: &str) -> Option<i64> {
    match expires_in {
        Some(s) => Some(now.saturating_add(s.clamp(0, MAX_EXPIRES_IN))),
        None => Some(jwt_exp(access_token).unwrap_or(now.saturating_add(DEFAULT_LIFETIME.as_secs() as i64))),
    }
}

/// A token response as RFC 6749 §5.1 / RFC 8693 §2.2.1 define it.
#[derive(Deserialize)]
pub(crate) struct RawTokenResponse {
    access_token: String,
    token_type: String,
    #[serde(default, deserialize_with = "de_opt_i64")]
    expires_in: Option<i64>,
    refresh_token: Option<String>,
    id_token: Option<String>,
    scope: Option<String>,
    issued_token_type: Option<String>,
}

/// `expires_in` as a number or a numeric string (some providers send "3600").
fn de_opt_i64<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        I(i64),
        F(f64),
        S(String),
    }
    Ok(match Option::<N>::deserialize(d)? {
        None => None,
        Some(N::I(i)) => Some(i),
        // `as` saturates (and maps NaN to 0): 1e300 is "a very long time", not a panic.
        Some(N::F(f)) => Some(f as i64),
        Some(N::S(s)) => Some(parse_seconds(&s).ok_or_else(|| serde::de::Error::custom("expires_in is not a number"))?),
    })
}

/// A number of seconds written as a decimal string (`"3600"`, `" -5 "`); too many digits
/// saturate.
pub(crate) fn parse_seconds(s: &str) -> Option<i64> {
    let t = s.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        t.parse()
            .unwrap_or(if t.starts_with('-') { i64::MIN } else { i64::MAX }),
    )
}

pub(crate) fn parse_token_reply(reply: &Reply, endpoint: &str) -> Result<RawTokenResponse> {
    if !reply.status.is_success() {
        return Err(status_error(reply, endpoint).into());
    }
    require_json(reply, endpoint)?;
    serde_json::from_slice(&reply.body).map_err(|e| {
        // serde's message may quote a value; only the category and position are kept.
        let what = match e.classify() {
            serde_json::error::Category::Eof => "truncated JSON".to_string(),
            serde_json::error::Category::Syntax => format!("invalid JSON at line {} column {}", e.line(), e.column()),
            serde_json::error::Category::Data => {
                let m = e.to_string();
                let field = m.split('`').nth(1).unwrap_or("a field");
                if m.starts_with("missing field") {
                    format!("missing field `{field}`")
                } else {
                    "a field has the wrong type".to_string()
                }
            }
            serde_json::error::Category::Io => "read error".to_string(),
        };
        Error::from(OAuthError::Malformed {
            endpoint: endpoint.to_string(),
            message: what,
        })
    })
}

impl From<HttpFailure> for Error {
    fn from(f: HttpFailure) -> Self {
        Error::new(f.kind, f.message)
    }
}
