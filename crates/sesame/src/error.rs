//! The one public error type, [`Error`], over one `thiserror` enum per layer.
//!
//! Callers match on [`Error::kind`] or the `is_*` predicates (as with reqwest); the layer
//! enums ([`ConfigError`], [`CredentialError`], [`HttpError`]) are there for those who want
//! the detail. No variant carries a secret: URLs are stored with their query redacted and
//! server messages are summaries of the body, never request headers.

use std::fmt;
use std::path::PathBuf;

use reqwest::StatusCode;

use crate::hint::Hint;
use crate::redact::redact_url;

/// `Result<T, sesame::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in the broad classes a caller acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration file, a profile key, a flag or a builder argument is invalid.
    Config,
    /// A credential could not be loaded or applied (unreadable file, unsafe permissions,
    /// expired certificate, missing secret).
    Credential,
    /// The server answered with a status ≥ 400 (see [`Error::status`]).
    Http,
    /// The request could not be sent or the response not read (DNS, connection, TLS).
    Transport,
    /// A connect, request or login timeout elapsed.
    Timeout,
    /// A response body could not be decoded (bad JSON, too large).
    Decode,
    /// An OAuth 2.0 / OpenID Connect provider refused (`invalid_grant`, …) or misbehaved.
    OAuth,
    /// No valid credential, and getting one needs a person (`sesame login`).
    LoginRequired,
    /// A local file or cache operation failed.
    Io,
    /// The operation was interrupted (Ctrl-C).
    Interrupted,
}

/// The error type of sesame. Cheap to move (one box), `Send + Sync`, and free of secrets.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    repr: Repr,
    /// Advice the place that raised the error chose; `None` = derived from the kind and
    /// layer detail by [`Error::hint`].
    hint: Option<Hint>,
}

#[derive(Debug, thiserror::Error)]
enum Repr {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    OAuth(#[from] crate::oauth::OAuthError),
    #[error("{message}")]
    Transport {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("{0}")]
    Other(String),
    /// An I/O failure with what was being done; the `io::Error` stays the source, so a
    /// caller can still ask for its `io::ErrorKind`.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// [`Error::context`]: the prefix in front of the wrapped error, which stays reachable
    /// (its status, OAuth and layer detail, and its own source chain).
    #[error("{prefix}: {inner}")]
    Context {
        prefix: String,
        #[source]
        inner: Box<Error>,
    },
}

impl Error {
    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The HTTP status, for [`ErrorKind::Http`] errors.
    pub fn status(&self) -> Option<StatusCode> {
        match &self.inner.repr {
            Repr::Http(h) => Some(h.status),
            Repr::Context { inner, .. } => inner.status(),
            _ => None,
        }
    }

    /// The HTTP error detail (status, method, URL, server message), if this is one.
    pub fn as_http(&self) -> Option<&HttpError> {
        match &self.inner.repr {
            Repr::Http(h) => Some(h),
            Repr::Context { inner, .. } => inner.as_http(),
            _ => None,
        }
    }

    /// The OAuth detail (provider error code and description), if this is one.
    pub fn as_oauth(&self) -> Option<&crate::oauth::OAuthError> {
        match &self.inner.repr {
            Repr::OAuth(o) => Some(o),
            Repr::Context { inner, .. } => inner.as_oauth(),
            _ => None,
        }
    }

    /// The provider's `error` code (`invalid_grant`, `invalid_client`, …), if the provider
    /// refused.
    pub fn oauth_error_code(&self) -> Option<&str> {
        self.as_oauth().and_then(|o| o.code())
    }

    /// What a person should do about a provider's refusal (log in again, or check the
    /// username and password), for a front end to word with its own commands.
    pub fn oauth_hint(&self) -> Option<crate::oauth::ProviderHint> {
        self.as_oauth().and_then(|o| o.hint())
    }

    /// Adds context in front of the message, keeping the kind, the hint and the wrapped
    /// error itself: [`status`](Self::status), [`as_http`](Self::as_http),
    /// [`as_oauth`](Self::as_oauth) and the layer detail still answer, and
    /// [`source`](std::error::Error::source) returns it.
    pub fn context(self, prefix: impl std::fmt::Display) -> Self {
        let kind = self.kind();
        let hint = self.hint();
        Error {
            inner: Box::new(Inner {
                kind,
                repr: Repr::Context {
                    prefix: prefix.to_string(),
                    inner: Box::new(self),
                },
                hint,
            }),
        }
    }

    /// The same error with this advice for the front end to word (see [`Hint`]).
    pub fn with_hint(mut self, hint: Hint) -> Self {
        self.inner.hint = Some(hint);
        self
    }

