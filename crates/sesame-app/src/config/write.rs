//! Writing a profile into the configuration file: `sesame config init`, `sesame register
//! --save-profile` and Python's `register(save_profile=…)` share it.
//!
//! The file is edited, not regenerated (`toml_edit`): comments, order and other profiles
//! stay as the person wrote them. The new text is read back as sesame will read it before
//! anything is written, so a profile that would be refused at the first request is refused
//! now. Secrets are never written as plain text: a caller gives a reference, and a secret
//! sesame received (a registered client's) goes to a 0600 file the profile names.

use std::io::Write;
use std::path::{Path, PathBuf};

use sesame::{Error, Result};

use super::{Config, Profile, SecretSource};

/// How [`write_profile`] treats what is already there.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// Replace a profile of the same name (else that is an error).
    pub force: bool,
    /// Make it the file's `default_profile`.
    pub make_default: bool,
}

/// A profile name sesame can write and read back: letters, digits, `-`, `_` and `.`.
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::config(format!(
            "profile name `{name}`: use letters, digits, `-`, `_` and `.`"
        )));
    }
    Ok(())
}

/// The configuration file a profile is written to: `explicit`, else `$SESAME_CONFIG`, else
/// the default place.
pub fn config_path(explicit: Option<&Path>) -> Result<PathBuf> {
    Config::locate(explicit)
        .map(|(p, _)| p)
        .ok_or_else(|| Error::config("no place for the configuration file: name one explicitly or set $SESAME_CONFIG"))
}

/// Adds `profile` as `name` to the configuration file at `path` (created if missing),
/// after checking it as sesame will read it. Literal secrets are refused.
pub fn write_profile(path: &Path, name: &str, profile: &Profile, opts: WriteOptions) -> Result<()> {
    check_name(name)?;
    for (key, s) in [
        ("client_secret", &profile.client_secret),
        ("password", &profile.password),
        ("token", &profile.token),
    ] {
        if s.as_ref().is_some_and(SecretSource::is_literal) {
            return Err(Error::config(format!(
                "`{key}` would be written as plain text; give a reference (env, file or keyring)"
            )));
        }
    }
    let old = read_or_empty(path)?;
    let text = updated_text(&old, path, name, profile, opts)?;
    check_text(&text, path, name)?;
    write_atomically(path, &text)
}

/// The file's text (empty when there is no file yet).
pub(crate) fn read_or_empty(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
    }
}

/// Reads `text` back as sesame will: unknown keys, bad values and keys the kind does not
/// use are refused now, not at the first request.
pub(crate) fn check_text(text: &str, path: &Path, name: &str) -> Result<()> {
    let config = Config::from_toml_str(text, path)?;
    let resolved = config.resolve(Some(name), Profile::default())?;
    super::applies::check(&resolved).map(drop)
}

/// The file's text with the profile added (or replaced, with `force`).
pub fn updated_text(old: &str, path: &Path, name: &str, profile: &Profile, opts: WriteOptions) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = old
        .parse()
        .map_err(|e| Error::config(format!("{} is not valid TOML: {e}", path.display())))?;
    let table_text =
        toml::to_string(profile).map_err(|e| Error::config(format!("cannot write the profile as TOML: {e}")))?;
    let mut new_table = table_text
        .parse::<toml_edit::DocumentMut>()
        .map_err(|e| Error::config(format!("cannot write the profile as TOML: {e}")))?
        .as_table()
        .clone();
    // Secrets as `client_secret = { env = "VAR" }`, the way the docs write them.
    for (_, item) in new_table.iter_mut() {
        if let Some(t) = item.as_table() {
            *item = toml_edit::Item::Value(toml_edit::Value::InlineTable(t.clone().into_inline_table()));
        }
    }
    new_table.fmt();
    let profiles = doc
        .entry("profiles")
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_mut()
        .ok_or_else(|| Error::config(format!("{}: `profiles` is not a table", path.display())))?;
    if profiles.contains_key(name) && !opts.force {
        return Err(
            Error::config(format!("profile `{name}` already exists in {}", path.display()))
                .with_hint(sesame::Hint::ReplaceProfile),
        );
    }
    profiles.insert(name, toml_edit::Item::Table(new_table));
    if opts.make_default {
        doc.insert("default_profile", toml_edit::value(name));
    }
    Ok(doc.to_string())
}

/// Replaces `path` with `text`: a 0600 temporary file in the same folder (created 0700 if
/// missing), synced, renamed over it — a reader sees the old file or the new one.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    }
    let io = |e: std::io::Error| Error::io(format!("cannot write {}", path.display()), e);
    // tempfile creates the file 0600 (O_EXCL, no other reader ever sees it).
    let mut tmp = tempfile::Builder::new()
        .prefix(".config.toml.")
        .tempfile_in(&dir)
        .map_err(io)?;
    tmp.write_all(text.as_bytes()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
