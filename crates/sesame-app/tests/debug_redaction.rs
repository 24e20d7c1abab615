//! Issue 13 item 9 (docs/session-rules.md#secrets-never-in-output): every public type that can hold a secret prints none with
//! `{:?}` (nor `{:#?}`). Each is built holding a known secret and its Debug searched for
//! it. The list of audited types is in docs/design/secrets.md.

#[path = "../../sesame/tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use sesame::credential::oauth::{ClientCredentialsGrant, PasswordGrant};
use sesame::credential::{ApiKey, Basic, Bearer, NetrcEntry};
use sesame::oauth::custom_grant::CustomJsonGrant;
use sesame::oauth::http::Reply;
use sesame::oauth::id_token::IdTokenCheck;
use sesame::oauth::loopback::CallbackCheck;
use sesame::oauth::registration::Registration;
use sesame::oauth::uma::{Rpt, RptRequest, Ticket, UmaError};
use sesame::oauth::{
    ClientAuth, ClientConfig, LazyClient, OAuthClient, OAuthError, OAuthHttp, ProviderMetadata, ProviderSource,
};
use sesame::redact::SecretMask;
use sesame::secret::{AccessToken, ClientSecret, IdToken, Password, RefreshToken};
use sesame::tls::TlsOptions;
use sesame::token::{MemoryStore, Token, TokenStore};
use sesame::{Session, Url};
use sesame_app::config::SecretSource;
use support::*;

const SECRET: &str = "S3cret-debug-canary-91f2";

#[track_caller]
fn clean<T: std::fmt::Debug>(what: &str, v: &T) {
    // Also as the bytes a `Vec<u8>` prints (`[83, 51, …]`).
    let bytes = format!("{:?}", SECRET.as_bytes());
    let bytes = bytes.trim_matches(|c| c == '[' || c == ']');
    for text in [format!("{v:?}"), format!("{v:#?}")] {
        assert!(!text.contains(SECRET), "{what} Debug leaks the secret: {text}");
        assert!(!text.contains(bytes), "{what} Debug leaks the secret's bytes: {text}");
    }
}

fn token() -> Token {
    let mut t = Token::bare(AccessToken::new(SECRET));
    t.refresh_token = Some(RefreshToken::new(SECRET));
    t.id_token = Some(IdToken::new(SECRET));
    t
}

