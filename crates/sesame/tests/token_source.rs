//! The token cache in controlled time: a counting grant and a manual clock, no sleeping.
//! Renew window, jitter bounds, soft fail, the minimum retry interval, compare-and-swap on
//! 401, and single flight under 10,000 concurrent tasks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sesame::secret::{AccessToken, RefreshToken};
use sesame::token::{CacheKey, FileStore, Grant, ManualClock, RenewPolicy, Token, TokenSource, TokenStore};
use sesame::{Error, ErrorKind};

const T0: i64 = 1_800_000_000;

/// A grant that counts its calls, issues `lifetime`-second tokens at the manual clock's
/// time, and can be told to fail (transiently or permanently) or to be slow.
#[derive(Debug)]
struct Counting {
    clock: ManualClock,
    lifetime: i64,
    calls: AtomicU64,
    refreshes: AtomicU64,
    fail: AtomicU64, // 0 ok, 1 transient, 2 permanent
    slow: AtomicBool,
}

impl Counting {
    fn new(clock: &ManualClock, lifetime: i64) -> Arc<Self> {
        Arc::new(Counting {
            clock: clock.clone(),
            lifetime,
            calls: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            fail: AtomicU64::new(0),
            slow: AtomicBool::new(false),
        })
    }
    async fn issue(&self) -> sesame::Result<Token> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.slow.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        match self.fail.load(Ordering::SeqCst) {
            1 => {
                return Err(Error::from(sesame::oauth::OAuthError::provider(
                    "test",
                    Some(503),
                    "temporarily_unavailable",
                    None,
                    None,
                )));
            }
            2 => {
                return Err(Error::from(sesame::oauth::OAuthError::provider(
                    "test",
                    Some(400),
                    "invalid_grant",
                    None,
                    None,
                )));
            }
            _ => {}
        }
        let now = self.clock.now_value();
        Ok(Token {
            access_token: AccessToken::new(format!("access-{n}")),
            token_type: "Bearer".into(),
            expires_at: Some(now + self.lifetime),
            issued_at: now,
            refresh_token: Some(RefreshToken::new(format!("refresh-{n}"))),
            id_token: None,
            scopes: vec![],
            issuer: None,
        })
    }
}

trait NowValue {
    fn now_value(&self) -> i64;
}
impl NowValue for ManualClock {
    fn now_value(&self) -> i64 {
        use sesame::token::Clock;
        self.now()
    }
}

#[async_trait]
impl Grant for Counting {
    async fn obtain(&self) -> sesame::Result<Token> {
        self.issue().await
    }
    async fn refresh(&self, _rt: &RefreshToken) -> sesame::Result<Token> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        self.issue().await
    }
    fn unattended(&self) -> bool {
        true
    }
}

fn key() -> CacheKey {
    CacheKey::new("https://issuer.test", "client", "client-credentials", &[], &[], None)
}

fn source(grant: Arc<Counting>, clock: &ManualClock, policy: RenewPolicy) -> TokenSource {
    TokenSource::builder(key(), grant)
        .clock(Arc::new(clock.clone()))
        .policy(policy)
        .build()
}

fn no_jitter() -> RenewPolicy {
    RenewPolicy {
        renew_before: Duration::from_secs(60),
        min_retry_interval: Duration::from_secs(10),
        jitter: false,
    }
}

#[tokio::test]
async fn cached_until_the_renew_window_then_renewed_once() {
    let clock = ManualClock::new(T0);
    let g = Counting::new(&clock, 3600);
    let s = source(g.clone(), &clock, no_jitter());
    let a = s.token(Duration::from_secs(10)).await.unwrap();
    for _ in 0..100 {
        s.token(Duration::from_secs(10)).await.unwrap();
    }
    assert_eq!(g.calls.load(Ordering::SeqCst), 1, "served from the cache");
    // Half the lifetime (1800 s) is the larger threshold for a 1 h token.
    clock.advance(1799);
    assert_eq!(
        s.token(Duration::from_secs(10)).await.unwrap().token.access_token,
        a.token.access_token
    );
    clock.advance(2);
    let b = s.token(Duration::from_secs(10)).await.unwrap();
    assert_ne!(b.token.access_token, a.token.access_token, "renewed in the window");
    assert_eq!(g.refreshes.load(Ordering::SeqCst), 1, "with the refresh token");
}

