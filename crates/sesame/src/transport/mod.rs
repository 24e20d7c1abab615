//! The layer under everything that speaks HTTP: the retry policy (which attempts are safe to
//! repeat, back-off, `Retry-After`) and header values every layer builds the same way.
//! Nothing here knows a credential, a token or a session; the OAuth client and the session
//! both build on it, so it sits below both.

pub(crate) mod headers;
pub mod retry;
pub mod www_authenticate;
