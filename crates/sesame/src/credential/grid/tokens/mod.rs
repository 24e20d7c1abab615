//! `auth = "discover"`: the credentials grid and batch-cluster tools leave for a job
//! (docs/credentials.md), found the way the conventions say.
//!
//! **Tokens**, per request, in this order: `SCITOKEN` (the token itself), `SCITOKEN_FILE`,
//! each `$_CONDOR_CREDS/*.use` (sorted by name), then the
//! [WLCG Bearer Token Discovery](https://github.com/WLCG-AuthZ-WG/bearer-token-discovery)
//! order: `BEARER_TOKEN`, `BEARER_TOKEN_FILE`, `$XDG_RUNTIME_DIR/bt_u<euid>`, and
//! `/tmp/bt_u<euid>` only when `XDG_RUNTIME_DIR` is unset. Whitespace (C `isspace`) is
//! stripped; an empty token means "next"; a token that is not an RFC 6750 `b64token` stops
//! discovery with an error (the WLCG text: "SHOULD stop and return an error"). A JWT is
//! passed over, with the reason kept, when its `exp` is within `min_valid`, when its `aud`
//! names neither `scheme://host` of the request nor `ANY`, when its `scope` lacks a
//! required `authz:/path`, or, with `trusted_issuers` set, when its `iss` is not listed.
//! Opaque tokens are used as they are. By default the signature of a JWT is **not**
//! verified: the server does that, and these checks only avoid sending tokens the server
//! would refuse. With `verify_signature` (profile key, or
//! [`DiscoverBuilder::verify_signature`]) a token is used only if its signature verifies
//! against the keys its `https` issuer publishes (OIDC Discovery / RFC 8414 metadata, then
//! the JWKS); anything else — an opaque token, an unreachable issuer, a bad signature — is
//! passed over with its reason, and verdicts are remembered per token (see [`verify`]).
//! Verification needs the network, so it happens in the async paths (requests,
//! [`Discover::find_token_async`]); the synchronous lookups use verdicts already reached.
//!
//! Token files are checked (`stat`) on every use and re-read when they change, so a token
//! refreshed by an agent (`htgettoken`, `oidc-agent`, HTCondor's credd) is picked up by a
//! running program.
//!
//! **X.509** ([`discover_x509`](super::discover_x509)), found once when the credential is
//! built, is presented in the TLS handshake *in addition* to the token. **netrc** is used
//! only for requests for which no token was found.
//!
//! Each kind is *required*, *optional* (the default) or *disabled* ([`Mode`]), from the
//! builder or the environment: `SESAME_FIND_TOKEN`, `SESAME_FIND_X509`, `SESAME_FIND_NETRC`
//! (`1`, `y`, `yes`, `true`: required; any other value: disabled; unset: optional).
//! `fail_if_noauth` makes "nothing found" an error before any request is sent;
//! `force_noauth` sends nothing at all.
//!
//! ```no_run
//! # fn demo() -> sesame::Result<()> {
//! use sesame::credential::Discover;
//! // A one-off check in per-request code: which token would be sent to this URL?
//! let d = Discover::builder().required_scope("storage.read:/data").build()?;
//! let url = url::Url::parse("https://se.example.org/data/run1.root").unwrap();
//! let found = d.find_token(Some(&url))?;
//! tracing::info!("using the token from {}", found.source);
//! # Ok(()) }
//! ```

mod checks;
mod env;
mod sources;
pub mod verify;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Map, Value};
use url::Url;

pub use checks::{ANY_AUDIENCES, RequiredScope, accepted_audiences, audience_rejection, is_b64token, strip_isspace};
pub use env::Env;

use self::sources::{Candidate, FileRead, What};
use self::verify::Verifier;
use crate::credential::{Attachment, AuthRequest, Credential, CredentialInfo, Netrc, Rejection, X509};
use crate::error::CredentialError;
use crate::oauth::OAuthHttp;
use crate::secret::AccessToken;
use crate::token::{Clock, SystemClock, Token};
use crate::{Error, Result};

/// Default for how long a discovered JWT must still be valid: 60 s.
pub const DEFAULT_MIN_VALID: Duration = Duration::from_secs(60);

