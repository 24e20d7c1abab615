//! The configuration file (docs/configuration.md) and profile resolution.
//!
//! The file is `$SESAME_CONFIG`, else `$XDG_CONFIG_HOME/sesame/config.toml`, else
//! `~/.config/sesame/config.toml`. A missing file at the default place is fine; a file
//! named explicitly (flag or `$SESAME_CONFIG`) must exist. Errors name the file, the line
//! and the key, and unknown keys get a "did you mean" hint.
//!
//! A profile's effective settings are layered: command-line arguments over `SESAME_<KEY>`
//! environment variables over the file ([`Config::resolve`]).
//!
//! ```
//! use sesame_app::config::{Config, Profile};
//! let cfg = Config::from_toml_str(r#"
//!     default_profile = "api"
//!     [profiles.api]
//!     base_url = "https://api.example.com/v1/"
//!     auth = "bearer"
//!     token = { env = "API_TOKEN" }
//! "#, "example.toml").unwrap();
//! let p = cfg.profile(None).unwrap();
//! assert_eq!(p.name, "api");
//! ```

pub mod applies;
mod build;
mod json_grant;
mod oauth;
mod profile;
mod secret_source;
pub mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use build::{BuildOptions, credential_for, session_builder, session_builder_with};
pub use json_grant::{GrantBody, GrantValue};
pub use oauth::{OAuthParts, cluster_store, cluster_store_of, oauth_parts, provider_source, store_for};
pub use profile::{AuthKind, DpopSetting, OneOrMany, Ports, Profile};
pub use secret_source::SecretSource;

use sesame::ConfigError;
use sesame::{Error, Result};

/// The parsed configuration file.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file it came from (`None` when there was none).
    pub path: Option<PathBuf>,
    /// `default_profile` from the file.
    pub default_profile: Option<String>,
    /// Profiles by name.
    pub profiles: BTreeMap<String, Profile>,
    /// Warnings for the user (plain-text secrets in the file), to print on stderr.
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    default_profile: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

const TOP_KEYS: &[&str] = &["default_profile", "profiles"];

/// A profile chosen and layered: its name and its settings.
#[derive(Debug, Clone)]
pub struct ResolvedProfile {
    /// The profile name (`default` when none was chosen and none exists).
    pub name: String,
    /// The settings after layering.
    pub profile: Profile,
    /// The configuration file, if any (for messages).
    pub config_path: Option<PathBuf>,
    /// Which layer set each key ([`applies::check`] treats a key from the environment
    /// differently from one the user wrote in the profile or passed explicitly).
    pub origins: Origins,
}

impl ResolvedProfile {
    /// Whether TLS certificate verification is off for this profile (`insecure = true`).
    /// The library logs a warning whenever it builds such a session; front ends must also
    /// tell the user on every use (docs/session-rules.md#tls), whatever their quiet setting: the library
    /// itself never prints.
    pub fn insecure(&self) -> bool {
        self.profile.insecure == Some(true)
    }
}

/// The layer a profile key came from, from the least to the most specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// The profile's table in the configuration file.
    File,
    /// A `SESAME_<KEY>` environment variable.
    Environment,
    /// An explicit override: a command-line option, a keyword argument, a builder call.
    Argument,
}

impl Origin {
    /// Where `key` was set, for messages.
    pub fn describe(&self, key: &str) -> String {
        match self {
            Origin::File => "set in the configuration file".into(),
            Origin::Environment => format!("from the environment variable SESAME_{}", key.to_ascii_uppercase()),
            Origin::Argument => "given explicitly".into(),
        }
    }
}

/// The layer of each key set in a [`ResolvedProfile`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins(BTreeMap<&'static str, Origin>);

impl Origins {
    /// The layer that set `key` (`None`: unset, or a profile built without layers; callers
    /// then treat the key as explicit).
    pub fn of(&self, key: &str) -> Option<Origin> {
        self.0.get(key).copied()
    }
}

