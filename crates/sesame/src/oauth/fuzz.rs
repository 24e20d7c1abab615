//! Entry points for the fuzzers and property tests (`crates/sesame/fuzz`,
//! `tests/parsers_prop.rs`): each feeds outside data to one of the OAuth layer's parsers,
//! exactly as a reply from the network would reach it. Malformed input must give an error,
//! never a panic. Not a stable API.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use url::Url;

use super::ProviderMetadata;
use super::http::{Reply, parse_json_reply};
use super::webfinger::Jrd;

/// A reply with a status and content type taken from the first two bytes of `data`.
fn reply(data: &[u8]) -> Reply {
    let (status, ct, body) = match data {
        [s, c, rest @ ..] => {
            let status = [200, 400, 401, 403, 500, 503, 201, 302][*s as usize % 8];
            let ct = [
                Some("application/json"),
                Some("application/json; charset=utf-8"),
                Some("application/jrd+json"),
                Some("text/html"),
                Some("text/plain"),
                None,
                Some("application/octet-stream"),
                Some("application/problem+json"),
            ][*c as usize % 8];
            (status, ct, rest)
        }
        _ => (200, Some("application/json"), data),
    };
    let mut headers = HeaderMap::new();
    if let Some(ct) = ct {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    Reply::new(
        StatusCode::from_u16(status).expect("a listed status"),
        headers,
        body.to_vec(),
    )
}

fn url() -> Url {
    Url::parse("https://as.example/endpoint").expect("a URL")
}

/// A token endpoint reply: sesame's own parser (token exchange, extension grants) and the
/// `openidconnect` response type the standard grants use.
pub fn token_response(data: &[u8]) -> bool {
    let r = reply(data);
    let ok = super::client::parse_token_reply(&r, "token endpoint").is_ok();
    let _ = serde_json::from_slice::<openidconnect::core::CoreTokenResponse>(&r.body);
    if let Err(e) = super::client::parse_token_reply(&r, "token endpoint") {
        let _ = e.to_string();
    }
    ok
}

/// A UMA ticket grant reply.
pub fn uma_response(data: &[u8]) -> bool {
    let r = reply(data);
    match super::uma::parse_rpt_reply(
        &r,
        "uma",
        "https://as.example",
        Some(("https://as.example/claims", "c")),
        crate::token::Clock::now(&crate::token::SystemClock),
    ) {
        Ok(_) => true,
        Err(e) => {
            let _ = e.to_string();
            false
        }
    }
}

/// A JWKS document.
pub fn jwks(data: &[u8]) -> bool {
    match parse_json_reply::<openidconnect::core::CoreJsonWebKeySet>(&reply(data), &url(), "JWKS") {
        Ok(set) => {
            let _ = super::jwks::has_kid(&set, "k");
            true
        }
        Err(_) => false,
    }
}

/// A discovery document (OIDC / RFC 8414 / UMA).
pub fn discovery(data: &[u8]) -> bool {
    let r = reply(data);
    let _ = parse_json_reply::<super::uma::UmaConfiguration>(&r, &url(), "UMA configuration");
    match parse_json_reply::<ProviderMetadata>(&r, &url(), "discovery document") {
        Ok(m) => {
            let _ = m.supports_grant("authorization_code");
            true
        }
        Err(e) => {
            let _ = e.to_string();
            false
        }
    }
}

/// A WebFinger JRD.
pub fn webfinger(data: &[u8]) -> bool {
    match parse_json_reply::<Jrd>(&reply(data), &url(), "WebFinger") {
        Ok(j) => {
            let _ = j.issuer();
            true
        }
        Err(_) => false,
    }
}
