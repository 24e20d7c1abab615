//! Issue 13 item 10: a server that echoes the request in its error (a debugging gateway, a
//! misconfigured proxy, a hostile endpoint) gets none of the secrets sesame sent into
//! sesame's error values — neither as sent, nor urlencoded, nor base64 (the Basic header).
//! Real local servers (`/echo-error` of the testbed echoes headers and body verbatim).

mod support;

use std::sync::Arc;

use base64::Engine;
use sesame::credential::{Basic, Bearer};
use sesame::oauth::{ClientAuth, ClientConfig, OAuthClient, OAuthHttp, ProviderMetadata, TokenOptions};
use sesame::secret::{Password, RefreshToken};
use sesame::{ErrorKind, Session};
use support::*;

// Characters that differ between the raw, form-urlencoded and percent-encoded forms.
const CLIENT_ID: &str = "echo client";
const SECRET: &str = "Cs-echo/secret+value=1 x";
const PASSWORD: &str = "Pw-echo/pass+word=2";
const REFRESH: &str = "Rt-echo-refresh/3+";
const BEARER: &str = "Bt-echo-bearer-77a1f0";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn form(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Every form in which a secret may come back.
fn leak_forms() -> Vec<String> {
    let mut v = Vec::new();
    for s in [SECRET, PASSWORD, REFRESH, BEARER] {
        v.push(s.to_string());
        v.push(form(s));
        v.push(
            s.replace('/', "%2F")
                .replace('+', "%2B")
                .replace('=', "%3D")
                .replace(' ', "%20"),
        );
        v.push(b64(s));
    }
    v.push(b64(&format!("{CLIENT_ID}:{SECRET}")));
    v.push(b64(&format!("{}:{}", form(CLIENT_ID), form(SECRET))));
    v.push(b64(&format!("alice:{PASSWORD}")));
    v
}

fn assert_clean(what: &str, text: &str) {
    for leak in leak_forms() {
        assert!(!text.contains(&leak), "{what} leaks `{leak}`: {text}");
    }
}

fn client(s: &TestServer, path: &str, auth: ClientAuth) -> OAuthClient {
    let meta = ProviderMetadata {
        issuer: s.origin(),
        token_endpoint: Some(s.url(path)),
        ..Default::default()
    };
    OAuthClient::new(
        ClientConfig {
            auth,
            ..ClientConfig::confidential(CLIENT_ID, SECRET)
        },
        Arc::new(meta),
        OAuthHttp::default_client().unwrap(),
    )
}

#[tokio::test]
async fn token_endpoint_echoing_the_request_leaks_no_secret_into_the_error() {
    let s = TestServer::http().await;
    for path in ["/echo-error", "/echo-error?as=oauth"] {
        for auth in [ClientAuth::Basic, ClientAuth::Post] {
            let c = client(&s, path, auth.clone());
            let opts = TokenOptions::default();
            let errors = [
                c.client_credentials(&opts).await.unwrap_err(),
                c.password("alice", &Password::new(PASSWORD), &opts).await.unwrap_err(),
                c.refresh(&RefreshToken::new(REFRESH), &opts).await.unwrap_err(),
            ];
            for e in errors {
                assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
                let text = format!("{e}");
                // The echo did reach the message (so a leak would show), masked.
                assert!(text.contains("[redacted]"), "{path} {auth:?}: {text}");
                assert!(text.contains("grant_type="), "the rest of the echo is kept: {text}");
                assert_clean("Display", &text);
                assert_clean("Debug", &format!("{e:?}"));
            }
        }
    }
    // The server really got the secrets, in the forms searched for above.
    let seen: String = s
        .requests()
        .iter()
        .map(|r| format!("{:?} {}", r.headers, String::from_utf8_lossy(&r.body)))
        .collect();
    assert!(seen.contains(&b64(&format!("{}:{}", form(CLIENT_ID), form(SECRET)))));
    assert!(seen.contains(&form(SECRET)) && seen.contains(&form(PASSWORD)) && seen.contains(&form(REFRESH)));
}

#[tokio::test]
async fn api_echoing_the_credential_leaks_it_into_no_http_error() {
    let s = TestServer::http().await;
    let bearer = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .credential(Bearer::new(BEARER))
        .error_for_status(true)
        .build()
        .unwrap();
    let basic = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .credential(Basic::new("alice", PASSWORD).unwrap())
        .error_for_status(true)
        .build()
        .unwrap();
    for session in [bearer, basic] {
        let e = session.get("echo-error").send().await.unwrap_err();
        assert!(e.is_bad_request(), "{e}");
        let text = e.to_string();
        assert!(text.contains("authorization: [redacted]"), "{text}");
        assert_clean("Display", &text);
        assert_clean("Debug", &format!("{e:?}"));
        assert_clean("HttpError.message", &e.as_http().unwrap().message);
    }
    // A hand-set credential header is masked too.
    let plain = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .error_for_status(true)
        .build()
        .unwrap();
    let e = plain
        .get("echo-error")
        .header("X-Api-Key", BEARER)
        .send()
        .await
        .unwrap_err();
    assert_clean("Display", &e.to_string());
}
