//! The OpenBao token sesame presents: from a variable or file (`VAULT_TOKEN`, `BAO_TOKEN`,
//! `~/.vault-token`, htgettoken's `/tmp/vt_u<uid>`), or by AppRole or JWT login. It is
//! renewed (`auth/token/renew-self`) once two thirds of its TTL have passed, and obtained
//! again when OpenBao refuses it (expired, revoked).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::settings::{OpenBaoAuth, SecretFrom};
use super::{Failure, Transport};
use crate::{Error, ErrorKind, Result};

struct Held {
    token: SecretString,
    /// When to renew (two thirds of the TTL); `None`: no TTL known (root, or lookup refused).
    renew_at: Option<Instant>,
    renewable: bool,
}

pub(crate) struct Auth {
    how: OpenBaoAuth,
    held: tokio::sync::Mutex<Option<Held>>,
    /// The secret id unwrapped from a wrapping token (usable once only).
    unwrapped: std::sync::Mutex<Option<SecretString>>,
}

fn read_secret(from: &SecretFrom, what: &str) -> Result<SecretString> {
    match from {
        SecretFrom::Env(v) => std::env::var(v)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .map(|s| SecretString::from(s.trim().to_string()))
            .ok_or_else(|| Error::config(format!("the OpenBao {what}: ${v} is not set"))),
        SecretFrom::File(p) => read_file(p, what)?.ok_or_else(|| {
            Error::config(format!(
                "the OpenBao {what}: {} does not exist or is empty",
                p.display()
            ))
        }),
        SecretFrom::Value(s) => Ok(s.clone()),
    }
}

fn read_file(p: &PathBuf, what: &str) -> Result<Option<SecretString>> {
    match std::fs::read_to_string(p) {
        Ok(s) if !s.trim().is_empty() => Ok(Some(SecretString::from(s.trim().to_string()))),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("cannot read the OpenBao {what} {}", p.display()), e)),
    }
}

/// The default token search: `$VAULT_TOKEN`, `$BAO_TOKEN`, `~/.vault-token`, `/tmp/vt_u<uid>`.
fn default_token() -> Result<SecretString> {
    let home = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf());
    #[cfg(unix)]
    let uid = Some(crate::permissions::euid());
    #[cfg(not(unix))]
    let uid = None;
    token_search(|v| std::env::var(v).ok(), home, uid, std::path::Path::new("/tmp"))
}

/// [`default_token`] with its inputs given (for tests): variables, home folder, uid and the
/// folder htgettoken writes `vt_u<uid>` to.
fn token_search(
    env: impl Fn(&str) -> Option<String>,
    home: Option<PathBuf>,
    uid: Option<u32>,
    tmp: &std::path::Path,
) -> Result<SecretString> {
    for v in ["VAULT_TOKEN", "BAO_TOKEN"] {
        if let Some(t) = env(v).filter(|s| !s.trim().is_empty()) {
            return Ok(SecretString::from(t.trim().to_string()));
        }
    }
    let mut files = Vec::new();
    if let Some(home) = home {
        files.push(home.join(".vault-token"));
    }
    if let Some(uid) = uid {
        files.push(tmp.join(format!("vt_u{uid}")));
    }
    for f in &files {
        if let Some(t) = read_file(f, "token file")? {
            return Ok(t);
        }
    }
    Err(Error::new(
        ErrorKind::Credential,
        format!(
            "no OpenBao token: set $VAULT_TOKEN or $BAO_TOKEN, write ~/.vault-token, run htgettoken (it leaves {}), or set openbao_auth to approle or jwt",
            files.last().map(|p| p.display().to_string()).unwrap_or_default()
        ),
    ))
}

impl Auth {
    pub fn new(how: OpenBaoAuth) -> Self {
        Auth {
            how,
            held: tokio::sync::Mutex::new(None),
            unwrapped: std::sync::Mutex::new(None),
        }
    }

