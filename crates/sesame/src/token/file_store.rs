//! The file token store (docs/files-on-disk.md): `$SESAME_CACHE_DIR`, else `$XDG_CACHE_HOME/sesame`,
//! else `~/.cache/sesame`; folder 0700; one JSON file per cache key, 0600, written to a
//! temporary file in the same folder, fsynced, then renamed over the old one (so a reader
//! or a crash sees the old file or the new one, never a torn one); `<key>.lock` beside it
//! for the refresh protocol of `docs/design/token-cache.md`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::key::{KeyIdentity, SecretFingerprint};
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

/// The cache file's JSON (version 2). Holds tokens, never a client secret or password;
/// `key` is the identity of the grant it belongs to, compared on load (version 1 records
/// had none and are not used: one new grant or login replaces them).
#[derive(Serialize, Deserialize)]
struct FileToken {
    version: u32,
    key: KeyIdentity,
    /// Salted HMAC of the client secret that obtained the tokens (named so that nothing
    /// in a record reads like a secret: it is not one).
    #[serde(default, rename = "client_fingerprint", skip_serializing_if = "Option::is_none")]
    client_secret_fingerprint: Option<SecretFingerprint>,
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

const VERSION: u32 = 2;

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

    /// The bytes of a record this account wrote (0600, not a symlink, owned by it), or
    /// `None` when there is none (or one that must not be trusted, logged).
    fn read_private(&self, path: &Path, what: &str) -> Result<Option<Vec<u8>>> {
        match std::fs::symlink_metadata(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            _ => crate::permissions::check_private_dir(&self.dir, FOLDER)?,
        }
        let mut file = match open_nofollow(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if is_symlink_error(&e) => {
                // Records are written by rename, never as links: a link is someone's
                // attempt to hand this key another grant's tokens. The next save replaces
                // the link itself (rename does not follow it).
                tracing::warn!(file = %path.display(), "{what} is a symlink; not following it (it will be replaced)");
                return Ok(None);
            }
            Err(e) => return Err(io_err(&format!("cannot open the {what}"), path, e)),
        };
        let meta = file.metadata().map_err(|e| io_err("cannot stat", path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(CredentialError::UnsafePermissions {
                    path: path.to_path_buf(),
                    mode,
                }
                .into());
            }
            let me = crate::permissions::euid();
            if meta.uid() != me {
                tracing::warn!(file = %path.display(), owner = meta.uid(), "{what} is owned by another user; ignoring it (it will be replaced)");
                return Ok(None);
            }
        }
        if !meta.is_file() || meta.len() > MAX_FILE {
            tracing::warn!(file = %path.display(), "{what} is not a regular file or is too large; ignoring it (it will be replaced)");
            return Ok(None);
        }
        let mut text = Vec::new();
        (&mut file)
            .take(MAX_FILE)
            .read_to_end(&mut text)
            .map_err(|e| io_err("cannot read", path, e))?;
        Ok(Some(text))
    }

    /// The DPoP key record of a key, beside its token record.
    pub fn dpop_key_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.dpop.json", key.hash()))
    }

    /// Creates the folder (0700) if needed, and refuses one that another account owns or
    /// can write: it could plant records or symlinks there, or read what sesame writes.
    fn ensure_dir(&self) -> Result<()> {
        crate::permissions::ensure_private_dir(&self.dir, FOLDER)
    }
}

const FOLDER: &str = "token cache folder";

/// Opens an existing file without following a symlink at its last component.
fn open_nofollow(path: &Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NOFOLLOW);
    }
    o.open(path)
}

/// Whether an open failed because the path is a symlink (`O_NOFOLLOW`).
fn is_symlink_error(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{what} {}", path.display()), e)
}

