//! UMA 2.0 ([User-Managed Access Grant for OAuth 2.0](https://docs.kantarainitiative.org/uma/wg/rec-oauth-uma-grant-2.0.html)),
//! the client side: a resource server answers 401 with
//! `WWW-Authenticate: UMA realm=…, as_uri=…, ticket=…`; the client discovers the
//! authorization server (`{as_uri}/.well-known/uma2-configuration`, §2), posts the ticket to
//! its token endpoint with `grant_type=urn:ietf:params:oauth:grant-type:uma-ticket` (§3.3.1)
//! — pushing the requesting party's token as a claim token, or a persisted claims token
//! (PCT) from an earlier answer — and retries with the requesting party token (RPT) it gets.
//!
//! The authorization server's refusals (§3.3.6) are typed: [`UmaError::NeedInfo`] (with the
//! new ticket and, when the server offers claims interaction, the URL to send the user to),
//! [`UmaError::RequestSubmitted`] and [`UmaError::RequestDenied`].
//!
//! The session side (which 401s lead here, which servers are trusted) is
//! [`credential::Uma`](crate::credential::Uma).

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use url::Url;

use super::discovery::check_transport;
use super::http::{Reply, provider_error};
use super::{OAuthClient, OAuthError, OAuthHttp, ProviderMetadata};
use crate::redact::redact_url;
use crate::secret::{AccessToken, RefreshToken};
use crate::token::Token;
use crate::{Error, Result};

/// The UMA ticket grant type.
pub const UMA_TICKET_GRANT: &str = "urn:ietf:params:oauth:grant-type:uma-ticket";
/// The claim token format of a JWT (RFC 8693 token type).
pub const JWT_CLAIM_TOKEN_FORMAT: &str = "urn:ietf:params:oauth:token-type:jwt";
/// The claim token format of an OpenID Connect ID token.
pub const ID_TOKEN_CLAIM_TOKEN_FORMAT: &str = "http://openid.net/specs/openid-connect-core-1_0.html#IDToken";

pub use super::uma_refusal::{Ticket, UmaError};

/// What sesame reads from `/.well-known/uma2-configuration` (UMA Grant §2, RFC 8414).
#[derive(Debug, Clone, Deserialize)]
pub struct UmaConfiguration {
    /// The issuer (must equal `as_uri`).
    pub issuer: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// Where a user is redirected to provide claims.
    #[serde(default)]
    pub claims_interaction_endpoint: Option<String>,
    /// The permission endpoint (resource servers use it; informational here).
    #[serde(default)]
    pub permission_endpoint: Option<String>,
    /// JWKS URI.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Supported grant types.
    #[serde(default)]
    pub grant_types_supported: Vec<String>,
}

/// Fetches and checks an authorization server's UMA configuration.
pub async fn discover(http: &OAuthHttp, as_uri: &str, insecure: bool) -> Result<UmaConfiguration> {
    let base = Url::parse(as_uri).map_err(|e| {
        OAuthError::Discovery(format!(
            "UMA as_uri `{}` is not a URL: {e}",
            super::error::clean(as_uri, 200)
        ))
    })?;
    check_transport(&base, insecure, "UMA as_uri")?;
    let trimmed = as_uri.trim_end_matches('/');
    let url = Url::parse(&format!("{trimmed}/.well-known/uma2-configuration"))
        .map_err(|e| OAuthError::Discovery(e.to_string()))?;
    let cfg: UmaConfiguration = http.get_json(&url, None, "UMA configuration").await?;
    if cfg.issuer.trim_end_matches('/') != trimmed {
        return Err(OAuthError::Discovery(format!(
            "{} names issuer `{}`, not `{trimmed}`; refusing it",
            redact_url(&url),
            super::error::clean(&cfg.issuer, 200)
        ))
        .into());
    }
    let te = Url::parse(&cfg.token_endpoint)
        .map_err(|e| OAuthError::Discovery(format!("UMA token_endpoint is not a URL: {e}")))?;
    check_transport(&te, insecure, "UMA token_endpoint")?;
    Ok(cfg)
}