    /// A token to present: the held one (renewed when due), else a new one.
    pub async fn token(&self, t: &Transport) -> Result<SecretString> {
        let mut held = self.held.lock().await;
        if let Some(h) = held.as_mut() {
            match h.renew_at {
                Some(at) if Instant::now() >= at && h.renewable => match self.renew(t, &h.token).await {
                    Ok(ttl) => {
                        h.renew_at = Some(renew_point(ttl));
                        return Ok(h.token.clone());
                    }
                    Err(e) => tracing::debug!(error = %e, "OpenBao token renewal failed; obtaining a new token"),
                },
                _ => return Ok(h.token.clone()),
            }
        }
        let new = self.obtain(t).await?;
        let token = new.token.clone();
        *held = Some(new);
        Ok(token)
    }

    /// OpenBao refused `bad` (403): forget it unless it was replaced meanwhile.
    pub async fn invalidate(&self, bad: &SecretString) {
        let mut held = self.held.lock().await;
        if held
            .as_ref()
            .is_some_and(|h| h.token.expose_secret() == bad.expose_secret())
        {
            *held = None;
        }
    }

    /// Whether the token comes from outside (variable or file): then a refused token is
    /// not fixed by logging in again, only by the file being replaced.
    pub fn is_static(&self) -> bool {
        matches!(self.how, OpenBaoAuth::Token { .. })
    }

    pub fn describe(&self) -> &'static str {
        match self.how {
            OpenBaoAuth::Token { .. } => "token",
            OpenBaoAuth::AppRole { .. } => "approle",
            OpenBaoAuth::Jwt { .. } => "jwt",
        }
    }

    async fn obtain(&self, t: &Transport) -> Result<Held> {
        match &self.how {
            OpenBaoAuth::Token { from } => {
                let token = match from {
                    Some(f) => read_secret(f, "token")?,
                    None => default_token()?,
                };
                // Learn its TTL to renew it in time; a token without lookup rights
                // (no default policy) is used as it is.
                let (renew_at, renewable) = match t
                    .send(Method::GET, "auth/token/lookup-self", None, Some(&token), false)
                    .await
                {
                    Ok(r) if r.status == 200 => {
                        let ttl = r.json["data"]["ttl"].as_u64().unwrap_or(0);
                        let renewable = r.json["data"]["renewable"].as_bool().unwrap_or(false);
                        ((ttl > 0).then(|| renew_point(Duration::from_secs(ttl))), renewable)
                    }
                    Ok(r) if r.status == 403 => {
                        return Err(Error::new(
                            ErrorKind::Credential,
                            format!(
                                "OpenBao node {} refused the token ({}): it has expired or was revoked. Get a new one (htgettoken, `bao login`) or use openbao_auth approle/jwt",
                                r.node,
                                r.errors()
                            ),
                        ));
                    }
                    Ok(_) => (None, false),
                    Err(f) => return Err(f.into_error()),
                };
                Ok(Held {
                    token,
                    renew_at,
                    renewable,
                })
            }
            OpenBaoAuth::AppRole {
                mount,
                role_id,
                secret_id,
                wrapped,
            } => {
                let role_id = read_secret(role_id, "AppRole role_id")?;
                let secret_id = if *wrapped {
                    self.unwrap_secret_id(t, secret_id).await?
                } else {
                    read_secret(secret_id, "AppRole secret_id")?
                };
                let body = json!({"role_id": role_id.expose_secret(), "secret_id": secret_id.expose_secret()});
                self.login(
                    t,
                    &format!("auth/{mount}/login"),
                    &body,
                    "AppRole",
                    "check role_id and secret_id (a secret id may have been destroyed, used up or expired)",
                )
                .await
            }
            OpenBaoAuth::Jwt { mount, role, file } => {
                // Read at every login: the file is replaced when the workload token rotates.
                let jwt = read_file(file, "JWT file")?.ok_or_else(|| {
                    Error::new(
                        ErrorKind::Credential,
                        format!("the JWT file {} for OpenBao login is missing or empty", file.display()),
                    )
                })?;
                let body = json!({"role": role, "jwt": jwt.expose_secret()});
                self.login(
                    t,
                    &format!("auth/{mount}/login"),
                    &body,
                    "JWT",
                    &format!(
                        "check that {} holds a current token whose iss, aud and claims the role {role} binds",
                        file.display()
                    ),
                )
                .await
            }
        }
    }

    async fn unwrap_secret_id(&self, t: &Transport, from: &SecretFrom) -> Result<SecretString> {
        if let Some(s) = self.unwrapped.lock().expect("unwrapped").clone() {
            return Ok(s);
        }
        let wrapping = read_secret(from, "wrapped AppRole secret_id")?;
        let r = t
            .send(
                Method::POST,
                "sys/wrapping/unwrap",
                Some(&json!({})),
                Some(&wrapping),
                true,
            )
            .await
            .map_err(Failure::into_error)?;
        let s = r.json["data"]["secret_id"].as_str().filter(|_| r.status == 200).ok_or_else(|| {
            Error::new(
                ErrorKind::Credential,
                format!(
                    "OpenBao node {} did not unwrap the wrapped secret_id ({}): a wrapping token works once and expires; ask for a new one",
                    r.node,
                    r.errors()
                ),
            )
        })?;
        let s = SecretString::from(s.to_string());
        *self.unwrapped.lock().expect("unwrapped") = Some(s.clone());
        Ok(s)
    }

    async fn login(&self, t: &Transport, path: &str, body: &Value, what: &str, check: &str) -> Result<Held> {
        let r = t
            .send(Method::POST, path, Some(body), None, false)
            .await
            .map_err(Failure::into_error)?;
        let token = r.json["auth"]["client_token"].as_str().filter(|_| r.status == 200);
        let Some(token) = token else {
            return Err(Error::new(
                ErrorKind::Credential,
                format!(
                    "OpenBao node {} refused the {what} login ({}): {check}",
                    r.node,
                    r.errors()
                ),
            ));
        };
        let ttl = r.json["auth"]["lease_duration"].as_u64().unwrap_or(0);
        Ok(Held {
            token: SecretString::from(token.to_string()),
            renew_at: (ttl > 0).then(|| renew_point(Duration::from_secs(ttl))),
            renewable: r.json["auth"]["renewable"].as_bool().unwrap_or(false),
        })
    }

    /// `auth/token/renew-self`: the new TTL.
    async fn renew(&self, t: &Transport, token: &SecretString) -> Result<Duration> {
        let r = t
            .send(
                Method::POST,
                "auth/token/renew-self",
                Some(&json!({})),
                Some(token),
                false,
            )
            .await
            .map_err(Failure::into_error)?;
        match r.json["auth"]["lease_duration"].as_u64() {
            Some(ttl) if r.status == 200 && ttl > 0 => Ok(Duration::from_secs(ttl)),
            _ => Err(Error::new(
                ErrorKind::Credential,
                format!("OpenBao node {} did not renew the token ({})", r.node, r.errors()),
            )),
        }
    }
}