/// Whether a kind of credential must, may or must not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Not finding one is an error.
    Required,
    /// Used when found.
    #[default]
    Optional,
    /// Not looked for.
    Disabled,
}

impl Mode {
    /// The meaning of a `SESAME_FIND_*` variable: `1|y|yes|true` (any case) → required, any
    /// other value → disabled, unset → `None`.
    pub fn from_toggle(value: Option<&str>) -> Option<Mode> {
        let v = value?;
        Some(
            if matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "y" | "yes" | "true") {
                Mode::Required
            } else {
                Mode::Disabled
            },
        )
    }

    fn from_env(env: &Env, name: &str) -> Option<Mode> {
        let v = env.var(name)?;
        Mode::from_toggle(Some(&v.to_string_lossy()))
    }
}

/// A place that was looked at and passed over, and why. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The place (`BEARER_TOKEN_FILE (/run/user/1000/tok)`).
    pub source: String,
    /// Why it was passed over (`not set`, `empty`, `JWT expired 30 s ago`, …).
    pub reason: String,
}

impl Skipped {
    /// A skipped place.
    pub fn new(source: impl Into<String>, reason: impl Into<String>) -> Self {
        Skipped {
            source: source.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.source, self.reason)
    }
}

/// A token discovery found. `Debug` shows neither the token nor its claims.
#[derive(Clone)]
pub struct FoundToken {
    /// The token (whitespace stripped).
    pub token: AccessToken,
    /// Where it came from (`SCITOKEN_FILE (/path)`).
    pub source: String,
    /// Its `exp`, when it is a JWT that has one.
    pub expires_at: Option<i64>,
    /// Places passed over before it.
    pub skipped: Vec<Skipped>,
    claims: Option<Arc<Map<String, Value>>>,
}

impl std::fmt::Debug for FoundToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FoundToken")
            .field("token", &self.token)
            .field("source", &self.source)
            .field("expires_at", &self.expires_at)
            .field("skipped", &self.skipped)
            .finish_non_exhaustive()
    }
}

impl FoundToken {
    /// The token as a [`Token`] (expiry, issue time, scopes and issuer from its claims).
    pub fn to_token(&self) -> Token {
        let mut t = Token::bare(self.token.clone());
        if let Some(c) = &self.claims {
            if let Some(iat) = c.get("iat").and_then(Value::as_i64) {
                t.issued_at = iat;
            }
            if let Some(s) = c.get("scope").and_then(Value::as_str) {
                t.scopes = s.split_whitespace().map(str::to_owned).collect();
            }
            t.issuer = c.get("iss").and_then(Value::as_str).map(str::to_owned);
        }
        t
    }
}

/// The outcome of one token search.
#[derive(Debug, Clone)]
pub enum TokenSearch {
    /// A usable token.
    Found(FoundToken),
    /// None: every place looked at, and why each was passed over.
    NotFound(Vec<Skipped>),
}

/// Grid and cluster credential discovery as a [`Credential`]. See the [module docs](self).
pub struct Discover {
    env: Env,
    min_valid: Duration,
    scopes: Vec<RequiredScope>,
    audiences: Vec<String>,
    trusted_issuers: Vec<String>,
    verifier: Option<Verifier>,
    token_mode: Mode,
    x509_mode: Mode,
    netrc_mode: Mode,
    fail_if_noauth: bool,
    force_noauth: bool,
    base_url: Option<Url>,
    x509: Option<X509>,
    x509_source: Option<String>,
    x509_skipped: Vec<Skipped>,
    netrc: Option<Netrc>,
    netrc_skipped: Vec<Skipped>,
    cache: sources::FileCache,
    last_source: Mutex<Option<String>>,
    hasher: RandomState,
    /// The clock a token's `exp` and `nbf` are judged by.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Discover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discover")
            .field("token", &self.token_mode)
            .field("x509", &self.x509_mode)
            .field("netrc", &self.netrc_mode)
            .field("min_valid", &self.min_valid)
            .field("required_scopes", &self.scopes)
            .field("token_audience", &self.audiences)
            .field("trusted_issuers", &self.trusted_issuers)
            .field("verify_signature", &self.verifier.is_some())
            .field("fail_if_noauth", &self.fail_if_noauth)
            .field("force_noauth", &self.force_noauth)
            .field("x509_source", &self.x509_source)
            .field("netrc", &self.netrc)
            .finish_non_exhaustive()
    }
}