#[tokio::test]
async fn renew_before_wins_when_larger_than_half_the_lifetime() {
    let clock = ManualClock::new(T0);
    let g = Counting::new(&clock, 100);
    let s = source(
        g.clone(),
        &clock,
        RenewPolicy {
            renew_before: Duration::from_secs(80),
            ..no_jitter()
        },
    );
    s.token(Duration::ZERO).await.unwrap();
    clock.advance(19);
    s.token(Duration::ZERO).await.unwrap();
    assert_eq!(g.calls.load(Ordering::SeqCst), 1);
    clock.advance(2); // 79 s left < 80
    s.token(Duration::ZERO).await.unwrap();
    assert_eq!(g.calls.load(Ordering::SeqCst), 2);
    // A renew_before longer than the lifetime falls back to half of it, so short tokens
    // are not renewed on every use.
    let g2 = Counting::new(&clock, 30);
    let s2 = source(g2.clone(), &clock, no_jitter());
    s2.token(Duration::ZERO).await.unwrap();
    for _ in 0..10 {
        s2.token(Duration::ZERO).await.unwrap();
    }
    assert_eq!(g2.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn jitter_stays_within_a_tenth_of_the_lifetime() {
    // Many sources: each renews somewhere in [half-life - 10% .. half-life].
    let mut earliest = i64::MAX;
    let mut latest = i64::MIN;
    for _ in 0..200 {
        let clock = ManualClock::new(T0);
        let g = Counting::new(&clock, 1000);
        let s = source(
            g.clone(),
            &clock,
            RenewPolicy {
                jitter: true,
                ..no_jitter()
            },
        );
        s.token(Duration::ZERO).await.unwrap();
        let mut at = None;
        for t in 350..=500 {
            clock.set(T0 + t);
            s.token(Duration::ZERO).await.unwrap();
            if g.calls.load(Ordering::SeqCst) == 2 {
                at = Some(t);
                break;
            }
        }
        let at = at.expect("renewed by half-life");
        earliest = earliest.min(at);
        latest = latest.max(at);
    }
    assert!(earliest >= 400 && latest <= 500, "{earliest}..{latest}");
    assert!(latest - earliest >= 30, "jitter spreads renewals: {earliest}..{latest}");
}

#[tokio::test]
async fn soft_fail_keeps_the_valid_token_and_waits_the_minimum_interval() {
    let clock = ManualClock::new(T0);
    let g = Counting::new(&clock, 600);
    let s = source(g.clone(), &clock, no_jitter());
    let first = s.token(Duration::ZERO).await.unwrap();
    clock.advance(301); // in the window (300 s left)
    g.fail.store(1, Ordering::SeqCst);
    let kept = s.token(Duration::ZERO).await.unwrap();
    assert_eq!(
        kept.token.access_token, first.token.access_token,
        "soft fail: old token kept"
    );
    assert_eq!(g.calls.load(Ordering::SeqCst), 2);
    // Within the minimum interval: no new attempt.
    clock.advance(5);
    s.token(Duration::ZERO).await.unwrap();
    assert_eq!(g.calls.load(Ordering::SeqCst), 2);
    // After it: one more attempt, which now succeeds.
    clock.advance(6);
    g.fail.store(0, Ordering::SeqCst);
    let renewed = s.token(Duration::ZERO).await.unwrap();
    assert_ne!(renewed.token.access_token, first.token.access_token);
    assert_eq!(g.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn expired_token_with_failing_renewal_is_an_error_not_a_stale_token() {
    let clock = ManualClock::new(T0);
    let g = Counting::new(&clock, 60);
    let s = source(g.clone(), &clock, no_jitter());
    s.token(Duration::ZERO).await.unwrap();
    clock.advance(61);
    g.fail.store(1, Ordering::SeqCst);
    let e = s.token(Duration::ZERO).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth);
    assert!(
        !sesame::token::source::is_permanent(&e),
        "503 temporarily_unavailable is transient"
    );
}

#[tokio::test]
async fn permanent_refresh_failure_falls_back_to_the_grant_for_unattended_kinds() {
    #[derive(Debug)]
    struct RefusesRefresh(Arc<Counting>);
    #[async_trait]
    impl Grant for RefusesRefresh {
        async fn obtain(&self) -> sesame::Result<Token> {
            self.0.issue().await
        }
        async fn refresh(&self, _rt: &RefreshToken) -> sesame::Result<Token> {
            Err(sesame::oauth::OAuthError::provider("test", Some(400), "invalid_grant", None, None).into())
        }
        fn unattended(&self) -> bool {
            true
        }
    }
    let clock = ManualClock::new(T0);
    let g = Counting::new(&clock, 60);
    let s = TokenSource::builder(key(), Arc::new(RefusesRefresh(g.clone())))
        .clock(Arc::new(clock.clone()))
        .policy(no_jitter())
        .build();
    s.token(Duration::ZERO).await.unwrap();
    clock.advance(61);
    let t = s.token(Duration::ZERO).await.unwrap();
    assert_eq!(t.token.access_token.expose(), "access-2");
}

#[tokio::test]
async fn reject_is_compare_and_swap() {
    let clock = ManualClock::new(T0);
    let g = Counting::new(&clock, 3600);
    let s = source(g.clone(), &clock, no_jitter());
    let old = s.token(Duration::ZERO).await.unwrap();
    assert!(s.reject(old.generation), "current token rejected");
    let new = s.token(Duration::ZERO).await.unwrap();
    assert_ne!(new.token.access_token, old.token.access_token);
    // A late 401 for the old token must not discard the new one.
    assert!(!s.reject(old.generation));
    let still = s.token(Duration::ZERO).await.unwrap();
    assert_eq!(still.token.access_token, new.token.access_token);
    assert_eq!(g.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_tasks_on_an_expired_token_cause_one_renewal() {
    let clock = ManualClock::new(T0);
    let g = Counting::new(&clock, 300);
    let s = source(g.clone(), &clock, no_jitter());
    s.token(Duration::ZERO).await.unwrap();
    clock.advance(301);
    g.slow.store(true, Ordering::SeqCst);
    let mut tasks = Vec::new();
    for _ in 0..10_000 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.token(Duration::from_secs(10))
                .await
                .map(|l| l.token.access_token.clone())
        }));
    }
    let mut tokens = std::collections::HashSet::new();
    for t in tasks {
        tokens.insert(t.await.unwrap().unwrap().expose().to_string());
    }
    assert_eq!(g.calls.load(Ordering::SeqCst), 2, "one initial grant, one renewal");
    assert_eq!(tokens.len(), 1, "every task got the same new token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_window_one_task_renews_while_the_others_keep_going() {
    let clock = ManualClock::new(T0);
    let g = Counting::new(&clock, 600);
    let s = source(g.clone(), &clock, no_jitter());
    let first = s.token(Duration::ZERO).await.unwrap();
    clock.advance(301);
    g.slow.store(true, Ordering::SeqCst);
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.token(Duration::ZERO).await.unwrap().token.access_token.clone()
        }));
    }
    let mut old = 0;
    for t in tasks {
        if t.await.unwrap() == first.token.access_token {
            old += 1;
        }
    }
    assert_eq!(g.calls.load(Ordering::SeqCst), 2, "exactly one renewal");
    assert!(
        old > 0,
        "tasks that found a renewal under way used the still-valid token"
    );
}

