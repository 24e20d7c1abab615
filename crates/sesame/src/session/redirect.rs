//! Redirect policy (docs/configuration.md `redirects`) and the method rules of RFC 9110 §15.4.

use std::str::FromStr;

use reqwest::{Method, StatusCode};

/// Which redirects a session follows. Credentials never cross origins, whatever the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedirectPolicy {
    /// Return every 3xx response to the caller.
    None,
    /// Follow redirects within the same origin; return others to the caller.
    #[default]
    SameOrigin,
    /// Follow every redirect (credentials are still attached only within scope).
    All,
}

impl FromStr for RedirectPolicy {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Self::None),
            "same-origin" => Ok(Self::SameOrigin),
            "all" => Ok(Self::All),
            other => Err(crate::Error::config(format!(
                "unknown redirect policy `{other}`: use none, same-origin or all"
            ))),
        }
    }
}

/// What the next hop of a redirect looks like.
pub(crate) enum NextMethod {
    /// Same method, same body (307, 308).
    Keep,
    /// Switch to GET and drop the body (303; 301/302 after POST, as browsers do).
    Get,
}

pub(crate) fn next_method(status: StatusCode, method: &Method) -> Option<NextMethod> {
    match status.as_u16() {
        301 | 302 => Some(if *method == Method::POST {
            NextMethod::Get
        } else {
            NextMethod::Keep
        }),
        303 => Some(if *method == Method::HEAD {
            NextMethod::Keep
        } else {
            NextMethod::Get
        }),
        307 | 308 => Some(NextMethod::Keep),
        _ => None,
    }
}
