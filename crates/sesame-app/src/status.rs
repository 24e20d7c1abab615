//! [`Status`]: what `sesame status` and Python's `Session.status()` show — the profile, its
//! credential and its token, secrets masked, computed without any network.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::config::ResolvedProfile;
use sesame::credential::{Credential, CredentialInfo};

/// The state of a profile's credential, tokens masked. Front ends format it.
#[derive(Debug, Clone)]
pub struct Status {
    /// The profile name.
    pub profile: String,
    /// The configuration file it came from, if any.
    pub config: Option<PathBuf>,
    /// The profile's `base_url`.
    pub base_url: Option<String>,
    /// The provider's issuer: the profile's `issuer`, else the one discovered (by
    /// WebFinger and OpenID discovery) when the cached token was obtained. `None` when it
    /// is not known yet, or the profile names only endpoints.
    pub issuer: Option<String>,
    /// The credential's kind and non-secret details (`none` without a credential).
    pub info: CredentialInfo,
    /// Seconds until a certificate credential's `not_after` (negative: expired), when it
    /// tells one.
    pub certificate_seconds_left: Option<i64>,
    /// The token, if the credential is a token credential.
    pub token: TokenStatus,
    /// Whether the credential can be used without a person logging in.
    pub valid: bool,
    /// The cluster token store of a `cache = "openbao"` profile, after
    /// [`Status::with_cluster`]: the store, the record's version, who refreshed it last
    /// and when, a claim in progress — or why the cluster could not be read.
    pub cluster: Option<serde_json::Map<String, Value>>,
}

/// The token part of a [`Status`].
#[derive(Debug, Clone, PartialEq)]
pub enum TokenStatus {
    /// Not an OAuth credential and no token held (basic, netrc, X.509, none).
    NotApplicable,
    /// Not an OAuth credential, holding a static token (bearer, API key): masked.
    Static(String),
    /// An OAuth credential with no token cached.
    NoneCached,
    /// An OAuth credential's cached token.
    Cached(CachedToken),
}

/// A cached OAuth token, described without its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedToken {
    /// The ID token's `sub`, else the access token's (as the JWT has it).
    pub subject: Option<Value>,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// The access token's `aud` claim as the JWT has it (a string or a list).
    pub audience: Option<Value>,
    /// The access token, masked (`eyJhbGci…****`).
    pub masked: String,
    /// Seconds until it expires (negative: expired); `None` when it does not say.
    pub seconds_left: Option<i64>,
    /// A refresh token is stored.
    pub refresh_token: bool,
}

impl CachedToken {
    /// The subject when it is a string.
    pub fn subject_str(&self) -> Option<&str> {
        self.subject.as_ref().and_then(|s| s.as_str())
    }

    /// The audience as a list (a single string becomes one item; other values none).
    pub fn audience_list(&self) -> Option<Vec<String>> {
        self.audience.as_ref().map(|aud| match aud {
            Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
            Value::String(s) => vec![s.clone()],
            _ => Vec::new(),
        })
    }
}