impl Discover {
    /// A builder: process environment, `min_valid` 60 s, every kind optional (unless a
    /// `SESAME_FIND_*` variable says otherwise).
    pub fn builder() -> DiscoverBuilder {
        DiscoverBuilder::default()
    }

    /// Discovery with the defaults and the process environment.
    pub fn from_env() -> Result<Discover> {
        Self::builder().build()
    }

    /// Looks for a usable token for a request to `url` (`None`: skip the audience check),
    /// valid for more than `min_valid`. `Err` only for a token that is malformed (RFC 6750),
    /// which stops discovery as the WLCG text asks.
    ///
    /// No network: with `verify_signature`, a token counts only if its signature was
    /// verified earlier in this process; one not verified yet is passed over (use
    /// [`search_tokens_async`](Self::search_tokens_async), which verifies it).
    pub fn search_tokens(&self, url: Option<&Url>, min_valid: Duration) -> Result<TokenSearch> {
        self.search_cached(url, min_valid, false)
    }

    /// [`search_tokens`](Self::search_tokens), verifying signatures over the network when
    /// `verify_signature` is on (each token once; verdicts are remembered).
    pub async fn search_tokens_async(&self, url: Option<&Url>, min_valid: Duration) -> Result<TokenSearch> {
        let want = self.expectations(url, min_valid);
        let mut skipped = Vec::new();
        for c in sources::candidates(&self.env) {
            let u = match self.examine(c, &want)? {
                Examined::Skip(s) => {
                    skipped.push(s);
                    continue;
                }
                Examined::Usable(u) => u,
            };
            if let Some(v) = &self.verifier
                && let Err(reason) = v.check(u.token.expose(), u.claims.as_deref()).await
            {
                tracing::debug!(source = %u.label, %reason, "token passed over");
                skipped.push(Skipped::new(u.label, reason));
                continue;
            }
            return Ok(TokenSearch::Found(u.found(skipped)));
        }
        Ok(TokenSearch::NotFound(skipped))
    }

    /// The synchronous search. A token whose signature is still to be verified is passed
    /// over, or, with `accept_unverified`, taken (to tell "something is there" at build
    /// time and in `status`, which cannot wait for the network).
    fn search_cached(&self, url: Option<&Url>, min_valid: Duration, accept_unverified: bool) -> Result<TokenSearch> {
        let want = self.expectations(url, min_valid);
        let mut skipped = Vec::new();
        for c in sources::candidates(&self.env) {
            let u = match self.examine(c, &want)? {
                Examined::Skip(s) => {
                    skipped.push(s);
                    continue;
                }
                Examined::Usable(u) => u,
            };
            match self.verifier.as_ref().map(|v| v.cached(u.token.expose())) {
                None | Some(Some(Ok(()))) => {}
                Some(None) if accept_unverified => {}
                Some(Some(Err(reason))) => {
                    skipped.push(Skipped::new(u.label, reason));
                    continue;
                }
                Some(None) => {
                    skipped.push(Skipped::new(
                        u.label,
                        "signature not verified yet (that needs the network: use find_token_async or a session)",
                    ));
                    continue;
                }
            }
            return Ok(TokenSearch::Found(u.found(skipped)));
        }
        Ok(TokenSearch::NotFound(skipped))
    }

    fn expectations<'a>(&'a self, url: Option<&'a Url>, min_valid: Duration) -> checks::Expectations<'a> {
        checks::Expectations {
            min_valid,
            url,
            audiences: &self.audiences,
            scopes: &self.scopes,
            now: self.clock.now(),
        }
    }

