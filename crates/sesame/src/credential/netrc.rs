//! Credentials from a netrc file: `$NETRC`, else `~/.netrc` (docs/credentials.md).
//!
//! The format is the one of `ftp(1)`, curl and Python's `netrc` module: whitespace-separated
//! tokens `machine NAME`, `default`, `login`, `password`, `account`, and `macdef NAME`
//! followed by lines up to an empty one; `#` starts a comment; a token may be double-quoted
//! with backslash escapes. The entry for the request's host wins, then `default`.
//! A file that group or others can read or write is refused, as ssh refuses keys.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use reqwest::header::HeaderMap;

use super::{Attachment, AuthRequest, Credential, CredentialInfo};
use crate::Result;
use crate::error::CredentialError;
use crate::secret::Password;
use crate::transport::headers::basic_header;

/// One `machine` (or `default`) entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetrcEntry {
    /// The host name, or `None` for `default`.
    pub machine: Option<String>,
    /// The login.
    pub login: Option<String>,
    /// The password.
    pub password: Option<Password>,
}

/// Basic credentials looked up per host in a netrc file.
#[derive(Clone)]
pub struct Netrc {
    path: PathBuf,
    entries: Vec<NetrcEntry>,
}

impl Netrc {
    /// Loads `$NETRC`, else `~/.netrc`.
    pub fn from_env() -> Result<Self> {
        Self::load(default_path()?)
    }

    /// Loads a netrc file, refusing it if other users can read or write it.
    pub fn load(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        crate::permissions::check_private(&path, "netrc file")?;
        let text = std::fs::read_to_string(&path).map_err(|e| CredentialError::File {
            what: "netrc file",
            path: path.clone(),
            message: e.to_string(),
        })?;
        let entries = parse(&text).map_err(|message| CredentialError::File {
            what: "netrc file",
            path: path.clone(),
            message,
        })?;
        Ok(Netrc { path, entries })
    }

    /// Parses netrc text (no permission check; for tests and callers with their own source).
    pub fn parse_str(text: &str) -> Result<Self> {
        let entries = parse(text).map_err(|message| CredentialError::File {
            what: "netrc text",
            path: PathBuf::from("<memory>"),
            message,
        })?;
        Ok(Netrc {
            path: PathBuf::from("<memory>"),
            entries,
        })
    }

    /// The entry for `host` (case-insensitive), else the `default` entry.
    pub fn lookup(&self, host: &str) -> Option<&NetrcEntry> {
        self.entries
            .iter()
            .find(|e| e.machine.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(host)))
            .or_else(|| self.entries.iter().find(|e| e.machine.is_none()))
    }

    /// The file this was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `$NETRC`, else `~/.netrc`.
pub(crate) fn default_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("NETRC").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let home = directories::BaseDirs::new()
        .map(|b| b.home_dir().to_path_buf())
        .ok_or_else(|| crate::Error::config("cannot find the home directory for ~/.netrc; set $NETRC"))?;
    Ok(home.join(".netrc"))
}

impl std::fmt::Debug for Netrc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netrc")
            .field("path", &self.path)
            .field(
                "machines",
                &self
                    .entries
                    .iter()
                    .map(|e| e.machine.as_deref().unwrap_or("default"))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[async_trait]
impl Credential for Netrc {
    async fn attach(&self, req: &AuthRequest<'_>, headers: &mut HeaderMap) -> Result<Attachment> {
        let host = req.url.host_str().unwrap_or_default();
        if let Some(NetrcEntry {
            login: Some(login),
            password: Some(password),
            ..
        }) = self.lookup(host)
        {
            headers.insert(reqwest::header::AUTHORIZATION, basic_header(login, password.expose()));
        } else {
            tracing::debug!(host, "no netrc entry with login and password for this host");
        }
        Ok(Attachment::default())
    }

    fn info(&self) -> CredentialInfo {
        CredentialInfo::new("netrc").with("file", self.path.display().to_string())
    }
}

/// Splits netrc text into tokens, dropping comments and `macdef` bodies.
fn tokens(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let lines = text.lines().peekable();
    let mut in_macdef = false;
    for line in lines {
        if in_macdef {
            if line.trim().is_empty() {
                in_macdef = false;
            }
            continue;
        }
        let mut chars = line.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let Some(&c) = chars.peek() else { break };
            if c == '#' {
                break;
            }
            let mut tok = String::new();
            if c == '"' {
                chars.next();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => {
                            if let Some(n) = chars.next() {
                                tok.push(n);
                            }
                        }
                        _ => tok.push(c),
                    }
                }
                if !closed {
                    return Err("unterminated quoted string".into());
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    chars.next();
                    if c == '\\' {
                        if let Some(n) = chars.next() {
                            tok.push(n);
                        }
                    } else {
                        tok.push(c);
                    }
                }
            }
            out.push(tok);
        }
        // `macdef NAME` makes the following lines, up to an empty one, a macro body.
        if out.len() >= 2 && out[out.len() - 2] == "macdef" {
            out.truncate(out.len() - 2);
            in_macdef = true;
        } else if out.last().is_some_and(|t| t == "macdef") {
            out.pop();
            in_macdef = true;
        }
    }
    Ok(out)
}

