//! Where tokens are looked for, in order, and the reading of token files — re-read only when
//! they change (a `stat` per use; the contents are read again when size, times or inode
//! differ), so that tokens an external agent refreshes are picked up at once.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::{Map, Value};

use super::checks::strip_isspace;
use super::env::Env;
use crate::secret::AccessToken;

/// One place a token may be.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// How the place is named in messages (`BEARER_TOKEN_FILE (/path)`).
    pub label: String,
    pub what: What,
}

#[derive(Debug, Clone)]
pub(crate) enum What {
    /// A variable holding the token itself (the value is read when checked).
    Var(&'static str),
    /// A file holding the token.
    File(PathBuf),
    /// Nothing to read here, and why.
    Nothing(String),
}

/// The token places, in the order of docs/credentials.md: `SCITOKEN`, `SCITOKEN_FILE`,
/// `$_CONDOR_CREDS/*.use` (sorted), then WLCG Bearer Token Discovery: `BEARER_TOKEN`,
/// `BEARER_TOKEN_FILE`, `$XDG_RUNTIME_DIR/bt_u<euid>`, or `/tmp/bt_u<euid>` only when
/// `XDG_RUNTIME_DIR` is unset (or empty).
pub(crate) fn candidates(env: &Env) -> Vec<Candidate> {
    let mut out = Vec::new();
    out.push(var_candidate(env, "SCITOKEN"));
    out.push(file_var_candidate(env, "SCITOKEN_FILE"));
    condor_candidates(env, &mut out);
    out.push(var_candidate(env, "BEARER_TOKEN"));
    out.push(file_var_candidate(env, "BEARER_TOKEN_FILE"));
    let name = format!("bt_u{}", env.euid());
    match env.path_var("XDG_RUNTIME_DIR") {
        Some(dir) => {
            let path = dir.join(&name);
            out.push(Candidate {
                label: format!("$XDG_RUNTIME_DIR/{name} ({})", path.display()),
                what: What::File(path),
            });
        }
        None => {
            let path = env.tmp_root().join(&name);
            let label = if path == Path::new("/tmp").join(&name) {
                path.display().to_string()
            } else {
                format!("/tmp/{name} ({})", path.display())
            };
            out.push(Candidate {
                label,
                what: What::File(path),
            });
        }
    }
    out
}

fn var_candidate(env: &Env, name: &'static str) -> Candidate {
    Candidate {
        label: name.to_string(),
        what: match env.var(name) {
            Some(_) => What::Var(name),
            None => What::Nothing("not set".into()),
        },
    }
}

fn file_var_candidate(env: &Env, name: &'static str) -> Candidate {
    match env.var(name) {
        None => Candidate {
            label: name.to_string(),
            what: What::Nothing("not set".into()),
        },
        Some(v) if v.is_empty() => Candidate {
            label: name.to_string(),
            what: What::Nothing("set but empty".into()),
        },
        Some(v) => {
            let path = PathBuf::from(v);
            Candidate {
                label: format!("{name} ({})", path.display()),
                what: What::File(path),
            }
        }
    }
}

fn condor_candidates(env: &Env, out: &mut Vec<Candidate>) {
    let label = "$_CONDOR_CREDS".to_string();
    let Some(dir) = env.path_var("_CONDOR_CREDS") else {
        out.push(Candidate {
            label,
            what: What::Nothing("not set".into()),
        });
        return;
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            out.push(Candidate {
                label: format!("$_CONDOR_CREDS ({})", dir.display()),
                what: What::Nothing(format!("cannot list the directory: {e}")),
            });
            return;
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".use") && n.len() > ".use".len())
        .collect();
    names.sort();
    if names.is_empty() {
        out.push(Candidate {
            label: format!("$_CONDOR_CREDS ({})", dir.display()),
            what: What::Nothing("no *.use files".into()),
        });
    }
    for n in names {
        let path = dir.join(&n);
        out.push(Candidate {
            label: format!("$_CONDOR_CREDS/{n} ({})", path.display()),
            what: What::File(path),
        });
    }
}

/// Token files larger than this are not read.
const MAX_TOKEN_FILE: u64 = 1024 * 1024;

