//! `sesame status [--json]`: the profile and its credential, secrets masked. The state is
//! [`sesame::session::Status`] (shared with Python's `Session.status()`); this file formats it.

use serde_json::{Map, Value, json};
use sesame::Error;
use sesame::session::{Status, TokenStatus};

use crate::cli::StatusArgs;
use crate::context::Context;
use crate::exit;

pub async fn run(ctx: &Context, args: StatusArgs) -> Result<i32, Error> {
    let p = &ctx.resolved.profile;
    let mut out = Map::new();
    let (valid, code) = match ctx.credential() {
        Ok(cred) => {
            let st = Status::of(&ctx.resolved, cred.as_ref());
            profile_fields(&mut out, ctx);
            out.insert("auth".into(), json!(st.info.kind));
            let mut details = Map::new();
            for (k, v) in &st.info.details {
                details.insert(k.clone(), json!(v));
            }
            if let Some(left) = st.certificate_seconds_left {
                out.insert("seconds_left".into(), json!(left));
            }
            out.insert("credential".into(), Value::Object(details));
            match &st.token {
                TokenStatus::Cached(t) => {
                    out.insert("subject".into(), t.subject.clone().unwrap_or(Value::Null));
                    out.insert("scopes".into(), json!(t.scopes.join(" ")));
                    if let Some(aud) = &t.audience {
                        out.insert("audience".into(), aud.clone());
                    }
                    out.insert("token".into(), json!(t.masked));
                    out.insert("seconds_left".into(), json!(t.seconds_left));
                    out.insert("refresh_token".into(), json!(t.refresh_token));
                }
                TokenStatus::NoneCached => {
                    out.insert("token".into(), json!("none cached"));
                }
                TokenStatus::Static(masked) => {
                    out.insert("token".into(), json!(masked));
                }
                TokenStatus::NotApplicable => {}
            }
            out.insert("valid".into(), json!(st.valid));
            if st.valid {
                (true, exit::OK)
            } else {
                (false, exit::LOGIN_REQUIRED)
            }
        }
        Err(e) if e.is_config() && e.as_credential().is_none() => return Err(e),
        Err(e) => {
            profile_fields(&mut out, ctx);
            out.insert("auth".into(), json!(p.auth.map(|a| a.to_string())));
            out.insert("valid".into(), json!(false));
            out.insert("error".into(), json!(e.to_string()));
            eprintln!("sesame: error: {e}");
            (false, exit::LOGIN_REQUIRED)
        }
    };
    if args.json {
        crate::out::line(serde_json::to_string_pretty(&Value::Object(out)).unwrap_or_default());
    } else {
        // One `key: value` per line; credential details inline, each key once.
        let mut seen = std::collections::HashSet::new();
        let mut text = String::new();
        let mut push = |k: &str, v: &Value| {
            if v.is_null() || !seen.insert(k.to_string()) {
                return;
            }
            let shown = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
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

/// The profile's part: name, configuration file, base URL, issuer.
fn profile_fields(out: &mut Map<String, Value>, ctx: &Context) {
    let p = &ctx.resolved.profile;
    out.insert("profile".into(), json!(ctx.resolved.name));
    out.insert(
        "config".into(),
        json!(ctx.resolved.config_path.as_ref().map(|p| p.display().to_string())),
    );
    out.insert("base_url".into(), json!(p.base_url));
    out.insert("issuer".into(), json!(p.issuer));
}