/// One ticket exchange.
#[derive(Clone, Default)]
pub struct RptRequest<'a> {
    /// The permission ticket.
    pub ticket: &'a str,
    /// A token about the requesting party (an access or ID token), pushed as claims.
    pub claim_token: Option<&'a AccessToken>,
    /// Its format ([`JWT_CLAIM_TOKEN_FORMAT`] by default).
    pub claim_token_format: Option<&'a str>,
    /// A persisted claims token from an earlier answer.
    pub pct: Option<&'a str>,
    /// A previous RPT to upgrade (its permissions are kept).
    pub rpt: Option<&'a AccessToken>,
    /// Scopes to ask for (a subset of the ticket's).
    pub scopes: &'a [String],
}

impl fmt::Debug for RptRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The ticket and the persisted claims token are bearer-like: never shown.
        f.debug_struct("RptRequest")
            .field("ticket", &"[redacted]")
            .field("claim_token", &self.claim_token)
            .field("claim_token_format", &self.claim_token_format)
            .field("pct", &self.pct.map(|_| "[redacted]"))
            .field("rpt", &self.rpt)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// A requesting party token and what came with it.
#[derive(Debug, Clone)]
pub struct Rpt {
    /// The RPT as a token (expiry from `expires_in`, else its `exp`).
    pub token: Token,
    /// A persisted claims token to use next time, if the server issued one.
    pub pct: Option<AccessToken>,
    /// Whether the server merged the permissions of a previous RPT.
    pub upgraded: bool,
}

/// A client for the UMA authorization server at `as_uri`: `base`'s registration (id,
/// secret, authentication method) at the token endpoint of `config`.
pub fn client_for(base: &OAuthClient, as_uri: &str, config: &UmaConfiguration) -> OAuthClient {
    let meta = ProviderMetadata {
        issuer: as_uri.trim_end_matches('/').to_string(),
        token_endpoint: Some(config.token_endpoint.clone()),
        jwks_uri: config.jwks_uri.clone(),
        ..Default::default()
    };
    OAuthClient::new(base.config().clone(), Arc::new(meta), base.http().clone()).with_clock(base.clock().clone())
}

/// Exchanges a ticket for an RPT at `client`'s token endpoint (a client from
/// [`client_for`]). `config` supplies the claims interaction endpoint for `need_info`.
pub async fn request_rpt(client: &OAuthClient, config: &UmaConfiguration, req: &RptRequest<'_>) -> Result<Rpt> {
    let url = client.token_endpoint()?;
    let mut form: Vec<(String, String)> = vec![
        ("grant_type".into(), UMA_TICKET_GRANT.into()),
        ("ticket".into(), req.ticket.into()),
    ];
    if let Some(ct) = req.claim_token {
        form.push(("claim_token".into(), ct.expose().into()));
        form.push((
            "claim_token_format".into(),
            req.claim_token_format.unwrap_or(JWT_CLAIM_TOKEN_FORMAT).into(),
        ));
    }
    if let Some(p) = req.pct {
        form.push(("pct".into(), p.into()));
    }
    if let Some(r) = req.rpt {
        form.push(("rpt".into(), r.expose().into()));
    }
    if !req.scopes.is_empty() {
        form.push(("scope".into(), req.scopes.join(" ")));
    }
    let reply = client.post_authenticated(&url, form, true).await?;
    let endpoint = format!("UMA token endpoint {}", redact_url(&url));
    let as_uri = client.metadata().issuer.clone();
    let interaction = config
        .claims_interaction_endpoint
        .as_deref()
        .map(|e| (e, client.config().client_id.as_str()));
    parse_rpt_reply(&reply, &endpoint, &as_uri, interaction, client.clock().now())
}