impl TokenStore for FileStore {
    fn load(&self, key: &CacheKey) -> Result<Option<Token>> {
        let path = self.path_for(key);
        let Some(text) = self.read_private(&path, "token cache file")? else {
            return Ok(None);
        };
        match from_json(key, &text) {
            Decoded::Token(t) => Ok(Some(t)),
            Decoded::Corrupt => {
                // Report, never trust: the next save replaces it.
                tracing::warn!(
                    "token cache file {} is corrupt or truncated; ignoring it (it will be replaced)",
                    path.display()
                );
                Ok(None)
            }
            Decoded::NotOurs(why) => {
                tracing::warn!(
                    "token cache file {} is not used: {why}; a new token will be obtained",
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
            // A symlinked lock file would make sesame create (or open for writing) the
            // file it points at, anywhere this user can write.
            o.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        let f = o.open(&path).map_err(|e| {
            if is_symlink_error(&e) {
                Error::from(CredentialError::File {
                    what: "token cache lock file",
                    path: path.clone(),
                    message: "is a symlink; sesame does not follow it. Fix: remove it (it is created again)".into(),
                })
            } else {
                io_err("cannot open the lock file", &path, e)
            }
        })?;
        f.lock().map_err(|e| io_err("cannot lock", &path, e))?;
        Ok(Box::new(FileLock(f)))
    }

    fn describe(&self) -> String {
        format!("file {}", self.dir.display())
    }

    fn load_dpop_key(&self, key: &CacheKey) -> Result<Option<SecretString>> {
        let path = self.dpop_key_path(key);
        Ok(self
            .read_private(&path, "DPoP key file")?
            .map(|b| SecretString::from(String::from_utf8_lossy(&b).into_owned())))
    }

    fn store_dpop_key(&self, key: &CacheKey, record: SecretString, replace: bool) -> Result<SecretString> {
        self.ensure_dir()?;
        let path = self.dpop_key_path(key);
        if replace {
            write_atomic(&self.dir, &path, record.expose_secret().as_bytes())?;
            return Ok(record);
        }
        // Created complete or not at all, and never over another process's key: the first
        // process to link its file in wins, and the others read the winner's.
        let tmp = temp_file_with(&self.dir, record.expose_secret().as_bytes())?;
        match tmp.persist_noclobber(&path) {
            Ok(_) => Ok(record),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => self
                .load_dpop_key(key)?
                .ok_or_else(|| Error::config(format!("the DPoP key file {} is not usable", path.display()))),
            Err(e) => Err(io_err("cannot create", &path, e.error)),
        }
    }
    fn delete_dpop_key(&self, key: &CacheKey) -> Result<()> {
        let path = self.dpop_key_path(key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("cannot delete", &path, e)),
        }
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
    let tmp = temp_file_with(dir, data)?;
    tmp.persist(path).map_err(|e| io_err("cannot replace", path, e.error))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A 0600 temporary file in `dir` holding `data`, fsynced.
fn temp_file_with(dir: &Path, data: &[u8]) -> Result<tempfile::NamedTempFile> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .make_in(dir, |p| {
            let mut o = OpenOptions::new();
            o.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                o.mode(0o600).custom_flags(libc::O_NOFOLLOW);
            }
            o.open(p)
        })
        .map_err(|e| io_err("cannot create a temporary file in", dir, e))?;
    tmp.write_all(data).map_err(|e| io_err("cannot write", tmp.path(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| io_err("cannot fsync", tmp.path(), e))?;
    Ok(tmp)
}

/// The cache entry's JSON (shared by the file and keyring stores).
pub(crate) fn to_json(key: &CacheKey, token: &Token) -> Result<Vec<u8>> {
    let body = FileToken {
        version: VERSION,
        key: key.identity(),
        client_secret_fingerprint: key.fingerprint(),
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

/// What a cache entry turned out to hold.
pub(crate) enum Decoded {
    Token(Token),
    /// Not a valid entry (torn, truncated, an old version, not JSON).
    Corrupt,
    /// A valid entry of another grant (or obtained with another client secret): why.
    NotOurs(&'static str),
}

/// A token from the cache entry's JSON, if it is a valid entry of `key`'s grant.
pub(crate) fn from_json(key: &CacheKey, text: &[u8]) -> Decoded {
    let f = match serde_json::from_slice::<FileToken>(text) {
        Ok(f) if f.version == VERSION && !f.access_token.is_empty() => f,
        _ => return Decoded::Corrupt,
    };
    if let Some(why) = key.mismatch(&f.key, f.client_secret_fingerprint.as_ref()) {
        return Decoded::NotOurs(why);
    }
    Decoded::Token(Token {
        access_token: AccessToken::new(f.access_token),
        token_type: f.token_type,
        expires_at: f.expires_at,
        issued_at: f.issued_at,
        refresh_token: f.refresh_token.map(RefreshToken::new),
        id_token: f.id_token.map(IdToken::new),
        scopes: f.scopes,
        issuer: f.issuer,
    })
}
