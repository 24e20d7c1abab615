//! Interactive logins: the browser flow (authorization code + PKCE on a loopback
//! redirect) and the device flow, behind the [`LoginHandler`] that interactive credentials
//! call, and [`InteractiveLogin::login_and_store`] for a login a person asks for.
//!
//! # Who decides what
//!
//! The library decides *what* happens: which flow, which URL to show, when to fall back to
//! the device flow, when to give up. A [`LoginUi`] (the text one,
//! `TextLoginUi` of the application layer, `sesame_app::login`, serves the CLI and the Python package)
//! decides *how* it is shown: where text goes, whether and how a browser is opened, what a
//! progress line looks like, whether a QR code is drawn.
//!
//! # The browser flow
//!
//! 1. Bind the loopback listener and build the authorization URL.
//! 2. [`LoginUi::show_authorization_url`] (the URL is always shown first, so it can be
//!    opened by hand whatever happens next), then [`LoginUi::open_browser`].
//! 3. The browser was opened, or the person declined it (`--no-browser`): wait for the
//!    redirect. It could not be opened ([`BrowserLaunch::Unavailable`]: SSH session, no
//!    display; [`BrowserLaunch::Failed`]): if the provider has a device authorization
//!    endpoint, start the device flow **as well** — whichever completes first wins, so the
//!    URL already shown keeps working — else keep waiting for the redirect.
//! 4. The whole login is bounded by `login_timeout` ([`ErrorKind::Timeout`]); the listener
//!    is closed in every case (success, error, timeout, the future being dropped).
//!
//! # The device flow
//!
//! Request the codes, [`LoginUi::show_device_code`] (code first, then where to enter it),
//! open a browser at `verification_uri_complete` when [`LoginOptions::open_device_uri`]
//! allows (the UI may decline), poll until approved, refused, expired or timed out.
//!
//! # One login at a time
//!
//! [`InteractiveLogin::login_and_store`] (and [`login_exclusive`]) serialize logins per
//! cache key, so that two `sesame login` (or a `sesame login` and a `sesame token`) started
//! together run **one** browser flow:
//!
//! 1. Remember which access token the store holds (if any) before waiting.
//! 2. Take the in-process lock for the key, then the store's cross-process lock
//!    ([`TokenStore::lock`](crate::token::TokenStore::lock), `<key>.lock` for the file
//!    store), telling the person when it has to wait for another login.
//! 3. Under the lock, re-read the store: a token that is new (not the one remembered in
//!    step 1) and still valid was just obtained by the login that held the lock — use it.
//!    Otherwise run the login and store its token before releasing the lock.
//!
//! The same store lock is what [`TokenSource`] holds while it renews, and a renewal
//! re-reads the store under it; so a `sesame token` that has to log in (through the
//! [`LoginHandler`], which takes **no** lock itself: the source already holds it) and a
//! `sesame login` never run two flows either. Lock order is always in-process lock, then
//! store lock, then the flow; nothing waits on the in-process lock while holding the
//! store lock, so there is no deadlock. Waiting is bounded by the login timeout plus a
//! minute.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use url::Url;

use super::oauth::LoginHandler;
use crate::oauth::OAuthClient;
use crate::oauth::authorization_code::BrowserLogin;
use crate::oauth::device::{DEVICE_CODE_GRANT, DeviceAuthorization};
use crate::oauth::landing::LandingPages;
use crate::oauth::loopback::DEFAULT_REDIRECT_URI;
use crate::token::{Lease, Token, TokenSource};
use crate::{Error, ErrorKind, Result};

pub use crate::oauth::web_login::DEFAULT_LOGIN_TIMEOUT;

/// Which flow a login runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// Authorization code + PKCE in a browser, redirect to a loopback listener.
    Browser,
    /// RFC 8628 device authorization: a code typed on another device.
    Device,
}

/// What came of [`LoginUi::open_browser`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserLaunch {
    /// A browser was started with the URL.
    Opened,
    /// The person asked not to open one (`--no-browser`): wait for the redirect, no fallback.
    Declined,
    /// No browser can be opened here (SSH session, no display); the reason is for the person.
    Unavailable(String),
    /// Opening one was tried and failed; the reason is for the person.
    Failed(String),
}

/// What the login is waiting for, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// The browser redirect.
    Browser,
    /// Approval of a device code.
    Device,
    /// Either (the device flow runs as a fallback next to the browser flow).
    BrowserOrDevice,
}

