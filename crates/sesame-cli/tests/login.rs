//! `sesame login` in a real browser: headless Chromium (driven by `testbed/browser`, acting
//! as `$BROWSER`) logs in as alice at the bundled OpenID provider, consents or denies, and
//! lands on sesame's loopback listener. Screenshots of the pages go to
//! `target/test-artifacts/`.
//!
//! The loopback listener's rules (wrong state, favicon, `<script>` in the provider's text,
//! one callback only, ports, shutdown) are also unit-tested against the listener with
//! reqwest in `sesame::oauth::loopback`; parallel logins with a fake flow in
//! `sesame::credential::interactive`; the terminal and browser rules in `sesame_app::login`.

#[path = "support/browser.rs"]
mod browser;
mod support;

use std::path::Path;
use std::time::Duration;

use browser::{TestBrowser, as_refs};
use sesame_testbed::idp::{self, Idp};
use support::*;
use tokio::io::AsyncBufReadExt;

fn idp() -> &'static Idp {
    idp::shared()
}

/// A profile `idp` for the public native client `sesame-cli` (+ `extra` lines).
fn profile(home: &Path, auth: &str, extra: &str) {
    let i = idp().issuer();
    write_config(
        home,
        &format!(
            "default_profile = \"idp\"\n[profiles.idp]\nbase_url = \"{i}/api/\"\nauth = \"{auth}\"\nissuer = \"{i}\"\nclient_id = \"sesame-cli\"\nscopes = [\"openid\", \"profile\"]\nlogin_timeout = 60\n{extra}"
        ),
    );
}

async fn whoami(home: &Path) -> serde_json::Value {
    let r = sesame(home, &["request", "whoami"], &[]).await;
    assert_eq!(r.code, 0, "request with the cached token: {}", r.all());
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.starts_with(b"\x89PNG\r\n\x1a\n") && b.len() > 1000)
}