/// Layers `overrides` over `env` over `base` and records which layer set each key.
pub(crate) fn layer(
    name: String,
    config_path: Option<PathBuf>,
    base: Profile,
    env: Profile,
    overrides: Profile,
) -> ResolvedProfile {
    let mut origins = BTreeMap::new();
    for (layer, origin) in [
        (&base, Origin::File),
        (&env, Origin::Environment),
        (&overrides, Origin::Argument),
    ] {
        for key in layer.keys_set() {
            origins.insert(key, origin);
        }
    }
    ResolvedProfile {
        name,
        profile: base.merge(env).merge(overrides),
        config_path,
        origins: Origins(origins),
    }
}

impl Config {
    /// The path sesame reads: `explicit` (a flag), else `$SESAME_CONFIG`, else the XDG
    /// location. The flag says whether the path was named explicitly (then it must exist).
    pub fn locate(explicit: Option<&Path>) -> Option<(PathBuf, bool)> {
        if let Some(p) = explicit {
            return Some((p.to_path_buf(), true));
        }
        if let Some(p) = std::env::var_os("SESAME_CONFIG").filter(|p| !p.is_empty()) {
            return Some((PathBuf::from(p), true));
        }
        if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
            return Some((PathBuf::from(x).join("sesame").join("config.toml"), false));
        }
        directories::BaseDirs::new().map(|b| (b.home_dir().join(".config").join("sesame").join("config.toml"), false))
    }

    /// Loads the configuration (see [`Config::locate`]).
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        let Some((path, named)) = Self::locate(explicit) else {
            return Ok(Config::default());
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let config = Self::from_toml_str(&text, &path)?;
                if !config.warnings.is_empty() {
                    // It holds a secret as plain text: the rule of secret files applies
                    // (refused if others can write it, a warning if they can read it).
                    sesame::permissions::check_user_secret_file(&path, "configuration file")?;
                }
                Ok(config)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read { path, source }.into()),
        }
    }

    /// Parses configuration text; `path` is used in messages.
    pub fn from_toml_str(text: &str, path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref().to_path_buf();
        let shape: FileShape = toml::from_str(text).map_err(|e| toml_error(&path, text, &e))?;
        let mut warnings = Vec::new();
        for (name, p) in &shape.profiles {
            for (key, s) in [
                ("client_secret", &p.client_secret),
                ("password", &p.password),
                ("token", &p.token),
            ] {
                if s.as_ref().is_some_and(SecretSource::is_literal) {
                    let w = format!(
                        "warning: {} [profiles.{name}] has `{key}` as plain text; prefer {key} = {{ env = \"VAR\" }} or {{ file = \"path\" }}",
                        path.display()
                    );
                    // Front ends that read `Config::warnings` (the CLI) print it; the log
                    // line under its own target reaches the others (Python's `sesame` logger).
                    tracing::warn!(target: "sesame::config_warning", "{w}");
                    warnings.push(w);
                }
            }
        }
        Ok(Config {
            path: Some(path),
            default_profile: shape.default_profile,
            profiles: shape.profiles,
            warnings,
        })
    }

    /// The profile to use: `name`, else `$SESAME_PROFILE`, else `default_profile`, else
    /// the only profile, else an empty `default` profile. Layered with the environment
    /// (not with flags: see [`Config::resolve`]).
    pub fn profile(&self, name: Option<&str>) -> Result<ResolvedProfile> {
        self.resolve(name, Profile::default())
    }

    /// Chooses a profile and layers `SESAME_<KEY>` variables and then `overrides` (the
    /// command-line flags) over it.
    pub fn resolve(&self, name: Option<&str>, overrides: Profile) -> Result<ResolvedProfile> {
        let env_name = std::env::var("SESAME_PROFILE").ok().filter(|s| !s.is_empty());
        let chosen = name
            .map(str::to_owned)
            .or(env_name)
            .or_else(|| self.default_profile.clone());
        let (name, base) = match chosen {
            Some(n) => match self.profiles.get(&n) {
                Some(p) => (n, p.clone()),
                None => {
                    return Err(ConfigError::UnknownProfile {
                        name: n,
                        path: self.path.clone(),
                        available: self.profiles.keys().cloned().collect(),
                    }
                    .into());
                }
            },
            None if self.profiles.len() == 1 => {
                let (n, p) = self.profiles.iter().next().expect("one profile");
                (n.clone(), p.clone())
            }
            None => ("default".to_string(), Profile::default()),
        };
        Ok(layer(name, self.path.clone(), base, env_profile()?, overrides))
    }
}

