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
//! through the application layer, the `sesame-auth-app` crate (`sesame_app::config`).
//!
//! Layering, top down: [`Session`] (scoping, the auth exchange, send) → [`credential`] →
//! [`oauth`] grants → [`token`] cache → transport → reqwest (`docs/ARCHITECTURE.md`).
//! The library knows nothing of the configuration file, the terminal or the command line.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blocking;
pub mod credential;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod hint;
// Internal helpers the front ends share; not public API.
#[doc(hidden)]
pub mod message;
pub mod middleware;
pub mod oauth;
#[doc(hidden)]
pub mod permissions;
// Internal helpers the front ends share; not public API.
#[doc(hidden)]
pub mod redact;
pub mod scope;
pub mod secret;
pub mod session;
pub mod tls;
pub mod token;
pub mod transport;

pub use credential::Credential;
pub use error::{ConfigError, CredentialError, Error, ErrorKind, HttpError, Result};
pub use hint::Hint;
pub use scope::CredentialScope;
pub use session::{RedirectPolicy, RequestBuilder, Response, Session, SessionBuilder};
pub use url::Url;

/// The `User-Agent` sesame sends: `sesame/<version>`.
pub const USER_AGENT: &str = concat!("sesame/", env!("CARGO_PKG_VERSION"));