#[tokio::test]
async fn browser_login_then_request_and_token_use_the_cached_token() {
    let home = tempfile::tempdir().unwrap();
    // The classic front-channel request (its parameters are checked below, and the probe
    // reads the redirect URI from it); pushed requests are tested in dpop_login.rs.
    profile(home.path(), "oidc", "par = false\n");
    let b = TestBrowser::new()
        .screenshot("login-success.png")
        .with("SESAME_BROWSER_PROBE", "1");
    let env = b.env();
    // -vvv: the most verbose logging must still keep the code and tokens out (checked below).
    let r = sesame(home.path(), &["-vvv", "login"], &as_refs(&env)).await;
    let log = b.wait_done().await;
    assert_eq!(r.code, 0, "{}\n--- browser ---\n{log}", r.all());
    assert!(r.stdout.is_empty(), "stdout carries no login chatter: {}", r.stdout);

    // The URL is printed first, then the browser is opened; one success line at the end.
    let url_at = r.stderr.find("http://127.0.0.1").expect("URL on stderr");
    let opened_at = r.stderr.find("Opened it in your browser").expect("browser opened");
    assert!(url_at < opened_at, "{}", r.stderr);
    assert!(
        r.stderr.contains("code_challenge_method=S256") && r.stderr.contains("nonce="),
        "{}",
        r.stderr
    );
    let done: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("sesame: logged in to "))
        .collect();
    assert!(
        done.len() == 1 && done[0].contains(" as alice"),
        "one success line: {}",
        r.stderr
    );

    // Before the real callback: a favicon → 404 and a forged state → 400, and the listener
    // kept waiting (the login above succeeded after them).
    assert!(log.contains("probe /favicon.ico -> 404"), "{log}");
    assert!(log.contains("state=wrong -> 400"), "{log}");

    let page = b.page();
    assert_eq!(page["status"], 200);
    assert!(page["url"].as_str().unwrap().ends_with("/callback"), "{page}");
    // RFC 9207: the provider advertises `iss` in its authorization responses, so the
    // listener required it in this callback (a callback without it is refused, see
    // sesame::oauth::authorization_code), and the login above went through.
    let meta = idp::http::get(&idp().discovery_url()).unwrap().json();
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true, "{meta}");
    let text = page["text"].as_str().unwrap();
    assert!(
        text.contains("Login complete") && text.contains("return to the terminal"),
        "{text}"
    );
    assert!(is_png(&browser::artifacts_dir().join("login-success.png")));

    // The token is cached: requests and `sesame token` use it without a browser.
    let me = whoami(home.path()).await;
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["client_id"], "sesame-cli");
    let t = sesame(home.path(), &["token"], &[]).await;
    assert_eq!(t.code, 0, "{}", t.all());
    assert_eq!(t.stdout.trim().split('.').count(), 3, "a JWT access token");
    assert_eq!(b.invocations(), 1);
    // No secret of the flow reached the terminal, even at -vvv: not the code, not a token;
    // and the code is never cached.
    let code = page["code"].as_str().expect("the browser saw a code");
    assert!(code.len() > 10);
    assert!(!r.stderr.contains(code), "authorization code leaked:\n{}", r.stderr);
    assert!(!r.stderr.contains(t.stdout.trim()), "access token leaked");
    let cache_file = std::fs::read_dir(home.path().join(".cache/sesame"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a cache file");
    let raw = std::fs::read_to_string(cache_file).unwrap();
    assert!(!raw.contains(code), "the code is never cached");
    let cached: serde_json::Value = serde_json::from_str(&raw).unwrap();
    for field in ["refresh_token", "id_token"] {
        let v = cached[field].as_str().unwrap_or_else(|| panic!("{field} cached"));
        assert!(!r.stderr.contains(v), "{field} leaked");
    }

    // Logout: a person's login left a session at the provider, so the end-session URL is
    // offered, on stderr (stdout stays empty), naming the client and not the person: the
    // ID token (a JWT with the person's claims) is not put into a URL.
    let id_token = cached["id_token"].as_str().unwrap().to_string();
    let out = sesame(home.path(), &["logout"], &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.is_empty(), "logout prints nothing on stdout: {}", out.stdout);
    let url_line = out
        .stderr
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{}/", idp().issuer())))
        .unwrap_or_else(|| panic!("end-session URL on stderr: {}", out.stderr));
    let url = sesame::Url::parse(url_line).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q.get("client_id").map(String::as_str), Some("sesame-cli"), "{url}");
    assert!(!q.contains_key("id_token_hint"), "{url}");
    assert!(!out.stderr.contains(&id_token) && !out.stderr.contains(id_token.split('.').nth(1).unwrap()));
    // The provider accepts it: the URL opens its logout confirmation.
    let page = idp::http::get(url.as_str()).unwrap();
    assert_eq!(page.status, 200, "end-session page: {}", page.text());
    assert!(
        !home.path().join(".cache/sesame").read_dir().unwrap().any(|e| e
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "json"))
    );
}

#[tokio::test]
async fn device_flow_is_completed_at_the_verification_uri() {
    let home = tempfile::tempdir().unwrap();
    profile(home.path(), "device", "");
    let b = TestBrowser::new().screenshot("device-success.png");
    let env = b.env();
    let r = sesame(home.path(), &["login"], &as_refs(&env)).await;
    let log = b.wait_done().await;
    assert_eq!(r.code, 0, "{}\n--- browser ---\n{log}", r.all());
    // gh style: the code first, then where to enter it.
    let code_at = r.stderr.find("First copy your one-time code: ").expect("code shown");
    let uri_at = r
        .stderr
        .find("Then open http://127.0.0.1")
        .expect("verification URI shown");
    assert!(code_at < uri_at, "{}", r.stderr);
    assert!(
        r.stderr.contains("/device?user_code="),
        "complete URI shown: {}",
        r.stderr
    );
    assert!(
        log.contains("open http://127.0.0.1") && log.contains("/device"),
        "{log}"
    );
    assert!(log.contains("device confirm page"), "{log}");
    assert!(
        b.page()["title"].as_str().unwrap().contains("Sign-in Success"),
        "{}",
        b.page()
    );
    assert!(
        r.stderr.trim_end().lines().last().unwrap().contains(" as alice"),
        "{}",
        r.stderr
    );
    assert_eq!(whoami(home.path()).await["sub"], "alice");
}

