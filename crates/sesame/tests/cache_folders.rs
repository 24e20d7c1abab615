//! The folders sesame keeps tokens and responses in must be the user's own (issue 13,
//! item 3; `docs/design/files-and-permissions.md`): the HTTP response cache folder follows
//! the same rule as the token cache folder (tested in `token_source.rs`).

#![cfg(unix)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use sesame::session::http_cache::HttpCache;

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn folder_error(dir: &Path) -> String {
    let e = HttpCache::disk(dir, 1 << 20).expect_err("the folder is refused");
    assert!(
        matches!(e.as_credential(), Some(sesame::CredentialError::UnsafeFolder { .. })),
        "{e}"
    );
    let s = e.to_string();
    assert!(
        s.contains("HTTP cache folder") && s.contains(&dir.display().to_string()),
        "{s}"
    );
    s
}

#[test]
fn other_writable_http_cache_folder_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("http");
    HttpCache::disk(&dir, 1 << 20).unwrap();
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700,
        "created 0700"
    );
    for mode in [0o777, 0o775, 0o702] {
        chmod(&dir, mode);
        let s = folder_error(&dir);
        assert!(
            s.contains("writable by group or others") && s.contains("chmod 700"),
            "{s}"
        );
    }
    chmod(&dir, 0o755);
    HttpCache::disk(&dir, 1 << 20).unwrap();
}

#[test]
fn http_cache_folder_owned_by_another_uid_is_refused() {
    let d = tempfile::tempdir().unwrap();
    if std::fs::metadata(d.path()).unwrap().uid() != 0 {
        println!("SKIPPED http_cache_folder_owned_by_another_uid_is_refused: needs root to chown the folder");
        return;
    }
    let dir = d.path().join("http");
    std::fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o700);
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    let s = folder_error(&dir);
    assert!(s.contains("owned by uid 65534"), "{s}");
    // A symlink to it is judged by its target (and by its own owner).
    let link = d.path().join("link");
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    assert!(folder_error(&link).contains("owned by uid 65534"));
}
