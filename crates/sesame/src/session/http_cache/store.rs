//! Where entries live: in memory or in files. Kept apart because the stores are about
//! bytes, eviction and file safety (private folder, salt shared between processes,
//! atomic replacement), none of which the freshness rules need to know.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::DEFAULT_MAX_ENTRY;
use super::entry::{Entry, MAX_META, decode_entry, encode_entry};
use super::key::Key;
use crate::{Error, Result};

/// What the cache asks of a store; every call is safe from several threads, and the disk
/// store's also from several processes.
pub(super) trait Store: Send + Sync {
    fn get(&self, key: &Key) -> Option<Entry>;
    fn put(&self, key: &Key, entry: &Entry) -> Result<()>;
    fn remove(&self, key: &Key);
    /// Removes every identity's entry for a URL key; returns how many.
    fn remove_url(&self, url_key: &str) -> u64;
    fn touch(&self, key: &Key);
    fn clear(&self) -> Result<()>;
    fn size(&self) -> u64;
    fn salt(&self) -> &[u8];
    fn describe(&self) -> String;
    fn clone_box(&self) -> Box<dyn Store>;
}

struct MemSlot {
    entry: Entry,
    used: u64,
}

/// The entries of an in-memory cache, least recently used evicted first.
#[derive(Clone)]
pub(super) struct MemoryEntries {
    inner: Arc<Mutex<MemInner>>,
    salt: Arc<[u8; 32]>,
}

struct MemInner {
    map: HashMap<String, HashMap<String, MemSlot>>,
    bytes: u64,
    max: u64,
    tick: u64,
}

impl MemoryEntries {
    pub(super) fn new(max: u64) -> Self {
        MemoryEntries {
            inner: Arc::new(Mutex::new(MemInner {
                map: HashMap::new(),
                bytes: 0,
                max,
                tick: 0,
            })),
            salt: Arc::new(rand::random()),
        }
    }
}

impl MemInner {
    fn evict(&mut self) {
        while self.bytes > self.max {
            let oldest = self
                .map
                .iter()
                .flat_map(|(u, m)| m.iter().map(move |(i, s)| (s.used, u.clone(), i.clone())))
                .min();
            let Some((_, u, i)) = oldest else { break };
            if let Some(m) = self.map.get_mut(&u) {
                if let Some(s) = m.remove(&i) {
                    self.bytes -= s.entry.size();
                }
                if m.is_empty() {
                    self.map.remove(&u);
                }
            }
        }
    }
}

impl Store for MemoryEntries {
    fn get(&self, key: &Key) -> Option<Entry> {
        let g = self.inner.lock().expect("http cache");
        g.map.get(&key.url)?.get(&key.ident).map(|s| s.entry.clone())
    }
    fn put(&self, key: &Key, entry: &Entry) -> Result<()> {
        let mut g = self.inner.lock().expect("http cache");
        if entry.size() > g.max {
            return Ok(());
        }
        g.tick += 1;
        let used = g.tick;
        let old = g.map.entry(key.url.clone()).or_default().insert(
            key.ident.clone(),
            MemSlot {
                entry: entry.clone(),
                used,
            },
        );
        if let Some(o) = old {
            g.bytes -= o.entry.size();
        }
        g.bytes += entry.size();
        g.evict();
        Ok(())
    }
    fn remove(&self, key: &Key) {
        let mut g = self.inner.lock().expect("http cache");
        let removed = g.map.get_mut(&key.url).and_then(|m| m.remove(&key.ident));
        if let Some(s) = removed {
            g.bytes -= s.entry.size();
        }
    }
    fn remove_url(&self, url_key: &str) -> u64 {
        let mut g = self.inner.lock().expect("http cache");
        match g.map.remove(url_key) {
            Some(m) => {
                let n = m.len() as u64;
                for s in m.values() {
                    g.bytes -= s.entry.size();
                }
                n
            }
            None => 0,
        }
    }
    fn touch(&self, key: &Key) {
        let mut g = self.inner.lock().expect("http cache");
        g.tick += 1;
        let t = g.tick;
        if let Some(s) = g.map.get_mut(&key.url).and_then(|m| m.get_mut(&key.ident)) {
            s.used = t;
        }
    }
    fn clear(&self) -> Result<()> {
        let mut g = self.inner.lock().expect("http cache");
        g.map.clear();
        g.bytes = 0;
        Ok(())
    }
    fn size(&self) -> u64 {
        self.inner.lock().expect("http cache").bytes
    }
    fn salt(&self) -> &[u8] {
        &self.salt[..]
    }
    fn describe(&self) -> String {
        "memory".into()
    }
    fn clone_box(&self) -> Box<dyn Store> {
        Box::new(self.clone())
    }
}