    /// The configuration error detail, if this is one.
    pub fn as_config(&self) -> Option<&ConfigError> {
        match &self.inner.repr {
            Repr::Config(c) => Some(c),
            Repr::Context { inner, .. } => inner.as_config(),
            _ => None,
        }
    }

    /// The credential error detail, if this is one.
    pub fn as_credential(&self) -> Option<&CredentialError> {
        match &self.inner.repr {
            Repr::Credential(c) => Some(c),
            Repr::Context { inner, .. } => inner.as_credential(),
            _ => None,
        }
    }

    /// A configuration, flag or argument problem.
    pub fn is_config(&self) -> bool {
        self.kind() == ErrorKind::Config
    }
    /// A credential could not be loaded or applied.
    pub fn is_credential(&self) -> bool {
        self.kind() == ErrorKind::Credential
    }
    /// The server answered with a status ≥ 400.
    pub fn is_http(&self) -> bool {
        self.kind() == ErrorKind::Http
    }
    /// A connection, DNS or TLS failure.
    pub fn is_transport(&self) -> bool {
        self.kind() == ErrorKind::Transport
    }
    /// A timeout elapsed.
    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::Timeout
    }
    /// A body could not be decoded.
    pub fn is_decode(&self) -> bool {
        self.kind() == ErrorKind::Decode
    }
    /// The OAuth provider refused or misbehaved.
    pub fn is_oauth(&self) -> bool {
        self.kind() == ErrorKind::OAuth
    }
    /// A person must log in (see [`Hint::Login`]).
    pub fn is_login_required(&self) -> bool {
        self.kind() == ErrorKind::LoginRequired
    }
    /// A local I/O problem.
    pub fn is_io(&self) -> bool {
        self.kind() == ErrorKind::Io
    }
    /// 400 Bad Request.
    pub fn is_bad_request(&self) -> bool {
        self.status() == Some(StatusCode::BAD_REQUEST)
    }
    /// 401 Unauthorized.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(StatusCode::UNAUTHORIZED)
    }
    /// 403 Forbidden.
    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(StatusCode::FORBIDDEN)
    }
    /// 404 Not Found.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }
    /// 409 Conflict.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(StatusCode::CONFLICT)
    }
    /// 413 Content Too Large.
    pub fn is_payload_too_large(&self) -> bool {
        self.status() == Some(StatusCode::PAYLOAD_TOO_LARGE)
    }
    /// 415 Unsupported Media Type.
    pub fn is_unsupported_media_type(&self) -> bool {
        self.status() == Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
    }
    /// 429 Too Many Requests.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(StatusCode::TOO_MANY_REQUESTS)
    }
    /// Any 5xx status.
    pub fn is_server_error(&self) -> bool {
        self.status().is_some_and(|s| s.is_server_error())
    }

    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                repr: Repr::Other(message.into()),
                hint: None,
            }),
        }
    }

    /// A configuration error with a free-form message (builder arguments, flags).
    pub fn config(message: impl Into<String>) -> Self {
        ConfigError::Invalid(message.into()).into()
    }

    /// A [`ErrorKind::LoginRequired`] error with advice.
    pub fn login_required(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::LoginRequired, message)
    }

    /// An I/O error with context (never the contents of a secret file).
    pub fn io(context: impl fmt::Display, err: std::io::Error) -> Self {
        Error {
            inner: Box::new(Inner {
                kind: ErrorKind::Io,
                repr: Repr::Io {
                    context: context.to_string(),
                    source: err,
                },
                hint: None,
            }),
        }
    }

    pub(crate) fn decode(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Decode, message)
    }

    /// Converts a reqwest error without its URL (which may carry secrets in the query),
    /// adding `url` with its query redacted.
    pub(crate) fn from_reqwest(err: reqwest::Error, method: &str, url: &url::Url) -> Self {
        let kind = if err.is_timeout() {
            ErrorKind::Timeout
        } else if err.is_decode() || err.is_body() && !err.is_connect() {
            ErrorKind::Decode
        } else {
            ErrorKind::Transport
        };
        let err = err.without_url();
        let mut message = format!("{method} {}: ", redact_url(url));
        if kind == ErrorKind::Timeout {
            message.push_str("timed out");
        } else {
            message.push_str(&err.to_string());
        }
        // reqwest's Display stops at the top error; the TLS or IO cause is what helps.
        let mut cause = std::error::Error::source(&err);
        let mut depth = 0;
        while let Some(c) = cause {
            let text = c.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            cause = c.source();
            depth += 1;
            if depth > 6 {
                break;
            }
        }
        let hint = if kind == ErrorKind::Timeout {
            message.push_str(" (raise `timeout`/`connect_timeout` in the profile, or check that the server is up)");
            Some(Hint::SetKey("timeout"))
        } else if message.contains("certificate") || message.contains("UnknownIssuer") {
            message.push_str(" (if the server uses a private CA, it belongs in `ca_bundle`)");
            Some(Hint::SetKey("ca_bundle"))
        } else {
            None
        };
        Error {
            inner: Box::new(Inner {
                kind,
                repr: Repr::Transport {
                    message,
                    source: Some(Box::new(err)),
                },
                hint,
            }),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("message", &self.to_string())
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner.repr, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.inner.repr)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error {
            inner: Box::new(Inner {
                kind: ErrorKind::Config,
                repr: Repr::Config(e),
                hint: None,
            }),
        }
    }
}

