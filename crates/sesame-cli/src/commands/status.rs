//! `sesame status [--json]`: the profile and its credential, secrets masked. The state is
//! [`sesame_app::Status`] (shared with Python's `Session.status()`); this file formats it.

use serde_json::{Map, Value, json};
use sesame::Error;
use sesame_app::Status;

use crate::cli::StatusArgs;
use crate::context::Context;
use crate::exit;

pub async fn run(ctx: &Context, args: StatusArgs) -> Result<i32, Error> {
    let p = &ctx.resolved.profile;
    // The fields and their types are the engine's (`Status::to_json`), shared with
    // Python's `Session.status()`.
    let (out, valid, code) = match ctx.credential() {
        Ok(cred) => {
            let st = Status::gather(&ctx.resolved, cred.as_ref()).await;
            let code = if st.valid { exit::OK } else { exit::LOGIN_REQUIRED };
            (st.to_json(), st.valid, code)
        }
        Err(e) if e.is_config() && e.as_credential().is_none() => return Err(e),
        Err(e) => {
            let mut out = Map::new();
            out.insert("profile".into(), json!(ctx.resolved.name));
            out.insert(
                "config".into(),
                json!(ctx.resolved.config_path.as_ref().map(|p| p.display().to_string())),
            );
            out.insert("base_url".into(), json!(p.base_url));
            out.insert("issuer".into(), json!(p.issuer));
            out.insert("auth".into(), json!(p.auth.map(|a| a.to_string())));
            out.insert("valid".into(), json!(false));
            out.insert("error".into(), json!(e.to_string()));
            eprintln!("sesame: error: {e}");
            (out, false, exit::LOGIN_REQUIRED)
        }
    };
    if args.json {
        crate::out::line(serde_json::to_string_pretty(&Value::Object(out)).unwrap_or_default());
    } else {
        // One `key: value` per line; credential details inline, each key once.
        let mut seen = std::collections::HashSet::new();
        let mut text = String::new();
        let mut push = |k: &str, v: &Value| {
            let shown = match (k, v) {
                ("token", Value::Null) => "none cached".to_string(),
                (_, Value::Null) => return,
                (_, Value::Array(items)) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_owned).unwrap_or_else(|| i.to_string()))
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()),
            };
            if !seen.insert(k.to_string()) {
                return;
            }
            text.push_str(&format!("{:<15}{shown}\n", format!("{k}:")));
        };
        for (k, v) in &out {
            match v {
                Value::Object(m) => m.iter().for_each(|(dk, dv)| push(dk, dv)),
                other => push(k, other),
            }
        }
        crate::out::line(text.trim_end());
    }
    if !valid {
        eprintln!(
            "sesame: no valid credential for profile `{}`; fix the error or run `sesame login`",
            ctx.resolved.name
        );
    }
    Ok(code)
}