#[tokio::test]
async fn file_store_is_shared_and_reread_under_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(dir.path().join("cache")));
    let g1 = Counting::new(&clock, 600);
    let g2 = Counting::new(&clock, 600);
    let p1 = TokenSource::builder(key(), g1.clone())
        .store(store.clone())
        .clock(Arc::new(clock.clone()))
        .policy(no_jitter())
        .build();
    let p2 = TokenSource::builder(key(), g2.clone())
        .store(store.clone())
        .clock(Arc::new(clock.clone()))
        .policy(no_jitter())
        .build();
    let a = p1.token(Duration::ZERO).await.unwrap();
    // "Process" 2 starts later and finds the token in the store: no grant.
    let b = p2.token(Duration::ZERO).await.unwrap();
    assert_eq!(a.token.access_token, b.token.access_token);
    assert_eq!(g2.calls.load(Ordering::SeqCst), 0);
    // Both reach the window; p1 renews first; p2 re-reads under the lock and adopts.
    clock.advance(400);
    let a2 = p1.token(Duration::ZERO).await.unwrap();
    let b2 = p2.token(Duration::ZERO).await.unwrap();
    assert_eq!(a2.token.access_token, b2.token.access_token);
    assert_eq!(g2.calls.load(Ordering::SeqCst), 0, "p2 adopted p1's renewal");
    // Files: 0600 in a 0700 folder.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dmode = std::fs::metadata(dir.path().join("cache"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
        for e in std::fs::read_dir(dir.path().join("cache")).unwrap() {
            let m = e.unwrap().metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(m, 0o600);
        }
    }
}

