//! OAuth 2.0 errors: what the provider said ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)),
//! malformed replies, discovery and ID token failures — each with advice.

use crate::ErrorKind;

/// An OAuth 2.0 / OpenID Connect failure.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// The provider answered with an OAuth error response.
    #[error("{endpoint} refused: {error}{}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default(), advice.map(|a| format!(" ({a})")).unwrap_or_default())]
    Provider {
        /// Which endpoint (`token endpoint https://…`).
        endpoint: String,
        /// HTTP status of the reply.
        status: Option<u16>,
        /// The `error` code.
        error: String,
        /// `error_description`, control characters removed.
        description: Option<String>,
        /// `error_uri`.
        uri: Option<String>,
        /// What to do about it.
        advice: Option<&'static str>,
        /// What the person should do next, for a front end to word (the engine's own
        /// text names no command).
        hint: Option<ProviderHint>,
    },
    /// The reply was not what the protocol requires (HTML, truncated JSON, missing fields,
    /// too large, wrong `token_type`).
    #[error("{endpoint} sent an invalid reply: {message}")]
    Malformed {
        /// Which endpoint.
        endpoint: String,
        /// What is wrong (never the body's secrets).
        message: String,
    },
    /// Discovery (WebFinger, OIDC or RFC 8414 metadata) failed.
    #[error("discovery failed: {0}")]
    Discovery(String),
    /// An ID token failed verification.
    #[error("ID token rejected: {0}")]
    IdToken(#[from] IdTokenError),
    /// The profile lacks something a grant needs.
    #[error("{0}")]
    Setup(String),
    /// WebFinger on the API named an issuer that a confidential client must not
    /// authenticate to: its secret or key would go wherever the API (or anyone answering
    /// on its origin) says.
    #[error(
        "WebFinger on {base_url} names the issuer `{issuer}`, which is not trusted for this confidential client: sesame never sends a client secret or key to an issuer it learned from the API. Set `issuer` in the profile, or list `{issuer}` in `trusted_issuers`"
    )]
    UntrustedIssuer {
        /// The issuer WebFinger returned.
        issuer: String,
        /// The API base URL WebFinger ran on (query redacted).
        base_url: String,
    },
    /// A UMA 2.0 authorization server refused a permission ticket (`need_info`,
    /// `request_submitted`, `request_denied`) or is not trusted.
    #[error(transparent)]
    Uma(#[from] super::uma_refusal::UmaError),
}

/// What a person should do about a provider's refusal. The engine decides which; the
/// front end (the CLI, the Python package) words it with its own commands and flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderHint {
    /// The grant (refresh token, code) is no longer valid: log in again.
    Login,
    /// The resource owner's credentials (password grant) were refused: check the username
    /// and password.
    CheckCredentials,
}

/// Why an ID token was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// `alg: none` or an unsigned token.
    #[error("it is unsigned (alg none), which sesame never accepts")]
    Unsigned,
    /// An algorithm outside the allowed list.
    #[error("signature algorithm `{0}` is not allowed")]
    UnsupportedAlg(String),
    /// The signature does not verify.
    #[error("signature does not verify: {0}")]
    BadSignature(String),
    /// No JWKS key matches the token's `kid`, even after refetching the JWKS.
    #[error("no key in the provider's JWKS matches kid `{0}`")]
    UnknownKey(String),
    /// `aud` does not contain the client id.
    #[error("audience does not include this client: {0}")]
    WrongAudience(String),
    /// `iss` is not the provider's issuer.
    #[error("issuer mismatch: {0}")]
    WrongIssuer(String),
    /// `exp` is in the past.
    #[error("it has expired: {0}")]
    Expired(String),
    /// `iat` / `nbf` unacceptable.
    #[error("issue time unacceptable: {0}")]
    IssuedAt(String),
    /// `nonce` missing or different.
    #[error("nonce mismatch: {0}")]
    Nonce(String),
    /// `at_hash` does not match the access token.
    #[error("at_hash does not match the access token")]
    AtHash,
    /// Not a well-formed JWT.
    #[error("malformed: {0}")]
    Malformed(String),
}

