//! The OS keyring token store (`cache = "keyring"`, cargo feature `keyring`): macOS
//! Keychain, Windows Credential Manager, the Secret Service on Linux, through the
//! `keyring` crate v4. Every keyring call is time-boxed — a keyring daemon that does not
//! answer must not hang a command — and when no keyring service answers at start-up the
//! file store is used instead, with a visible note. The cross-process lock stays a file
//! lock in the cache folder (keyrings have none).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use super::file_store::{Decoded, FileStore, from_json, to_json};
use super::store::{StoreLock, TokenStore};
use super::{CacheKey, Token};
use crate::{Error, ErrorKind, Result};

/// Longest a keyring call may take.
pub const KEYRING_TIMEOUT: Duration = Duration::from_secs(3);
const SERVICE: &str = "sesame";

/// Tokens in the OS keyring.
#[derive(Debug)]
pub struct KeyringStore {
    locks: FileStore,
}

/// Runs `f` on a helper thread and gives up after `limit`.
fn timeboxed<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("sesame-keyring".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .ok()?;
    rx.recv_timeout(limit).ok()
}

/// A secret source `{ keyring = "service:user" }`: the entry's password, time-boxed like
/// every keyring call. `key` names the profile key for messages; the value never appears.
pub fn read_secret(entry: &str, key: &str) -> Result<secrecy::SecretString> {
    use crate::error::CredentialError;
    let Some((service, user)) = entry.split_once(':').filter(|(s, u)| !s.is_empty() && !u.is_empty()) else {
        return Err(CredentialError::Config(format!(
            "`{key}` names keyring entry `{entry}`; write it as \"service:user\""
        ))
        .into());
    };
    let (service, user) = (service.to_string(), user.to_string());
    let got = timeboxed(KEYRING_TIMEOUT, move || {
        keyring::Entry::new(&service, &user).and_then(|e| e.get_password())
    });
    let fail = |why: String| -> Error {
        CredentialError::Config(format!("cannot read keyring entry `{entry}` (named by `{key}`): {why}")).into()
    };
    match got {
        Some(Ok(v)) if !v.trim().is_empty() => Ok(secrecy::SecretString::from(v.trim().to_string())),
        Some(Ok(_)) => Err(fail("it is empty".into())),
        Some(Err(keyring::Error::NoEntry)) => Err(fail("no such entry".into())),
        Some(Err(e)) => Err(fail(e.to_string())),
        None => Err(fail(format!(
            "the OS keyring did not answer within {} s",
            KEYRING_TIMEOUT.as_secs()
        ))),
    }
}

impl KeyringStore {
    /// The keyring store if a keyring service answers within [`KEYRING_TIMEOUT`], else the
    /// file store in `dir` (with a note on stderr saying so).
    pub fn open_or_file(dir: PathBuf) -> Arc<dyn TokenStore> {
        let probe = timeboxed(KEYRING_TIMEOUT, || -> std::result::Result<(), String> {
            let entry = keyring::Entry::new(SERVICE, "sesame-probe").map_err(|e| e.to_string())?;
            match entry.get_password() {
                Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        });
        let reason = match probe {
            Some(Ok(())) => {
                return Arc::new(KeyringStore {
                    locks: FileStore::new(dir),
                });
            }
            Some(Err(e)) => e,
            None => format!("no answer within {} s", KEYRING_TIMEOUT.as_secs()),
        };
        // Logged, not printed: the engine never writes to the terminal; the front ends
        // show warnings (the CLI's default filter includes them).
        tracing::warn!(
            "no OS keyring service answered ({reason}); keeping tokens in the file cache {}",
            dir.display()
        );
        Arc::new(FileStore::new(dir))
    }

    fn call<T: Send + 'static>(
        &self,
        what: &str,
        f: impl FnOnce() -> std::result::Result<T, keyring::Error> + Send + 'static,
    ) -> Result<std::result::Result<T, keyring::Error>> {
        timeboxed(KEYRING_TIMEOUT, f).ok_or_else(|| {
            Error::new(
                ErrorKind::Io,
                format!(
                    "the OS keyring did not answer within {} s ({what}); use cache = \"file\"",
                    KEYRING_TIMEOUT.as_secs()
                ),
            )
        })
    }
}

fn kr_err(what: &str, e: keyring::Error) -> Error {
    Error::new(ErrorKind::Io, format!("OS keyring {what} failed: {e}"))
}

impl TokenStore for KeyringStore {
    fn load(&self, key: &CacheKey) -> Result<Option<Token>> {
        let user = key.hash().to_string();
        match self.call("read", move || keyring::Entry::new(SERVICE, &user)?.get_password())? {
            Ok(text) => match from_json(key, text.as_bytes()) {
                Decoded::Token(t) => Ok(Some(t)),
                Decoded::Corrupt => {
                    tracing::warn!("the keyring entry for this profile is corrupt; ignoring it (it will be replaced)");
                    Ok(None)
                }
                Decoded::NotOurs(why) => {
                    tracing::warn!(
                        "the keyring entry for this profile is not used: {why}; a new token will be obtained"
                    );
                    Ok(None)
                }
            },
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(kr_err("read", e)),
        }
    }

    fn save(&self, key: &CacheKey, token: &Token) -> Result<()> {
        let user = key.hash().to_string();
        let json = String::from_utf8(to_json(key, token)?).map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
        self.call("write", move || {
            keyring::Entry::new(SERVICE, &user)?.set_password(&json)
        })?
        .map_err(|e| kr_err("write", e))
    }

    fn delete(&self, key: &CacheKey) -> Result<()> {
        let user = key.hash().to_string();
        match self.call("delete", move || {
            keyring::Entry::new(SERVICE, &user)?.delete_credential()
        })? {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(kr_err("delete", e)),
        }
    }

    fn lock(&self, key: &CacheKey) -> Result<Box<dyn StoreLock>> {
        self.locks.lock(key)
    }

    fn describe(&self) -> String {
        "OS keyring".into()
    }

    fn load_dpop_key(&self, key: &CacheKey) -> Result<Option<secrecy::SecretString>> {
        let user = format!("{}.dpop", key.hash());
        match self.call("read", move || keyring::Entry::new(SERVICE, &user)?.get_password())? {
            Ok(text) => Ok(Some(text.into())),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(kr_err("read", e)),
        }
    }

    fn store_dpop_key(
        &self,
        key: &CacheKey,
        record: secrecy::SecretString,
        replace: bool,
    ) -> Result<secrecy::SecretString> {
        // Keyrings have no create-if-absent: the cache folder's lock file of the key stands
        // in for one, so that two processes making a key at once end up with one.
        let _lock = self.locks.lock(key)?;
        if !replace && let Some(existing) = self.load_dpop_key(key)? {
            return Ok(existing);
        }
        let user = format!("{}.dpop", key.hash());
        let text = secrecy::ExposeSecret::expose_secret(&record).to_string();
        self.call("write", move || {
            keyring::Entry::new(SERVICE, &user)?.set_password(&text)
        })?
        .map_err(|e| kr_err("write", e))?;
        Ok(record)
    }
    fn delete_dpop_key(&self, key: &CacheKey) -> Result<()> {
        let user = format!("{}.dpop", key.hash());
        match self.call("delete", move || {
            keyring::Entry::new(SERVICE, &user)?.delete_credential()
        })? {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(kr_err("delete", e)),
        }
    }
}