/// The entries of an on-disk cache: one file per entry under a private folder.
#[derive(Clone)]
pub(super) struct DiskStore {
    dir: PathBuf,
    max: u64,
    salt: Arc<Vec<u8>>,
}

impl DiskStore {
    pub(super) fn open(dir: PathBuf, max: u64) -> Result<Self> {
        create_private_dir(&dir)?;
        let salt = load_or_create_salt(&dir)?;
        Ok(DiskStore {
            dir,
            max,
            salt: Arc::new(salt),
        })
    }

    fn path(&self, key: &Key) -> PathBuf {
        self.dir.join(key.file_name())
    }

    fn read(&self, path: &Path, key: &Key) -> Option<Entry> {
        let mut f = File::open(path).ok()?;
        let len = f.metadata().ok()?.len();
        if len > (DEFAULT_MAX_ENTRY.max(64 * 1024 * 1024) + MAX_META + 64) as u64 {
            return None;
        }
        let mut data = Vec::with_capacity(len as usize);
        f.read_to_end(&mut data).ok()?;
        let e = decode_entry(&data)?;
        (e.0.url_key == key.url && e.0.ident == key.ident).then_some(e.1)
    }

    fn evict(&self) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else { return };
        let mut files = Vec::new();
        let mut total = 0u64;
        let now = SystemTime::now();
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let Ok(meta) = e.metadata() else { continue };
            if name.starts_with(".tmp-") {
                // A writer that died: remove after a while.
                if meta
                    .modified()
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|d| d > Duration::from_secs(600))
                {
                    let _ = std::fs::remove_file(e.path());
                }
                continue;
            }
            if !name.ends_with(".hc") {
                continue;
            }
            total += meta.len();
            files.push((meta.modified().unwrap_or(UNIX_EPOCH), meta.len(), e.path()));
        }
        if total <= self.max {
            return;
        }
        files.sort();
        let target = self.max / 10 * 9;
        for (_, len, path) in files {
            if total <= target {
                break;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => total = total.saturating_sub(len),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => total = total.saturating_sub(len),
                Err(_) => {}
            }
        }
    }
}

impl Store for DiskStore {
    fn get(&self, key: &Key) -> Option<Entry> {
        let path = self.path(key);
        if !path.exists() {
            return None;
        }
        match self.read(&path, key) {
            Some(e) => Some(e),
            None => {
                tracing::debug!(file = %path.display(), "http cache: ignoring an unreadable or corrupt entry");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }
    fn put(&self, key: &Key, entry: &Entry) -> Result<()> {
        let data = encode_entry(key, entry)?;
        if data.len() as u64 > self.max {
            return Ok(());
        }
        write_atomic(&self.dir, &self.path(key), &data)?;
        self.evict();
        Ok(())
    }
    fn remove(&self, key: &Key) {
        let _ = std::fs::remove_file(self.path(key));
    }
    fn remove_url(&self, url_key: &str) -> u64 {
        let prefix = format!("{url_key}-");
        let Ok(rd) = std::fs::read_dir(&self.dir) else { return 0 };
        let mut n = 0;
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".hc") && std::fs::remove_file(e.path()).is_ok() {
                n += 1;
            }
        }
        n
    }
    fn touch(&self, key: &Key) {
        if let Ok(f) = OpenOptions::new().write(true).open(self.path(key)) {
            let _ = f.set_modified(SystemTime::now());
        }
    }
    fn clear(&self) -> Result<()> {
        let rd =
            std::fs::read_dir(&self.dir).map_err(|e| Error::io(format!("cannot list {}", self.dir.display()), e))?;
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().ends_with(".hc") {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(())
    }
    fn size(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".hc"))
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }
    fn salt(&self) -> &[u8] {
        &self.salt
    }
    fn describe(&self) -> String {
        format!("file {}", self.dir.display())
    }
    fn clone_box(&self) -> Box<dyn Store> {
        Box::new(self.clone())
    }
}