impl From<CredentialError> for Error {
    fn from(e: CredentialError) -> Self {
        let kind = match &e {
            CredentialError::Config(_) => ErrorKind::Config,
            CredentialError::Missing { .. } => ErrorKind::LoginRequired,
            _ => ErrorKind::Credential,
        };
        Error {
            inner: Box::new(Inner {
                kind,
                repr: Repr::Credential(e),
                hint: None,
            }),
        }
    }
}

impl From<crate::oauth::OAuthError> for Error {
    fn from(e: crate::oauth::OAuthError) -> Self {
        let kind = e.kind();
        Error {
            inner: Box::new(Inner {
                kind,
                repr: Repr::OAuth(e),
                hint: None,
            }),
        }
    }
}

impl From<HttpError> for Error {
    fn from(e: HttpError) -> Self {
        Error {
            inner: Box::new(Inner {
                kind: ErrorKind::Http,
                repr: Repr::Http(e),
                hint: None,
            }),
        }
    }
}

/// A problem with the configuration file, a profile key, a flag or a builder argument.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The configuration file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a bad key or value.
    #[error("{}{}: {message}{}", path.display(), line.map(|l| format!(", line {l}")).unwrap_or_default(), key.as_deref().map(|k| format!(" (key `{k}`)")).unwrap_or_default())]
    Parse {
        /// The configuration file.
        path: PathBuf,
        /// 1-based line number, where known.
        line: Option<usize>,
        /// The offending key, where known.
        key: Option<String>,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The requested profile does not exist.
    #[error("no profile `{name}` in {} (profiles there: {})", path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "the configuration (no config file found)".into()), if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// The configuration file, if one was found.
        path: Option<PathBuf>,
        /// The profiles that exist.
        available: Vec<String>,
    },
    /// A value is invalid (a bad URL, an unknown auth kind, a missing required key).
    #[error("{0}")]
    Invalid(String),
    /// Keys the profile's auth kind has no use for (see `docs/credential-kinds.md`):
    /// sesame refuses them rather than ignore them without a word.
    #[error("{message}")]
    KeyNotForKind {
        /// The profile.
        profile: String,
        /// The keys that do not apply, as written in the file.
        keys: Vec<&'static str>,
        /// Which kind the profile uses, where each key was set and which kinds use it.
        message: String,
    },
}

/// A credential could not be loaded or applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// A file holding a secret is readable or writable by others.
    #[error("{} is accessible by other users (mode {mode:04o}); refusing to use it. Fix: chmod 600 {}", path.display(), path.display())]
    UnsafePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A file holding a secret that the user named can be written by group or others:
    /// another account could swap the secret.
    #[error("{what} {} can be written by other users (mode {mode:04o}); refusing to use it. Fix: chmod 600 {}", path.display(), path.display())]
    UnsafeWritable {
        /// What the file is (`token file`, `client_secret file`, `configuration file`, …).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A folder sesame keeps secrets in is not private to this user (owned by another
    /// account, or writable by group or others).
    #[error("{what} {} {problem}; refusing to use it. Fix: {fix}", path.display())]
    UnsafeFolder {
        /// What the folder is (`token cache folder`, `HTTP cache folder`).
        what: &'static str,
        /// The folder.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// What to do.
        fix: String,
    },
    /// A file could not be read or parsed.
    #[error("cannot use {what} {}: {message}", path.display())]
    File {
        /// What the file is (`netrc file`, `client certificate`, …).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong (never the file's contents).
        message: String,
    },
    /// A secret's source (environment variable, file) is empty or missing.
    #[error("{0}")]
    Config(String),
    /// No credential was found where one was required.
    #[error("{0}")]
    Missing(String),
    /// A certificate is expired or about to expire.
    #[error("{0}")]
    Expired(String),
    /// A sender-constrained (DPoP-bound) token was asked for where only a bearer token
    /// works (a bearer-token file, a tool that sends `Authorization: Bearer`): it would be
    /// refused there, and handing it out only spreads a token that needs the key anyway.
    #[error("{0}")]
    SenderConstrained(String),
    /// Anything else, described.
    #[error("{0}")]
    Other(String),
}

