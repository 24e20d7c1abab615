//! OAuth 2.0 and OpenID Connect: discovery, grants, token validation and the provider's
//! other endpoints. Protocol code only: it knows nothing of sessions or caches.
//!
//! | file | what | spec |
//! |---|---|---|
//! | `discovery` | provider metadata | OIDC Discovery 1.0, RFC 8414 |
//! | `webfinger` | issuer from an API base URL | RFC 7033 |
//! | `jwks` | signing keys, rotation | RFC 7517 |
//! | `jws` | JWT signatures against a key set (ID tokens, discovered access tokens) | RFC 7515, RFC 8725 |
//! | `id_token` | ID token verification | OIDC Core §3.1.3.7 |
//! | `client` | grants: client credentials, password, refresh, code, token exchange | RFC 6749, RFC 8693 |
//! | `client_auth` | client authentication incl. `private_key_jwt` | RFC 6749 §2.3, RFC 7523 |
//! | `introspection`, `revocation`, `userinfo`, `registration` | provider endpoints | RFC 7662, RFC 7009, OIDC Core §5.3, RFC 7591 |
//! | `http` | the reqwest adapter for `oauth2`/`openidconnect`, size caps | |
//! | `authorization_code`, `loopback`, `landing` | browser login: code + PKCE, loopback redirect, result pages | RFC 7636, RFC 8252, RFC 9207 |
//! | `web_login` | server-side web-app login: authorization URL, pending state, callback checks | RFC 6749 §4.1, RFC 7636, RFC 9207 |
//! | `par` | pushed authorization requests for the browser login | RFC 9126 |
//! | `device` | device login | RFC 8628 |
//! | `dpop` | sender-constrained tokens: proofs, key, nonces | RFC 9449, RFC 7638 |

pub mod authorization_code;
mod client;
mod client_auth;
pub mod custom_grant;
pub mod device;
pub mod discovery;
pub mod dpop;
pub(crate) mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod http;
pub mod id_token;
mod introspection;
pub mod jwks;
pub mod jws;
pub mod landing;
pub mod loopback;
pub mod par;
pub mod pkce;
pub mod provider;
pub mod registration;
mod revocation;
pub mod uma;
mod uma_refusal;
mod userinfo;
pub mod web_login;
pub mod webfinger;

pub use client::{ACCESS_TOKEN_TYPE, ClientConfig, OAuthClient, TOKEN_EXCHANGE_GRANT, TokenOptions};
pub use client_auth::{ClientAuth, ClientAuthMethod};
pub use discovery::ProviderMetadata;
#[doc(hidden)]
pub use error::clean;
pub use error::{IdTokenError, OAuthError, ProviderHint};
pub use http::OAuthHttp;
pub use provider::{LazyClient, ProviderSource};