fn lazy(config: ClientConfig) -> Arc<LazyClient> {
    LazyClient::new(
        ProviderSource {
            issuer: Some("https://idp.example".into()),
            base_url: None,
            webfinger_prefix: None,
            explicit: ProviderMetadata::explicit("https://idp.example"),
            tls: TlsOptions::default(),
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            retries: None,
            trusted_issuers: Vec::new(),
        },
        config,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_public_type_holding_a_secret_prints_it_in_debug() {
    // The secret newtypes.
    clean("Password", &Password::new(SECRET));
    clean("AccessToken", &AccessToken::new(SECRET));
    clean("RefreshToken", &RefreshToken::new(SECRET));
    clean("IdToken", &IdToken::new(SECRET));
    clean("ClientSecret", &ClientSecret::new(SECRET));
    clean("Ticket", &Ticket::new(SECRET));
    clean("Token", &token());
    clean("SecretSource", &SecretSource::Literal(SECRET.into()));
    let mut mask = SecretMask::new();
    mask.add(SECRET);
    clean("SecretMask", &mask);

    // A token reply: the raw body holds the refresh token.
    let body = format!(r#"{{"access_token":"{SECRET}","refresh_token":"{SECRET}","token_type":"Bearer"}}"#);
    clean(
        "Reply",
        &Reply::new(
            sesame::session::StatusCode::OK,
            Default::default(),
            body.clone().into_bytes(),
        ),
    );

    // UMA.
    let at = AccessToken::new(SECRET);
    clean(
        "RptRequest",
        &RptRequest {
            ticket: SECRET,
            claim_token: Some(&at),
            pct: Some(SECRET),
            rpt: Some(&at),
            ..Default::default()
        },
    );
    clean(
        "Rpt",
        &Rpt {
            token: token(),
            pct: Some(AccessToken::new(SECRET)),
            upgraded: false,
        },
    );
    let need_info = UmaError::NeedInfo {
        as_uri: "https://as.example".into(),
        ticket: Ticket::new(SECRET),
        redirect_user: true,
        redirect_url: Some(format!("https://as.example/claims?client_id=c&ticket={SECRET}")),
        required_claims: vec![],
        description: None,
    };
    clean("UmaError", &need_info);
    clean("OAuthError::Uma", &OAuthError::Uma(need_info));

    // ID token checks: the HS256 key, nonce and access token.
    let jwks = Url::parse("https://idp.example/jwks").unwrap();
    clean(
        "IdTokenCheck",
        &IdTokenCheck {
            issuer: "https://idp.example",
            jwks_uri: Some(&jwks),
            client_id: "c",
            client_secret: Some(SECRET),
            nonce: Some(SECRET),
            access_token: Some(SECRET),
            now: None,
        },
    );
    clean(
        "CallbackCheck",
        &CallbackCheck {
            state: SECRET.to_string().into(),
            issuer: "https://idp.example".into(),
            require_iss: false,
            pages: sesame::oauth::landing::LandingPages::builtin(),
        },
    );

    // Clients, grants, credentials, stores.
    let confidential = ClientConfig::confidential("c", SECRET);
    clean("ClientConfig", &confidential);
    let pem = sesame_testbed::idp::m2m_jwt_key_pem();
    let pkjwt = ClientAuth::private_key_jwt(&pem, None, None).unwrap();
    let pem_body = pem.lines().nth(1).unwrap().to_string();
    assert!(!format!("{pkjwt:?}").contains(&pem_body), "ClientAuth leaks the key");
    let client = OAuthClient::new(
        confidential.clone(),
        Arc::new(ProviderMetadata::explicit("https://idp.example")),
        OAuthHttp::default_client().unwrap(),
    );
    clean("OAuthClient", &client);
    let lc = lazy(confidential);
    clean("LazyClient", &lc);
    clean("ClientCredentialsGrant", &ClientCredentialsGrant::new(lc.clone()));
    clean("PasswordGrant", &PasswordGrant::new(lc, "alice", Password::new(SECRET)));
    clean(
        "CustomJsonGrant",
        &CustomJsonGrant::new(
            OAuthHttp::default_client().unwrap(),
            Url::parse("https://svc.example/grant").unwrap(),
            serde_json::json!({"code": SECRET}),
            "/token",
        ),
    );
    let reg: Registration =
        serde_json::from_str(&format!(r#"{{"client_id":"c","client_secret":"{SECRET}"}}"#)).unwrap();
    clean("Registration", &reg);
    clean("Bearer", &Bearer::new(SECRET));
    clean("Basic", &Basic::new("alice", SECRET).unwrap());
    clean("ApiKey", &ApiKey::new(SECRET).unwrap());
    clean(
        "NetrcEntry",
        &NetrcEntry {
            machine: Some("h".into()),
            login: Some("alice".into()),
            password: Some(Password::new(SECRET)),
        },
    );
    let store = MemoryStore::default();
    let key = sesame::token::CacheKey::new("https://idp", "c", "password", &[], &[], None);
    store.save(&key, &token()).unwrap();
    clean("MemoryStore", &store);
    let source = sesame::token::TokenSource::builder(
        key,
        Arc::new(ClientCredentialsGrant::new(lazy(ClientConfig::confidential(
            "c", SECRET,
        )))),
    )
    .store(Arc::new(MemoryStore::default()))
    .build();
    let lease = source.install(token()).unwrap();
    clean("Lease", &lease);
    clean("TokenSource", &source);
    let cred = sesame::credential::OAuth::new(
        "client-credentials",
        source,
        Some(lazy(ClientConfig::confidential("c", SECRET))),
    );
    clean("credential::OAuth", &cred);

    // A provider error whose description echoes a secret sent with the request.
    let e: sesame::Error = OAuthError::provider("token endpoint", Some(400), "invalid_request", None, None).into();
    clean("Error", &e);

    // Responses: the URL's query and the body (a token service's answer).
    let s = TestServer::http().await;
    let session = Session::builder().base_url(&s.url("/")).unwrap().build().unwrap();
    let r = session
        .get(&format!("echo?access_token={SECRET}"))
        .header("Authorization", &format!("Bearer {SECRET}"))
        .send()
        .await
        .unwrap();
    clean("session::Response", &r);
    let url = s.url(&format!("/echo?access_token={SECRET}"));
    // A thread of its own: the blocking API refuses to run inside the async runtime.
    let thread = std::thread::spawn(move || {
        let session = sesame::blocking::Session::new(Session::builder().build().unwrap());
        session
            .get(&url)
            .header("Authorization", &format!("Bearer {SECRET}"))
            .send()
            .unwrap()
    });
    let blocking = tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap();
    assert!(blocking.text().contains(SECRET), "the body holds the secret");
    clean("blocking::Response", &blocking);
}