    /// Reads one place and applies the checks that need no network.
    fn examine(&self, c: Candidate, want: &checks::Expectations<'_>) -> Result<Examined> {
        let skip = |label: String, reason: String| Ok(Examined::Skip(Skipped::new(label, reason)));
        let (token, claims) = match &c.what {
            What::Nothing(reason) => return skip(c.label, reason.clone()),
            What::Var(name) => {
                let raw = self.env.var(name).unwrap_or_default();
                let raw = raw.to_string_lossy();
                let t = strip_isspace(&raw).to_string();
                let claims = crate::token::jwt_claims(&t).map(Arc::new);
                (AccessToken::new(t), claims)
            }
            What::File(path) => match self.cache.read(path) {
                FileRead::Missing => return skip(c.label, "file not found".into()),
                FileRead::Unreadable(e) => return skip(c.label, format!("cannot read: {e}")),
                FileRead::Refused(reason) => return skip(c.label, reason),
                FileRead::Token(ft) => (ft.token, ft.claims),
            },
        };
        if token.expose().is_empty() {
            return skip(c.label, "empty".into());
        }
        if !is_b64token(token.expose()) {
            return Err(CredentialError::Config(format!(
                "the token in {} is not a valid bearer token (RFC 6750: letters, digits and -._~+/ followed by any `=`; \
                 a space, quote or line break inside it?); fix or remove it — discovery stops here, as WLCG Bearer Token Discovery requires",
                c.label
            ))
            .into());
        }
        if let Some(reason) = checks::rejection(claims.as_deref(), want)
            .or_else(|| checks::issuer_rejection(claims.as_deref(), &self.trusted_issuers))
        {
            tracing::debug!(source = %c.label, %reason, "token passed over");
            return skip(c.label, reason);
        }
        Ok(Examined::Usable(Usable {
            label: c.label,
            token,
            claims,
        }))
    }

    /// The token for a request to `url` (`None`: no audience check), valid for more than
    /// the configured `min_valid`; a [`CredentialError::Missing`] error listing every place
    /// and why it was passed over when there is none. No network (see
    /// [`search_tokens`](Self::search_tokens)).
    pub fn find_token(&self, url: Option<&Url>) -> Result<FoundToken> {
        found_or_error(url, self.search_tokens(url, self.min_valid)?)
    }

    /// [`find_token`](Self::find_token), verifying signatures when `verify_signature` is on.
    pub async fn find_token_async(&self, url: Option<&Url>) -> Result<FoundToken> {
        found_or_error(url, self.search_tokens_async(url, self.min_valid).await?)
    }

    /// The X.509 credential found when this was built.
    pub fn x509(&self) -> Option<&X509> {
        self.x509.as_ref()
    }

    /// Where the X.509 credential came from.
    pub fn x509_source(&self) -> Option<&str> {
        self.x509_source.as_deref()
    }

    /// The netrc file loaded when this was built.
    pub fn netrc(&self) -> Option<&Netrc> {
        self.netrc.as_ref()
    }

    /// Where the token attached last came from.
    pub fn last_source(&self) -> Option<String> {
        self.last_source.lock().ok().and_then(|s| s.clone())
    }

    /// The per-kind modes in force (after the `SESAME_FIND_*` variables): token, X.509, netrc.
    pub fn modes(&self) -> (Mode, Mode, Mode) {
        (self.token_mode, self.x509_mode, self.netrc_mode)
    }

    fn fingerprint(&self, token: &AccessToken) -> u64 {
        // Keyed with per-instance random keys: the value says nothing about the token
        // outside this process. Never 0 (0 means "no token").
        self.hasher.hash_one(token.expose()).max(1)
    }

    fn netrc_login(&self, host: &str) -> bool {
        self.netrc.as_ref().is_some_and(|n| {
            n.lookup(host)
                .is_some_and(|e| e.login.is_some() && e.password.is_some())
        })
    }

    /// Everything that was looked for, for "nothing found" errors.
    fn nothing_error(&self, url: Option<&Url>, token_skipped: &[Skipped]) -> Error {
        let mut netrc = self.netrc_skipped.clone();
        if let (Some(n), Some(host)) = (&self.netrc, url.and_then(Url::host_str)) {
            netrc.push(Skipped::new(
                n.path().display().to_string(),
                format!("no entry with login and password for {host}"),
            ));
        }
        no_token_error(url, token_skipped, &self.x509_skipped, &netrc)
    }
}

fn found_or_error(url: Option<&Url>, search: TokenSearch) -> Result<FoundToken> {
    match search {
        TokenSearch::Found(f) => Ok(f),
        TokenSearch::NotFound(skipped) => Err(no_token_error(url, &skipped, &[], &[])),
    }
}

/// One place looked at: passed over (and why), or a token that passed the checks that need
/// no network.
enum Examined {
    Skip(Skipped),
    Usable(Usable),
}