impl Status {
    /// The status of `resolved` with its credential `cred` (`None`: auth = none). Reads the
    /// token the credential holds, or the one its store has; never renews, never sends.
    pub fn of(resolved: &ResolvedProfile, cred: Option<&Arc<dyn Credential>>) -> Status {
        let p = &resolved.profile;
        let info = cred.map(|c| c.info()).unwrap_or_else(|| CredentialInfo::new("none"));
        // The credential's clock when it has one (an OAuth token source), else the system's.
        let now = match cred.and_then(|c| c.as_oauth()) {
            Some(o) => o.source().clock().now(),
            None => sesame::token::Clock::now(&sesame::token::SystemClock),
        };
        let certificate_seconds_left = info
            .details
            .iter()
            .find(|(k, _)| k == "not_after")
            .and_then(|(_, v)| v.parse::<i64>().ok())
            .map(|t| t - now);
        let interactive = crate::login::is_interactive_kind(&info.kind);
        let mut issuer = p.issuer.clone();
        let (token, valid) = match cred.and_then(|c| c.as_oauth().map(|o| (c, o))) {
            Some((c, oauth)) => match c.cached_token().or_else(|| oauth.source().peek().map(|t| (*t).clone())) {
                Some(t) => {
                    issuer = issuer.or_else(|| oauth.issuer()).or_else(|| oauth.recorded_issuer(&t));
                    let claims = sesame::token::jwt_claims(t.access_token.expose()).unwrap_or_default();
                    let id_claims = t
                        .id_token
                        .as_ref()
                        .and_then(|i| sesame::token::jwt_claims(i.expose()))
                        .unwrap_or_default();
                    let subject = id_claims.get("sub").or_else(|| claims.get("sub")).cloned();
                    let seconds_left = t.expires_at.map(|e| e - now);
                    let usable = seconds_left.is_none_or(|l| l > 0) || t.refresh_token.is_some();
                    let cached = CachedToken {
                        subject,
                        scopes: t.scopes.clone(),
                        audience: claims.get("aud").cloned(),
                        masked: sesame::secret::mask(t.access_token.expose()),
                        seconds_left,
                        refresh_token: t.refresh_token.is_some(),
                    };
                    (TokenStatus::Cached(cached), usable || !interactive)
                }
                None => (TokenStatus::NoneCached, !interactive),
            },
            None => match cred.and_then(|c| c.cached_token()) {
                Some(t) => (TokenStatus::Static(sesame::secret::mask(t.access_token.expose())), true),
                None => (TokenStatus::NotApplicable, true),
            },
        };
        let issuer = issuer.or_else(|| cred.and_then(|c| c.as_oauth()).and_then(|o| o.issuer()));
        let mut info = info;
        if let Some(i) = &issuer
            && !info.details.iter().any(|(k, _)| k == "issuer")
        {
            // The credential alone knows only a configured or discovered issuer; the one
            // recorded with the cached token counts too.
            info = info.with("issuer", i.clone());
        }
        Status {
            profile: resolved.name.clone(),
            config: resolved.config_path.clone(),
            base_url: p.base_url.clone(),
            issuer,
            info,
            certificate_seconds_left,
            token,
            valid,
            cluster: None,
        }
    }

    /// Adds what the cluster token store holds for this profile (`cache = "openbao"`):
    /// one read of the shared record, so unlike [`Status::of`] this asks the network.
    pub async fn with_cluster(mut self, resolved: &ResolvedProfile, cred: Option<&Arc<dyn Credential>>) -> Status {
        use serde_json::json;
        if resolved.profile.cache.as_deref() != Some("openbao") {
            return self;
        }
        let Some(oauth) = cred.and_then(|c| c.as_oauth()) else {
            return self;
        };
        let mut m = serde_json::Map::new();
        match crate::config::cluster_store(resolved) {
            Err(e) => {
                m.insert("cluster_error".into(), json!(e.to_string()));
            }
            Ok(cluster) => {
                m.insert("cluster_store".into(), json!(cluster.describe()));
                match cluster.status(oauth.source().key()).await {
                    Ok(Some(r)) => {
                        m.insert("record_version".into(), json!(r.version));
                        m.insert("refreshed_by".into(), json!(r.refreshed_by));
                        m.insert("refreshed_at".into(), json!(r.refreshed_at));
                        if let Some((who, until)) = r.refreshing {
                            m.insert("refreshing_by".into(), json!(who));
                            m.insert("claim_until".into(), json!(until));
                        }
                    }
                    Ok(None) => {
                        m.insert("record_version".into(), Value::Null);
                    }
                    Err(e) => {
                        m.insert("cluster_error".into(), json!(e.to_string()));
                    }
                }
            }
        }
        self.cluster = Some(m);
        self
    }
}

impl Status {
    /// `sesame status --json` and Python's `Session.status()`: [`Status::of`], with the
    /// cluster object ([`Status::with_cluster`]) for a `cache = "openbao"` profile (one
    /// read of the shared record; no network for other profiles).
    pub async fn gather(resolved: &ResolvedProfile, cred: Option<&Arc<dyn Credential>>) -> Status {
        Status::of(resolved, cred).with_cluster(resolved, cred).await
    }