#[tokio::test]
async fn corrupt_or_exposed_cache_files_are_never_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path());
    let k = key();
    let clock = ManualClock::new(T0);
    let g = Counting::new(&clock, 600);
    store.save(&k, &g.issue().await.unwrap()).unwrap();
    let path = store.path_for(&k);
    let full = std::fs::read(&path).unwrap();
    // Truncated: reported and treated as absent.
    std::fs::write(&path, &full[..full.len() / 2]).unwrap();
    assert!(store.load(&k).unwrap().is_none());
    // Replaced by the next save.
    store.save(&k, &g.issue().await.unwrap()).unwrap();
    assert!(store.load(&k).unwrap().is_some());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = store.load(&k).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }
    // The file never holds a client secret or password: only tokens and their metadata.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("secret") && !text.contains("password"), "{text}");
}

// ---------------------------------------------------------------- the cache folder and records

#[cfg(unix)]
fn chmod(p: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    let f = tempfile::NamedTempFile::new().unwrap();
    f.as_file().metadata().unwrap().uid() == 0
}

fn token(n: &str) -> Token {
    Token {
        access_token: AccessToken::new(format!("access-{n}")),
        token_type: "Bearer".into(),
        expires_at: Some(sesame::token::Clock::now(&sesame::token::SystemClock) + 600),
        issued_at: sesame::token::Clock::now(&sesame::token::SystemClock),
        refresh_token: Some(RefreshToken::new(format!("refresh-{n}"))),
        id_token: None,
        scopes: vec![],
        issuer: None,
    }
}

#[cfg(unix)]
#[test]
fn other_writable_cache_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let store = FileStore::new(&cache);
    store.save(&key(), &token("a")).unwrap();
    for mode in [0o777, 0o770, 0o703] {
        chmod(&cache, mode);
        for e in [
            store.load(&key()).unwrap_err(),
            store.save(&key(), &token("b")).unwrap_err(),
            store.lock(&key()).err().unwrap(),
        ] {
            let s = e.to_string();
            assert!(
                matches!(e.as_credential(), Some(sesame::CredentialError::UnsafeFolder { .. })),
                "{s}"
            );
            assert!(
                s.contains(&cache.display().to_string()) && s.contains("writable by group or others"),
                "{s}"
            );
            assert!(s.contains(&format!("chmod 700 {}", cache.display())), "{s}");
            assert!(!s.contains("--"), "engine wording names no flag: {s}");
        }
    }
    chmod(&cache, 0o700);
    assert!(store.load(&key()).unwrap().is_some());
}

