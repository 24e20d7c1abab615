//! `sesame introspect [TOKEN|-]`.

use std::io::Read;

use sesame::Error;
use sesame::secret::AccessToken;

use crate::cli::IntrospectArgs;
use crate::context::Context;
use crate::exit;

pub async fn run(ctx: &Context, args: IntrospectArgs) -> Result<i32, Error> {
    let cred = ctx.credential()?;
    let oauth = cred.as_ref().and_then(|c| c.as_oauth()).ok_or_else(|| {
        Error::config("introspection needs an OAuth profile (its client authenticates to the provider)")
    })?;
    let token = match args.token.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Error::io("cannot read the token from stdin", e))?;
            AccessToken::new(s.trim())
        }
        Some(t) => AccessToken::new(t.trim()),
        None => oauth
            .source()
            .token(std::time::Duration::from_secs(1))
            .await?
            .token
            .access_token
            .clone(),
    };
    let v = oauth.client().await?.introspect(&token, None).await?;
    crate::out::line(serde_json::to_string_pretty(&v).unwrap_or_default());
    Ok(exit::OK)
}