struct Usable {
    label: String,
    token: AccessToken,
    claims: Option<Arc<Map<String, Value>>>,
}

impl Usable {
    fn found(self, skipped: Vec<Skipped>) -> FoundToken {
        let expires_at = self.claims.as_ref().and_then(|m| m.get("exp")).and_then(Value::as_f64);
        FoundToken {
            token: self.token,
            source: self.label,
            expires_at: expires_at.map(|e| e as i64),
            skipped,
            claims: self.claims,
        }
    }
}

/// The "no valid token" error: every place tried, and why each was passed over.
fn no_token_error(url: Option<&Url>, tokens: &[Skipped], x509: &[Skipped], netrc: &[Skipped]) -> Error {
    use std::fmt::Write;
    let mut m = String::from("no valid credential found by discovery");
    if let Some(u) = url {
        let _ = write!(m, " for {}", crate::redact::redact_url(u));
    }
    m.push_str("; tried:");
    for (kind, list) in [("token", tokens), ("X.509", x509), ("netrc", netrc)] {
        for s in list {
            let _ = write!(m, "\n  - {kind} {s}");
        }
    }
    m.push_str(
        "\nPut a token where one of these places says (e.g. `export BEARER_TOKEN_FILE=/path/to/token`, or run \
         htgettoken / oidc-token), or set a different auth kind for this profile",
    );
    CredentialError::Missing(m).into()
}

#[async_trait]
impl Credential for Discover {
    async fn attach(&self, req: &AuthRequest<'_>, headers: &mut HeaderMap) -> Result<Attachment> {
        if self.force_noauth {
            return Ok(Attachment::default());
        }
        let mut token_skipped = Vec::new();
        if self.token_mode != Mode::Disabled {
            match self.search_tokens_async(Some(req.url), self.min_valid).await? {
                TokenSearch::Found(f) => {
                    let mut v = HeaderValue::from_str(&format!("Bearer {}", f.token.expose())).map_err(|_| {
                        CredentialError::Config(format!("the token in {} is not a valid header value", f.source))
                    })?;
                    v.set_sensitive(true);
                    headers.insert(AUTHORIZATION, v);
                    tracing::debug!(source = %f.source, "attaching discovered token");
                    if let Ok(mut last) = self.last_source.lock() {
                        *last = Some(f.source.clone());
                    }
                    return Ok(Attachment {
                        id: self.fingerprint(&f.token),
                    });
                }
                TokenSearch::NotFound(s) => token_skipped = s,
            }
            if self.token_mode == Mode::Required {
                return Err(no_token_error(Some(req.url), &token_skipped, &[], &[]));
            }
        }
        let host = req.url.host_str().unwrap_or_default();
        if self.netrc_login(host)
            && let Some(n) = &self.netrc
        {
            return n.attach(req, headers).await;
        }
        if self.x509.is_none() && self.fail_if_noauth {
            return Err(self.nothing_error(Some(req.url), &token_skipped));
        }
        Ok(Attachment::default())
    }

    async fn rejected(
        &self,
        req: &AuthRequest<'_>,
        attachment: &Attachment,
        _challenge: Option<&str>,
    ) -> Result<Rejection> {
        if attachment.id == 0 || self.force_noauth || self.token_mode == Mode::Disabled {
            return Ok(Rejection::GiveUp);
        }
        // An agent may have replaced the token since: retry once if there is a new one.
        Ok(match self.search_tokens_async(Some(req.url), self.min_valid).await? {
            TokenSearch::Found(f) if self.fingerprint(&f.token) != attachment.id => Rejection::Retry,
            _ => Rejection::GiveUp,
        })
    }

    fn tls_identity(&self) -> Result<Option<reqwest::Identity>> {
        match (&self.x509, self.force_noauth) {
            (Some(x), false) => x.tls_identity(),
            _ => Ok(None),
        }
    }

