//! The ssh rule for files holding secrets: refuse them when other users may read or
//! write them (SPEC §4). On non-Unix systems there are no mode bits to check.

use std::path::Path;

use crate::error::CredentialError;

/// Errors if `path` is readable or writable by group or others.
#[cfg(unix)]
pub(crate) fn check_private(path: &Path, what: &'static str) -> Result<(), CredentialError> {
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
pub(crate) fn check_private(_path: &Path, _what: &'static str) -> Result<(), CredentialError> {
    Ok(())
}
