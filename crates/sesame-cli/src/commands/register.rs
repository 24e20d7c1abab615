//! `sesame register --redirect-uri U [--name N]`: RFC 7591 dynamic client registration.

use sesame::Error;
use sesame::oauth::registration::RegistrationRequest;

use crate::cli::RegisterArgs;
use crate::context::Context;
use crate::exit;

pub async fn run(ctx: &Context, args: RegisterArgs) -> Result<i32, Error> {
    let grant_types = if args.grant_types.is_empty() {
        vec!["authorization_code".to_string(), "refresh_token".to_string()]
    } else {
        args.grant_types.clone()
    };
    let mut redirect_uris: Vec<String> = ctx.resolved.profile.redirect_uri.iter().cloned().collect();
    redirect_uris.extend(args.redirect_uris.iter().cloned());
    let req = RegistrationRequest {
        redirect_uris: redirect_uris.clone(),
        client_name: args.name.clone(),
        response_types: Some(if grant_types.iter().any(|g| g == "authorization_code") {
            vec!["code".into()]
        } else {
            vec![]
        }),
        grant_types,
        application_type: redirect_uris
            .iter()
            .any(|u| {
                u.starts_with("http://127.0.0.1") || u.starts_with("http://localhost") || u.starts_with("http://[::1]")
            })
            .then(|| "native".to_string()),
        ..Default::default()
    };
    let config = match &args.save_profile {
        Some(_) => Some(sesame_app::config::write::config_path(ctx.global.config.as_deref())?),
        None => None,
    };
    let save = config.as_deref().zip(args.save_profile.as_deref());
    let (registered, saved) = sesame_app::register::register_to_profile(&ctx.resolved, &req, None, save).await?;
    if let (Some(saved), Some(name)) = (&saved, &args.save_profile)
        && !ctx.global.quiet
    {
        eprintln!("sesame: wrote profile `{name}` to {}", saved.config.display());
        if let Some(f) = &saved.secret_file {
            eprintln!("sesame: the client secret is in {} (0600)", f.display());
        }
    }
    let reg = &registered.registration;
    if args.json {
        let mut v = match &reg.metadata {
            serde_json::Value::Object(m) => m.clone(),
            _ => serde_json::Map::new(),
        };
        v.insert("client_id".into(), serde_json::json!(reg.client_id));
        if let Some(s) = &reg.client_secret {
            let shown = if args.show_secret {
                s.expose().to_string()
            } else {
                sesame::secret::mask(s.expose())
            };
            v.insert("client_secret".into(), serde_json::json!(shown));
        }
        crate::out::line(serde_json::to_string_pretty(&serde_json::Value::Object(v)).unwrap_or_default());
        return Ok(exit::OK);
    }
    crate::out::line(&reg.client_id);
    match (&reg.client_secret, args.show_secret) {
        (Some(s), true) => eprintln!("client_secret: {}", s.expose()),
        (Some(_), false) if args.save_profile.is_some() => {}
        (Some(_), false) => {
            eprintln!("sesame: the client also has a secret; run again with --show-secret to see it (it is shown once)")
        }
        _ => {}
    }
    Ok(exit::OK)
}
