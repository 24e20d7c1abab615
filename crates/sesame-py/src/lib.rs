//! The extension module `sesame._sesame`: Python bindings of the `sesame` crate.
//!
//! The binding converts types and releases the GIL; authentication, HTTP, scoping, token
//! renewal and caching are the library's. The pure-Python parts of the package (exceptions,
//! the requests and httpx adapters) live in `python/sesame/`.

#![forbid(unsafe_code)]

mod aio;
mod cli;
mod errors;
mod exchange;
mod logging;
mod login;
mod multipart;
mod profile;
mod provider;
mod request;
mod response;
mod runtime;
mod session;
mod web;

use pyo3::prelude::*;

#[pymodule]
fn _sesame(m: &Bound<'_, PyModule>) -> PyResult<()> {
    logging::install();
    m.add_function(wrap_pyfunction!(cli::_cli_main, m)?)?;
    m.add_class::<session::PySession>()?;
    m.add_class::<session::PyAsyncSession>()?;
    m.add_class::<exchange::PyAuthExchange>()?;
    m.add_class::<response::PyResponse>()?;
    m.add_class::<response::PyHeaders>()?;
    m.add_class::<response::ContentIter>()?;
    m.add_class::<response::AsyncContentIter>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("USER_AGENT", sesame::USER_AGENT)?;
    // Whether this build got `.cargo/config.toml`'s `[env]` (maturin runs cargo, which reads
    // it): aws-lc without CPU-jitter entropy (docs/design/tls-startup.md). Checked by a test.
    m.add(
        "_AWS_LC_NO_JITTER_ENTROPY",
        option_env!("AWS_LC_SYS_NO_JITTER_ENTROPY") == Some("1"),
    )?;
    Ok(())
}
