//! Finding the credentials grid and HPC tools leave behind, the way those tools do: bearer
//! tokens ([`tokens`]: WLCG bearer token discovery and its relatives) and X.509 user
//! certificates and proxies ([`discover_x509`]). Not to be confused with
//! [`oauth::discovery`](crate::oauth::discovery), which reads a provider's metadata.

mod proxy;
pub mod tokens;
mod x509;

pub use proxy::enable_proxy_client_certificates;
pub use x509::{X509Discovery, discover_x509};
