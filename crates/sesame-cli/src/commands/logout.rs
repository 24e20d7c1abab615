//! `sesame logout [--revoke]`: the library's logout use-case (`sesame_app::login::logout`),
//! worded for the terminal. Everything goes to stderr, the end-session URL included: it is
//! for the person, not for a pipe.

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
    let done = sesame_app::login::logout(oauth, args.revoke).await?;
    if done.revoked {
        eprintln!("sesame: revoked the tokens at the provider");
    }
    if done.had_tokens {
        eprintln!(
            "sesame: logged out of profile `{}` (cached tokens deleted)",
            ctx.resolved.name
        );
    } else {
        eprintln!("sesame: profile `{}` had no cached tokens", ctx.resolved.name);
    }
    if let Some(u) = done.end_session_url {
        eprintln!("sesame: to end the session at the provider too, open:\n  {u}");
    }
    Ok(exit::OK)
}
