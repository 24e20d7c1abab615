//! What an UMA authorization server answers when it will not issue an RPT (UMA Grant
//! §3.3.6), and the ticket it hands out. Its own file, below both [`super::uma`] (which
//! produces these) and [`super::error`] (which wraps them), so that neither needs the other.

use std::fmt;

use url::Url;

use crate::redact::redact_url;

/// A permission ticket. Not a credential on its own (it is useless without the client's
/// authentication), but kept out of `Debug` and messages all the same.
#[derive(Clone, PartialEq, Eq)]
pub struct Ticket(String);

impl Ticket {
    /// Wraps a ticket.
    pub fn new(t: impl Into<String>) -> Self {
        Ticket(t.into())
    }
    /// The ticket's value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ticket([redacted])")
    }
}

/// The authorization server's refusal of a ticket (UMA Grant §3.3.6).
#[derive(Clone, thiserror::Error)]
#[non_exhaustive]
pub enum UmaError {
    /// `need_info`: the server needs claims about the requesting party. Push a claim token
    /// with [`RptRequest`], or send the user to [`redirect_url`](UmaError::NeedInfo::redirect_url),
    /// then ask again with the new ticket.
    #[error("UMA authorization server {as_uri} needs more information about the requesting party (need_info){}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default(), redirect_url.as_deref().map(|u| format!("; send the user to {}", redact(u))).unwrap_or_else(|| if *redirect_user { "; the user must interact with the authorization server".to_string() } else { String::new() }))]
    NeedInfo {
        /// The authorization server.
        as_uri: String,
        /// The new ticket to continue with.
        ticket: Ticket,
        /// Whether the server offers to gather claims from the user by redirection.
        redirect_user: bool,
        /// Where to send the user (the claims interaction endpoint with `client_id` and
        /// `ticket`), when the server advertises one.
        redirect_url: Option<String>,
        /// The claims the server asks for, as it described them.
        required_claims: Vec<serde_json::Value>,
        /// `error_description`.
        description: Option<String>,
    },
    /// `request_submitted`: the resource owner was asked; poll again after `interval`.
    #[error("UMA authorization server {as_uri} submitted the request to the resource owner (request_submitted); ask again later{}", interval.map(|i| format!(" (in {i} s)")).unwrap_or_default())]
    RequestSubmitted {
        /// The authorization server.
        as_uri: String,
        /// The ticket to poll with.
        ticket: Ticket,
        /// Seconds to wait before asking again.
        interval: Option<u64>,
    },
    /// `request_denied`: no permission will be granted (or the ticket is unknown or used).
    #[error("UMA authorization server {as_uri} denied access (request_denied){}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    RequestDenied {
        /// The authorization server.
        as_uri: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// The resource server named an authorization server sesame does not send credentials to.
    #[error(
        "the server asked for UMA authorization at `{as_uri}`, which is not this profile's issuer; sesame sends no credentials there (trust it explicitly with Uma::trust_authorization_server)"
    )]
    UntrustedServer {
        /// The authorization server named in the challenge.
        as_uri: String,
    },
}

impl fmt::Debug for UmaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The redirect URL carries the ticket in its query: redacted like in the message.
        match self {
            UmaError::NeedInfo {
                as_uri,
                ticket,
                redirect_user,
                redirect_url,
                required_claims,
                description,
            } => f
                .debug_struct("NeedInfo")
                .field("as_uri", as_uri)
                .field("ticket", ticket)
                .field("redirect_user", redirect_user)
                .field("redirect_url", &redirect_url.as_deref().map(redact))
                .field("required_claims", required_claims)
                .field("description", description)
                .finish(),
            UmaError::RequestSubmitted {
                as_uri,
                ticket,
                interval,
            } => f
                .debug_struct("RequestSubmitted")
                .field("as_uri", as_uri)
                .field("ticket", ticket)
                .field("interval", interval)
                .finish(),
            UmaError::RequestDenied { as_uri, description } => f
                .debug_struct("RequestDenied")
                .field("as_uri", as_uri)
                .field("description", description)
                .finish(),
            UmaError::UntrustedServer { as_uri } => f.debug_struct("UntrustedServer").field("as_uri", as_uri).finish(),
        }
    }
}

fn redact(u: &str) -> String {
    Url::parse(u)
        .map(|u| redact_url(&u))
        .unwrap_or_else(|_| "[invalid URL]".into())
}