#[tokio::test]
async fn denied_consent_shows_the_failure_page_and_exits_1() {
    let home = tempfile::tempdir().unwrap();
    profile(home.path(), "oidc", "");
    let b = TestBrowser::new()
        .screenshot("login-failure.png")
        .with("SESAME_BROWSER_CONSENT", "deny");
    let env = b.env();
    let r = sesame(home.path(), &["login"], &as_refs(&env)).await;
    let log = b.wait_done().await;
    assert_eq!(r.code, 1, "{}\n--- browser ---\n{log}", r.all());
    assert!(log.contains("consent page: denying"), "{log}");
    assert!(
        r.stderr.contains("access_denied") && r.stderr.contains("End-User aborted interaction"),
        "the provider's text reaches the terminal: {}",
        r.stderr
    );
    let text = b.page()["text"].as_str().unwrap().to_string();
    assert!(
        text.contains("Login failed") && text.contains("access_denied"),
        "{text}"
    );
    assert!(text.contains("Return to the terminal"), "{text}");
    assert!(is_png(&browser::artifacts_dir().join("login-failure.png")));
    // Nothing was cached: a request needs a login (exit 4, no terminal here).
    let q = sesame(home.path(), &["request", "whoami"], &[]).await;
    assert_eq!(q.code, 4, "{}", q.all());
}

#[tokio::test]
async fn provider_text_is_escaped_in_a_real_browser() {
    let home = tempfile::tempdir().unwrap();
    // The injected callback needs the redirect URI from the front-channel URL.
    profile(home.path(), "oidc", "par = false\n");
    let evil = r#"<script>window.__sesameXss=1</script><img src=x onerror="window.__sesameXss=2">"#;
    let b = TestBrowser::new()
        .screenshot("login-escaped-error.png")
        .with("SESAME_BROWSER_CALLBACK_ERROR", evil);
    let env = b.env();
    let r = sesame(home.path(), &["login"], &as_refs(&env)).await;
    let log = b.wait_done().await;
    assert_eq!(r.code, 1, "{}\n--- browser ---\n{log}", r.all());
    assert!(log.contains("xss: none"), "no script ran in the failure page: {log}");
    let text = b.page()["text"].as_str().unwrap().to_string();
    assert!(
        text.contains("<script>window.__sesameXss=1</script>"),
        "shown as text: {text}"
    );
    assert!(r.stderr.contains("access_denied"), "{}", r.stderr);
}

#[tokio::test]
async fn two_logins_at_once_run_one_browser_flow() {
    let home = tempfile::tempdir().unwrap();
    profile(home.path(), "oidc", "");
    let b = TestBrowser::new();
    let env = b.env();
    let env = as_refs(&env);
    let (r1, r2) = tokio::join!(sesame(home.path(), &["login"], &env), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sesame(home.path(), &["login"], &env).await
    });
    let log = b.wait_done().await;
    assert_eq!(
        (r1.code, r2.code),
        (0, 0),
        "{}\n{}\n--- browser ---\n{log}",
        r1.all(),
        r2.all()
    );
    assert_eq!(b.invocations(), 1, "one browser flow: {log}");
    let (flow, waiter) = if r1.stderr.contains("Opened it") {
        (&r1, &r2)
    } else {
        (&r2, &r1)
    };
    assert!(flow.stderr.contains("logged in to"), "{}", flow.stderr);
    assert!(
        waiter.stderr.contains("another login for this profile is in progress"),
        "{}",
        waiter.stderr
    );
    assert!(
        waiter
            .stderr
            .contains("from the login that finished while this one waited"),
        "{}",
        waiter.stderr
    );
    assert!(
        !waiter.stderr.contains("To log in, open this URL"),
        "the waiter showed no URL: {}",
        waiter.stderr
    );
    assert_eq!(whoami(home.path()).await["sub"], "alice");
}

