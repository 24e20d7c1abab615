//! Bearer-token files for other tools (docs/files-on-disk.md, WLCG Bearer Token Discovery).
//!
//! [`write`] puts a token where WLCG-aware tools (gfal, xrootd, davix, HTCondor, Rucio,
//! sesame's own `discover`) look for one: `$BEARER_TOKEN_FILE`, else
//! `$XDG_RUNTIME_DIR/bt_u<euid>`, else `/tmp/bt_u<euid>` — mode 0600, newline-ended, replaced
//! atomically (a temporary file in the same directory, fsynced, then renamed over the old
//! one), so a reader sees the old token or the new one, never half of one.
//!
//! [`Keeper`] keeps such a file valid for as long as a program runs, renewing the token
//! from a [`Credential`] before it expires (what `sesame exec` does).
//!
//! `<euid>` is the effective user id, as the WLCG text says (the real one for ordinary,
//! non-setuid processes).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sesame::credential::Credential;
use sesame::credential::grid::tokens::{Env, is_b64token, strip_isspace};
use sesame::secret::AccessToken;
use sesame::token::{Clock, SystemClock, Token};
use sesame::{Error, Result};

/// The WLCG location in the process environment: `$BEARER_TOKEN_FILE`, else
/// `$XDG_RUNTIME_DIR/bt_u<euid>`, else `/tmp/bt_u<euid>`.
pub fn default_path() -> PathBuf {
    default_path_in(&Env::system())
}

/// The WLCG location in `env`.
pub fn default_path_in(env: &Env) -> PathBuf {
    if let Some(p) = env.path_var("BEARER_TOKEN_FILE") {
        return p;
    }
    let name = format!("bt_u{}", env.euid());
    match env.path_var("XDG_RUNTIME_DIR") {
        Some(dir) => dir.join(name),
        None => env.tmp_root().join(name),
    }
}

/// Writes `token` (surrounding whitespace stripped) plus a newline to `path`, or to the
/// WLCG location ([`default_path`]) when `path` is `None`; returns the path written.
/// Mode 0600, atomic replace. The directory must exist.
pub fn write(path: Option<&Path>, token: &str) -> Result<PathBuf> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => default_path(),
    };
    write_at(&path, token)?;
    Ok(path)
}

/// Writes `token` to `path` (see [`write`]).
pub fn write_at(path: &Path, token: &str) -> Result<()> {
    let token = strip_isspace(token);
    if token.is_empty() {
        return Err(Error::config("refusing to write an empty bearer token file"));
    }
    if !is_b64token(token) {
        return Err(Error::config(
            "refusing to write a bearer token file: the token has characters RFC 6750 does not allow in a bearer token",
        ));
    }
    let ctx = |what: &str| format!("cannot {what} bearer token file {}", path.display());
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::config(format!("{} is not a file path", path.display())))?
        .to_string_lossy()
        .into_owned();
    let (tmp, mut file) = create_temp(&dir, &name).map_err(|e| Error::io(ctx("create a temporary file for"), e))?;
    let result = (|| {
        file.write_all(token.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(ctx("write"), e));
    }
    // The rename is durable once the directory is synced; best effort.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    tracing::debug!(path = %path.display(), "wrote bearer token file");
    Ok(())
}

/// Creates `dir/.name.<pid>.<n>.tmp` exclusively, mode 0600.
fn create_temp(dir: &Path, name: &str) -> std::io::Result<(PathBuf, std::fs::File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last = None;
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = dir.join(format!(".{name}.{}.{n}.{nanos}.tmp", std::process::id()));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(&tmp) {
            Ok(f) => {
                #[cfg(unix)]
                {
                    // The mode given at creation is reduced by the umask, never widened;
                    // set it exactly.
                    use std::os::unix::fs::PermissionsExt;
                    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
                }
                return Ok((tmp, f));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("cannot create a temporary file")))
}

/// When to fetch the next token for a file: `lead` before `token` expires, where `lead`
/// is twice `min_valid` but at most half the token's lifetime (and at least 1 s), so that
/// readers that want `min_valid` left never see less. `None` for a token without expiry.
pub fn renewal_lead(token: &Token, min_valid: Duration) -> Option<Duration> {
    let exp = token.expires_at?;
    let lifetime = (exp - token.issued_at).max(2) as u64;
    let lead = (min_valid.as_secs().saturating_mul(2)).min(lifetime / 2).max(1);
    Some(Duration::from_secs(lead))
}

