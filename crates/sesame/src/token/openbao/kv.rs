//! KV v2 reads and check-and-set writes (`<mount>/data/<path>`), authenticated, with one
//! new OpenBao token tried when a node refuses the held one.

use reqwest::Method;
use serde_json::{Value, json};

use super::auth::Auth;
use super::{Failure, Reply, Transport};
use crate::{Error, ErrorKind};

/// What a KV operation came to.
#[derive(Debug)]
pub(crate) enum KvError {
    /// The record's version is not the one the write named (someone wrote first).
    CasMismatch,
    /// The cluster did not answer, or a write's reply was lost ([`Failure`]).
    Cluster(Failure),
    /// Refused or broken in a way retrying does not fix (policy, token, bad reply).
    Fatal(Error),
}

pub(crate) struct Kv {
    pub transport: Transport,
    pub auth: Auth,
    mount: String,
}

/// A record as read: its KV version and data.
pub(crate) struct Versioned {
    pub version: u64,
    pub data: Value,
}

impl Kv {
    pub fn new(transport: Transport, auth: Auth, mount: &str) -> Self {
        Kv {
            transport,
            auth,
            mount: mount.trim_matches('/').to_string(),
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>, write: bool) -> Result<Reply, KvError> {
        for attempt in 0..2 {
            let token = self.auth.token(&self.transport).await.map_err(|e| self.auth_error(e))?;
            let r = self
                .transport
                .send(method.clone(), path, body, Some(&token), write)
                .await
                .map_err(KvError::Cluster)?;
            if r.status == 403 && attempt == 0 {
                // Expired, revoked, or a policy that does not allow it: a new token tells.
                self.auth.invalidate(&token).await;
                continue;
            }
            if r.status == 403 {
                return Err(KvError::Fatal(Error::new(
                    ErrorKind::Credential,
                    format!(
                        "OpenBao node {} refused {method} /v1/{path} ({}): check that the {} login's policy grants create, read and update on {}/data/<openbao_path>/* and read on {}/metadata/<openbao_path>/*{}",
                        r.node,
                        r.errors(),
                        self.auth.describe(),
                        self.mount,
                        self.mount,
                        if self.auth.is_static() {
                            ", and that the token has not expired or been revoked"
                        } else {
                            ""
                        }
                    ),
                )));
            }
            return Ok(r);
        }
        unreachable!("two attempts")
    }

    fn auth_error(&self, e: Error) -> KvError {
        match e.kind() {
            ErrorKind::Transport | ErrorKind::Timeout => KvError::Cluster(Failure::Unreachable(e)),
            _ => KvError::Fatal(e),
        }
    }

    /// The current version of `path`, `None` when there is none (or it was deleted).
    pub async fn read(&self, path: &str) -> Result<Option<Versioned>, KvError> {
        let p = format!("{}/data/{path}", self.mount);
        let r = self.send(Method::GET, &p, None, false).await?;
        match r.status {
            404 => Ok(None),
            200 => {
                let version = r.json["data"]["metadata"]["version"].as_u64().unwrap_or(0);
                let data = r.json["data"]["data"].clone();
                if data.is_null() {
                    return Ok(None); // deleted version
                }
                Ok(Some(Versioned { version, data }))
            }
            _ => Err(KvError::Fatal(Error::new(
                ErrorKind::Config,
                format!(
                    "OpenBao node {} answered {} to reading {p}: {} (check openbao_mount and openbao_path)",
                    r.node,
                    r.status,
                    r.errors()
                ),
            ))),
        }
    }

    /// Writes `data` at `path` if its version is `cas` (0: only if absent); the new version.
    pub async fn write_cas(&self, path: &str, data: &Value, cas: u64) -> Result<u64, KvError> {
        let p = format!("{}/data/{path}", self.mount);
        let body = json!({"options": {"cas": cas}, "data": data});
        let r = self.send(Method::POST, &p, Some(&body), true).await?;
        match r.status {
            200 | 204 => Ok(r.json["data"]["version"].as_u64().unwrap_or(cas + 1)),
            400 if r.errors().contains("check-and-set") => Err(KvError::CasMismatch),
            _ => Err(KvError::Fatal(Error::new(
                ErrorKind::Config,
                format!(
                    "OpenBao node {} answered {} to writing {p}: {} (check that {} is a KV version 2 mount)",
                    r.node,
                    r.status,
                    r.errors(),
                    self.mount
                ),
            ))),
        }
    }
}
