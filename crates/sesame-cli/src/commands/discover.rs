//! `sesame discover URL`: WebFinger (if URL is not an issuer), then the metadata.

use sesame::Error;
use sesame::oauth::{OAuthHttp, discovery, webfinger};

use crate::cli::DiscoverArgs;
use crate::context::Context;
use crate::exit;

pub async fn run(ctx: &Context, args: DiscoverArgs) -> Result<i32, Error> {
    let source = sesame_app::config::provider_source(&ctx.resolved)?;
    let insecure = source.tls.insecure;
    let http = OAuthHttp::new(&source.tls, source.timeout, source.connect_timeout)?;
    let url = sesame::Url::parse(&args.url).map_err(|e| Error::config(format!("`{}` is not a URL: {e}", args.url)))?;
    let prefix = ctx.resolved.profile.webfinger_prefix.clone();
    let meta = match (&prefix, discovery::discover(&http, &args.url, insecure).await) {
        (None, Ok(m)) => m,
        (_, first) => {
            let issuer = webfinger::issuer_for(&http, &url, prefix.as_deref(), insecure)
                .await
                .map_err(|e| match first {
                    Err(d) => Error::config(format!("{url} is neither an issuer ({d}) nor a WebFinger host ({e})")),
                    Ok(_) => e,
                })?;
            eprintln!("sesame: WebFinger: issuer {issuer}");
            discovery::discover(&http, &issuer, insecure).await?
        }
    };
    if args.json {
        crate::out::line(serde_json::to_string_pretty(&*meta).unwrap_or_default());
    } else {
        let v = serde_json::to_value(&*meta).unwrap_or_default();
        if let Some(o) = v.as_object() {
            for (k, v) in o {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(" "),
                    other => other.to_string(),
                };
                crate::out::line(format!("{k:<40} {text}"));
            }
        }
    }
    Ok(exit::OK)
}