/// What a [`LoginUi`] shows for a device code.
#[derive(Debug, Clone)]
pub struct DevicePrompt<'a> {
    /// The code to enter.
    pub user_code: &'a str,
    /// Where to enter it.
    pub verification_uri: &'a str,
    /// The same with the code filled in (worth a QR code), if the provider offers it.
    pub verification_uri_complete: Option<&'a str>,
    /// How long the code is valid.
    pub expires_in: Duration,
}

/// How a login is presented to a person. The library calls these in order; implementations
/// decide where and how (stderr, a GUI, a notebook). Every method must return quickly
/// except [`open_browser`](LoginUi::open_browser).
#[async_trait]
pub trait LoginUi: Send + Sync + fmt::Debug {
    /// Shows the issuer the login goes to when it was not configured but named by the
    /// API's WebFinger on `found_on` (called first, before any URL or code is shown): the
    /// person is the one who can tell a look-alike provider from theirs.
    fn show_issuer(&self, issuer: &str, found_on: &Url) {
        let _ = (issuer, found_on);
    }

    /// Shows the authorization URL (always before a browser is opened).
    fn show_authorization_url(&self, url: &Url);

    /// Opens a browser at `url`, or says why not.
    async fn open_browser(&self, url: &Url) -> BrowserLaunch;

    /// Shows a device code: the code first, then where to enter it.
    fn show_device_code(&self, prompt: &DevicePrompt<'_>);

    /// Called about once a second while waiting, with the time left.
    fn progress(&self, waiting: Waiting, remaining: Duration);

    /// A one-line notice (a fallback, a wait for another login).
    fn notice(&self, message: &str);

    /// The login has ended (either way): clear any progress display.
    fn finished(&self) {}
}

/// A [`LoginUi`] that shows nothing and opens nothing (a browser is [`BrowserLaunch::Unavailable`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct SilentUi;

#[async_trait]
impl LoginUi for SilentUi {
    fn show_authorization_url(&self, _url: &Url) {}
    async fn open_browser(&self, _url: &Url) -> BrowserLaunch {
        BrowserLaunch::Unavailable("no user interface".into())
    }
    fn show_device_code(&self, _prompt: &DevicePrompt<'_>) {}
    fn progress(&self, _waiting: Waiting, _remaining: Duration) {}
    fn notice(&self, _message: &str) {}
}

/// How an interactive login runs (from the profile, adjusted by the command line).
#[derive(Debug, Clone)]
pub struct LoginOptions {
    /// The flow.
    pub method: LoginMethod,
    /// Loopback redirect URI (port 0 = any free port).
    pub redirect_uri: String,
    /// Ports to try instead of the redirect URI's.
    pub redirect_ports: Vec<u16>,
    /// Time the person has for the whole login.
    pub timeout: Duration,
    /// The pages shown at the end of the browser flow.
    pub pages: LandingPages,
    /// Fall back to the device flow when no browser can be opened.
    pub device_fallback: bool,
    /// In the device flow, try to open a browser at the verification URI.
    pub open_device_uri: bool,
}

impl Default for LoginOptions {
    fn default() -> Self {
        LoginOptions {
            method: LoginMethod::Browser,
            redirect_uri: DEFAULT_REDIRECT_URI.into(),
            redirect_ports: Vec::new(),
            timeout: DEFAULT_LOGIN_TIMEOUT,
            pages: LandingPages::builtin(),
            device_fallback: true,
            open_device_uri: true,
        }
    }
}

/// The [`LoginHandler`] of interactive credentials: runs the browser or device flow with a
/// [`LoginUi`].
#[derive(Debug, Clone)]
pub struct InteractiveLogin {
    ui: Arc<dyn LoginUi>,
    options: LoginOptions,
}

/// What [`InteractiveLogin::login_and_store`] did.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The stored token.
    pub lease: Lease,
    /// The token came from a login another process (or task) completed while this one
    /// waited for the lock; no flow ran here.
    pub adopted: bool,
}

impl InteractiveLogin {
    /// A login presented by `ui`.
    pub fn new(ui: Arc<dyn LoginUi>, options: LoginOptions) -> Self {
        InteractiveLogin { ui, options }
    }

    /// The options.
    pub fn options(&self) -> &LoginOptions {
        &self.options
    }

    /// Logs in (one login per cache key at a time, see the module docs) and stores the
    /// token in `source`'s store.
    pub async fn login_and_store(&self, source: &TokenSource, client: &OAuthClient) -> Result<LoginOutcome> {
        let ui = self.ui.clone();
        login_exclusive(
            source,
            self.options.timeout + Duration::from_secs(60),
            move || ui.notice("another login for this profile is in progress; waiting for it to finish…"),
            || self.run(client),
        )
        .await
    }