/// `SESAME_<KEY>` variables for every profile key, as a profile.
fn env_profile() -> Result<Profile> {
    let mut pairs = Vec::new();
    for key in Profile::KEYS {
        let var = format!("SESAME_{}", key.to_ascii_uppercase());
        if let Ok(raw) = std::env::var(&var) {
            pairs.push((*key, raw));
        }
    }
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    profile_from_pairs(&pairs)
}

/// `(key, text)` pairs, read as `SESAME_<KEY>` variables are, as a profile (empty text:
/// unset).
pub(crate) fn profile_from_pairs(pairs: &[(&str, &str)]) -> Result<Profile> {
    let mut table = toml::Table::new();
    let mut names = Vec::new();
    for (key, raw) in pairs {
        if raw.is_empty() {
            continue;
        }
        let var = format!("SESAME_{}", key.to_ascii_uppercase());
        let kind = Profile::env_kind(key).ok_or_else(|| Error::config(format!("{var}: not a profile key")))?;
        let value = env_value(kind, raw).map_err(|m| Error::config(format!("environment variable {var}: {m}")))?;
        table.insert((*key).to_string(), value);
        names.push(var);
    }
    if table.is_empty() {
        return Ok(Profile::default());
    }
    Profile::deserialize(toml::Value::Table(table))
        .map_err(|e| Error::config(format!("environment variables {}: {}", names.join(", "), e.message())))
}

fn env_value(kind: profile::EnvKind, raw: &str) -> std::result::Result<toml::Value, String> {
    use profile::EnvKind::*;
    use toml::Value;
    Ok(match kind {
        Str | Secret => Value::String(raw.to_string()),
        List => Value::Array(
            raw.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        Bool => Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "y" | "on" => true,
            "0" | "false" | "no" | "n" | "off" => false,
            _ => return Err(format!("`{raw}` is not a boolean (true/false)")),
        }),
        Int => Value::Integer(
            raw.trim()
                .parse()
                .map_err(|_| format!("`{raw}` is not a whole number"))?,
        ),
        Float => Value::Float(raw.trim().parse().map_err(|_| format!("`{raw}` is not a number"))?),
        Ports => {
            let ports: std::result::Result<Vec<Value>, String> = raw
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<i64>()
                        .map(Value::Integer)
                        .map_err(|_| format!("`{s}` is not a port"))
                })
                .collect();
            Value::Array(ports?)
        }
        Table => {
            let doc: toml::Table = toml::from_str(&format!("v = {raw}"))
                .map_err(|_| "not a TOML inline table ({ key = \"value\", … })".to_string())?;
            doc.get("v")
                .filter(|v| v.is_table())
                .cloned()
                .ok_or("not a TOML inline table ({ key = \"value\", … })")?
        }
    })
}