    fn info(&self) -> CredentialInfo {
        let mut info = CredentialInfo::new("discover");
        if self.force_noauth {
            return info.with("force_noauth", "true");
        }
        if self.verifier.is_some() {
            info = info.with("verify_signature", "true");
        }
        if self.token_mode != Mode::Disabled {
            match self.search_cached(self.base_url.as_ref(), self.min_valid, true) {
                Ok(TokenSearch::Found(f)) => {
                    info = info
                        .with("source", f.source.clone())
                        .with("token", crate::secret::mask(f.token.expose()));
                    if let Some(v) = &self.verifier {
                        let state = match v.cached(f.token.expose()) {
                            Some(Ok(())) => "verified",
                            _ => "not verified yet",
                        };
                        info = info.with("signature", state);
                    }
                    if let Some(e) = f.expires_at {
                        info = info.with("expires_at", e.to_string());
                    }
                }
                Ok(TokenSearch::NotFound(_)) => info = info.with("source", "none"),
                Err(_) => info = info.with("source", "invalid token"),
            }
        }
        if let (Some(x), Some(src)) = (&self.x509, &self.x509_source) {
            info = info
                .with("x509_source", src.clone())
                .with("x509_subject", x.info().subject.clone())
                .with("x509_not_after", x.info().not_after.to_string());
        }
        if let Some(n) = &self.netrc {
            info = info.with("netrc", n.path().display().to_string());
        }
        info
    }

    async fn token(&self, min_valid: Duration, _force_refresh: bool) -> Result<Option<Token>> {
        if self.force_noauth || self.token_mode == Mode::Disabled {
            return Ok(None);
        }
        // Nothing to refresh: files are re-read whenever they change anyway.
        match self.search_tokens_async(self.base_url.as_ref(), min_valid).await? {
            TokenSearch::Found(f) => {
                if let Ok(mut last) = self.last_source.lock() {
                    *last = Some(f.source.clone());
                }
                Ok(Some(f.to_token()))
            }
            TokenSearch::NotFound(s) => Err(no_token_error(self.base_url.as_ref(), &s, &[], &[])),
        }
    }
}

/// Builds a [`Discover`]. Nothing here changes a session: per-request code may build its
/// own (with another required scope, say) and use [`Discover::find_token`] or pass it to a
/// new session.
#[must_use = "a builder does nothing until .build() is called"]
#[derive(Debug, Default)]
pub struct DiscoverBuilder {
    env: Option<Env>,
    min_valid: Option<Duration>,
    scopes: Vec<String>,
    audiences: Vec<String>,
    trusted_issuers: Vec<String>,
    verify_signature: bool,
    insecure: bool,
    oauth_http: Option<OAuthHttp>,
    token: Option<Mode>,
    x509: Option<Mode>,
    netrc: Option<Mode>,
    netrc_file: Option<PathBuf>,
    x509_credential: Option<X509>,
    fail_if_noauth: bool,
    force_noauth: bool,
    base_url: Option<String>,
    clock: Option<Arc<dyn Clock>>,
}

impl DiscoverBuilder {
    /// The clock tokens' `exp` and `nbf` are judged by (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The environment to read (default: the process's).
    pub fn env(mut self, env: Env) -> Self {
        self.env = Some(env);
        self
    }

    /// A JWT with this or less left is passed over (default 60 s).
    pub fn min_valid(mut self, d: Duration) -> Self {
        self.min_valid = Some(d);
        self
    }

    /// A capability a JWT must grant, such as `storage.read:/data` (paths match on segment
    /// boundaries; `..` is refused). Repeatable.
    pub fn required_scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// An audience a JWT's `aud` may name instead of the request's `scheme://host`
    /// (igwn-auth-utils' `token_audience`; repeatable: any one of them will do, as will
    /// `ANY`). A JWT without `aud` still passes.
    pub fn token_audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Use a JWT only if its signature verifies against the keys of its issuer (`iss`,
    /// which must be `https` unless [`insecure`](Self::insecure)); opaque tokens are then
    /// passed over. Default off: the server verifies tokens anyway, and verification costs
    /// a discovery and a JWKS fetch per issuer (cached per process).
    pub fn verify_signature(mut self, on: bool) -> Self {
        self.verify_signature = on;
        self
    }

    /// Use only tokens issued by this issuer (repeatable; a trailing `/` is ignored). A JWT
    /// from another issuer, or an opaque token, is passed over. Without
    /// [`verify_signature`](Self::verify_signature) this selects tokens by their unverified
    /// `iss`; it does not prove where they came from.
    pub fn trusted_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.trusted_issuers.push(issuer.into());
        self
    }

