//! A writer killed with SIGKILL at random points during 1,000 cache writes leaves either
//! the old or the new file — complete, valid JSON — never a torn one.

#![cfg(unix)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use sesame::token::{CacheKey, FileStore, TokenStore};

fn writer() -> PathBuf {
    // `cargo test` builds the examples next to the test binaries' folder.
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().unwrap().parent().unwrap();
    let p = debug.join("examples").join("cache_writer");
    assert!(
        p.exists(),
        "{} missing: run through `cargo test`, which builds the examples",
        p.display()
    );
    p
}

#[test]
fn sigkill_during_writes_never_leaves_a_torn_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path());
    let key = CacheKey::new("https://issuer.test", "writer", "client-credentials", &[], &[], None);
    let mut seen_files = 0;
    let mut last_index = -1i64;
    for round in 0..25u64 {
        let mut child = Command::new(writer()).arg(dir.path()).arg("1000").spawn().unwrap();
        // Pseudo-random kill points between 1 and ~40 ms.
        let delay = 1 + (round * 7919 + 13) % 40;
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let path = store.path_for(&key);
        if !path.exists() {
            continue;
        }
        seen_files += 1;
        let raw = std::fs::read(&path).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&raw)
            .unwrap_or_else(|e| panic!("round {round}: torn cache file ({} bytes): {e}", raw.len()));
        let tok = v["access_token"].as_str().unwrap();
        assert!(
            tok.starts_with("tok-") && tok.len() == 4 + 6 + 1 + 8000,
            "round {round}: bad token"
        );
        let t = store.load(&key).unwrap().expect("a valid file loads");
        let index: i64 = t.access_token.expose()[4..10].parse().unwrap();
        assert!(index >= 0);
        last_index = index;
    }
    assert!(seen_files > 0, "the writer wrote at least once before being killed");
    assert!(last_index >= 0);
}