#[tokio::test]
async fn no_person_means_exit_4_and_no_browser() {
    let home = tempfile::tempdir().unwrap();
    profile(home.path(), "oidc", "");
    let b = TestBrowser::new();
    let env = b.env();
    // stdin is a pipe and stderr too: without $BROWSER there is nobody to log in.
    let r = sesame(home.path(), &["login"], &[]).await;
    assert_eq!(r.code, 4, "{}", r.all());
    assert!(r.stderr.contains("not both terminals"), "{}", r.stderr);
    assert!(
        r.stderr.contains("hint: run `sesame login` in a terminal"),
        "{}",
        r.stderr
    );
    // --no-input forbids it even with $BROWSER.
    let r = sesame(home.path(), &["--no-input", "login"], &as_refs(&env)).await;
    assert_eq!(r.code, 4, "{}", r.all());
    assert!(r.stderr.contains("prompts are turned off"), "{}", r.stderr);
    // --no-input holds for an explicit device login too (it never waits for a person).
    let r = sesame(home.path(), &["--no-input", "login", "--device"], &[]).await;
    assert_eq!(r.code, 4, "{}", r.all());
    // --no-browser with no terminal: nobody would open the URL.
    let r = sesame(home.path(), &["login", "--no-browser"], &as_refs(&env)).await;
    assert_eq!(r.code, 4, "{}", r.all());
    // A command that needs a token does not log in without a terminal, $BROWSER or not.
    let r = sesame(home.path(), &["token"], &as_refs(&env)).await;
    assert_eq!(r.code, 4, "{}", r.all());
    let r = sesame(home.path(), &["request", "whoami"], &as_refs(&env)).await;
    assert_eq!(r.code, 4, "{}", r.all());
    assert_eq!(b.invocations(), 0, "no browser was started");
    // Not an interactive kind: nothing to log in to.
    let r = sesame(
        home.path(),
        &["--auth", "bearer", "--token-env", "T", "login"],
        &[("T", "x")],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.all());
}

#[tokio::test]
async fn login_timeout_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    profile(home.path(), "oidc", "");
    // A "browser" that opens nothing: the login can only time out.
    let r = sesame(home.path(), &["login", "--login-timeout", "2"], &[("BROWSER", "true")]).await;
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("did not finish within 2 s"), "{}", r.stderr);
    assert!(r.stderr.contains("login_timeout"), "says what to do: {}", r.stderr);
}

#[tokio::test]
async fn custom_success_page_template() {
    let home = tempfile::tempdir().unwrap();
    let tpl = home.path().join("ok.html");
    std::fs::write(
        &tpl,
        "<!doctype html><title>{{title}}</title><h1>ACME: {{title}}</h1><p>{{message}}</p><p>{{issuer}}</p>",
    )
    .unwrap();
    profile(home.path(), "oidc", &format!("success_page = \"{}\"\n", tpl.display()));
    let b = TestBrowser::new();
    let env = b.env();
    let r = sesame(home.path(), &["login"], &as_refs(&env)).await;
    let log = b.wait_done().await;
    assert_eq!(r.code, 0, "{}\n--- browser ---\n{log}", r.all());
    let text = b.page()["text"].as_str().unwrap().to_string();
    assert!(
        text.contains("ACME: Login complete") && text.contains(idp().issuer()),
        "{text}"
    );
    // A missing template is a configuration error naming it (exit 2), before any browser.
    profile(home.path(), "oidc", "failure_page = \"/nonexistent/fail.html\"\n");
    let r = sesame(home.path(), &["login"], &as_refs(&env)).await;
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("failure_page") && r.stderr.contains("/nonexistent/fail.html"),
        "{}",
        r.stderr
    );
}

/// `$BROWSER` fails: sesame says so and offers the device flow (the provider has one);
/// here the test reads the code from stderr as a person would and completes it.
#[tokio::test]
async fn failing_browser_falls_back_to_the_device_flow() {
    let home = tempfile::tempdir().unwrap();
    profile(home.path(), "oidc", "");
    let b = TestBrowser::new().screenshot("fallback-device-success.png");
    let child = spawn_sesame(home.path(), &["login"], &[("BROWSER", "false")]);
    let (shown, status, rest) = approve_device_code_from_stderr(child, &b).await;
    assert!(shown.contains("could not open a browser with $BROWSER"), "{shown}");
    assert_eq!(status, Some(0), "{shown}{rest}");
    assert!(rest.contains("logged in to") && rest.contains(" as alice"), "{rest}");
    assert_eq!(whoami(home.path()).await["sub"], "alice");
}