    /// Whether [`Status::gather`] asks the network (the profile uses the cluster store).
    pub fn needs_network(resolved: &ResolvedProfile) -> bool {
        resolved.profile.cache.as_deref() == Some("openbao")
    }

    /// The status as a JSON object: the one shape of `sesame status --json` and Python's
    /// `Session.status()` (same keys, same types). `profile`, `config`, `base_url`,
    /// `issuer`, `auth`, `credential` (an object of strings) and `valid` always; for a
    /// token credential `token` (masked, or null when none is cached) and, with a cached
    /// token, `subject` (string or null), `scopes` (a list), `audience` (a list, when the
    /// token names one), `seconds_left` (null when it does not expire) and `refresh_token`
    /// (bool); `seconds_left` of a certificate; `cluster` (an object) after
    /// [`Status::with_cluster`].
    pub fn to_json(&self) -> serde_json::Map<String, Value> {
        use serde_json::json;
        let mut out = serde_json::Map::new();
        out.insert("profile".into(), json!(self.profile));
        out.insert(
            "config".into(),
            json!(self.config.as_ref().map(|p| p.display().to_string())),
        );
        out.insert("base_url".into(), json!(self.base_url));
        out.insert("issuer".into(), json!(self.issuer));
        out.insert("auth".into(), json!(self.info.kind));
        let details: serde_json::Map<String, Value> =
            self.info.details.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        out.insert("credential".into(), Value::Object(details));
        if let Some(left) = self.certificate_seconds_left {
            out.insert("seconds_left".into(), json!(left));
        }
        match &self.token {
            TokenStatus::Cached(t) => {
                out.insert("subject".into(), json!(t.subject_str()));
                out.insert("scopes".into(), json!(t.scopes));
                if let Some(aud) = t.audience_list() {
                    out.insert("audience".into(), json!(aud));
                }
                out.insert("token".into(), json!(t.masked));
                out.insert("seconds_left".into(), json!(t.seconds_left));
                out.insert("refresh_token".into(), json!(t.refresh_token));
            }
            TokenStatus::NoneCached => {
                out.insert("token".into(), Value::Null);
            }
            TokenStatus::Static(masked) => {
                out.insert("token".into(), json!(masked));
            }
            TokenStatus::NotApplicable => {}
        }
        if let Some(c) = &self.cluster {
            out.insert("cluster".into(), Value::Object(c.clone()));
        }
        out.insert("valid".into(), json!(self.valid));
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use sesame::credential::Bearer;

    fn resolved() -> ResolvedProfile {
        ResolvedProfile {
            name: "p".into(),
            profile: Default::default(),
            config_path: None,
            origins: Default::default(),
        }
    }

    #[test]
    fn no_credential_and_a_static_token() {
        let st = Status::of(&resolved(), None);
        assert_eq!(
            (st.info.kind.as_str(), &st.token, st.valid),
            ("none", &TokenStatus::NotApplicable, true)
        );
        let c: Arc<dyn Credential> = Arc::new(Bearer::new("static-token-abcdefgh"));
        let st = Status::of(&resolved(), Some(&c));
        assert_eq!(st.info.kind, "bearer");
        assert_eq!(st.token, TokenStatus::Static("static-t…****".into()), "masked");
        assert!(st.valid && st.certificate_seconds_left.is_none());
    }

    #[test]
    fn audience_and_subject_forms() {
        let mut t = CachedToken {
            subject: Some(json!("alice")),
            scopes: vec![],
            audience: Some(json!("api")),
            masked: "****".into(),
            seconds_left: None,
            refresh_token: false,
        };
        assert_eq!(t.subject_str(), Some("alice"));
        assert_eq!(t.audience_list(), Some(vec!["api".to_string()]));
        t.audience = Some(json!(["a", "b", 3]));
        assert_eq!(t.audience_list(), Some(vec!["a".to_string(), "b".to_string()]));
        t.audience = Some(json!(7));
        assert_eq!(t.audience_list(), Some(vec![]));
        t.audience = None;
        t.subject = Some(json!(42));
        assert_eq!((t.audience_list(), t.subject_str()), (None, None));
    }
}