/// Keeps a bearer-token file valid while a program runs: writes the credential's token,
/// then — for tokens that expire — fetches a new one and replaces the file `lead` before
/// expiry ([`renewal_lead`]). A credential whose token never changes is written once.
/// Renewal failures are logged and retried; they never stop the keeper.
pub struct Keeper {
    path: PathBuf,
    state: Arc<Mutex<KeeperState>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

struct KeeperState {
    /// What the file holds, as sesame last wrote it.
    written: AccessToken,
    /// How many times the file was written.
    writes: u64,
    /// Whether the file existed before the keeper first wrote it.
    existed: bool,
}

impl std::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keeper")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Keeper {
    /// Fetches a token valid for at least `min_valid` from `credential`, writes it to `path`
    /// (the WLCG location when `None`) and, inside a tokio runtime, starts renewing it.
    /// A configuration error if the credential does not provide bearer tokens.
    ///
    /// A file that already exists is replaced, and [`Keeper::stop`] will not remove it (it
    /// may be where the credential itself reads its token, or another tool's).
    pub async fn start(credential: Arc<dyn Credential>, path: Option<&Path>, min_valid: Duration) -> Result<Keeper> {
        Self::start_with_clock(credential, path, min_valid, Arc::new(SystemClock)).await
    }

    /// [`Keeper::start`], judging when to renew by `clock` (tests: controlled time).
    pub async fn start_with_clock(
        credential: Arc<dyn Credential>,
        path: Option<&Path>,
        min_valid: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Keeper> {
        let token = credential.token(min_valid, false).await?.ok_or_else(|| {
            Error::config(format!(
                "auth kind `{}` does not provide a bearer token; a bearer-token file needs a token credential \
                 (bearer, discover, client-credentials, password, oidc or device)",
                credential.info().kind
            ))
        })?;
        let target = match path {
            Some(p) => p.to_path_buf(),
            None => default_path(),
        };
        let existed = std::fs::symlink_metadata(&target).is_ok();
        if sesame::oauth::dpop::is_bound(&token) {
            return Err(sesame::oauth::dpop::bound_token_error("written to a bearer-token file"));
        }
        let path = write(Some(&target), token.access_token.expose())?;
        let state = Arc::new(Mutex::new(KeeperState {
            written: token.access_token.clone(),
            writes: 1,
            existed,
        }));
        let task = renewal_lead(&token, min_valid).map(|_| {
            tokio::spawn(renew_loop(
                credential,
                path.clone(),
                token,
                min_valid,
                state.clone(),
                clock,
            ))
        });
        Ok(Keeper { path, state, task })
    }

    /// The file kept valid.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many times the file has been written (1 after [`Keeper::start`]).
    pub fn writes(&self) -> u64 {
        self.state.lock().map(|s| s.writes).unwrap_or(0)
    }

    /// Stops renewing. With `remove`, deletes the file — only if the keeper created it and
    /// it still holds the token sesame wrote last (a file another tool has replaced since,
    /// or one that was there before, is left alone).
    pub fn stop(mut self, remove: bool) -> Result<()> {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if !remove {
            return Ok(());
        }
        if self.state.lock().map(|s| s.existed).unwrap_or(true) {
            tracing::info!(path = %self.path.display(), "bearer token file existed before; leaving it");
            return Ok(());
        }
        let ours = match std::fs::read_to_string(&self.path) {
            Ok(text) => self
                .state
                .lock()
                .map(|s| strip_isspace(&text) == s.written.expose())
                .unwrap_or(false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(format!("cannot read {}", self.path.display()), e)),
        };
        if ours {
            std::fs::remove_file(&self.path)
                .map_err(|e| Error::io(format!("cannot remove {}", self.path.display()), e))?;
        } else {
            tracing::info!(path = %self.path.display(), "bearer token file was replaced by another tool; leaving it");
        }
        Ok(())
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn renew_loop(
    credential: Arc<dyn Credential>,
    path: PathBuf,
    mut current: Token,
    min_valid: Duration,
    state: Arc<Mutex<KeeperState>>,
    clock: Arc<dyn Clock>,
) {
    let mut failures: u32 = 0;
    let mut warned_expired = false;
    loop {
        let Some(lead) = renewal_lead(&current, min_valid) else {
            return;
        };
        let exp = current.expires_at.unwrap_or(i64::MAX);
        let wait = (exp - lead.as_secs() as i64 - clock.now()).max(0) as u64;
        // After a failure (or an unchanged token), try again soon, but never spin.
        let wait = if failures > 0 {
            let left = (exp - clock.now()).max(0) as u64;
            (1u64 << failures.min(4)).min(left.max(1) / 2).clamp(1, 16)
        } else {
            wait
        };
        tokio::time::sleep(Duration::from_secs(wait)).await;
        // Ask for more than the current token has left, so that the credential renews.
        match credential.token(lead + Duration::from_secs(1), false).await {
            Ok(Some(t)) if t.access_token != current.access_token => match write_at(&path, t.access_token.expose()) {
                Ok(()) => {
                    if let Ok(mut s) = state.lock() {
                        s.written = t.access_token.clone();
                        s.writes += 1;
                    }
                    tracing::debug!(path = %path.display(), expires_at = ?t.expires_at, "renewed bearer token file");
                    current = t;
                    failures = 0;
                }
                Err(e) => {
                    tracing::warn!("cannot renew the bearer token file: {e}");
                    failures += 1;
                }
            },
            Ok(Some(_)) => {
                tracing::debug!("the credential returned the same token; trying again shortly");
                failures += 1;
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("cannot renew the token for {}: {e}", path.display());
                failures += 1;
            }
        }
        if failures > 0 && !warned_expired && current.expires_at.is_some_and(|e| e <= clock.now()) {
            warned_expired = true;
            tracing::warn!(path = %path.display(), "the token in the bearer token file has expired");
        } else if failures == 0 {
            warned_expired = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_location_follows_wlcg() {
        let env = Env::isolated().with_euid(1234).with_tmp_root("/t");
        assert_eq!(default_path_in(&env), PathBuf::from("/t/bt_u1234"));
        let env = env.set("XDG_RUNTIME_DIR", "/run/user/1234");
        assert_eq!(default_path_in(&env), PathBuf::from("/run/user/1234/bt_u1234"));
        let env = env.set("BEARER_TOKEN_FILE", "/x/tok");
        assert_eq!(default_path_in(&env), PathBuf::from("/x/tok"));
    }

    #[test]
    fn lead_is_bounded_by_lifetime() {
        let mut t = Token::bare("x");
        t.issued_at = 1000;
        t.expires_at = Some(1000 + 3600);
        assert_eq!(
            renewal_lead(&t, Duration::from_secs(60)),
            Some(Duration::from_secs(120))
        );
        t.expires_at = Some(1000 + 10);
        assert_eq!(renewal_lead(&t, Duration::from_secs(60)), Some(Duration::from_secs(5)));
        t.expires_at = None;
        assert_eq!(renewal_lead(&t, Duration::from_secs(60)), None);
    }

    /// Mints `tok-1`, `tok-2`, …: the first expires an hour after `start`, the later ones a
    /// long while after.
    #[derive(Debug)]
    struct Minting {
        start: i64,
        minted: std::sync::atomic::AtomicI64,
    }

    #[async_trait::async_trait]
    impl Credential for Minting {
        async fn attach(
            &self,
            _req: &sesame::credential::AuthRequest<'_>,
            _headers: &mut sesame::session::header::HeaderMap,
        ) -> Result<sesame::credential::Attachment> {
            Ok(Default::default())
        }

        async fn token(&self, _min_valid: Duration, _force: bool) -> Result<Option<Token>> {
            let n = self.minted.fetch_add(1, Ordering::SeqCst) + 1;
            let mut t = Token::bare(format!("tok-{n}"));
            t.issued_at = self.start;
            t.expires_at = Some(self.start + if n == 1 { 3600 } else { 1_000_000 });
            Ok(Some(t))
        }
    }

    #[tokio::test]
    async fn the_keeper_renews_when_its_clock_says_so() {
        // Far in the future: by the system clock the first token has a long while left.
        let start = SystemClock.now() + 10_000_000;
        let clock = sesame::token::ManualClock::new(start + 3600 - 10);
        let cred = Arc::new(Minting {
            start,
            minted: Default::default(),
        });
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bt");
        let keeper = Keeper::start_with_clock(cred, Some(&p), Duration::from_secs(60), Arc::new(clock))
            .await
            .unwrap();
        // Ten seconds left by the keeper's clock, less than its lead: renewed at once.
        for _ in 0..50 {
            if keeper.writes() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(keeper.writes(), 2);
        assert_eq!(std::fs::read_to_string(&p).unwrap().trim(), "tok-2");
        keeper.stop(true).unwrap();
    }

    #[test]
    fn refuses_bad_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        assert!(write(Some(&p), " \n").unwrap_err().is_config());
        assert!(write(Some(&p), "a b").unwrap_err().is_config());
        assert!(!p.exists());
    }
}
