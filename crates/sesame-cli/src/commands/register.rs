//! `sesame register --redirect-uri U [--name N]`: RFC 7591 dynamic client registration.

use sesame::Error;
use sesame::oauth::registration::{RegistrationRequest, register};
use sesame::oauth::{LazyClient, OAuthError};

use crate::cli::RegisterArgs;
use crate::context::Context;
use crate::exit;

pub async fn run(ctx: &Context, args: RegisterArgs) -> Result<i32, Error> {
    let source = sesame_app::config::provider_source(&ctx.resolved)?;
    // Discovery does not need a client id; a placeholder registration finds the provider.
    let lazy = LazyClient::new(source, sesame::oauth::ClientConfig::public("sesame-register"));
    let client = lazy.get().await?;
    let endpoint = client
        .metadata()
        .registration_endpoint
        .clone()
        .ok_or_else(|| OAuthError::Setup("the provider has no registration_endpoint (RFC 7591)".into()))?;
    let endpoint = sesame::Url::parse(&endpoint).map_err(|e| Error::config(format!("registration_endpoint: {e}")))?;
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
    let reg = register(client.http(), &endpoint, &req, None).await?;
    if let Some(name) = &args.save_profile {
        save_profile(ctx, name, client.metadata().issuer.as_str(), &reg, &req.grant_types)?;
    }
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

/// `--save-profile NAME`: the new client as a profile of the configuration file, written as
/// `sesame config init` writes one (comments kept, checked as sesame will read it, replaced
/// atomically). The secret is never written into the file: it goes to a 0600 file beside it,
/// referenced as `client_secret = { file = … }`.
fn save_profile(
    ctx: &Context,
    name: &str,
    issuer: &str,
    reg: &sesame::oauth::registration::Registration,
    grant_types: &[String],
) -> Result<(), Error> {
    use sesame_app::config::{AuthKind, Config, Profile, SecretSource};
    super::config_init::check_name(name)?;
    let (path, _) = Config::locate(ctx.global.config.as_deref())
        .ok_or_else(|| Error::config("no place for the configuration file: set --config FILE or $SESAME_CONFIG"))?;
    let from = &ctx.resolved.profile;
    let has = |g: &str| grant_types.iter().any(|x| x == g);
    let auth = if has("authorization_code") {
        AuthKind::Oidc
    } else if has("urn:ietf:params:oauth:grant-type:device_code") {
        AuthKind::Device
    } else if has("client_credentials") {
        AuthKind::ClientCredentials
    } else {
        return Err(Error::config(
            "--save-profile: the registered grant types name no auth kind sesame can use (authorization_code, device_code or client_credentials)",
        ));
    };
    let mut profile = Profile {
        base_url: from.base_url.clone(),
        auth: Some(auth),
        issuer: Some(issuer.to_string())
            .filter(|i| !i.is_empty())
            .or_else(|| from.issuer.clone()),
        client_id: Some(reg.client_id.clone()),
        scopes: from.scopes.clone(),
        redirect_uri: from.redirect_uri.clone(),
        ca_bundle: from.ca_bundle.clone(),
        ..Profile::default()
    };
    if profile.issuer.is_none() {
        profile.webfinger_prefix = from.webfinger_prefix.clone();
    }
    let old = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let secret_file = reg.client_secret.as_ref().map(|_| {
        path.parent()
            .map(|d| d.join(format!("{name}.client_secret")))
            .unwrap_or_else(|| format!("{name}.client_secret").into())
    });
    if let Some(f) = &secret_file {
        profile.client_secret = Some(SecretSource::File(f.clone()));
    }
    let init = crate::cli::InitArgs {
        name: None,
        force: false,
        make_default: false,
    };
    let text = super::config_init::updated_text(&old, &path, name, &profile, &init)?;
    let config = Config::from_toml_str(&text, &path)?;
    let resolved = config.resolve(Some(name), Profile::default())?;
    sesame_app::config::applies::check(&resolved)?;
    // The secret first: a profile is never written that names a file not there yet.
    if let (Some(f), Some(s)) = (&secret_file, &reg.client_secret) {
        super::config_init::write_atomically(f, &format!("{}\n", s.expose()))?;
    }
    super::config_init::write_atomically(&path, &text)?;
    if !ctx.global.quiet {
        eprintln!("sesame: wrote profile `{name}` to {}", path.display());
        if let Some(f) = &secret_file {
            eprintln!("sesame: the client secret is in {} (0600)", f.display());
        }
    }
    Ok(())
}
