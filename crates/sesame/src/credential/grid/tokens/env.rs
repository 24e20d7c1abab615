//! The environment discovery looks at: variables, the effective user id, the `/tmp` root
//! and the home directory — injectable, so tests (and callers that build an environment
//! for a job) need not change the process environment.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// Where discovery reads variables and ids from.
///
/// [`Env::system`] is the process environment; [`Env::isolated`] starts empty (no
/// variables, the real user ids, `/tmp`) and is filled with [`Env::set`] and friends.
/// `Debug` shows variable names only: `BEARER_TOKEN` and `SCITOKEN` hold tokens.
#[derive(Clone)]
pub struct Env {
    /// `None`: the process environment.
    vars: Option<BTreeMap<OsString, OsString>>,
    euid: Option<u32>,
    uid: Option<u32>,
    tmp: PathBuf,
    home: Option<PathBuf>,
}

impl Default for Env {
    fn default() -> Self {
        Env::system()
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Env");
        match &self.vars {
            None => d.field("vars", &"<process environment>"),
            Some(v) => d.field("vars", &v.keys().collect::<Vec<_>>()),
        };
        d.field("euid", &self.euid())
            .field("uid", &self.uid())
            .field("tmp", &self.tmp)
            .finish()
    }
}

impl Env {
    /// The process environment, the process's user ids, `/tmp`, and the user's home.
    pub fn system() -> Env {
        Env {
            vars: None,
            euid: None,
            uid: None,
            tmp: PathBuf::from("/tmp"),
            home: None,
        }
    }

    /// No variables at all; the process's user ids; `/tmp`; no home directory unless `HOME`
    /// is set with [`Env::set`] or [`Env::with_home`].
    pub fn isolated() -> Env {
        Env {
            vars: Some(BTreeMap::new()),
            euid: None,
            uid: None,
            tmp: PathBuf::from("/tmp"),
            home: None,
        }
    }

    /// Sets a variable (turning a system environment into a copy of the process
    /// environment first).
    pub fn set(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        let vars = self.vars.get_or_insert_with(|| std::env::vars_os().collect());
        vars.insert(name.as_ref().to_os_string(), value.as_ref().to_os_string());
        self
    }

    /// Removes a variable (turning a system environment into a copy first).
    pub fn unset(mut self, name: impl AsRef<OsStr>) -> Self {
        let vars = self.vars.get_or_insert_with(|| std::env::vars_os().collect());
        vars.remove(name.as_ref());
        self
    }

    /// Uses `euid` (and, unless set separately, the same real uid) instead of the process's.
    pub fn with_euid(mut self, euid: u32) -> Self {
        self.euid = Some(euid);
        self
    }

    /// Uses `uid` as the real user id (`/tmp/x509up_u<uid>`).
    pub fn with_uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }

    /// Uses `dir` where the conventions say `/tmp`.
    pub fn with_tmp_root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.tmp = dir.into();
        self
    }

    /// Uses `dir` as the home directory (`~/.globus`, `~/.netrc`).
    pub fn with_home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.home = Some(dir.into());
        self
    }

    /// A variable, `None` when unset (an empty value is returned as it is).
    pub fn var(&self, name: &str) -> Option<OsString> {
        match &self.vars {
            None => std::env::var_os(name),
            Some(v) => v.get(OsStr::new(name)).cloned(),
        }
    }

    /// A variable that is set and not empty, as a path.
    pub fn path_var(&self, name: &str) -> Option<PathBuf> {
        self.var(name).filter(|v| !v.is_empty()).map(PathBuf::from)
    }

    /// The effective user id (`bt_u<euid>`, per WLCG Bearer Token Discovery).
    pub fn euid(&self) -> u32 {
        self.euid.unwrap_or_else(process_euid)
    }

    /// The real user id (`x509up_u<uid>`, as Globus names proxies).
    pub fn uid(&self) -> u32 {
        self.uid.or(self.euid).unwrap_or_else(process_uid)
    }

    /// The directory the conventions call `/tmp`.
    pub fn tmp_root(&self) -> &Path {
        &self.tmp
    }

    /// The home directory: the one set with [`Env::with_home`], else `$HOME`, else (for
    /// the system environment) the platform's idea of it.
    pub fn home(&self) -> Option<PathBuf> {
        if let Some(h) = &self.home {
            return Some(h.clone());
        }
        if let Some(h) = self.path_var("HOME") {
            return Some(h);
        }
        if self.vars.is_none() {
            return directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf());
        }
        None
    }
}

#[cfg(unix)]
fn process_euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

#[cfg(unix)]
fn process_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

#[cfg(not(unix))]
fn process_euid() -> u32 {
    0
}

#[cfg(not(unix))]
fn process_uid() -> u32 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolated_env_is_isolated_and_debug_hides_values() {
        let e = Env::isolated()
            .set("BEARER_TOKEN", "secret-value-123")
            .with_euid(4242)
            .with_tmp_root("/x");
        assert_eq!(e.var("BEARER_TOKEN").unwrap(), "secret-value-123");
        assert!(e.var("PATH").is_none());
        assert_eq!(e.euid(), 4242);
        assert_eq!(e.uid(), 4242);
        assert_eq!(e.tmp_root(), Path::new("/x"));
        let d = format!("{e:?}");
        assert!(d.contains("BEARER_TOKEN") && !d.contains("secret-value"), "{d}");
        assert!(e.home().is_none());
        assert_eq!(e.set("HOME", "/h").home().unwrap(), PathBuf::from("/h"));
    }

    #[cfg(unix)]
    #[test]
    fn system_ids_are_the_process_ids() {
        let e = Env::system();
        // The owner of a file we create is our effective uid.
        use std::os::unix::fs::MetadataExt;
        let f = tempfile::NamedTempFile::new().unwrap();
        assert_eq!(f.as_file().metadata().unwrap().uid(), e.euid());
    }
}