/// What a token file holds, as last read.
#[derive(Clone)]
pub(crate) struct FileToken {
    /// The token, whitespace stripped (possibly empty).
    pub token: AccessToken,
    /// Its claims when it is a JWT.
    pub claims: Option<Arc<Map<String, Value>>>,
}

/// The outcome of reading a token file.
pub(crate) enum FileRead {
    Missing,
    Unreadable(String),
    /// Not to be trusted (owner, mode): the reason.
    Refused(String),
    Token(FileToken),
}

/// Identity and version of a file: re-read when any of this changes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    unix: (u64, u64, i64, i64),
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            unix: (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Token files by path, with the stamp they were read at.
#[derive(Default)]
pub(crate) struct FileCache {
    entries: Mutex<HashMap<PathBuf, (Stamp, FileToken)>>,
    /// Files passed over as untrusted, warned about once each (they are looked at again
    /// on every request).
    refused: Mutex<std::collections::HashSet<PathBuf>>,
}

impl std::fmt::Debug for FileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("FileCache").field("files", &n).finish()
    }
}

impl FileCache {
    /// Reads `path`, or returns what was read before if the file has not changed.
    ///
    /// The file is opened first and judged by the open handle (no window between the
    /// check and the read): it must be a regular file owned by this process's effective
    /// uid and not writable by group or others, or it is passed over with the reason —
    /// another account can create `/tmp/bt_u<uid>` (or any file a variable names) first.
    pub fn read(&self, path: &Path) -> FileRead {
        let link = match std::fs::symlink_metadata(path) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.forget(path);
                return FileRead::Missing;
            }
            Err(e) => return FileRead::Unreadable(e.to_string()),
        };
        let mut file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.forget(path);
                return FileRead::Missing;
            }
            Err(e) => return FileRead::Unreadable(e.to_string()),
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => return FileRead::Unreadable(e.to_string()),
        };
        if !meta.is_file() {
            return FileRead::Unreadable("not a regular file".into());
        }
        let symlink = link.file_type().is_symlink().then_some(&link);
        if let Some(problem) = crate::permissions::discovered_file_problem(&meta, symlink) {
            self.forget(path);
            if self.refused.lock().is_ok_and(|mut r| r.insert(path.to_path_buf())) {
                tracing::warn!("token file {} passed over: {problem}", path.display());
            }
            return FileRead::Refused(problem);
        }
        if meta.len() > MAX_TOKEN_FILE {
            return FileRead::Unreadable(format!(
                "{} bytes; a token file holds one token (at most {} KiB)",
                meta.len(),
                MAX_TOKEN_FILE / 1024
            ));
        }
        let stamp = Stamp::of(&meta);
        if let Ok(entries) = self.entries.lock()
            && let Some((s, t)) = entries.get(path)
            && *s == stamp
        {
            return FileRead::Token(t.clone());
        }
        let mut bytes = Vec::new();
        if let Err(e) = (&mut file).take(MAX_TOKEN_FILE).read_to_end(&mut bytes) {
            return FileRead::Unreadable(e.to_string());
        }
        // Stamp the file as it was *before* reading: a change during the read gives a
        // new stamp next time, and so a new read.
        let text = String::from_utf8_lossy(&bytes);
        let token = strip_isspace(&text).to_string();
        drop(text);
        warn_if_shared(path, &meta);
        let claims = crate::token::jwt_claims(&token).map(Arc::new);
        let ft = FileToken {
            token: AccessToken::new(token),
            claims,
        };
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(path.to_path_buf(), (stamp, ft.clone()));
        }
        tracing::debug!(path = %path.display(), "read token file");
        FileRead::Token(ft)
    }

    fn forget(&self, path: &Path) {
        if let Ok(mut e) = self.entries.lock() {
            e.remove(path);
        }
    }
}

#[cfg(unix)]
fn warn_if_shared(path: &Path, meta: &std::fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o044 != 0 {
        tracing::warn!(
            "token file {} can be read by other users (mode {mode:04o}); fix: chmod 600 {}",
            path.display(),
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path, _meta: &std::fs::Metadata) {}