    /// Runs the flow (no locking, no storing).
    pub async fn run(&self, client: &OAuthClient) -> Result<Token> {
        let deadline = Instant::now() + self.options.timeout;
        client.preflight_login(matches!(self.options.method, LoginMethod::Browser))?;
        if let Some(base) = client.issuer_found_on() {
            self.ui.show_issuer(&client.metadata().issuer, base);
        }
        let result = match self.options.method {
            LoginMethod::Browser => self.browser(client, deadline).await,
            LoginMethod::Device => {
                if !has_device_endpoint(client) {
                    Err(Error::config(format!(
                        "the provider {} has no device authorization endpoint",
                        client.metadata().issuer
                    ))
                    .with_hint(crate::Hint::UseBrowserLogin))
                } else {
                    let flow = self.device(client, self.options.open_device_uri);
                    self.ticking(Waiting::Device, deadline, flow).await
                }
            }
        };
        self.ui.finished();
        result
    }

    async fn browser(&self, client: &OAuthClient, deadline: Instant) -> Result<Token> {
        let login = BrowserLogin::start(
            client,
            &self.options.redirect_uri,
            &self.options.redirect_ports,
            self.options.pages.clone(),
        )
        .await?;
        self.ui.show_authorization_url(login.url());
        let launch = self.ui.open_browser(login.url()).await;
        let reason = match launch {
            BrowserLaunch::Opened | BrowserLaunch::Declined => None,
            BrowserLaunch::Unavailable(r) | BrowserLaunch::Failed(r) => Some(r),
        };
        let Some(reason) = reason else {
            return self.ticking(Waiting::Browser, deadline, login.finish(client)).await;
        };
        if !(self.options.device_fallback && has_device_endpoint(client)) {
            self.ui.notice(&format!(
                "{reason}: open the URL above in a browser on this machine (the login redirects to {})",
                login.redirect_uri()
            ));
            return self.ticking(Waiting::Browser, deadline, login.finish(client)).await;
        }
        self.ui.notice(&format!(
            "{reason}: use the device code below (the URL above also keeps working on this machine)"
        ));
        // Race the redirect and the device flow; a device flow that cannot start leaves
        // the browser flow alone.
        let browser = login.finish(client);
        let device = async {
            match self.device_start(client, false).await {
                Ok(auth) => auth.poll(client, |_| {}).await,
                Err(e) => {
                    self.ui.notice(&format!(
                        "the device flow is not available ({e}); waiting for the browser login"
                    ));
                    std::future::pending().await
                }
            }
        };
        let either = async move {
            tokio::select! {
                r = browser => r,
                r = device => r,
            }
        };
        self.ticking(Waiting::BrowserOrDevice, deadline, either).await
    }

    async fn device(&self, client: &OAuthClient, open_browser: bool) -> Result<Token> {
        let auth = self.device_start(client, open_browser).await?;
        auth.poll(client, |_| {}).await
    }

    /// Requests the codes, shows them and (when asked) opens a browser at the verification URI.
    async fn device_start(&self, client: &OAuthClient, open_browser: bool) -> Result<DeviceAuthorization> {
        let auth = DeviceAuthorization::request(client).await?;
        self.ui.show_device_code(&DevicePrompt {
            user_code: &auth.user_code,
            verification_uri: &auth.verification_uri,
            verification_uri_complete: auth.verification_uri_complete.as_deref(),
            expires_in: auth.expires_in,
        });
        if open_browser {
            let target = auth
                .verification_uri_complete
                .as_deref()
                .unwrap_or(&auth.verification_uri);
            if let Ok(u) = Url::parse(target) {
                match self.ui.open_browser(&u).await {
                    BrowserLaunch::Failed(r) => self.ui.notice(&format!("{r}: open the address above yourself")),
                    BrowserLaunch::Opened | BrowserLaunch::Declined | BrowserLaunch::Unavailable(_) => {}
                }
            }
        }
        Ok(auth)
    }

    /// Runs `flow` until `deadline`, reporting progress once a second.
    async fn ticking<F: Future<Output = Result<Token>>>(
        &self,
        waiting: Waiting,
        deadline: Instant,
        flow: F,
    ) -> Result<Token> {
        tokio::pin!(flow);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                r = &mut flow => return r,
                _ = tick.tick() => {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    if remaining.is_zero() {
                        return Err(timeout_error(self.options.timeout, waiting));
                    }
                    self.ui.progress(waiting, remaining);
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    return Err(timeout_error(self.options.timeout, waiting));
                }
            }
        }
    }
}

