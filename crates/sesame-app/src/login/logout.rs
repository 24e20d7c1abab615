//! Logging out of a profile: the one use-case behind `sesame logout` and Python's
//! `Session.logout()`, so both revoke, delete and offer the end-session URL by the same
//! rules.
//!
//! - With `revoke`, the refresh token and the access token are revoked at the provider
//!   first (RFC 7009); a refusal stops the logout with the tokens still cached, so that a
//!   retry can revoke them.
//! - The cached tokens are deleted, and with them the profile's DPoP key (RFC 9449).
//! - The provider's end-session URL (OpenID Connect RP-Initiated Logout 1.0) is offered
//!   only where there is a session at the provider to end: a person's login (auth kinds
//!   `oidc` and `device`) that left an ID token. A client-credentials or password profile
//!   never had a browser session, so it gets none.
//! - The URL names the client (`client_id`) and not the person: the ID token is a JWT that
//!   carries personal claims (name, e-mail) in plain sight, and a URL ends up in shell
//!   history, terminal scroll-back and the provider's access logs. RP-Initiated Logout
//!   §2 allows `client_id` instead of `id_token_hint`; the provider then asks the person
//!   to confirm, which is right for a logout someone opens by hand.

use sesame::credential::OAuth;
use sesame::{Result, Url};

/// What [`logout`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggedOut {
    /// Tokens were cached (and are now deleted).
    pub had_tokens: bool,
    /// The tokens were revoked at the provider.
    pub revoked: bool,
    /// Where the person can end the session at the provider, if there is one to end.
    pub end_session_url: Option<Url>,
}

/// Logs out of the profile whose credential is `oauth` (see the module docs).
pub async fn logout(oauth: &OAuth, revoke: bool) -> Result<LoggedOut> {
    let cached = oauth.source().cached(std::time::Duration::ZERO)?.map(|l| l.token);
    let stored = cached.or_else(|| oauth.source().peek());
    let browser_session =
        super::is_interactive_kind(oauth.kind()) && stored.as_ref().is_some_and(|t| t.id_token.is_some());
    let mut revoked = false;
    let mut end_session_url = None;
    if (revoke && stored.is_some()) || browser_session {
        match oauth.client().await {
            Ok(client) => {
                if revoke && let Some(t) = &stored {
                    if let Some(rt) = &t.refresh_token {
                        client.revoke(rt.expose(), Some("refresh_token")).await?;
                    }
                    client.revoke(t.access_token.expose(), Some("access_token")).await?;
                    revoked = true;
                }
                if browser_session {
                    end_session_url = client.end_session_url(None);
                }
            }
            Err(e) if revoke => return Err(e),
            Err(e) => tracing::debug!(error = %e, "no provider metadata for the end-session URL"),
        }
    }
    oauth.source().clear()?;
    // The tokens are gone, so the key they were bound to has nothing left to prove; a
    // copy of it (a backup, a leaked cache folder) must not outlive the logout.
    if let Some(dpop) = oauth.dpop() {
        dpop.forget()?;
    }
    Ok(LoggedOut {
        had_tokens: stored.is_some(),
        revoked,
        end_session_url,
    })
}

/// Revokes the profile's cached tokens at the provider (RFC 7009: the refresh token, then
/// the access token) and deletes them, as [`logout`] with `revoke` does, but with no
/// end-session URL. Returns whether there were tokens to revoke.
pub async fn revoke(oauth: &OAuth) -> Result<bool> {
    let stored = oauth
        .source()
        .cached(std::time::Duration::ZERO)?
        .map(|l| l.token)
        .or_else(|| oauth.source().peek());
    let Some(t) = stored else {
        return Ok(false);
    };
    let client = oauth.client().await?;
    if let Some(rt) = &t.refresh_token {
        client.revoke(rt.expose(), Some("refresh_token")).await?;
    }
    client.revoke(t.access_token.expose(), Some("access_token")).await?;
    oauth.source().clear()?;
    Ok(true)
}
