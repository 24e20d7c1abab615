//! # sesame
//!
//! An authenticated HTTP session to a REST API. One [`Session`] carries a base URL, TLS
//! settings and a [`Credential`] (basic, bearer, API key, netrc, X.509 client certificate,
//! or your own), and attaches that credential only to requests for the base URL's origin
//! and path prefix — across redirects too.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sesame::Error> {
//! use sesame::{Session, credential::Bearer};
//!
//! let session = Session::builder()
//!     .base_url("https://api.example.com/v1/")?
//!     .credential(Bearer::new("my-token"))
//!     .build()?;
//! let user: serde_json::Value = session.get("users/me").send().await?
//!     .error_for_status().await?
//!     .json().await?;
//! # Ok(()) }
//! ```
//!
//! Profiles from the configuration file (`~/.config/sesame/config.toml`) build sessions
//! too: see [`config`].
//!
//! Layering, top down: [`Session`] (scoping, redirects, send) → [`credential`] → reqwest.
//! The library knows nothing of the command line.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bearer_file;
pub mod blocking;
pub mod config;
pub mod credential;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod hint;
pub mod login;
pub mod message;
pub mod middleware;
pub mod oauth;
pub mod redact;
pub mod scope;
pub mod secret;
pub mod session;
pub mod tls;
pub mod token;
mod transport;

pub use credential::Credential;
pub use error::{ConfigError, CredentialError, Error, ErrorKind, HttpError, Result};
pub use hint::Hint;
pub use scope::CredentialScope;
pub use session::{RedirectPolicy, RequestBuilder, Response, Session, SessionBuilder};
pub use url::Url;

/// The `User-Agent` sesame sends: `sesame/<version>`.
pub const USER_AGENT: &str = concat!("sesame/", env!("CARGO_PKG_VERSION"));
