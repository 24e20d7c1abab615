//! `sesame register --redirect-uri U [--name N]`: RFC 7591 dynamic client registration.

use sesame::Error;
use sesame::oauth::registration::{RegistrationRequest, register};
use sesame::oauth::{LazyClient, OAuthError};

use crate::cli::RegisterArgs;
use crate::context::Context;
use crate::exit;

pub async fn run(ctx: &Context, args: RegisterArgs) -> Result<i32, Error> {
    let source = sesame::config::provider_source(&ctx.resolved)?;
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
    crate::out::line(reg.client_id);
    match (&reg.client_secret, args.show_secret) {
        (Some(s), true) => eprintln!("client_secret: {}", s.expose()),
        (Some(_), false) => {
            eprintln!("sesame: the client also has a secret; run again with --show-secret to see it (it is shown once)")
        }
        _ => {}
    }
    Ok(exit::OK)
}