/// The RFC 6749 §5.1 fields of a successful reply plus UMA's `pct` and `upgraded`.
#[derive(Deserialize)]
struct RawRpt {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    pct: Option<String>,
    #[serde(default)]
    upgraded: Option<bool>,
}

#[derive(Deserialize)]
struct RawError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    ticket: Option<String>,
    #[serde(default)]
    redirect_user: Option<serde_json::Value>,
    #[serde(default)]
    required_claims: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    interval: Option<serde_json::Value>,
}

/// Parses the token endpoint's reply to a ticket grant. `interaction` is the claims
/// interaction endpoint and the client id, to build `need_info`'s redirect URL.
pub(crate) fn parse_rpt_reply(
    reply: &Reply,
    endpoint: &str,
    as_uri: &str,
    interaction: Option<(&str, &str)>,
    now: i64,
) -> Result<Rpt> {
    super::http::require_json(reply, endpoint)?;
    if !reply.status.is_success() {
        if let Ok(e) = serde_json::from_slice::<RawError>(&reply.body) {
            let as_uri = as_uri.to_string();
            let description = e.error_description.as_deref().map(|d| super::error::clean(d, 1000));
            match e.error.as_str() {
                "need_info" => {
                    let ticket = e
                        .ticket
                        .ok_or_else(|| malformed(endpoint, "need_info without a ticket"))?;
                    let redirect_user = match &e.redirect_user {
                        Some(serde_json::Value::Bool(b)) => *b,
                        Some(serde_json::Value::String(s)) => !s.is_empty(),
                        _ => false,
                    };
                    let redirect_url = interaction.filter(|_| redirect_user).and_then(|(ep, client_id)| {
                        let mut u = Url::parse(ep).ok()?;
                        u.query_pairs_mut()
                            .append_pair("client_id", client_id)
                            .append_pair("ticket", &ticket);
                        Some(u.to_string())
                    });
                    return Err(OAuthError::Uma(UmaError::NeedInfo {
                        as_uri,
                        ticket: Ticket::new(ticket),
                        redirect_user,
                        redirect_url,
                        required_claims: e.required_claims.unwrap_or_default().into_iter().take(64).collect(),
                        description,
                    })
                    .into());
                }
                "request_submitted" => {
                    let ticket = e
                        .ticket
                        .ok_or_else(|| malformed(endpoint, "request_submitted without a ticket"))?;
                    let interval = match &e.interval {
                        Some(serde_json::Value::Number(n)) => n.as_u64(),
                        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
                        _ => None,
                    };
                    return Err(OAuthError::Uma(UmaError::RequestSubmitted {
                        as_uri,
                        ticket: Ticket::new(ticket),
                        interval,
                    })
                    .into());
                }
                "request_denied" => {
                    return Err(OAuthError::Uma(UmaError::RequestDenied { as_uri, description }).into());
                }
                _ => {}
            }
        }
        if let Some(e) = provider_error(reply, endpoint) {
            return Err(e.into());
        }
        return Err(malformed(
            endpoint,
            &format!("HTTP {} without an OAuth error body", reply.status.as_u16()),
        ));
    }
    let raw: RawRpt = serde_json::from_slice(&reply.body).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Eof => "truncated JSON".to_string(),
            serde_json::error::Category::Syntax => format!("invalid JSON at line {} column {}", e.line(), e.column()),
            _ if e.to_string().starts_with("missing field") => "missing field `access_token`".to_string(),
            _ => "a field has the wrong type".to_string(),
        };
        malformed(endpoint, &what)
    })?;
    if raw.access_token.is_empty() {
        return Err(malformed(endpoint, "empty access_token"));
    }
    if let Some(t) = &raw.token_type
        && !t.eq_ignore_ascii_case("bearer")
    {
        return Err(malformed(
            endpoint,
            &format!("token_type `{}` is not supported", super::error::clean(t, 40)),
        ));
    }
    let expires_in = match &raw.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Some(serde_json::Value::String(s)) => super::client::parse_seconds(s),
        _ => None,
    };
    let expires_at = super::client::expiry(now, expires_in, &raw.access_token);
    Ok(Rpt {
        token: Token {
            token_type: "Bearer".into(),
            expires_at,
            issued_at: now,
            refresh_token: raw.refresh_token.map(RefreshToken::new),
            id_token: None,
            scopes: raw
                .scope
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            issuer: Some(as_uri.to_string()),
            access_token: AccessToken::new(raw.access_token),
        },
        pct: raw.pct.map(AccessToken::new),
        upgraded: raw.upgraded.unwrap_or(false),
    })
}

