//! # sesame-app
//!
//! The application layer of sesame, shared by the `sesame` command and the Python package:
//! profiles from the configuration file ([`config`]), the person-facing part of logins
//! ([`login`]: the text UI, the browser opener, QR codes, logout), what `status` reports
//! ([`Status`]), bearer files ([`bearer_file`]), writing profiles ([`config::write`]) and
//! registering a client as a profile ([`register`]). It builds engine objects
//! ([`sesame::Session`], credentials, token sources) and never reaches into their
//! internals; the engine does not know this crate exists (see `docs/ARCHITECTURE.md`).
//!
//! ```no_run
//! # fn demo() -> Result<(), sesame::Error> {
//! use sesame_app::config::{self, Config};
//!
//! let config = Config::load(None)?;
//! let resolved = config.profile(Some("ods"))?;
//! let session = config::session_builder(&resolved)?.build()?;
//! # let _ = session; Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bearer_file;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod login;
pub mod register;
mod status;

pub use status::{CachedToken, Status, TokenStatus};
