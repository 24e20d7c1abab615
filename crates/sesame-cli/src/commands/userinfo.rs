//! `sesame userinfo`.

use sesame::Error;

use crate::context::Context;
use crate::exit;

pub async fn run(ctx: &Context) -> Result<i32, Error> {
    let cred = ctx.credential()?;
    let oauth = cred
        .as_ref()
        .and_then(|c| c.as_oauth())
        .ok_or_else(|| Error::config("userinfo needs an OAuth profile"))?;
    let lease = oauth.source().token(std::time::Duration::from_secs(5)).await?;
    let v = oauth.client().await?.userinfo(&lease.token.access_token).await?;
    crate::out::line(serde_json::to_string_pretty(&v).unwrap_or_default());
    Ok(exit::OK)
}