impl OAuthError {
    /// The sesame error kind this maps to.
    pub fn kind(&self) -> ErrorKind {
        match self {
            OAuthError::Setup(_) | OAuthError::UntrustedIssuer { .. } => ErrorKind::Config,
            _ => ErrorKind::OAuth,
        }
    }

    /// The provider's `error` code, if the provider refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            OAuthError::Provider { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The provider's `error_description`.
    pub fn description(&self) -> Option<&str> {
        match self {
            OAuthError::Provider { description, .. } => description.as_deref(),
            _ => None,
        }
    }

    /// What a person should do next, if the engine knows.
    pub fn hint(&self) -> Option<ProviderHint> {
        match self {
            OAuthError::Provider { hint, .. } => *hint,
            _ => None,
        }
    }

    /// This error as the refusal of a password grant: `invalid_grant` then means the
    /// username or password was not accepted (RFC 6749 §5.2), not that a login is due.
    pub(crate) fn for_password_grant(self) -> Self {
        match self {
            OAuthError::Provider {
                endpoint,
                status,
                error,
                description,
                uri,
                ..
            } if error == "invalid_grant" => OAuthError::Provider {
                endpoint,
                status,
                error,
                description,
                uri,
                advice: Some("the username or password was not accepted: check both"),
                hint: Some(ProviderHint::CheckCredentials),
            },
            other => other,
        }
    }

    /// This error with every secret of `mask` removed from the text that came from the
    /// server (it may echo the request).
    pub(crate) fn masked(self, mask: &crate::redact::SecretMask) -> Self {
        if mask.is_empty() {
            return self;
        }
        let m = |s: String| mask.mask(&s);
        match self {
            OAuthError::Provider {
                endpoint,
                status,
                error,
                description,
                uri,
                advice,
                hint,
            } => OAuthError::Provider {
                endpoint: m(endpoint),
                status,
                error: m(error),
                description: description.map(m),
                uri: uri.map(m),
                advice,
                hint,
            },
            OAuthError::Malformed { endpoint, message } => OAuthError::Malformed {
                endpoint: m(endpoint),
                message: m(message),
            },
            OAuthError::Discovery(d) => OAuthError::Discovery(m(d)),
            OAuthError::Setup(d) => OAuthError::Setup(m(d)),
            other => other,
        }
    }

    /// Builds a provider error with advice for the well-known codes.
    pub fn provider(
        endpoint: impl Into<String>,
        status: Option<u16>,
        error: &str,
        description: Option<&str>,
        uri: Option<&str>,
    ) -> Self {
        OAuthError::Provider {
            endpoint: endpoint.into(),
            status,
            error: clean(error, 100),
            description: description.map(|d| clean(d, 1000)),
            uri: uri.map(|u| clean(u, 500)),
            advice: advice(error),
            hint: matches!(error, "invalid_grant" | "expired_token").then_some(ProviderHint::Login),
        }
    }
}

fn advice(code: &str) -> Option<&'static str> {
    Some(match code {
        "invalid_grant" => "the grant or refresh token is no longer valid: log in again",
        "invalid_client" => "client authentication failed: check client_id, client_secret and client_auth",
        "unauthorized_client" => "this client is not allowed to use this grant type: check the client's registration",
        "invalid_scope" => "a requested scope is unknown or not allowed: check `scopes`",
        "invalid_target" => "the requested audience/resource is not allowed: check `audience`",
        "unsupported_grant_type" => "the provider does not support this grant: pick another `auth` kind",
        "access_denied" => "the request was denied by the user or the provider",
        "invalid_request" => "the provider rejected the request's parameters",
        "expired_token" => "the code expired before it was used: log in again",
        "temporarily_unavailable" | "server_error" => "the provider failed: try again later",
        _ => return None,
    })
}

/// Removes control characters (terminal escapes) and caps the length of provider text.
pub fn clean(s: &str, max: usize) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control() || *c == ' ').take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}