#[async_trait]
impl LoginHandler for InteractiveLogin {
    async fn login(&self, client: &OAuthClient) -> Result<Token> {
        // Called by a TokenSource that already holds the store lock: no locking here.
        self.run(client).await
    }
}

fn has_device_endpoint(client: &OAuthClient) -> bool {
    let m = client.metadata();
    m.device_authorization_endpoint.is_some() && m.supports_grant(DEVICE_CODE_GRANT)
}

fn timeout_error(limit: Duration, waiting: Waiting) -> Error {
    let what = match waiting {
        Waiting::Browser => "the browser login",
        Waiting::Device => "the device login",
        Waiting::BrowserOrDevice => "the login",
    };
    Error::new(
        ErrorKind::Timeout,
        format!("{what} did not finish within {} s (`login_timeout`)", limit.as_secs()),
    )
    .with_hint(crate::Hint::LoginTimedOut)
}

/// The in-process lock of each cache key (by hash).
fn process_lock(key: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut map = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(key.to_string()).or_default().clone()
}

/// Runs `login` while holding the in-process and the store lock of `source`'s key, unless
/// a login that held the lock before us produced a token meanwhile (then that token is
/// used). `on_wait` is called once if the lock is busy. The wait is bounded by
/// `wait_limit`. See the module docs.
pub async fn login_exclusive<W, F, Fut>(
    source: &TokenSource,
    wait_limit: Duration,
    on_wait: W,
    login: F,
) -> Result<LoginOutcome>
where
    W: FnOnce(),
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Token>>,
{
    let store = source.store().clone();
    let key = source.key().clone();
    let before = store.load(&key)?.map(|t| t.access_token);
    let mut on_wait = Some(on_wait);
    let mut waited = move || {
        if let Some(f) = on_wait.take() {
            f();
        }
    };
    let busy_error = || {
        Error::new(
            ErrorKind::Timeout,
            format!(
                "another login for this profile has held the token cache lock for more than {} s; if no other sesame process is running, try again",
                wait_limit.as_secs()
            ),
        )
    };

    let in_process = process_lock(key.hash());
    let _guard = match in_process.clone().try_lock_owned() {
        Ok(g) => g,
        Err(_) => {
            waited();
            tokio::time::timeout(wait_limit, in_process.lock_owned())
                .await
                .map_err(|_| busy_error())?
        }
    };

    let lock_task = {
        let store = store.clone();
        let key = key.clone();
        tokio::task::spawn_blocking(move || store.lock(&key))
    };
    tokio::pin!(lock_task);
    let joined = tokio::select! {
        r = &mut lock_task => r,
        _ = tokio::time::sleep(Duration::from_millis(500)) => {
            waited();
            tokio::time::timeout(wait_limit, &mut lock_task).await.map_err(|_| busy_error())?
        }
    };
    let _store_lock = joined.map_err(|e| Error::new(ErrorKind::Io, format!("token cache lock task failed: {e}")))??;

    if let Some(t) = store.load(&key)?
        && before.as_ref() != Some(&t.access_token)
        && t.valid_for(Duration::from_secs(10), source.clock().now())
    {
        tracing::debug!("using the token of a login that completed while this one waited");
        let lease = source.install(t)?;
        return Ok(LoginOutcome { lease, adopted: true });
    }
    let token = login().await?;
    let lease = source.install(token)?;
    Ok(LoginOutcome { lease, adopted: false })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::secret::AccessToken;
    use crate::token::{CacheKey, FileStore, Grant, MemoryStore, TokenStore};

    #[derive(Debug)]
    struct NoGrant;
    #[async_trait]
    impl Grant for NoGrant {
        async fn obtain(&self) -> Result<Token> {
            Err(Error::login_required("no"))
        }
        async fn refresh(&self, _rt: &crate::secret::RefreshToken) -> Result<Token> {
            Err(Error::login_required("no"))
        }
        fn unattended(&self) -> bool {
            false
        }
    }

    fn source(store: Arc<dyn TokenStore>, key: &CacheKey) -> TokenSource {
        TokenSource::builder(key.clone(), Arc::new(NoGrant))
            .store(store)
            .build()
    }

    fn fresh(n: usize) -> Token {
        let mut t = Token::bare(AccessToken::new(format!("tok-{n}")));
        t.expires_at = Some(crate::token::Clock::now(&crate::token::SystemClock) + 300);
        t
    }

    async fn two_at_once(store_a: Arc<dyn TokenStore>, store_b: Arc<dyn TokenStore>) {
        let key = CacheKey::new("https://idp", "cli", "oidc", &["openid".into()], &[], None);
        let (a, b) = (source(store_a, &key), source(store_b, &key));
        let flows = Arc::new(AtomicUsize::new(0));
        let waits = Arc::new(AtomicUsize::new(0));
        let run = |src: TokenSource| {
            let flows = flows.clone();
            let waits = waits.clone();
            async move {
                login_exclusive(
                    &src,
                    Duration::from_secs(30),
                    || {
                        waits.fetch_add(1, Ordering::SeqCst);
                    },
                    || async {
                        let n = flows.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(600)).await;
                        Ok(fresh(n))
                    },
                )
                .await
                .unwrap()
            }
        };
        let (ra, rb) = tokio::join!(run(a.clone()), run(b.clone()));
        assert_eq!(flows.load(Ordering::SeqCst), 1, "one flow ran");
        // The one that waited was told (the other may be too when the blocking pool is slow to start).
        assert!(waits.load(Ordering::SeqCst) >= 1, "the second was told it waits");
        assert_eq!(
            ra.lease.token.access_token, rb.lease.token.access_token,
            "both got the same token"
        );
        assert!(ra.adopted != rb.adopted);
        // A later explicit login runs a new flow (the stored token is not new to it).
        let rc = run(a).await;
        assert!(!rc.adopted);
        assert_eq!(flows.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parallel_logins_run_one_flow_memory_store() {
        let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::default());
        two_at_once(store.clone(), store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parallel_logins_run_one_flow_file_store() {
        let dir = tempfile::tempdir().unwrap();
        // Two stores on one folder: as two processes would see it.
        two_at_once(
            Arc::new(FileStore::new(dir.path())),
            Arc::new(FileStore::new(dir.path())),
        )
        .await;
    }

    #[tokio::test]
    async fn a_failed_login_releases_the_locks() {
        let dir = tempfile::tempdir().unwrap();
        let key = CacheKey::new("https://idp", "cli", "oidc", &[], &[], None);
        let src = source(Arc::new(FileStore::new(dir.path())), &key);
        let err = login_exclusive(
            &src,
            Duration::from_secs(5),
            || {},
            || async { Err::<Token, _>(Error::new(ErrorKind::Timeout, "t")) },
        )
        .await
        .unwrap_err();
        assert!(err.is_timeout());
        let ok = tokio::time::timeout(
            Duration::from_secs(5),
            login_exclusive(
                &src,
                Duration::from_secs(5),
                || panic!("must not wait"),
                || async { Ok(fresh(1)) },
            ),
        )
        .await
        .expect("locks were released")
        .unwrap();
        assert!(!ok.adopted);
    }

    #[tokio::test]
    async fn a_token_stored_while_waiting_is_adopted_if_the_clock_says_it_is_valid() {
        const START: i64 = 1_000_000_000;
        let clock = crate::token::ManualClock::new(START);
        let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::default());
        let key = CacheKey::new("https://idp", "cli", "oidc-clock", &[], &[], None);
        let src = TokenSource::builder(key.clone(), Arc::new(NoGrant))
            .store(store.clone())
            .clock(Arc::new(clock))
            .build();
        // Another login of this process holds the lock and stores a token valid for an
        // hour of the source's clock (long expired by the system clock).
        let held = process_lock(key.hash()).lock_owned().await;
        let (told, waiting) = tokio::sync::oneshot::channel();
        let other = async {
            waiting.await.unwrap();
            let mut t = Token::bare(AccessToken::new("tok-other"));
            t.expires_at = Some(START + 3600);
            store.save(&key, &t).unwrap();
            drop(held);
        };
        let flows = AtomicUsize::new(0);
        let login = login_exclusive(
            &src,
            Duration::from_secs(5),
            move || {
                let _ = told.send(());
            },
            || async {
                flows.fetch_add(1, Ordering::SeqCst);
                Ok(fresh(1))
            },
        );
        let (r, ()) = tokio::join!(login, other);
        let r = r.unwrap();
        assert!(r.adopted, "adopted, not a new flow");
        assert_eq!(r.lease.token.access_token.expose(), "tok-other");
        assert_eq!(flows.load(Ordering::SeqCst), 0);
    }
}
