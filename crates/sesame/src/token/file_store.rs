//! The file token store (SPEC §4): `$SESAME_CACHE_DIR`, else `$XDG_CACHE_HOME/sesame`,
//! else `~/.cache/sesame`; folder 0700; one JSON file per cache key, 0600, written to a
//! temporary file in the same folder, fsynced, then renamed over the old one (so a reader
//! or a crash sees the old file or the new one, never a torn one); `<key>.lock` beside it
//! for the refresh protocol of `docs/design/token-cache.md`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::store::{StoreLock, TokenStore};
use super::{CacheKey, Token};
use crate::error::CredentialError;
use crate::secret::{AccessToken, IdToken, RefreshToken};
use crate::{Error, ErrorKind, Result};

/// Largest cache file read (a token file is a few KiB).
const MAX_FILE: u64 = 1024 * 1024;

/// Tokens in files, shared between processes.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

/// The cache file's JSON (version 1). Holds tokens, never a client secret or password.
#[derive(Serialize, Deserialize)]
struct FileToken {
    version: u32,
    issuer: Option<String>,
    client_id: String,
    auth: String,
    access_token: String,
    token_type: String,
    expires_at: Option<i64>,
    issued_at: i64,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

impl FileStore {
    /// The store in the default folder.
    pub fn default_dir() -> Result<PathBuf> {
        if let Some(d) = std::env::var_os("SESAME_CACHE_DIR").filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(d));
        }
        if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(x).join("sesame"));
        }
        directories::BaseDirs::new()
            .map(|b| b.home_dir().join(".cache").join("sesame"))
            .ok_or_else(|| Error::config("cannot find a cache folder: set $SESAME_CACHE_DIR"))
    }

    /// A store in `dir` (created 0700 on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileStore { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file for a key.
    pub fn path_for(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.hash()))
    }

    fn ensure_dir(&self) -> Result<()> {
        if !self.dir.exists() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(&self.dir).map_err(|e| {
                Error::io(
                    format!("cannot create the token cache folder {}", self.dir.display()),
                    e,
                )
            })?;
        }
        Ok(())
    }
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{what} {}", path.display()), e)
}

impl TokenStore for FileStore {
    fn load(&self, key: &CacheKey) -> Result<Option<Token>> {
        let path = self.path_for(key);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("cannot open the token cache file", &path, e)),
        };
        let meta = file.metadata().map_err(|e| io_err("cannot stat", &path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(CredentialError::UnsafePermissions { path, mode }.into());
            }
        }
        if meta.len() > MAX_FILE {
            tracing::warn!(file = %path.display(), "token cache file is too large; ignoring it (it will be replaced)");
            return Ok(None);
        }
        let text = std::fs::read(&path).map_err(|e| io_err("cannot read", &path, e))?;
        match from_json(&text) {
            Some(t) => Ok(Some(t)),
            None => {
                // Report, never trust: the next save replaces it.
                tracing::warn!(file = %path.display(), "token cache file is corrupt or truncated; ignoring it (it will be replaced)");
                eprintln!(
                    "sesame: warning: token cache file {} is corrupt; ignoring it (it will be replaced)",
                    path.display()
                );
                Ok(None)
            }
        }
    }

    fn save(&self, key: &CacheKey, token: &Token) -> Result<()> {
        self.ensure_dir()?;
        let path = self.path_for(key);
        write_atomic(&self.dir, &path, &to_json(key, token)?)
    }

    fn delete(&self, key: &CacheKey) -> Result<()> {
        let path = self.path_for(key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("cannot delete", &path, e)),
        }
    }

    fn lock(&self, key: &CacheKey) -> Result<Box<dyn StoreLock>> {
        self.ensure_dir()?;
        let path = self.dir.join(format!("{}.lock", key.hash()));
        let mut o = OpenOptions::new();
        o.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let f = o
            .open(&path)
            .map_err(|e| io_err("cannot open the lock file", &path, e))?;
        f.lock().map_err(|e| io_err("cannot lock", &path, e))?;
        Ok(Box::new(FileLock(f)))
    }

    fn describe(&self) -> String {
        format!("file {}", self.dir.display())
    }
}

struct FileLock(File);
impl StoreLock for FileLock {}
impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Writes `data` to `path` atomically: a 0600 temporary file in `dir`, fsync, rename, then
/// fsync of the folder so the rename itself survives a crash.
pub(crate) fn write_atomic(dir: &Path, path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(private_perms())
        .tempfile_in(dir)
        .map_err(|e| io_err("cannot create a temporary file in", dir, e))?;
    tmp.write_all(data).map_err(|e| io_err("cannot write", tmp.path(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| io_err("cannot fsync", tmp.path(), e))?;
    tmp.persist(path).map_err(|e| io_err("cannot replace", path, e.error))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn private_perms() -> std::fs::Permissions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::Permissions::from_mode(0o600)
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(".").map(|m| m.permissions()).expect("permissions")
    }
}

/// The cache entry's JSON (shared by the file and keyring stores).
pub(crate) fn to_json(key: &CacheKey, token: &Token) -> Result<Vec<u8>> {
    let body = FileToken {
        version: 1,
        issuer: token.issuer.clone().or_else(|| Some(key.issuer.clone())),
        client_id: key.client_id.clone(),
        auth: key.auth.clone(),
        access_token: token.access_token.expose().to_string(),
        token_type: token.token_type.clone(),
        expires_at: token.expires_at,
        issued_at: token.issued_at,
        refresh_token: token.refresh_token.as_ref().map(|r| r.expose().to_string()),
        id_token: token.id_token.as_ref().map(|r| r.expose().to_string()),
        scopes: token.scopes.clone(),
    };
    serde_json::to_vec_pretty(&body).map_err(|e| Error::new(ErrorKind::Io, e.to_string()))
}

/// A token from the cache entry's JSON; `None` if it is not a valid version-1 entry.
pub(crate) fn from_json(text: &[u8]) -> Option<Token> {
    match serde_json::from_slice::<FileToken>(text) {
        Ok(f) if f.version == 1 && !f.access_token.is_empty() => Some(Token {
            access_token: AccessToken::new(f.access_token),
            token_type: f.token_type,
            expires_at: f.expires_at,
            issued_at: f.issued_at,
            refresh_token: f.refresh_token.map(RefreshToken::new),
            id_token: f.id_token.map(IdToken::new),
            scopes: f.scopes,
            issuer: f.issuer,
        }),
        _ => None,
    }
}