/// Builds a readable error from a TOML error: file, line, key, hint.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> Error {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let raw = e.message().trim().to_string();
    let mut key = None;
    let mut message = raw.clone();
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default().to_string();
        let candidates: &[&str] = if raw.contains("`default_profile`") {
            TOP_KEYS
        } else {
            Profile::KEYS
        };
        let hint = did_you_mean(&field, candidates)
            .map(|h| format!("; did you mean `{h}`?"))
            .unwrap_or_default();
        message = format!("unknown key `{field}`{hint}");
        key = Some(field);
    } else if let Some(span) = e.span() {
        // The key is what precedes `=` on the offending line.
        let start = text[..span.start.min(text.len())]
            .rfind('\n')
            .map(|i| i + 1)
            .unwrap_or(0);
        let line_text = text[start..].lines().next().unwrap_or_default();
        if let Some((k, _)) = line_text.split_once('=') {
            let k = k.trim();
            if !k.is_empty() && !k.starts_with('[') {
                key = Some(k.to_string());
            }
        }
    }
    ConfigError::Parse {
        path: path.to_path_buf(),
        line,
        key,
        message,
    }
    .into()
}

/// The closest candidate to `word`, if close enough to be a typo.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // Damerau-Levenshtein catches short transpositions (`evn`), Jaro-Winkler long keys
    // with a shared stem (`scops`, `client_secrets`).
    candidates
        .iter()
        .map(|c| {
            let close = strsim::damerau_levenshtein(word, c) <= (c.len() / 3).max(1);
            (if close { 1.0 } else { strsim::jaro_winkler(word, c) }, *c)
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `~/x` → `$HOME/x`.
pub fn expand_home(path: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(b) = directories::BaseDirs::new()
    {
        return b.home_dir().join(rest);
    }
    path.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_line_and_suggests() {
        let text = "[profiles.a]\nbase_url = \"https://x/\"\nscops = [\"openid\"]\n";
        let err = Config::from_toml_str(text, "/etc/sesame.toml").unwrap_err();
        let s = err.to_string();
        assert!(err.is_config());
        assert!(s.contains("/etc/sesame.toml"), "{s}");
        assert!(s.contains("line 3"), "{s}");
        assert!(s.contains("did you mean `scopes`"), "{s}");
    }

    #[test]
    fn bad_value_names_the_key() {
        let text = "[profiles.a]\ntimeout = \"soon\"\n";
        let s = Config::from_toml_str(text, "c.toml").unwrap_err().to_string();
        assert!(s.contains("line 2") && s.contains("timeout"), "{s}");
        let text = "[profiles.a]\nauth = \"oauth\"\n";
        let s = Config::from_toml_str(text, "c.toml").unwrap_err().to_string();
        assert!(s.contains("auth"), "{s}");
    }

    #[test]
    fn invalid_toml_is_an_error_with_a_line() {
        let s = Config::from_toml_str("[profiles.a\nx=1", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(s.contains("c.toml") && s.contains("line 1"), "{s}");
    }

    #[test]
    fn literal_secret_warns_and_sources_parse() {
        let text = r#"
[profiles.a]
token = "s3cr3tvalue"
password = { env = "PW" }
client_secret = { file = "~/s" }
"#;
        let c = Config::from_toml_str(text, "c.toml").unwrap();
        assert_eq!(c.warnings.len(), 1);
        assert!(!c.warnings[0].contains("s3cr3tvalue"));
        let p = &c.profiles["a"];
        assert_eq!(p.password, Some(SecretSource::Env("PW".into())));
        assert!(!format!("{p:?}").contains("s3cr3tvalue"));
        let err = Config::from_toml_str("[profiles.a]\ntoken = { evn = \"X\" }\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `env`"), "{err}");
    }

    #[test]
    fn profile_choice_and_merge() {
        let text = "default_profile = \"b\"\n[profiles.a]\nbase_url = \"https://a/\"\n[profiles.b]\nbase_url = \"https://b/\"\ntimeout = 5\n";
        let c = Config::from_toml_str(text, "c.toml").unwrap();
        let r = c
            .resolve(
                None,
                Profile {
                    timeout: Some(9.0),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(r.name, "b");
        assert_eq!(r.profile.base_url.as_deref(), Some("https://b/"));
        assert_eq!(r.profile.timeout, Some(9.0));
        let err = c.profile(Some("zzz")).unwrap_err().to_string();
        assert!(err.contains("zzz") && err.contains("a, b"), "{err}");
    }
}