/// An explicit `sesame login --device` needs no terminal (stdin and stderr are pipes here,
/// and there is no $BROWSER): the person approves on another device, so sesame shows the
/// URL and code on stderr and polls. The test reads them as that person would.
#[tokio::test]
async fn explicit_device_login_works_without_a_terminal() {
    let home = tempfile::tempdir().unwrap();
    profile(home.path(), "oidc", "");
    let b = TestBrowser::new().screenshot("device-no-terminal.png");
    let child = spawn_sesame(home.path(), &["login", "--device"], &[]);
    let (shown, status, rest) = approve_device_code_from_stderr(child, &b).await;
    assert_eq!(status, Some(0), "{shown}{rest}");
    assert!(rest.contains(" as alice"), "{rest}");
    assert_eq!(whoami(home.path()).await["sub"], "alice");
}

/// Reads a running login's stderr as a person would until the device code is shown, opens
/// the complete verification URI in the test browser (which approves as alice), and waits
/// for the login to end: (stderr up to the code, exit code, the rest of stderr).
async fn approve_device_code_from_stderr(
    mut child: tokio::process::Child,
    b: &TestBrowser,
) -> (String, Option<i32>, String) {
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let complete = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if let Some(rest) = line.trim().strip_prefix("(or open ") {
                return rest.split_whitespace().next().unwrap().to_string();
            }
        }
        panic!("sesame ended without showing a device code:\n{seen}");
    })
    .await
    .expect("a device code within 30 s");
    assert!(seen.contains("First copy your one-time code"), "{seen}");
    let helper = tokio::process::Command::new(b.command())
        .arg(&complete)
        .envs(b.env().into_iter().filter(|(k, _)| k != "BROWSER"))
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(helper.success(), "{}", b.log());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    let mut rest = String::new();
    while let Ok(Some(l)) = lines.next_line().await {
        rest.push_str(&l);
        rest.push('\n');
    }
    (seen, status.code(), rest)
}

/// `sesame ARGS` running, with the clean environment of `support::sesame` plus `env`.
fn spawn_sesame(home: &Path, args: &[&str], env: &[(&str, &str)]) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sesame"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("NO_PROXY", "*")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    cmd.spawn().unwrap()
}

/// Ctrl-C while waiting for the browser: exit 130, and the loopback port is closed.
#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_stops_the_login_with_130() {
    let home = tempfile::tempdir().unwrap();
    // The port is read from the front-channel URL.
    profile(home.path(), "oidc", "par = false\n");
    let mut child = spawn_sesame(home.path(), &["login"], &[("BROWSER", "true")]);
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let port: u16 = tokio::time::timeout(Duration::from_secs(30), async {
        let mut port = None;
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if let Some(i) = line.find("redirect_uri=http%3A%2F%2F127.0.0.1%3A") {
                let rest = &line[i + "redirect_uri=http%3A%2F%2F127.0.0.1%3A".len()..];
                port = Some(rest.split('%').next().unwrap().parse().unwrap());
            }
            if line.contains("Opened it in your browser") {
                return port.expect("redirect port in the URL");
            }
        }
        panic!("no browser opened:\n{seen}");
    })
    .await
    .unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "listening while waiting"
    );
    let pid = rustix::process::Pid::from_raw(child.id().unwrap() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    while let Ok(Some(l)) = lines.next_line().await {
        seen.push_str(&l);
        seen.push('\n');
    }
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(seen.contains("interrupted"), "{seen}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the listener is gone"
    );
}

