//! The device authorization grant ([RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)).
//!
//! [`DeviceAuthorization::request`] asks the provider for a device code and a user code
//! (§3.1–3.2); the caller shows the user code and the verification URI (and a QR code of
//! `verification_uri_complete`); [`DeviceAuthorization::poll`] polls the token endpoint
//! (§3.4–3.5):
//!
//! - the first poll waits one `interval` (default 5 s when the provider names none);
//! - `authorization_pending` → poll again after `interval`;
//! - `slow_down` → `interval` grows by 5 s for this and every later poll;
//! - `expired_token` → an error telling to start again; `access_denied` → the provider's
//!   error (the person refused);
//! - a network error or timeout → poll again, with the interval doubled (at most 60 s);
//! - the device code's `expires_in` ends the polling with an `expired_token` error.
//!
//! Polling is cancellable: drop the future (the caller also bounds it with the login
//! timeout). The device code never reaches logs, errors or `Debug`.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{OAuthClient, OAuthError, TokenOptions};
use crate::token::Token;
use crate::{Error, ErrorKind, Result};

/// The RFC 8628 grant type.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Polling interval when the provider sends none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// Added to the interval on each `slow_down` (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A device authorization: what to show the person, and the device code to poll with.
pub struct DeviceAuthorization {
    device_code: SecretString,
    /// The code the person types (control characters removed).
    pub user_code: String,
    /// Where the person goes.
    pub verification_uri: String,
    /// The same with the code filled in, if the provider offers it.
    pub verification_uri_complete: Option<String>,
    /// How long the codes are valid.
    pub expires_in: Duration,
    /// The polling interval the provider asked for.
    pub interval: Duration,
    issued: Instant,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct RawDeviceAuthorization {
    device_code: String,
    user_code: String,
    #[serde(alias = "verification_url")]
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    interval: Option<serde_json::Value>,
}

fn seconds(v: &Option<serde_json::Value>) -> Option<u64> {
    match v {
        Some(serde_json::Value::Number(n)) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A URI to show a person: must be an http(s) URL; shown as its normalized serialization
/// (which has no control characters or spaces).
fn display_uri(raw: &str, field: &str, endpoint: &str) -> Result<String> {
    match url::Url::parse(raw.trim()) {
        Ok(u) if u.scheme() == "https" || u.scheme() == "http" => Ok(u.to_string()),
        _ => Err(OAuthError::Malformed {
            endpoint: endpoint.to_string(),
            message: format!("`{field}` is not an http(s) URL"),
        }
        .into()),
    }
}

impl DeviceAuthorization {
    /// Requests a device code (RFC 8628 §3.1) with the client's scopes and audience.
    pub async fn request(client: &OAuthClient) -> Result<Self> {
        let url = client.named_endpoint("device_authorization_endpoint")?;
        let endpoint = format!("device authorization endpoint {}", crate::redact::redact_url(&url));
        let cfg = client.config();
        let mut form: Vec<(String, String)> = Vec::new();
        if !cfg.scopes.is_empty() {
            form.push(("scope".into(), cfg.scopes.join(" ")));
        }
        for a in &cfg.audience {
            form.push(("audience".into(), a.clone()));
            if cfg.resource {
                form.push(("resource".into(), a.clone()));
            }
        }
        let reply = client.post_authenticated(&url, form, true).await?;
        if !reply.status.is_success() {
            return Err(super::http::status_error(&reply, &endpoint).into());
        }
        let raw: RawDeviceAuthorization = serde_json::from_slice(&reply.body).map_err(|e| {
            // The message may quote a value (the device code): keep only the position.
            let what = if e.is_data() {
                let m = e.to_string();
                match m.strip_prefix("missing field `") {
                    Some(rest) => format!("missing field `{}`", rest.split('`').next().unwrap_or_default()),
                    None => "a field has the wrong type".into(),
                }
            } else {
                format!("invalid JSON at line {} column {}", e.line(), e.column())
            };
            Error::from(OAuthError::Malformed {
                endpoint: endpoint.clone(),
                message: what,
            })
        })?;
        if raw.device_code.is_empty() || raw.user_code.trim().is_empty() {
            return Err(OAuthError::Malformed {
                endpoint,
                message: "empty device_code or user_code".into(),
            }
            .into());
        }
        let verification_uri = display_uri(&raw.verification_uri, "verification_uri", &endpoint)?;
        let verification_uri_complete = match &raw.verification_uri_complete {
            Some(u) => Some(display_uri(u, "verification_uri_complete", &endpoint)?),
            None => None,
        };
        let expires_in = Duration::from_secs(
            seconds(&raw.expires_in)
                .filter(|s| *s > 0)
                .unwrap_or(600)
                .min(24 * 3600),
        );
        let interval = seconds(&raw.interval)
            .map(|s| Duration::from_secs(s.clamp(1, 60)))
            .unwrap_or(DEFAULT_INTERVAL);
        Ok(DeviceAuthorization {
            device_code: SecretString::from(raw.device_code),
            user_code: super::error::clean(raw.user_code.trim(), 64),
            verification_uri,
            verification_uri_complete,
            expires_in,
            interval,
            issued: Instant::now(),
        })
    }

    /// When the codes expire.
    pub fn expires_at(&self) -> Instant {
        self.issued + self.expires_in
    }

    /// Polls the token endpoint until the person has approved (or refused), the codes
    /// expire, or the future is dropped. `on_poll` is called before each poll with the
    /// current interval (for progress displays).
    pub async fn poll(&self, client: &OAuthClient, mut on_poll: impl FnMut(Duration)) -> Result<Token> {
        let mut interval = self.interval;
        let mut backoff: Option<Duration> = None;
        loop {
            let wait = backoff.unwrap_or(interval);
            let now = Instant::now();
            if now + wait >= self.expires_at() {
                tokio::time::sleep(self.expires_at().saturating_duration_since(now)).await;
                return Err(expired());
            }
            tokio::time::sleep(wait).await;
            on_poll(interval);
            match self.poll_once(client).await {
                Ok(t) => return Ok(t),
                Err(e) => match e.oauth_error_code() {
                    Some("authorization_pending") => backoff = None,
                    Some("slow_down") => {
                        interval += SLOW_DOWN_STEP;
                        backoff = None;
                        tracing::debug!(interval_s = interval.as_secs(), "device flow: slow_down");
                    }
                    Some("expired_token") => return Err(expired()),
                    Some(_) => return Err(e),
                    None if matches!(e.kind(), ErrorKind::Transport | ErrorKind::Timeout) => {
                        let next = (backoff.unwrap_or(interval) * 2).min(MAX_BACKOFF);
                        tracing::debug!(error = %e, next_s = next.as_secs(), "device flow: poll failed; backing off");
                        backoff = Some(next);
                    }
                    None => return Err(e),
                },
            }
        }
    }

    async fn poll_once(&self, client: &OAuthClient) -> Result<Token> {
        let form = vec![
            ("grant_type".to_string(), DEVICE_CODE_GRANT.to_string()),
            ("device_code".to_string(), self.device_code.expose_secret().to_string()),
        ];
        let token = client.post_token_form(form, &TokenOptions::default()).await?;
        if let Some(id) = &token.id_token {
            client
                .verify_id_token(id.expose(), None, Some(token.access_token.expose()))
                .await?;
        }
        Ok(token)
    }
}

fn expired() -> Error {
    OAuthError::provider(
        "device flow",
        None,
        "expired_token",
        Some("the device code expired before the login was approved"),
        None,
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_accepts_numbers_and_numeric_strings() {
        assert_eq!(seconds(&Some(serde_json::json!(5))), Some(5));
        assert_eq!(seconds(&Some(serde_json::json!("7"))), Some(7));
        assert_eq!(seconds(&Some(serde_json::json!(2.5))), Some(2));
        assert_eq!(seconds(&Some(serde_json::json!("x"))), None);
        assert_eq!(seconds(&None), None);
    }

    #[test]
    fn display_uri_refuses_other_schemes() {
        assert_eq!(display_uri("https://x/device", "f", "e").unwrap(), "https://x/device");
        assert!(display_uri("javascript:alert(1)", "f", "e").is_err());
        assert!(display_uri("not a url", "f", "e").is_err());
    }
}
