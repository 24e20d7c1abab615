//! `sesame status [--json]`: the profile and its credential, secrets masked.

use serde_json::{Map, Value, json};
use sesame::Error;

use crate::cli::StatusArgs;
use crate::context::Context;
use crate::exit;

pub async fn run(ctx: &Context, args: StatusArgs) -> Result<i32, Error> {
    let p = &ctx.resolved.profile;
    let mut out = Map::new();
    out.insert("profile".into(), json!(ctx.resolved.name));
    out.insert(
        "config".into(),
        json!(ctx.resolved.config_path.as_ref().map(|p| p.display().to_string())),
    );
    out.insert("base_url".into(), json!(p.base_url));
    out.insert("issuer".into(), json!(p.issuer));
    let (valid, code) = match ctx.session() {
        Ok(session) => {
            let info = session.credential_info();
            out.insert("auth".into(), json!(info.kind));
            let mut details = Map::new();
            for (k, v) in &info.details {
                details.insert(k.clone(), json!(v));
            }
            if let Some(na) = info.details.iter().find(|(k, _)| k == "not_after")
                && let Ok(t) = na.1.parse::<i64>()
            {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                out.insert("seconds_left".into(), json!(t - now));
            }
            out.insert("credential".into(), Value::Object(details));
            out.insert("valid".into(), json!(true));
            (true, exit::OK)
        }
        Err(e) if e.is_config() && e.as_credential().is_none() => return Err(e),
        Err(e) => {
            out.insert("auth".into(), json!(p.auth.map(|a| a.to_string())));
            out.insert("valid".into(), json!(false));
            out.insert("error".into(), json!(e.to_string()));
            eprintln!("sesame: error: {e}");
            (false, exit::LOGIN_REQUIRED)
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&Value::Object(out)).unwrap_or_default()
        );
    } else {
        for (k, v) in &out {
            match v {
                Value::Null => {}
                Value::Object(m) => {
                    for (dk, dv) in m {
                        println!(
                            "{:<14}{}",
                            format!("{dk}:"),
                            dv.as_str().map(str::to_owned).unwrap_or_else(|| dv.to_string())
                        );
                    }
                }
                Value::String(s) => println!("{:<14}{s}", format!("{k}:")),
                other => println!("{:<14}{other}", format!("{k}:")),
            }
        }
    }
    if !valid {
        eprintln!(
            "sesame: no valid credential for profile `{}`; fix the error or run `sesame login`",
            ctx.resolved.name
        );
    }
    Ok(code)
}
