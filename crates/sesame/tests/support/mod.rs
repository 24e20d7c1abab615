//! Helpers shared by the integration tests: the real local servers live in the
//! `sesame-testbed` crate; this adds small conveniences.
#![allow(dead_code, unused_imports)]

pub use sesame_testbed::pki::{CertKey, TestCa, write_private};
pub use sesame_testbed::server::{Recorded, ServerOptions, TestServer};

/// A temporary directory that lives as long as the returned guard.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub mod dpop_rs;