fn malformed(endpoint: &str, message: &str) -> Error {
    OAuthError::Malformed {
        endpoint: endpoint.to_string(),
        message: message.to_string(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn reply(status: u16, body: &str) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Reply::new(StatusCode::from_u16(status).unwrap(), headers, body.as_bytes().to_vec())
    }

    fn uma(e: Error) -> UmaError {
        match e.as_oauth() {
            Some(OAuthError::Uma(u)) => u.clone(),
            _ => panic!("not a UMA error: {e}"),
        }
    }

    /// A clock reading far from today, so that a date from the system clock shows.
    const NOW: i64 = 1_000_000_000;

    #[test]
    fn success_need_info_submitted_denied() {
        let ok = parse_rpt_reply(
            &reply(
                200,
                r#"{"access_token":"rpt","token_type":"Bearer","expires_in":60,"upgraded":true,"pct":"p"}"#,
            ),
            "ep",
            "https://as",
            None,
            NOW,
        )
        .unwrap();
        assert_eq!(ok.token.access_token.expose(), "rpt");
        assert_eq!(
            (ok.token.issued_at, ok.token.expires_at),
            (NOW, Some(NOW + 60)),
            "dated by the given clock reading"
        );
        assert!(ok.upgraded);
        assert_eq!(ok.pct.unwrap().expose(), "p");

        let e = parse_rpt_reply(
            &reply(
                403,
                r#"{"error":"need_info","ticket":"NEW","redirect_user":true,"required_claims":[{"name":"sub"}]}"#,
            ),
            "ep",
            "https://as",
            Some(("https://as/claims", "cli")),
            NOW,
        )
        .unwrap_err();
        let text = e.to_string();
        match uma(e) {
            UmaError::NeedInfo {
                ticket,
                redirect_url,
                required_claims,
                ..
            } => {
                assert_eq!(ticket.expose(), "NEW");
                assert_eq!(
                    redirect_url.as_deref(),
                    Some("https://as/claims?client_id=cli&ticket=NEW")
                );
                assert_eq!(required_claims.len(), 1);
                assert!(!format!("{ticket:?}").contains("NEW"));
            }
            other => panic!("{other:?}"),
        }
        assert!(!text.contains("NEW"), "the ticket is not in the message: {text}");

        let e = parse_rpt_reply(
            &reply(403, r#"{"error":"request_submitted","ticket":"T2","interval":5}"#),
            "ep",
            "https://as",
            None,
            NOW,
        )
        .unwrap_err();
        assert!(matches!(uma(e), UmaError::RequestSubmitted { interval: Some(5), .. }));
        let parse = |status: u16, body: &str| parse_rpt_reply(&reply(status, body), "ep", "https://as", None, NOW);
        let e = parse(403, r#"{"error":"request_denied"}"#).unwrap_err();
        assert!(matches!(uma(e), UmaError::RequestDenied { .. }));
        let e = parse(400, r#"{"error":"invalid_grant"}"#).unwrap_err();
        assert_eq!(e.oauth_error_code(), Some("invalid_grant"));
        for junk in [
            "",
            "{",
            "[]",
            r#"{"access_token":""}"#,
            r#"{"access_token":1}"#,
            "<html>",
        ] {
            assert!(parse(200, junk).is_err(), "{junk}");
        }
    }
}