/// A `LoginUi` that hands the URL to the test browser (as the CLI does with `$BROWSER`).
#[derive(Debug)]
struct HelperUi {
    command: std::path::PathBuf,
    env: Vec<(String, String)>,
    opened: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl sesame::credential::LoginUi for HelperUi {
    fn show_authorization_url(&self, _url: &url::Url) {}
    async fn open_browser(&self, url: &url::Url) -> sesame::credential::BrowserLaunch {
        self.opened.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokio::process::Command::new(&self.command)
            .arg(url.as_str())
            .envs(self.env.iter().filter(|(k, _)| k != "BROWSER").cloned())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the test browser");
        sesame::credential::BrowserLaunch::Opened
    }
    fn show_device_code(&self, _prompt: &sesame::credential::DevicePrompt<'_>) {}
    fn progress(&self, _waiting: sesame::credential::Waiting, _remaining: Duration) {}
    fn notice(&self, _message: &str) {}
}

/// The implicit path (`sesame token` on a terminal): a session whose credential has no
/// token logs in through its `LoginHandler`; two requests at once run one browser flow.
#[tokio::test]
async fn a_session_logs_in_through_its_login_handler_once() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use sesame::credential::InteractiveLogin;
    use sesame_app::config::{AuthKind, BuildOptions, Config, Profile};

    let b = TestBrowser::new();
    let ui = Arc::new(HelperUi {
        command: b.command(),
        env: b.env(),
        opened: Default::default(),
    });
    let profile = Profile {
        base_url: Some(idp().url("/api/")),
        auth: Some(AuthKind::Oidc),
        issuer: Some(idp().issuer().into()),
        client_id: Some("sesame-cli".into()),
        scopes: Some(vec!["openid".into()]),
        login_timeout: Some(60),
        ..Default::default()
    };
    let resolved = Config::default().resolve(None, profile).unwrap();
    let login = InteractiveLogin::new(ui.clone(), sesame_app::login::login_options(&resolved.profile).unwrap());
    let opts = BuildOptions {
        login: Some(Arc::new(login)),
        store: Some(Arc::new(sesame::token::MemoryStore::default())),
    };
    let session = sesame_app::config::session_builder_with(&resolved, &opts)
        .unwrap()
        .build()
        .unwrap();
    let get = || async {
        let v: serde_json::Value = session
            .get("whoami")
            .error_for_status(true)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v
    };
    let (a, c) = tokio::join!(get(), get());
    b.wait_done().await;
    assert_eq!((a["sub"].as_str(), c["sub"].as_str()), (Some("alice"), Some("alice")));
    assert_eq!(ui.opened.load(Ordering::SeqCst), 1, "one flow for two requests");
    assert_eq!(b.invocations(), 1);
    // Cached now: no more browser.
    assert_eq!(get().await["sub"], "alice");
    assert_eq!(b.invocations(), 1);
}

/// Issue 13 item 15: a wrong password in the password grant (`invalid_grant`) said "run
/// `sesame login`", which cannot help. It now says to check the username and password.
#[tokio::test]
async fn wrong_password_says_to_check_the_username_and_password() {
    let home = tempfile::tempdir().unwrap();
    let i = idp().issuer();
    let (id, secret) = idp::clients::PASSWORD_CLIENT;
    write_config(
        home.path(),
        &format!(
            "[profiles.pw]\nbase_url = \"{i}/api/\"\nauth = \"password\"\nissuer = \"{i}\"\nclient_id = \"{id}\"\nclient_secret = \"{secret}\"\nusername = \"{}\"\npassword = {{ env = \"PW\" }}\ncache = \"memory\"\n",
            idp::account::USERNAME
        ),
    );
    let r = sesame(home.path(), &["-p", "pw", "token"], &[("PW", "not-the-password")]).await;
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("invalid_grant"), "{}", r.stderr);
    assert!(
        r.stderr.contains("check the profile's username and password"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("sesame login"),
        "a login cannot fix a wrong password: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("not-the-password"), "{}", r.stderr);
    // The right password works (the profile itself is fine).
    let r = sesame(home.path(), &["-p", "pw", "token"], &[("PW", idp::account::PASSWORD)]).await;
    assert_eq!(r.code, 0, "{}", r.all());
}
