//! The rules for files that hold secrets or decide where secrets go (docs/files-on-disk.md,
//! `docs/design/files-and-permissions.md`):
//!
//! - [`check_private`]: the ssh rule (netrc, keys, proxies, cache files): refused when
//!   group or others may read or write.
//! - [`check_user_secret_file`]: a file the user named (`--token-file`, `{ file = … }`, the
//!   configuration file): refused when group or others may *write* it (someone else could
//!   swap the secret), a warning when they may read it.
//! - [`discovered_file_problem`]: a file sesame *found* in a conventional place (`/tmp`,
//!   `$XDG_RUNTIME_DIR`, variables): passed over unless owned by this process's effective
//!   uid and not writable by group or others — another account can create `/tmp/bt_u<uid>`
//!   before the user does.
//! - [`check_private_dir`]: a folder sesame keeps secrets in must be owned by the effective
//!   uid and not writable by group or others.
//!
//! On non-Unix systems there are no mode bits or owners to check.

use std::path::Path;

use crate::error::CredentialError;

/// Errors if `path` is readable or writable by group or others.
#[cfg(unix)]
pub fn check_private(path: &Path, what: &'static str) -> Result<(), CredentialError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| CredentialError::File {
        what,
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o066 != 0 {
        return Err(CredentialError::UnsafePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Errors if `path` is readable or writable by group or others.
#[cfg(not(unix))]
pub fn check_private(_path: &Path, _what: &'static str) -> Result<(), CredentialError> {
    Ok(())
}

/// The effective uid of this process: the account whose files discovered credentials must be.
#[cfg(unix)]
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// For a file holding a secret that the user pointed at: refuses it (typed error naming
/// the file) when group or others can write it, and logs a warning when they can read it.
/// `meta` is the file's metadata (from the open handle where there is one).
#[cfg(unix)]
pub fn check_user_secret_meta(
    path: &Path,
    meta: &std::fs::Metadata,
    what: &'static str,
) -> Result<(), CredentialError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        // Another account could replace the secret (send the user's requests with its
        // own credential) or plant one: never use it.
        return Err(CredentialError::UnsafeWritable {
            what,
            path: path.to_path_buf(),
            mode,
        });
    }
    if mode & 0o044 != 0 {
        tracing::warn!(
            "{what} {} can be read by other users (mode {mode:04o}); fix: chmod 600 {}",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_user_secret_meta(
    _path: &Path,
    _meta: &std::fs::Metadata,
    _what: &'static str,
) -> Result<(), CredentialError> {
    Ok(())
}

/// [`check_user_secret_meta`] by path (following symlinks, as a user-named path should).
pub fn check_user_secret_file(path: &Path, what: &'static str) -> Result<(), CredentialError> {
    let meta = std::fs::metadata(path).map_err(|e| CredentialError::File {
        what,
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    check_user_secret_meta(path, &meta, what)
}

/// Why a discovered file must not be used, or `None` when it may: it must be owned by the
/// effective uid and not writable by group or others. `link` is the `lstat` of the path
/// when it is a symlink (the link itself must be ours too: in a sticky `/tmp` anyone can
/// plant a link to a file of ours that was never meant for this).
#[cfg(unix)]
pub fn discovered_file_problem(meta: &std::fs::Metadata, link: Option<&std::fs::Metadata>) -> Option<String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let me = euid();
    if let Some(l) = link
        && l.uid() != me
    {
        return Some(format!(
            "a symlink owned by uid {}, not by this user (uid {me}); not used (planted by another account?)",
            l.uid()
        ));
    }
    if meta.uid() != me {
        return Some(format!(
            "owned by uid {}, not by this user (uid {me}); not used (planted by another account?)",
            meta.uid()
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Some(format!(
            "writable by group or others (mode {mode:04o}); not used (fix: chmod 600 the file)"
        ));
    }
    None
}

#[cfg(not(unix))]
pub fn discovered_file_problem(_meta: &std::fs::Metadata, _link: Option<&std::fs::Metadata>) -> Option<String> {
    None
}

/// [`discovered_file_problem`] by path; `Ok(None)` when fine, `Err` when it cannot be
/// looked at (the caller decides what a missing file means).
pub fn discovered_path_problem(path: &Path) -> std::io::Result<Option<String>> {
    let l = std::fs::symlink_metadata(path)?;
    let meta = std::fs::metadata(path)?;
    let link = l.file_type().is_symlink().then_some(&l);
    Ok(discovered_file_problem(&meta, link))
}

/// Errors unless `dir` is owned by the effective uid and not writable by group or others
/// (another account could otherwise add, swap or symlink the files in it).
#[cfg(unix)]
pub fn check_private_dir(dir: &Path, what: &'static str) -> Result<(), CredentialError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // A symlinked folder is judged by the link's own owner, then by its target.
    let meta = std::fs::metadata(dir).map_err(|e| CredentialError::File {
        what,
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let me = euid();
    if let Ok(l) = std::fs::symlink_metadata(dir)
        && l.file_type().is_symlink()
        && l.uid() != me
    {
        return Err(CredentialError::UnsafeFolder {
            what,
            path: dir.to_path_buf(),
            problem: format!("is a symlink owned by uid {}, not by this user (uid {me})", l.uid()),
            fix: "remove it; sesame creates the folder itself".into(),
        });
    }
    if !meta.is_dir() {
        return Err(CredentialError::UnsafeFolder {
            what,
            path: dir.to_path_buf(),
            problem: "is not a folder".into(),
            fix: "remove it, or choose another folder".into(),
        });
    }
    if meta.uid() != me {
        return Err(CredentialError::UnsafeFolder {
            what,
            path: dir.to_path_buf(),
            problem: format!("is owned by uid {}, not by this user (uid {me})", meta.uid()),
            fix: "remove it (sesame creates it again, mode 0700), or choose a folder of your own".into(),
        });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(CredentialError::UnsafeFolder {
            what,
            path: dir.to_path_buf(),
            problem: format!("is writable by group or others (mode {mode:04o})"),
            fix: format!("chmod 700 {}", dir.display()),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_private_dir(_dir: &Path, _what: &'static str) -> Result<(), CredentialError> {
    Ok(())
}

/// Creates `dir` (and its parents) with mode 0700 if it does not exist, then applies
/// [`check_private_dir`] to it — whether sesame just created it or found it.
pub fn ensure_private_dir(dir: &Path, what: &'static str) -> crate::Result<()> {
    if std::fs::symlink_metadata(dir).is_err() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)
            .map_err(|e| crate::Error::io(format!("cannot create the {what} {}", dir.display()), e))?;
    }
    check_private_dir(dir, what)?;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn user_secret_files_refuse_writable_and_accept_readable() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("s");
        std::fs::write(&f, "x").unwrap();
        chmod(&f, 0o666);
        let e = check_user_secret_file(&f, "secret file").unwrap_err();
        assert!(matches!(e, CredentialError::UnsafeWritable { .. }), "{e}");
        assert!(e.to_string().contains(&f.display().to_string()), "{e}");
        chmod(&f, 0o620);
        assert!(check_user_secret_file(&f, "secret file").is_err());
        chmod(&f, 0o644);
        check_user_secret_file(&f, "secret file").unwrap();
    }

    #[test]
    fn private_dirs_refuse_group_or_other_writable() {
        let d = tempfile::tempdir().unwrap();
        chmod(d.path(), 0o700);
        check_private_dir(d.path(), "token cache folder").unwrap();
        chmod(d.path(), 0o777);
        let e = check_private_dir(d.path(), "token cache folder").unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("writable by group or others") && s.contains("chmod 700"),
            "{s}"
        );
        chmod(d.path(), 0o700);
    }
}
