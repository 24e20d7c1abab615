//! A real browser for the login tests: `testbed/browser/sesame-test-browser`, a `$BROWSER`
//! that drives the system Chromium (headless, through npm `playwright-core`, no browser
//! download) through the provider's login, consent and device pages, follows the redirect
//! to sesame's loopback listener and saves a screenshot of the final page.
//!
//! [`TestBrowser::new`] installs the node dependencies once (`npm ci` in `testbed/browser`,
//! under an exclusive lock on `.install.lock`, like the provider's harness) and checks that
//! Chromium is there. When it is not, the test fails with instructions: it never skips.
//! Include it with `#[path = "support/browser.rs"] mod browser;`.
#![allow(dead_code)]

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

/// `testbed/browser`.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testbed/browser")
}

/// Where test artifacts go: `<target dir>/test-artifacts` (next to `debug/`).
pub fn artifacts_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // <target>/debug/deps/login-<hash>
    let target = exe.ancestors().nth(3).expect("target dir").to_path_buf();
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("create test-artifacts");
    dir
}

/// The Chromium binary: `$SESAME_CHROMIUM`, `/usr/bin/chromium`, or `chromium` on PATH.
/// Panics with installation instructions when there is none.
pub fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("SESAME_CHROMIUM").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            for name in ["chromium", "chromium-browser"] {
                if dir.join(name).is_file() {
                    return dir.join(name);
                }
            }
        }
    }
    panic!(
        "the login tests drive a real Chromium and none was found.\n\
         Install it: Debian/Ubuntu `sudo apt-get install chromium` (CI does this in .ci/run because \
         scripts/needs-chromium exists), Fedora `sudo dnf install chromium`, macOS `brew install --cask chromium`;\n\
         or set SESAME_CHROMIUM to a Chromium or Chrome binary. These tests do not skip."
    )
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn needs_install(dir: &Path) -> bool {
    let complete = dir.join("node_modules/playwright-core/package.json").is_file();
    match (
        mtime(&dir.join("node_modules/.package-lock.json")),
        mtime(&dir.join("package-lock.json")),
    ) {
        (Some(installed), Some(lock)) => !complete || installed < lock,
        _ => true,
    }
}

/// `npm ci` in `testbed/browser` once (exclusive file lock across test binaries).
pub fn ensure_installed() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let dir = browser_dir();
        let lock_path = dir.join(".install.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", lock_path.display()));
        lock.lock()
            .unwrap_or_else(|e| panic!("cannot lock {}: {e}", lock_path.display()));
        if needs_install(&dir) {
            let npm = std::env::var("SESAME_NPM").unwrap_or_else(|_| "npm".into());
            eprintln!(
                "login tests: installing the test browser's node dependencies (npm ci in {}) …",
                dir.display()
            );
            let out = Command::new(&npm)
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run `{npm} ci` in {}: {e}. Install Node.js >= 20.18 and npm.",
                        dir.display()
                    )
                });
            assert!(
                out.status.success(),
                "`{npm} ci` in {} failed ({}). Is the npm registry reachable?\n--- stdout ---\n{}\n--- stderr ---\n{}",
                dir.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !needs_install(&dir),
                "`npm ci` succeeded but node_modules looks incomplete"
            );
        }
        drop(lock);
    });
}

/// One browser for one test: its files live in a temporary folder.
pub struct TestBrowser {
    dir: tempfile::TempDir,
    chromium: PathBuf,
    vars: Vec<(String, String)>,
}

impl TestBrowser {
    pub fn new() -> Self {
        let chromium = chromium();
        ensure_installed();
        let dir = tempfile::tempdir().unwrap();
        TestBrowser {
            dir,
            chromium,
            vars: Vec::new(),
        }
    }

    /// Saves a screenshot of the final page as `target/test-artifacts/NAME`.
    pub fn screenshot(mut self, name: &str) -> Self {
        let path = artifacts_dir().join(name);
        let _ = std::fs::remove_file(&path);
        self.vars
            .push(("SESAME_BROWSER_SCREENSHOT".into(), path.display().to_string()));
        self
    }

    /// Any helper variable (`SESAME_BROWSER_CONSENT=deny`, `SESAME_BROWSER_PROBE=1`, …).
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.vars.push((key.into(), value.into()));
        self
    }

    /// The `$BROWSER` command.
    pub fn command(&self) -> PathBuf {
        browser_dir().join("sesame-test-browser")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("browser.log")
    }

    /// Environment for `sesame` (and so for the browser it starts).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("BROWSER".to_string(), self.command().display().to_string()),
            ("SESAME_BROWSER_CHROMIUM".into(), self.chromium.display().to_string()),
            ("SESAME_BROWSER_LOG".into(), self.log_path().display().to_string()),
            (
                "SESAME_BROWSER_INVOCATIONS".into(),
                self.dir.path().join("invocations").display().to_string(),
            ),
            (
                "SESAME_BROWSER_TEXT".into(),
                self.dir.path().join("page.json").display().to_string(),
            ),
        ];
        v.extend(self.vars.iter().cloned());
        v
    }

    /// How many times the browser was started.
    pub fn invocations(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("invocations"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// The browser's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Waits (up to 30 s) until every started browser has finished (sesame may exit while
    /// the browser still takes its screenshot); returns the log.
    pub async fn wait_done(&self) -> String {
        let start = Instant::now();
        loop {
            let log = self.log();
            let ended = log.matches("done: ").count() + log.matches("FAILED: ").count();
            if ended >= self.invocations() && self.invocations() > 0 {
                return log;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the test browser did not finish within 30 s; its log:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The final page: `{url, status, title, text}`.
    pub fn page(&self) -> serde_json::Value {
        let p = self.dir.path().join("page.json");
        let text = std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("no final page recorded ({e}); browser log:\n{}", self.log()));
        serde_json::from_str(&text).unwrap()
    }
}

/// `env()` as the `&[(&str, &str)]` the `sesame` helper takes.
pub fn as_refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
