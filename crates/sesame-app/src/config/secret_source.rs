//! Where a secret comes from: `{ env = "VAR" }`, `{ file = "path" }`,
//! `{ keyring = "service:user" }`, or a literal string (accepted, with a warning).

use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use sesame::CredentialError;
use sesame::Result;

/// The source of a secret value.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Written in the file (or given on the command line). Discouraged.
    Literal(String),
    /// An environment variable.
    Env(String),
    /// A file (its first line, trailing whitespace stripped).
    File(PathBuf),
    /// An OS keyring entry `service:user`.
    Keyring(String),
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Literal(_) => f.write_str("Literal([redacted])"),
            SecretSource::Env(v) => write!(f, "Env({v})"),
            SecretSource::File(p) => write!(f, "File({})", p.display()),
            SecretSource::Keyring(k) => write!(f, "Keyring({k})"),
        }
    }
}

/// As the file writes it: a literal as a string, the others as a one-key table.
impl serde::Serialize for SecretSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let (key, value) = match self {
            SecretSource::Literal(v) => return s.serialize_str(v),
            SecretSource::Env(v) => ("env", v.clone()),
            SecretSource::File(p) => ("file", p.display().to_string()),
            SecretSource::Keyring(k) => ("keyring", k.clone()),
        };
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(key, &value)?;
        m.end()
    }
}

impl SecretSource {
    /// Reads the secret. `key` names the profile key for error messages.
    pub fn resolve(&self, key: &str) -> Result<SecretString> {
        match self {
            SecretSource::Literal(s) => Ok(SecretString::from(s.clone())),
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(SecretString::from(v.trim().to_string())),
                Ok(_) => Err(CredentialError::Config(format!(
                    "environment variable {var} (named by `{key}`) is empty; export it or change `{key}`"
                ))
                .into()),
                Err(_) => Err(CredentialError::Config(format!(
                    "environment variable {var} (named by `{key}`) is not set; export it or change `{key}`"
                ))
                .into()),
            },
            SecretSource::File(path) => {
                use std::io::Read;
                let path = super::expand_home(path);
                let cannot_read = |e: std::io::Error| {
                    CredentialError::Config(format!(
                        "cannot read {} (named by `{key}`): {e}",
                        path.display()
                    ))
                };
                // Judged by the open handle: the file checked is the file read.
                let mut file = std::fs::File::open(&path).map_err(cannot_read)?;
                let meta = file.metadata().map_err(cannot_read)?;
                sesame::permissions::check_user_secret_meta(&path, &meta, file_what(key))?;
                let mut text = String::new();
                file.read_to_string(&mut text).map_err(cannot_read)?;
                let value = text.trim();
                if value.is_empty() {
                    return Err(CredentialError::Config(format!("{} (named by `{key}`) is empty", path.display())).into());
                }
                Ok(SecretString::from(value.to_string()))
            }
            #[cfg(feature = "keyring")]
            SecretSource::Keyring(entry) => sesame::token::read_keyring_secret(entry, key),
            #[cfg(not(feature = "keyring"))]
            SecretSource::Keyring(entry) => Err(CredentialError::Config(format!(
                "`{key}` names keyring entry `{entry}`, but this build of sesame has no keyring support; use {{ env = … }} or {{ file = … }}"
            ))
            .into()),
        }
    }

    /// Whether the secret is written in the file as plain text.
    pub fn is_literal(&self) -> bool {
        matches!(self, SecretSource::Literal(_))
    }
}

/// How a secret file is named in messages, after the profile key that points at it.
fn file_what(key: &str) -> &'static str {
    match key {
        "client_secret" => "client_secret file",
        "password" => "password file",
        "token" => "token file",
        _ => "secret file",
    }
}

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretSource;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a string, or a table with one key: { env = "VAR" }, { file = "path" } or { keyring = "service:user" }"#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<SecretSource, E> {
                Ok(SecretSource::Literal(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<SecretSource, A::Error> {
                let Some((k, v)) = map.next_entry::<String, String>()? else {
                    return Err(de::Error::custom(
                        r#"empty table: use { env = "VAR" }, { file = "path" } or { keyring = "service:user" }"#,
                    ));
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom(
                        "a secret table takes exactly one of `env`, `file`, `keyring`",
                    ));
                }
                match k.as_str() {
                    "env" => Ok(SecretSource::Env(v)),
                    "file" => Ok(SecretSource::File(PathBuf::from(v))),
                    "keyring" => Ok(SecretSource::Keyring(v)),
                    other => {
                        let hint = super::did_you_mean(other, &["env", "file", "keyring"])
                            .map(|h| format!(" (did you mean `{h}`?)"))
                            .unwrap_or_default();
                        Err(de::Error::custom(format!(
                            "unknown secret source `{other}`{hint}: use env, file or keyring"
                        )))
                    }
                }
            }
        }
        d.deserialize_any(V)
    }
}