/// Creates the folder 0700, and refuses an existing one that another account owns or can
/// write: it could plant responses (served as the API's) or read cached bodies.
fn create_private_dir(dir: &Path) -> Result<()> {
    crate::permissions::ensure_private_dir(dir, "HTTP cache folder")
}

fn load_or_create_salt(dir: &Path) -> Result<Vec<u8>> {
    let path = dir.join("salt");
    let read = || std::fs::read(&path).ok().filter(|s| s.len() == 32);
    if let Some(s) = read() {
        return Ok(s);
    }
    let salt: [u8; 32] = rand::random();
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(format!("cannot create a file in {}", dir.display()), e))?;
    tmp.write_all(&salt)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io("cannot write the HTTP cache salt", e))?;
    // The first writer wins and the others read its salt; a damaged salt file is replaced
    // (the entries keyed with it become unreachable and age out).
    match tmp.persist_noclobber(&path) {
        Ok(_) => Ok(salt.to_vec()),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => match read() {
            Some(s) => Ok(s),
            None => {
                e.file
                    .persist(&path)
                    .map_err(|e| Error::io(format!("cannot replace {}", path.display()), e.error))?;
                Ok(salt.to_vec())
            }
        },
        Err(e) => Err(Error::io(format!("cannot create {}", path.display()), e.error)),
    }
}

/// Writes `data` to `path` atomically: a 0600 temporary file in `dir`, fsync, rename.
fn write_atomic(dir: &Path, path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(format!("cannot create a temporary file in {}", dir.display()), e))?;
    tmp.write_all(data)
        .map_err(|e| Error::io(format!("cannot write {}", tmp.path().display()), e))?;
    tmp.as_file()
        .sync_data()
        .map_err(|e| Error::io(format!("cannot fsync {}", tmp.path().display()), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(format!("cannot replace {}", path.display()), e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::entry::tests::entry;
    use super::super::key::Identity;
    use super::*;
    use url::Url;

    #[test]
    fn a_damaged_salt_is_replaced_and_then_shared() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("salt"), b"short").unwrap();
        let a = DiskStore::open(d.path().to_path_buf(), 1 << 20).unwrap();
        assert_eq!(a.salt().len(), 32);
        let b = DiskStore::open(d.path().to_path_buf(), 1 << 20).unwrap();
        assert_eq!(a.salt(), b.salt(), "a second process keys entries the same way");
    }

    #[test]
    fn a_corrupt_file_is_a_miss_and_is_removed() {
        let d = tempfile::tempdir().unwrap();
        let store = DiskStore::open(d.path().to_path_buf(), 1 << 20).unwrap();
        let (key, e) = entry(b"body");
        store.put(&key, &e).unwrap();
        assert!(store.get(&key).is_some());
        let path = store.path(&key);
        let mut data = std::fs::read(&path).unwrap();
        data.truncate(data.len() - 2);
        std::fs::write(&path, &data).unwrap();
        assert!(store.get(&key).is_none());
        assert!(!path.exists());
    }

    #[test]
    fn memory_entries_evict_least_recently_used() {
        let s = MemoryEntries::new(3 * 1024 + 3 * 10);
        let url = |i: u32| Url::parse(&format!("https://h/{i}")).unwrap();
        let keys: Vec<Key> = (0..4).map(|i| Key::new(&url(i), &Identity(vec![0]), b"s")).collect();
        let (_, e) = entry(b"0123456789");
        for k in &keys[..3] {
            s.put(k, &e).unwrap();
        }
        s.touch(&keys[0]);
        s.put(&keys[3], &e).unwrap();
        assert!(s.get(&keys[0]).is_some(), "recently used stays");
        assert!(s.get(&keys[1]).is_none(), "least recently used goes");
        assert!(s.size() <= 3 * 1024 + 30);
    }
}
