//! Redirects: the policy (docs/configuration.md `redirects`), the method rules of RFC 9110
//! §15.4, and the redirect stage of the send path.

use std::str::FromStr;

use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, LOCATION};
use reqwest::{Method, StatusCode};
use url::Url;

use super::Inner;
use super::request::Body;
use super::send::Parts;
use crate::Result;
use crate::redact::redact_url;

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

/// Where a redirect leads and what the next hop looks like, judged the same way by the
/// session and by [`CredentialMiddleware`](crate::middleware::CredentialMiddleware).
pub(crate) struct NextHop {
    /// The target, with any user-info taken off (a server's `Location` never makes
    /// credentials).
    pub(crate) url: Url,
    /// Whether the target is another origin (hand-set credential headers stay behind).
    pub(crate) cross_origin: bool,
    /// What becomes of the method and body.
    pub(crate) rule: NextMethod,
}

/// The next hop of a response to `method url`, or `None` when `policy` does not follow it
/// (not a redirect, no usable `Location`, another origin under `same-origin`, …).
pub(crate) fn next_hop(
    policy: RedirectPolicy,
    status: StatusCode,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
) -> Option<NextHop> {
    if !status.is_redirection() || policy == RedirectPolicy::None {
        return None;
    }
    let loc = headers.get(LOCATION)?.to_str().ok()?;
    let mut next = url.join(loc).ok()?;
    if !matches!(next.scheme(), "http" | "https") {
        return None;
    }
    let cross_origin = !same_origin(url, &next);
    if cross_origin && policy == RedirectPolicy::SameOrigin {
        return None;
    }
    let rule = next_method(status, method)?;
    let _ = next.set_username("");
    let _ = next.set_password(None);
    Some(NextHop {
        url: next,
        cross_origin,
        rule,
    })
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host() == b.host() && a.port_or_known_default() == b.port_or_known_default()
}

/// The error for a request redirected more than `max` times.
pub(crate) fn too_many(method: &Method, url: &Url, max: usize) -> crate::Error {
    crate::Error::new(
        crate::ErrorKind::Transport,
        format!(
            "{method} {}: more than {max} redirects; the server may be redirecting in a loop",
            redact_url(url)
        ),
    )
}

/// The redirect stage of the session's send path: whether to follow the response to
/// another hop (`req` changed for it: URL, method and body per RFC 9110 §15.4, hand-set
/// credential headers dropped when the hop leaves the origin).
pub(super) fn follow(inner: &Inner, req: &mut Parts, hops: &mut usize, resp: &reqwest::Response) -> Result<bool> {
    let status = resp.status();
    let Some(next) = next_hop(inner.redirect, status, &req.method, &req.url, resp.headers()) else {
        return Ok(false);
    };
    *hops += 1;
    if *hops > inner.max_redirects {
        return Err(too_many(&req.method, &req.url, inner.max_redirects));
    }
    if let NextMethod::Get = next.rule {
        req.method = Method::GET;
        req.body = Body::Empty;
        req.headers.remove(CONTENT_TYPE);
        req.headers.remove(CONTENT_LENGTH);
    }
    if next.cross_origin {
        // Hand-set credential headers stay with their origin (curl does the same for
        // Authorization and Cookie).
        drop_credential_headers(&mut req.headers, |k| inner.is_hand_set_credential_header(k));
    }
    tracing::debug!(
        status = status.as_u16(),
        from = %redact_url(&req.url),
        to = %redact_url(&next.url),
        cross_origin = next.cross_origin,
        "following redirect"
    );
    req.url = next.url;
    Ok(true)
}

/// Removes every header `is_credential` names.
pub(crate) fn drop_credential_headers(headers: &mut HeaderMap, is_credential: impl Fn(&HeaderName) -> bool) {
    let drop: Vec<HeaderName> = headers.keys().filter(|k| is_credential(k)).cloned().collect();
    for k in drop {
        headers.remove(&k);
    }
}
