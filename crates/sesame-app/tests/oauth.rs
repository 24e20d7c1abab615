//! The OAuth engine against the bundled, certified identity provider (npm oidc-provider):
//! discovery, each grant end to end followed by a request to a protected API, provider
//! endpoints, and ID token validation failures.

#[path = "../../sesame/tests/support/mod.rs"]
mod support;

use base64::Engine;
use sesame::Session;
use sesame::oauth::registration::{RegistrationRequest, register};
use sesame::oauth::{
    ClientAuth, ClientConfig, IdTokenError, OAuthClient, OAuthError, OAuthHttp, TokenOptions, discovery, jwks,
    webfinger,
};
use sesame::secret::{AccessToken, Password};
use sesame_app::config::{AuthKind, Config, OneOrMany, Profile, SecretSource};
use sesame_testbed::idp::{self, Idp, account, clients};
use url::Url;

fn idp() -> &'static Idp {
    idp::shared()
}

async fn client(id: &str, secret: Option<&str>, auth: ClientAuth, scopes: &[&str]) -> OAuthClient {
    let http = OAuthHttp::default_client().unwrap();
    let meta = discovery::discover(&http, idp().issuer(), false).await.unwrap();
    let cfg = ClientConfig {
        client_id: id.into(),
        client_secret: secret.map(Into::into),
        auth,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        audience: vec![],
        resource: false,
        insecure: false,
    };
    OAuthClient::new(cfg, meta, http)
}

fn session_for(profile: Profile) -> Session {
    let base = Profile {
        base_url: Some(idp().url("/api/")),
        issuer: Some(idp().issuer().into()),
        cache: Some("memory".into()),
        ..Default::default()
    };
    let resolved = Config::default().resolve(None, base.merge(profile)).unwrap();
    sesame_app::config::session_builder(&resolved).unwrap().build().unwrap()
}

