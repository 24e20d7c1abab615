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
    let (valid, code) = match ctx.credential() {
        Ok(cred) => {
            let info = cred
                .as_ref()
                .map(|c| c.info())
                .unwrap_or_else(|| sesame::credential::CredentialInfo::new("none"));
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
            let mut valid = true;
            if let Some(c) = &cred
                && let Some(oauth) = c.as_oauth()
            {
                let now = sesame::token::now_unix();
                match c.cached_token().or_else(|| oauth.source().peek().map(|t| (*t).clone())) {
                    Some(t) => {
                        let claims = sesame::token::jwt_claims(t.access_token.expose()).unwrap_or_default();
                        let id_claims = t
                            .id_token
                            .as_ref()
                            .and_then(|i| sesame::token::jwt_claims(i.expose()))
                            .unwrap_or_default();
                        let sub = id_claims.get("sub").or_else(|| claims.get("sub")).cloned();
                        out.insert("subject".into(), sub.unwrap_or(Value::Null));
                        out.insert("scopes".into(), json!(t.scopes.join(" ")));
                        if let Some(aud) = claims.get("aud") {
                            out.insert("audience".into(), aud.clone());
                        }
                        out.insert("token".into(), json!(sesame::secret::mask(t.access_token.expose())));
                        let left = t.expires_at.map(|e| e - now);
                        out.insert("seconds_left".into(), json!(left));
                        out.insert("refresh_token".into(), json!(t.refresh_token.is_some()));
                        let usable = left.is_none_or(|l| l > 0) || t.refresh_token.is_some();
                        valid = usable || !matches!(info.kind.as_str(), "oidc" | "device");
                    }
                    None => {
                        out.insert("token".into(), json!("none cached"));
                        valid = !matches!(info.kind.as_str(), "oidc" | "device");
                    }
                }
            } else if let Some(t) = cred.as_ref().and_then(|c| c.cached_token()) {
                out.insert("token".into(), json!(sesame::secret::mask(t.access_token.expose())));
            }
            out.insert("valid".into(), json!(valid));
            if valid {
                (true, exit::OK)
            } else {
                (false, exit::LOGIN_REQUIRED)
            }
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
