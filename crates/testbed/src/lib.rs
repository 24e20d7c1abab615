//! Test and demo infrastructure for sesame. Not part of the library: used by the
//! integration tests, the demo and the benchmarks.
//!
//! - [`idp`]: the bundled OpenID provider (npm `oidc-provider`), installed and started
//!   from `testbed/idp/`.

pub mod faults;
pub mod idp;
pub mod openbao;
pub mod pki;
pub mod server;