    /// Allow `http://` issuers and key sets for signature verification, and (unless an
    /// [`oauth_http`](Self::oauth_http) client is given) skip TLS certificate checks when
    /// fetching them. For test providers only.
    pub fn insecure(mut self, on: bool) -> Self {
        self.insecure = on;
        self
    }

    /// The HTTP client for issuer discovery and key sets (default: system roots, 30 s
    /// timeout, 10 s connect timeout, default retries).
    pub fn oauth_http(mut self, http: OAuthHttp) -> Self {
        self.oauth_http = Some(http);
        self
    }

    /// Whether tokens are required, optional or not looked for (overrides `SESAME_FIND_TOKEN`).
    pub fn token(mut self, mode: Mode) -> Self {
        self.token = Some(mode);
        self
    }

    /// Whether an X.509 credential is required, optional or not looked for (overrides
    /// `SESAME_FIND_X509`).
    pub fn x509(mut self, mode: Mode) -> Self {
        self.x509 = Some(mode);
        self
    }

    /// Whether netrc is required, optional or not used (overrides `SESAME_FIND_NETRC`).
    pub fn netrc(mut self, mode: Mode) -> Self {
        self.netrc = Some(mode);
        self
    }

    /// The netrc file (default `$NETRC`, else `~/.netrc`).
    pub fn netrc_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.netrc_file = Some(path.into());
        self
    }

    /// Uses this X.509 credential instead of discovering one.
    pub fn x509_credential(mut self, x: X509) -> Self {
        self.x509_credential = Some(x);
        self
    }

    /// Nothing found is an error, raised before any request is sent.
    pub fn fail_if_noauth(mut self, on: bool) -> Self {
        self.fail_if_noauth = on;
        self
    }

    /// Send no credential at all.
    pub fn force_noauth(mut self, on: bool) -> Self {
        self.force_noauth = on;
        self
    }

    /// The base URL the credential will serve: used for the audience check where no request
    /// URL is at hand ([`Credential::token`], `fail_if_noauth` at build time, `status`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Looks for X.509 and netrc credentials now (tokens are looked for per request);
    /// errors if a required kind is missing or, with `fail_if_noauth`, if nothing is found.
    pub fn build(self) -> Result<Discover> {
        let env = self.env.unwrap_or_else(Env::system);
        let base_url = match &self.base_url {
            Some(u) => {
                Some(Url::parse(u).map_err(|e| Error::config(format!("base URL `{u}` is not a valid URL: {e}")))?)
            }
            None => None,
        };
        let scopes = self
            .scopes
            .iter()
            .map(|s| RequiredScope::parse(s).map_err(Error::config))
            .collect::<Result<Vec<_>>>()?;
        for i in &self.trusted_issuers {
            Url::parse(i).map_err(|e| Error::config(format!("trusted issuer `{i}` is not a URL: {e}")))?;
        }
        let verifier = if self.verify_signature {
            let http = match self.oauth_http {
                Some(h) => h,
                None => {
                    let tls = crate::tls::TlsOptions {
                        insecure: self.insecure,
                        ..Default::default()
                    };
                    OAuthHttp::new(&tls, Duration::from_secs(30), Duration::from_secs(10))?
                }
            };
            Some(Verifier::new(http, self.insecure))
        } else {
            None
        };
        let mode =
            |explicit: Option<Mode>, var: &str| explicit.or_else(|| Mode::from_env(&env, var)).unwrap_or_default();
        let token_mode = mode(self.token, "SESAME_FIND_TOKEN");
        let x509_mode = mode(self.x509, "SESAME_FIND_X509");
        let netrc_mode = mode(self.netrc, "SESAME_FIND_NETRC");
        let mut d = Discover {
            env,
            min_valid: self.min_valid.unwrap_or(DEFAULT_MIN_VALID),
            scopes,
            audiences: self.audiences,
            trusted_issuers: self.trusted_issuers,
            verifier,
            token_mode,
            x509_mode,
            netrc_mode,
            fail_if_noauth: self.fail_if_noauth,
            force_noauth: self.force_noauth,
            base_url,
            x509: None,
            x509_source: None,
            x509_skipped: Vec::new(),
            netrc: None,
            netrc_skipped: Vec::new(),
            cache: Default::default(),
            last_source: Mutex::new(None),
            hasher: RandomState::new(),
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
        };
        if d.force_noauth {
            return Ok(d);
        }

        if x509_mode != Mode::Disabled {
            if let Some(x) = self.x509_credential {
                d.x509_source = Some(x.info().cert_path.display().to_string());
                d.x509 = Some(x);
            } else {
                let found = super::discover_x509(&d.env);
                d.x509 = found.found;
                d.x509_source = found.source;
                d.x509_skipped = found.skipped;
            }
            if let Some(x) = &d.x509
                && super::proxy::is_proxy_file(&x.info().cert_path)
            {
                super::enable_proxy_client_certificates();
            }
            if d.x509.is_none() {
                if x509_mode == Mode::Required {
                    return Err(required_error(
                        "an X.509 credential",
                        "SESAME_FIND_X509",
                        &d.x509_skipped,
                    ));
                }
                for s in d
                    .x509_skipped
                    .iter()
                    .filter(|s| s.reason != "not found" && s.reason != "not set")
                {
                    tracing::warn!("X.509 credential not used: {s}");
                }
            }
        }

        if netrc_mode != Mode::Disabled {
            let path = self
                .netrc_file
                .or_else(|| d.env.path_var("NETRC"))
                .or_else(|| d.env.home().map(|h| h.join(".netrc")));
            match path {
                Some(p) if p.exists() => match Netrc::load(&p) {
                    Ok(n) => d.netrc = Some(n),
                    Err(e) if netrc_mode == Mode::Required => return Err(e),
                    Err(e) => {
                        tracing::warn!("netrc not used: {e}");
                        d.netrc_skipped
                            .push(Skipped::new(p.display().to_string(), e.to_string()));
                    }
                },
                Some(p) => d.netrc_skipped.push(Skipped::new(p.display().to_string(), "not found")),
                None => d
                    .netrc_skipped
                    .push(Skipped::new("~/.netrc", "no $NETRC and no home directory")),
            }
            if d.netrc.is_none() && netrc_mode == Mode::Required {
                return Err(required_error("a netrc file", "SESAME_FIND_NETRC", &d.netrc_skipped));
            }
        }

        if token_mode == Mode::Required || d.fail_if_noauth {
            let search = if token_mode == Mode::Disabled {
                TokenSearch::NotFound(Vec::new())
            } else {
                // Signatures are verified at first use (building cannot wait for the network).
                d.search_cached(d.base_url.as_ref(), d.min_valid, true)?
            };
            if let TokenSearch::NotFound(skipped) = search {
                if token_mode == Mode::Required {
                    return Err(required_error("a bearer token", "SESAME_FIND_TOKEN", &skipped));
                }
                let netrc_ok = match d.base_url.as_ref().and_then(Url::host_str) {
                    Some(h) => d.netrc_login(h),
                    None => d.netrc.is_some(),
                };
                if d.x509.is_none() && !netrc_ok {
                    return Err(d.nothing_error(d.base_url.as_ref(), &skipped));
                }
            }
        }
        Ok(d)
    }
}

fn required_error(what: &str, var: &str, skipped: &[Skipped]) -> Error {
    use std::fmt::Write;
    let mut m = format!("{what} is required (by the profile, the caller or ${var}) but none is usable; tried:");
    for s in skipped {
        let _ = write!(m, "\n  - {s}");
    }
    CredentialError::Missing(m).into()
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;
    use crate::token::ManualClock;

    #[test]
    fn a_token_expired_by_the_clock_is_passed_over() {
        const START: i64 = 1_000_000_000;
        let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let claims = serde_json::json!({ "exp": START + 3600 });
        let jwt = format!(
            "{}.{}.{}",
            b64(br#"{"alg":"HS256","typ":"JWT"}"#),
            b64(claims.to_string().as_bytes()),
            b64(b"sig")
        );
        let clock = ManualClock::new(START);
        let d = Discover::builder()
            .env(Env::isolated().set("BEARER_TOKEN", &jwt))
            .x509(Mode::Disabled)
            .netrc(Mode::Disabled)
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
        assert_eq!(d.find_token(None).unwrap().token.expose(), jwt, "valid by the clock");
        clock.advance(3600);
        assert!(d.find_token(None).is_err(), "expired by the clock");
    }
}