async fn whoami(session: &Session) -> serde_json::Value {
    session
        .get("whoami")
        .error_for_status(true)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn secret(s: &str) -> Option<SecretSource> {
    Some(SecretSource::Literal(s.into()))
}

#[tokio::test]
async fn discovery_by_issuer_and_by_webfinger() {
    let http = OAuthHttp::default_client().unwrap();
    let meta = discovery::discover(&http, idp().issuer(), false).await.unwrap();
    assert_eq!(meta.issuer, idp().issuer());
    assert_eq!(meta.token_endpoint.as_deref(), Some(idp().token_endpoint().as_str()));
    assert!(meta.jwks_uri.is_some() && meta.device_authorization_endpoint.is_some());

    let base = Url::parse(&idp().url("/api/")).unwrap();
    let iss = webfinger::issuer_for(&http, &base, None, false).await.unwrap();
    assert_eq!(iss, idp().issuer());
    let iss = webfinger::issuer_for(&http, &base, Some("/ods"), false).await.unwrap();
    assert_eq!(iss, idp().issuer());

    // A confidential profile with no issuer finds it by WebFinger and gets a token when it
    // trusts that issuer (issue 13 item 5: without `trusted_issuers` it is refused, below).
    let s = session_for(Profile {
        issuer: None,
        webfinger_prefix: Some("/ods".into()),
        auth: Some(AuthKind::ClientCredentials),
        client_id: Some(clients::M2M_BASIC.0.into()),
        client_secret: secret(clients::M2M_BASIC.1),
        trusted_issuers: Some(vec![idp().issuer().into()]),
        ..Default::default()
    });
    assert_eq!(whoami(&s).await["client_id"], clients::M2M_BASIC.0);
}

/// An attacker's authorization server: valid metadata naming its own token endpoint (and an
/// authorization endpoint, for the public-client case); every request is recorded.
async fn attacker_idp() -> support::TestServer {
    use axum::routing::get;
    let extra = axum::Router::new().route(
        "/.well-known/openid-configuration",
        get(|req: axum::extract::Request| async move {
            let host = req.headers()["host"].to_str().unwrap().to_string();
            axum::Json(serde_json::json!({
                "issuer": format!("http://{host}"),
                "token_endpoint": format!("http://{host}/token"),
                "authorization_endpoint": format!("http://{host}/authorize"),
            }))
        }),
    );
    support::TestServer::start_with(support::ServerOptions::default(), Some(extra)).await
}

/// An API whose WebFinger names `issuer`.
async fn api_naming(issuer: String) -> support::TestServer {
    use axum::routing::get;
    let extra = axum::Router::new().route(
        "/.well-known/webfinger",
        get(move || {
            let issuer = issuer.clone();
            async move {
                (
                    [("content-type", "application/jrd+json")],
                    serde_json::json!({"links": [{"rel": webfinger::ISSUER_REL, "href": issuer}]}).to_string(),
                )
            }
        }),
    );
    support::TestServer::start_with(support::ServerOptions::default(), Some(extra)).await
}

fn profile_session(p: Profile) -> Session {
    let p = Profile {
        cache: Some("memory".into()),
        ..p
    };
    let resolved = Config::default().resolve(None, p).unwrap();
    sesame_app::config::session_builder(&resolved).unwrap().build().unwrap()
}

/// Issue 13 item 5: a confidential client without `issuer` asked the API's WebFinger which
/// issuer to use and sent its secret there, so an API (or anyone answering on its origin)
/// could harvest client secrets. Now it refuses an issuer it does not trust, before any
/// request to it; `trusted_issuers` lists the ones it may use.
#[tokio::test]
async fn confidential_client_never_follows_webfinger_to_untrusted_issuer() {
    let attacker = attacker_idp().await;
    let api = api_naming(attacker.origin()).await;
    for client_auth in ["client_secret_basic", "client_secret_post"] {
        let s = profile_session(Profile {
            base_url: Some(api.url("/")),
            auth: Some(AuthKind::ClientCredentials),
            client_id: Some(clients::M2M_BASIC.0.into()),
            client_secret: secret(clients::M2M_BASIC.1),
            client_auth: Some(client_auth.into()),
            // Another issuer is trusted, not this one.
            trusted_issuers: Some(vec![idp().issuer().into()]),
            ..Default::default()
        });
        let e = s.get("whoami").send().await.unwrap_err();
        assert!(e.is_config(), "{e:?}");
        assert!(
            matches!(e.as_oauth(), Some(OAuthError::UntrustedIssuer { issuer, .. }) if *issuer == attacker.origin()),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains("`issuer`") && text.contains("`trusted_issuers`") && text.contains(&attacker.origin()),
            "says what to set: {text}"
        );
        assert!(!text.contains(clients::M2M_BASIC.1), "{text}");
    }
    // Nothing at all reached the attacker (not even discovery), so no secret did; and the
    // API got only WebFinger.
    assert!(attacker.requests().is_empty(), "{:?}", attacker.requests());
    assert!(api.requests().iter().all(|r| r.path == "/.well-known/webfinger"));
    let sent: String = api
        .requests()
        .iter()
        .map(|r| format!("{:?}{}", r.headers, String::from_utf8_lossy(&r.body)))
        .collect();
    assert!(!sent.contains(clients::M2M_BASIC.1));

    // Listing the bundled provider, found by WebFinger, works.
    let good_api = api_naming(idp().issuer().into()).await;
    let s = profile_session(Profile {
        base_url: Some(good_api.url("/")),
        auth: Some(AuthKind::ClientCredentials),
        client_id: Some(clients::M2M_BASIC.0.into()),
        client_secret: secret(clients::M2M_BASIC.1),
        trusted_issuers: Some(vec![format!("{}/", idp().issuer())]),
        ..Default::default()
    });
    s.get("anything").error_for_status(true).send().await.unwrap();
    let rec = good_api.last("/anything").unwrap();
    assert!(
        rec.header("authorization").is_some_and(|a| a.starts_with("Bearer ")),
        "{rec:?}"
    );

    // A private-key-jwt client is confidential too.
    let dir = support::tempdir();
    let key = dir.path().join("client.key.pem");
    support::write_private(&key, idp::m2m_jwt_key_pem().as_bytes());
    let s = profile_session(Profile {
        base_url: Some(api.url("/")),
        auth: Some(AuthKind::ClientCredentials),
        client_id: Some(clients::M2M_JWT.into()),
        client_auth: Some("private-key-jwt".into()),
        client_key: Some(key),
        ..Default::default()
    });
    let e = s.get("whoami").send().await.unwrap_err();
    assert!(
        matches!(e.as_oauth(), Some(OAuthError::UntrustedIssuer { .. })),
        "{e:?}"
    );
    assert!(attacker.requests().is_empty());
}

/// A public client has no secret to lose: it follows WebFinger (ASAM ODS), and the login
/// shows the person the issuer before the browser opens.
#[tokio::test]
async fn public_client_follows_webfinger_and_the_login_shows_the_issuer_first() {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use sesame::credential::{InteractiveLogin, LoginOptions};
    use sesame::oauth::LazyClient;
    use sesame_app::login::{Facts, TextLoginUi, TextOutput, UiSettings};

    #[derive(Debug, Default)]
    struct Capture(Mutex<String>);
    impl TextOutput for Capture {
        fn write(&self, text: &str) {
            self.0.lock().unwrap().push_str(text);
        }
    }

    let attacker = attacker_idp().await;
    let api = api_naming(attacker.origin()).await;
    let resolved = Config::default()
        .resolve(
            None,
            Profile {
                base_url: Some(api.url("/")),
                auth: Some(AuthKind::Oidc),
                client_id: Some("sesame-cli".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let parts = sesame_app::config::oauth_parts(&resolved, AuthKind::Oidc).unwrap();
    let lazy = LazyClient::new(parts.source, parts.client);
    let client = lazy.get().await.unwrap();
    assert_eq!(client.metadata().issuer, attacker.origin());
    assert_eq!(
        client.issuer_found_on().map(|u| u.as_str()),
        Some(api.url("/").as_str())
    );

    let out = Arc::new(Capture::default());
    let ui = TextLoginUi::new(
        Facts::with_terminals(false, true, false),
        UiSettings {
            no_browser: true,
            ..Default::default()
        },
        out.clone(),
    );
    let login = InteractiveLogin::new(
        Arc::new(ui),
        LoginOptions {
            timeout: Duration::from_secs(1),
            device_fallback: false,
            ..Default::default()
        },
    );
    let e = login.run(client).await.unwrap_err();
    assert!(e.is_timeout(), "nobody logs in here: {e}");
    let text = out.0.lock().unwrap().clone();
    let shown = format!("issuer: {} (found by WebFinger on {})", attacker.origin(), api.url("/"));
    let issuer_at = text.find(&shown).unwrap_or_else(|| panic!("issuer shown: {text}"));
    let url_at = text.find("To log in, open this URL").expect("URL shown");
    assert!(issuer_at < url_at, "the issuer comes first: {text}");
}

#[tokio::test]
async fn issuer_mismatch_and_plain_http_are_refused() {
    let http = OAuthHttp::default_client().unwrap();
    // The provider's document names its own issuer, not this one.
    let wrong = format!("{}/", idp().url("/api"));
    let e = discovery::discover(&http, &wrong, false).await.unwrap_err();
    assert!(e.is_oauth(), "{e}");
    // Plain http to a non-loopback host is refused before any request.
    let e = discovery::discover(&http, "http://idp.example.invalid/", false)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("https"), "{e}");
}

#[tokio::test]
async fn client_credentials_basic_post_and_private_key_jwt() {
    for (id, sec, method) in [
        (clients::M2M_BASIC.0, Some(clients::M2M_BASIC.1), "basic"),
        (clients::M2M_POST.0, Some(clients::M2M_POST.1), "post"),
        (clients::M2M_JWT, None, "private-key-jwt"),
    ] {
        let s = session_for(Profile {
            auth: Some(AuthKind::ClientCredentials),
            client_id: Some(id.into()),
            client_secret: sec.and_then(secret),
            client_auth: Some(method.into()),
            client_key: (method == "private-key-jwt").then(|| {
                let dir = std::env::temp_dir().join(format!("sesame-key-{}", std::process::id()));
                std::fs::create_dir_all(&dir).unwrap();
                let p = dir.join("m2m.pem");
                sesame_testbed::pki::write_private(&p, idp::m2m_jwt_key_pem().as_bytes());
                p
            }),
            ..Default::default()
        });
        let who = whoami(&s).await;
        assert_eq!(who["client_id"], id, "{method}");
        assert!(who["aud"].to_string().contains("/api"), "{who}");
    }
    // A wrong secret is the provider's `invalid_client`, typed, with advice.
    let s = session_for(Profile {
        auth: Some(AuthKind::ClientCredentials),
        client_id: Some(clients::M2M_BASIC.0.into()),
        client_secret: secret("wrong-secret"),
        ..Default::default()
    });
    let e = s.get("whoami").send().await.unwrap_err();
    assert_eq!(e.oauth_error_code(), Some("invalid_client"), "{e}");
    assert!(e.to_string().contains("client_secret"), "{e}");
    assert!(!e.to_string().contains("wrong-secret"));
}

#[tokio::test]
async fn password_grant_refresh_rotation_and_userinfo() {
    let c = client(
        clients::PASSWORD_CLIENT.0,
        Some(clients::PASSWORD_CLIENT.1),
        ClientAuth::Basic,
        &["openid", "profile", "email", "offline_access"],
    )
    .await;
    let t = c
        .password(
            account::USERNAME,
            &Password::new(account::PASSWORD),
            &TokenOptions::default(),
        )
        .await
        .unwrap();
    let rt1 = t.refresh_token.clone().expect("refresh token");
    assert!(
        t.id_token.is_some(),
        "openid scope gives an ID token (verified on receipt)"
    );
    let info = c.userinfo(&t.access_token).await.unwrap();
    assert_eq!(info["sub"], account::SUB);

    // Rotation: the new refresh token replaces the old one, which stops working.
    let t2 = c.refresh(&rt1, &TokenOptions::default()).await.unwrap();
    let rt2 = t2.refresh_token.clone().unwrap();
    assert_ne!(rt1, rt2);
    assert_ne!(t.access_token, t2.access_token);
    let e = c.refresh(&rt1, &TokenOptions::default()).await.unwrap_err();
    assert_eq!(e.oauth_error_code(), Some("invalid_grant"));
    // A refused refresh token means a new login; the engine says so with a typed hint
    // (the CLI words it), its own text names no command.
    assert_eq!(e.oauth_hint(), Some(sesame::oauth::ProviderHint::Login), "{e}");
    assert!(!e.to_string().contains("sesame login"), "{e}");

    let e = c
        .password(account::USERNAME, &Password::new("nope"), &TokenOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error_code(), Some("invalid_grant"));
    assert_eq!(
        e.oauth_hint(),
        Some(sesame::oauth::ProviderHint::CheckCredentials),
        "a refused password grant is about the username and password: {e}"
    );
    assert!(e.to_string().contains("username or password"), "{e}");

    // And through a profile: a session with auth = password reaches the API.
    let s = session_for(Profile {
        auth: Some(AuthKind::Password),
        client_id: Some(clients::PASSWORD_CLIENT.0.into()),
        client_secret: secret(clients::PASSWORD_CLIENT.1),
        username: Some(account::USERNAME.into()),
        password: secret(account::PASSWORD),
        scopes: Some(vec!["openid".into(), "offline_access".into()]),
        ..Default::default()
    });
    assert_eq!(whoami(&s).await["sub"], account::SUB);
}

#[tokio::test]
async fn token_exchange_for_another_audience() {
    let user = client(
        clients::PASSWORD_CLIENT.0,
        Some(clients::PASSWORD_CLIENT.1),
        ClientAuth::Basic,
        &["openid", "api"],
    )
    .await;
    let subject = user
        .password(
            account::USERNAME,
            &Password::new(account::PASSWORD),
            &TokenOptions::default(),
        )
        .await
        .unwrap();
    let ex = client(
        clients::EXCHANGE_CLIENT.0,
        Some(clients::EXCHANGE_CLIENT.1),
        ClientAuth::Basic,
        &[],
    )
    .await;
    let aud = format!("{}/api/other", idp().issuer());
    let t = ex
        .token_exchange(
            &subject.access_token,
            sesame::oauth::ACCESS_TOKEN_TYPE,
            &TokenOptions {
                scopes: None,
                audience: Some(vec![aud.clone()]),
            },
        )
        .await
        .unwrap();
    let claims = sesame::token::jwt_claims(t.access_token.expose()).unwrap();
    assert_eq!(claims["sub"], account::SUB);
    assert!(claims["aud"].to_string().contains("/api/other"), "{claims:?}");
    let e = ex
        .token_exchange(
            &AccessToken::new("not-a-token"),
            sesame::oauth::ACCESS_TOKEN_TYPE,
            &TokenOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(e.is_oauth(), "{e}");
}

#[tokio::test]
async fn introspection_before_and_after_revocation() {
    let m2m = client(clients::M2M_BASIC.0, Some(clients::M2M_BASIC.1), ClientAuth::Basic, &[]).await;
    let t = m2m.client_credentials(&TokenOptions::default()).await.unwrap();
    let rs = client(clients::RS_CLIENT.0, Some(clients::RS_CLIENT.1), ClientAuth::Basic, &[]).await;
    let before = rs.introspect(&t.access_token, Some("access_token")).await.unwrap();
    assert_eq!(before["active"], true, "{before}");
    m2m.revoke(t.access_token.expose(), Some("access_token")).await.unwrap();
    let after = rs.introspect(&t.access_token, None).await.unwrap();
    assert_eq!(after["active"], false, "{after}");
}

#[tokio::test]
async fn dynamic_registration_then_client_credentials() {
    let http = OAuthHttp::default_client().unwrap();
    let endpoint = Url::parse(&idp().registration_endpoint()).unwrap();
    let reg = register(
        &http,
        &endpoint,
        &RegistrationRequest {
            client_name: Some("sesame test".into()),
            grant_types: vec!["client_credentials".into()],
            response_types: Some(vec![]),
            redirect_uris: vec![],
            token_endpoint_auth_method: Some("client_secret_basic".into()),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap();
    let secret = reg.client_secret.clone().expect("confidential client");
    assert!(
        !reg.metadata.to_string().contains(secret.expose()),
        "secret stripped from metadata"
    );
    let c = client(&reg.client_id, Some(secret.expose()), ClientAuth::Basic, &[]).await;
    let t = c.client_credentials(&TokenOptions::default()).await.unwrap();
    assert!(!t.access_token.expose().is_empty());
}

async fn real_id_token() -> (OAuthClient, String, String) {
    real_id_token_from(idp()).await
}

async fn real_id_token_from(provider: &Idp) -> (OAuthClient, String, String) {
    let http = OAuthHttp::default_client().unwrap();
    let meta = discovery::discover(&http, provider.issuer(), false).await.unwrap();
    let c = OAuthClient::new(
        ClientConfig {
            scopes: vec!["openid".into()],
            ..ClientConfig::confidential(clients::PASSWORD_CLIENT.0, clients::PASSWORD_CLIENT.1)
        },
        meta,
        http,
    );
    let t = c
        .password(
            account::USERNAME,
            &Password::new(account::PASSWORD),
            &TokenOptions::default(),
        )
        .await
        .unwrap();
    (
        c,
        t.id_token.unwrap().expose().to_string(),
        t.access_token.expose().to_string(),
    )
}

fn b64(v: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn parts(jwt: &str) -> (serde_json::Value, serde_json::Value, String) {
    let mut it = jwt.split('.');
    let d =
        |s: &str| serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    let h = d(it.next().unwrap());
    let p = d(it.next().unwrap());
    (h, p, it.next().unwrap().to_string())
}

fn id_err(e: sesame::Error) -> IdTokenError {
    match e.as_oauth() {
        Some(OAuthError::IdToken(i)) => i.clone(),
        other => panic!("expected an ID token error, got {other:?} ({e})"),
    }
}

#[tokio::test]
async fn id_token_failures_are_each_rejected_with_the_right_error() {
    let (c, id, at) = real_id_token().await;
    // The genuine token verifies, at_hash included.
    let claims = c.verify_id_token(&id, None, Some(&at)).await.unwrap();
    assert_eq!(claims["sub"], account::SUB);

    // Wrong audience: verified as another client.
    let other = client("some-other-client", Some("x"), ClientAuth::Basic, &[]).await;
    assert!(matches!(
        id_err(other.verify_id_token(&id, None, None).await.unwrap_err()),
        IdTokenError::WrongAudience(_)
    ));

    // Expired: checked at a time after `exp`.
    let (_, payload, _) = parts(&id);
    let exp = payload["exp"].as_i64().unwrap();
    let e = c
        .verify_id_token_at(&id, None, None, Some(exp + 3600))
        .await
        .unwrap_err();
    assert!(matches!(id_err(e), IdTokenError::Expired(_)));

    // Tampered payload: the signature no longer verifies.
    let (h, mut p, sig) = parts(&id);
    p["sub"] = "mallory".into();
    let forged = format!("{}.{}.{}", b64(&h), b64(&p), sig);
    assert!(matches!(
        id_err(c.verify_id_token(&forged, None, None).await.unwrap_err()),
        IdTokenError::BadSignature(_)
    ));

    // alg: none.
    let unsigned = format!("{}.{}.", b64(&serde_json::json!({"alg": "none"})), b64(&p));
    assert_eq!(
        id_err(c.verify_id_token(&unsigned, None, None).await.unwrap_err()),
        IdTokenError::Unsigned
    );

    // HS256 for a public client (no secret to verify with).
    let public = client(clients::PASSWORD_CLIENT.0, None, ClientAuth::None, &[]).await;
    let hs = format!("{}.{}.{}", b64(&serde_json::json!({"alg": "HS256"})), b64(&p), sig);
    assert!(matches!(
        id_err(public.verify_id_token(&hs, None, None).await.unwrap_err()),
        IdTokenError::UnsupportedAlg(_)
    ));

    // Nonce: required and must match.
    assert!(matches!(
        id_err(c.verify_id_token(&id, Some("expected-nonce"), None).await.unwrap_err()),
        IdTokenError::Nonce(_)
    ));

    // Garbage never panics.
    for junk in ["", "a", "a.b", "a.b.c", "....", "eyJ.eyJ.x"] {
        assert!(c.verify_id_token(junk, None, None).await.is_err());
    }
}

#[tokio::test]
async fn jwks_key_rotation_at_the_provider_is_followed() {
    // Its own provider: rotating the shared one would disturb the other tests.
    let own = tokio::task::spawn_blocking(Idp::start_blocking).await.unwrap();
    let (c, id, _) = real_id_token_from(&own).await;
    c.verify_id_token(&id, None, None).await.unwrap();
    let jwks_uri = Url::parse(c.metadata().jwks_uri.as_deref().unwrap()).unwrap();
    let before = jwks::fetch_count(&jwks_uri).await;
    let new_kid = own.rotate_keys();
    let (_, id2, _) = real_id_token_from(&own).await;
    let (h, _, _) = parts(&id2);
    assert_eq!(h["kid"], new_kid.as_str());
    c.verify_id_token(&id2, None, None).await.unwrap();
    assert_eq!(
        jwks::fetch_count(&jwks_uri).await,
        before + 1,
        "exactly one refetch for the new key"
    );
    // A made-up kid right after: no second refetch (rate-limited), a clear error.
    let (mut h, p, sig) = parts(&id2);
    h["kid"] = "no-such-key".into();
    let e = c
        .verify_id_token(&format!("{}.{}.{}", b64(&h), b64(&p), sig), None, None)
        .await
        .unwrap_err();
    assert!(matches!(id_err(e), IdTokenError::UnknownKey(_)));
    assert_eq!(jwks::fetch_count(&jwks_uri).await, before + 1);
}

#[tokio::test]
async fn audience_and_resource_shape_the_token() {
    let aud = format!("{}/api", idp().issuer());
    let s = session_for(Profile {
        auth: Some(AuthKind::ClientCredentials),
        client_id: Some(clients::M2M_BASIC.0.into()),
        client_secret: secret(clients::M2M_BASIC.1),
        audience: Some(OneOrMany::One(aud.clone())),
        resource: Some(true),
        ..Default::default()
    });
    let who = whoami(&s).await;
    assert!(who["aud"].to_string().contains(&aud), "{who}");
}
