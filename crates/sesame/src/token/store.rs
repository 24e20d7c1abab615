//! Where tokens persist between processes: the [`TokenStore`] trait, the in-memory
//! store (`cache = "memory"`), and the lock a refresher holds.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Mutex;

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
}

/// Tokens in this process only.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, Token>>,
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
}
