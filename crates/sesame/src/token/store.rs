//! Where tokens persist between processes: the [`TokenStore`] trait, the in-memory
//! store (`cache = "memory"`), and the lock a refresher holds.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Mutex;

use secrecy::SecretString;

use super::{CacheKey, Token};
use crate::Result;

/// Held while a process refreshes a key; released on drop.
pub trait StoreLock: Send {}

/// A persistent (or not) home for tokens.
pub trait TokenStore: Send + Sync + Debug {
    /// The stored token for `key`, if any. A corrupt entry is reported and treated as
    /// absent (it is replaced at the next save), never trusted.
    fn load(&self, key: &CacheKey) -> Result<Option<Token>>;
    /// Stores `token` for `key`, atomically.
    fn save(&self, key: &CacheKey, token: &Token) -> Result<()>;
    /// Removes the entry.
    fn delete(&self, key: &CacheKey) -> Result<()>;
    /// Takes the cross-process lock for `key` (blocking until it is free).
    fn lock(&self, key: &CacheKey) -> Result<Box<dyn StoreLock>>;
    /// A short description (`file /home/a/.cache/sesame`, `memory`).
    fn describe(&self) -> String;

    /// The DPoP private key record kept for `key` (docs/design/dpop.md), if any. A store
    /// that keeps none answers `None` (the key then lives as long as the process).
    fn load_dpop_key(&self, _key: &CacheKey) -> Result<Option<SecretString>> {
        Ok(None)
    }

    /// Stores `record` as the DPoP key of `key` unless one is stored already (`replace`:
    /// even then), and returns the record that is stored now: a process that lost the
    /// race uses the winner's key.
    fn store_dpop_key(&self, _key: &CacheKey, record: SecretString, _replace: bool) -> Result<SecretString> {
        Ok(record)
    }

    /// Removes the DPoP key of `key` (a logout: the next login binds its tokens to a new
    /// key, so a copy of the old key file is worth nothing). Absent is not an error.
    fn delete_dpop_key(&self, _key: &CacheKey) -> Result<()> {
        Ok(())
    }
}

/// Tokens in this process only.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, Token>>,
    dpop_keys: Mutex<HashMap<String, SecretString>>,
}

struct NoLock;
impl StoreLock for NoLock {}

impl TokenStore for MemoryStore {
    fn load(&self, key: &CacheKey) -> Result<Option<Token>> {
        Ok(self.map.lock().expect("memory store").get(key.hash()).cloned())
    }
    fn save(&self, key: &CacheKey, token: &Token) -> Result<()> {
        self.map
            .lock()
            .expect("memory store")
            .insert(key.hash().to_string(), token.clone());
        Ok(())
    }
    fn delete(&self, key: &CacheKey) -> Result<()> {
        self.map.lock().expect("memory store").remove(key.hash());
        Ok(())
    }
    fn lock(&self, _key: &CacheKey) -> Result<Box<dyn StoreLock>> {
        Ok(Box::new(NoLock))
    }
    fn describe(&self) -> String {
        "memory".into()
    }
    fn load_dpop_key(&self, key: &CacheKey) -> Result<Option<SecretString>> {
        Ok(self.dpop_keys.lock().expect("memory store").get(key.hash()).cloned())
    }
    fn store_dpop_key(&self, key: &CacheKey, record: SecretString, replace: bool) -> Result<SecretString> {
        let mut m = self.dpop_keys.lock().expect("memory store");
        if replace || !m.contains_key(key.hash()) {
            m.insert(key.hash().to_string(), record);
        }
        Ok(m[key.hash()].clone())
    }
    fn delete_dpop_key(&self, key: &CacheKey) -> Result<()> {
        self.dpop_keys.lock().expect("memory store").remove(key.hash());
        Ok(())
    }
}
