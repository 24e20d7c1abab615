//! The layer under everything that speaks HTTP: header values every layer builds the same
//! way. Nothing here knows a credential, a token or a session; the OAuth client and the
//! credentials both build on it, so it sits below both.

pub(crate) mod headers;