/// Renew once two thirds of `ttl` have passed.
fn renew_point(ttl: Duration) -> Instant {
    Instant::now() + ttl * 2 / 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_search_order_follows_vault_and_htgettoken() {
        let dir = tempfile::tempdir().unwrap();
        let (home, tmp) = (dir.path().join("home"), dir.path().join("tmp"));
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&tmp).unwrap();
        let none = |_: &str| None;
        let e = token_search(none, Some(home.clone()), Some(1234), &tmp).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Credential);
        assert!(e.to_string().contains("vt_u1234"), "{e}");
        // htgettoken's file (with its trailing newline).
        std::fs::write(tmp.join("vt_u1234"), "s.htgettoken\n").unwrap();
        let t = token_search(none, Some(home.clone()), Some(1234), &tmp).unwrap();
        assert_eq!(t.expose_secret(), "s.htgettoken");
        // ~/.vault-token before it, the variables before both, VAULT_TOKEN first.
        std::fs::write(home.join(".vault-token"), "s.home").unwrap();
        let t = token_search(none, Some(home.clone()), Some(1234), &tmp).unwrap();
        assert_eq!(t.expose_secret(), "s.home");
        let env = |v: &str| match v {
            "BAO_TOKEN" => Some("s.bao".to_string()),
            _ => None,
        };
        assert_eq!(
            token_search(env, Some(home.clone()), Some(1234), &tmp)
                .unwrap()
                .expose_secret(),
            "s.bao"
        );
        let env = |v: &str| Some(format!("s.{v}"));
        assert_eq!(
            token_search(env, Some(home), Some(1234), &tmp).unwrap().expose_secret(),
            "s.VAULT_TOKEN"
        );
    }
}