#[cfg(unix)]
#[test]
fn cache_folder_owned_by_another_uid_is_refused() {
    if !running_as_root() {
        println!("SKIPPED cache_folder_owned_by_another_uid_is_refused: needs root to chown the folder");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    chmod(&cache, 0o700);
    std::os::unix::fs::chown(&cache, Some(65534), Some(65534)).unwrap();
    let store = FileStore::new(&cache);
    let e = store.save(&key(), &token("a")).unwrap_err();
    assert!(e.to_string().contains("owned by uid 65534"), "{e}");
    let e = store.load(&key()).unwrap_err();
    assert!(
        e.to_string().contains("owned by uid 65534") && e.to_string().contains(&cache.display().to_string()),
        "{e}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn symlinked_record_of_another_key_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(dir.path().join("cache")));
    let fs = FileStore::new(dir.path().join("cache"));
    let a = CacheKey::new("https://idp-a.test", "client-a", "oidc", &[], &[], None);
    let b = CacheKey::new("https://idp-b.test", "client-b", "oidc", &[], &[], None);
    store.save(&a, &token("of-a")).unwrap();
    let a_file = fs.path_for(&a);
    let a_bytes = std::fs::read(&a_file).unwrap();

    // B's record is a symlink to A's: not followed.
    std::os::unix::fs::symlink(&a_file, fs.path_for(&b)).unwrap();
    assert!(store.load(&b).unwrap().is_none(), "symlink followed");
    // B's record is a copy of A's: the identity in it is A's.
    std::fs::remove_file(fs.path_for(&b)).unwrap();
    std::fs::copy(&a_file, fs.path_for(&b)).unwrap();
    chmod(&fs.path_for(&b), 0o600);
    assert!(store.load(&b).unwrap().is_none(), "A's record used for B");

    // B's source neither sends A's access token nor refreshes with A's refresh token.
    std::fs::remove_file(fs.path_for(&b)).unwrap();
    std::os::unix::fs::symlink(&a_file, fs.path_for(&b)).unwrap();
    let clock = ManualClock::new(sesame::token::Clock::now(&sesame::token::SystemClock));
    let g = Counting::new(&clock, 600);
    let src = TokenSource::builder(b.clone(), g.clone())
        .store(store.clone())
        .clock(Arc::new(clock.clone()))
        .build();
    let lease = src.token(Duration::from_secs(60)).await.unwrap();
    assert_ne!(lease.token.access_token.expose(), "access-of-a");
    assert_eq!(g.refreshes.load(Ordering::SeqCst), 0, "A's refresh token was sent");
    assert_eq!(g.calls.load(Ordering::SeqCst), 1);
    // Saving B replaced the link itself; A's file is untouched.
    assert!(
        !std::fs::symlink_metadata(fs.path_for(&b))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&a_file).unwrap(), a_bytes);
    assert_eq!(store.load(&a).unwrap().unwrap().access_token.expose(), "access-of-a");
}

#[cfg(unix)]
#[test]
fn lock_file_symlink_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let store = FileStore::new(&cache);
    store.save(&key(), &token("a")).unwrap();
    let lock = cache.join(format!("{}.lock", key().hash()));
    // To a file that does not exist: it is not created.
    let target = dir.path().join("created-through-the-link");
    std::os::unix::fs::symlink(&target, &lock).unwrap();
    let e = store.lock(&key()).err().expect("a symlinked lock file is refused");
    assert!(
        e.to_string().contains("symlink") && e.to_string().contains(&lock.display().to_string()),
        "{e}"
    );
    assert!(!target.exists(), "the symlink target was created");
    // To an existing file: not opened for writing (its contents and mode stay).
    std::fs::remove_file(&lock).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    chmod(&victim, 0o644);
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    assert!(store.lock(&key()).is_err());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    // A symlinked temporary or record path never matters: records are replaced by rename.
    std::fs::remove_file(&lock).unwrap();
    drop(store.lock(&key()).unwrap());
}

#[test]
fn record_obtained_with_another_client_secret_is_not_used() {
    use sesame::token::SecretBinding;
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("cache"));
    let with = |s: Option<&'static str>| {
        key().with_client_secret(SecretBinding::new(move || s.map(secrecy::SecretString::from)))
    };
    store.save(&with(Some("first-secret-value")), &token("a")).unwrap();
    let text = std::fs::read_to_string(store.path_for(&key())).unwrap();
    assert!(!text.contains("first-secret-value"), "{text}");
    assert!(store.load(&with(Some("first-secret-value"))).unwrap().is_some());
    assert!(
        store.load(&with(Some("changed-secret"))).unwrap().is_none(),
        "another secret"
    );
    assert!(
        store.load(&with(None)).unwrap().is_some(),
        "secret not available: used while valid"
    );
    assert!(
        store.load(&key()).unwrap().is_none(),
        "a configuration without a secret"
    );
}