fn parse(text: &str) -> Result<Vec<NetrcEntry>, String> {
    let toks = tokens(text)?;
    let mut entries: Vec<NetrcEntry> = Vec::new();
    let mut it = toks.into_iter();
    let mut current: Option<NetrcEntry> = None;
    while let Some(t) = it.next() {
        match t.as_str() {
            "machine" => {
                let name = it.next().ok_or("`machine` without a host name")?;
                entries.extend(current.take());
                current = Some(NetrcEntry {
                    machine: Some(name),
                    login: None,
                    password: None,
                });
            }
            "default" => {
                entries.extend(current.take());
                current = Some(NetrcEntry {
                    machine: None,
                    login: None,
                    password: None,
                });
            }
            "login" | "password" | "account" | "port" => {
                let value = it.next().ok_or_else(|| format!("`{t}` without a value"))?;
                let entry = current
                    .as_mut()
                    .ok_or_else(|| format!("`{t}` before any `machine` or `default`"))?;
                match t.as_str() {
                    "login" => entry.login = Some(value),
                    "password" => entry.password = Some(Password::new(value)),
                    _ => {}
                }
            }
            other => {
                return Err(format!(
                    "unexpected token `{}`; expected machine, default, login, password, account or macdef",
                    // A stray token may be a password split by an unquoted space: show its
                    // length only.
                    if other.len() > 2 {
                        format!("<{} characters>", other.len())
                    } else {
                        other.to_string()
                    }
                ));
            }
        }
    }
    entries.extend(current);
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_then_default() {
        let n = Netrc::parse_str(
            "# comment\nmachine api.example.com login alice password \"p a#ss\"\n\ndefault login anon password guest\n",
        )
        .unwrap();
        let e = n.lookup("API.example.com").unwrap();
        assert_eq!(e.login.as_deref(), Some("alice"));
        assert_eq!(e.password.as_ref().unwrap().expose(), "p a#ss");
        assert_eq!(n.lookup("other").unwrap().login.as_deref(), Some("anon"));
    }

    #[test]
    fn macdef_bodies_are_skipped() {
        let n =
            Netrc::parse_str("macdef init\ncd /pub\nmachine fake login x\n\nmachine h login u password p\n").unwrap();
        assert_eq!(n.entries.len(), 1);
        assert_eq!(n.lookup("h").unwrap().login.as_deref(), Some("u"));
        assert!(n.lookup("fake").is_none());
    }

    #[test]
    fn one_line_and_multi_line_forms() {
        let n =
            Netrc::parse_str("machine a\n  login u1\n  password p1\nmachine b login u2 password p2 account x").unwrap();
        assert_eq!(n.lookup("a").unwrap().password.as_ref().unwrap().expose(), "p1");
        assert_eq!(n.lookup("b").unwrap().login.as_deref(), Some("u2"));
        assert!(n.lookup("c").is_none());
    }

    #[test]
    fn malformed_input_is_an_error_without_secrets() {
        let err = Netrc::parse_str("machine h login u password secretpart1 secretpart2").unwrap_err();
        let s = err.to_string();
        assert!(!s.contains("secretpart2"), "{s}");
        assert!(Netrc::parse_str("login u").is_err());
        assert!(Netrc::parse_str("machine").is_err());
        assert!(Netrc::parse_str("machine \"unterminated").is_err());
    }
}