/// The server answered with a status ≥ 400.
///
/// Carries the status, method, URL (query redacted) and a readable summary of the body:
/// JSON pretty-printed, HTML reduced to text, binary summarized by type and size.
#[derive(Debug, Clone)]
pub struct HttpError {
    /// The status code.
    pub status: StatusCode,
    /// The request method.
    pub method: String,
    /// The URL, query values redacted.
    pub url: String,
    /// The server's message, summarized from the body.
    pub message: String,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = self.status.canonical_reason().unwrap_or("");
        write!(f, "{} {} → {} {}", self.method, self.url, self.status.as_u16(), reason)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(advice) = advice_for(self.status) {
            write!(f, " ({advice})")?;
        }
        Ok(())
    }
}

impl std::error::Error for HttpError {}

fn advice_for(status: StatusCode) -> Option<&'static str> {
    Some(match status.as_u16() {
        401 => "the credential was rejected",
        403 => "authenticated, but not allowed: ask for the needed permission or scope",
        404 => "check the URL and the profile's base_url",
        413 => "the request body is too large for this server",
        415 => "the server does not accept this Content-Type",
        429 => "rate limited: wait and try again",
        500..=599 => "the server failed: try again later",
        _ => return None,
    })
}

impl Error {
    /// What to do next, where sesame knows: chosen by the engine, worded by each front end
    /// (the command line names its commands and flags, the Python package its methods and
    /// arguments). [`Hint`]'s `Display` is a neutral wording in terms of profile keys.
    pub fn hint(&self) -> Option<Hint> {
        if let Some(h) = &self.inner.hint {
            return Some(h.clone());
        }
        if let Some(h) = self.oauth_hint() {
            return Some(match h {
                crate::oauth::ProviderHint::Login => Hint::Login,
                crate::oauth::ProviderHint::CheckCredentials => Hint::CheckCredentials,
            });
        }
        match &self.inner.repr {
            Repr::Credential(
                CredentialError::UnsafePermissions { path, .. }
                | CredentialError::UnsafeWritable { path, .. }
                | CredentialError::UnsafeFolder { path, .. },
            ) => return Some(Hint::FixPermissions { path: path.clone() }),
            Repr::Credential(CredentialError::File { .. }) => return Some(Hint::CheckFile),
            Repr::Credential(CredentialError::SenderConstrained(_)) => return Some(Hint::UseDpopProof),
            Repr::Config(ConfigError::Read { .. } | ConfigError::Parse { .. }) => return Some(Hint::CheckConfigFile),
            Repr::Config(ConfigError::UnknownProfile { .. }) => return Some(Hint::PickProfile),
            Repr::Http(h) => {
                return match h.status.as_u16() {
                    401 => Some(Hint::CredentialRejected),
                    415 => Some(Hint::SetContentType),
                    _ => None,
                };
            }
            _ => {}
        }
        match self.kind() {
            ErrorKind::LoginRequired => Some(Hint::Login),
            ErrorKind::Config => Some(Hint::SeeConfiguration),
            ErrorKind::Transport => Some(Hint::CheckNetwork),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_keeps_the_io_error_as_its_source() {
        let e = Error::io(
            "cannot read /x",
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        assert_eq!(e.kind(), ErrorKind::Io);
        let source = std::error::Error::source(&e).expect("a source");
        let io = source.downcast_ref::<std::io::Error>().expect("the io::Error");
        assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(e.to_string().starts_with("cannot read /x: "), "{e}");
    }

    #[test]
    fn context_keeps_the_wrapped_error_its_status_and_its_detail() {
        let http = Error::from(HttpError {
            status: StatusCode::NOT_FOUND,
            method: "GET".into(),
            url: "https://api.example/x".into(),
            message: "no such thing".into(),
        });
        let wrapped = http.context("fetching the dataset").context("sesame request");
        assert_eq!(wrapped.kind(), ErrorKind::Http);
        assert_eq!(wrapped.status(), Some(StatusCode::NOT_FOUND));
        assert!(wrapped.is_not_found());
        assert!(wrapped.as_http().is_some());
        assert!(
            wrapped
                .to_string()
                .starts_with("sesame request: fetching the dataset: "),
            "{wrapped}"
        );
        // The chain: outer context → inner context → the HTTP error.
        let first = std::error::Error::source(&wrapped).expect("inner context");
        let second = first.source().expect("the http error");
        assert!(second.to_string().contains("404"), "{second}");
    }

    #[test]
    fn context_keeps_a_credential_hint() {
        let e = Error::from(CredentialError::File {
            what: "netrc file",
            path: "/nope".into(),
            message: "missing".into(),
        })
        .context("loading the profile");
        assert_eq!(e.hint(), Some(Hint::CheckFile));
        assert!(e.as_credential().is_some());
    }
}
