//! `sesame logout [--revoke]`.

use sesame::Error;

use crate::cli::LogoutArgs;
use crate::context::Context;
use crate::exit;

pub async fn run(ctx: &Context, args: LogoutArgs) -> Result<i32, Error> {
    let cred = ctx.credential()?;
    let Some(oauth) = cred.as_ref().and_then(|c| c.as_oauth()) else {
        eprintln!(
            "sesame: profile `{}` keeps no tokens; nothing to log out",
            ctx.resolved.name
        );
        return Ok(exit::OK);
    };
    let cached = oauth.source().cached(std::time::Duration::ZERO)?.map(|l| l.token);
    let stored = cached.clone().or_else(|| oauth.source().peek());
    let mut end_session = None;
    if args.revoke || stored.as_ref().and_then(|t| t.id_token.as_ref()).is_some() {
        match oauth.client().await {
            Ok(client) => {
                if args.revoke
                    && let Some(t) = &stored
                {
                    if let Some(rt) = &t.refresh_token {
                        client.revoke(rt.expose(), Some("refresh_token")).await?;
                    }
                    client.revoke(t.access_token.expose(), Some("access_token")).await?;
                    eprintln!("sesame: revoked the tokens at the provider");
                }
                end_session =
                    client.end_session_url(stored.as_ref().and_then(|t| t.id_token.as_ref()).map(|t| t.expose()));
            }
            Err(e) if args.revoke => return Err(e),
            Err(e) => tracing::debug!(error = %e, "no provider metadata for the end-session URL"),
        }
    }
    oauth.source().clear()?;
    eprintln!(
        "sesame: logged out of profile `{}` (cached tokens deleted)",
        ctx.resolved.name
    );
    if let Some(u) = end_session {
        eprintln!("sesame: to end the session at the provider too, open:");
        crate::out::line(u);
    }
    Ok(exit::OK)
}
