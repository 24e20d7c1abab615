//! Which profile keys apply to which auth kind: one table, checked when a credential is
//! built (the CLI and the Python package go through the same check), rendered into
//! `docs/credential-kinds.md` (a test keeps the two equal).
//!
//! Why a table: before it, a key the chosen kind does not read was dropped without a word
//! (`cert` with `auth = "bearer"`, `username` with `bearer`, `token` with `discover`), so a
//! user who believed a certificate or an explicit token was in use sent something else.
//! Now every key × kind pair is classified: the kind uses the key, the key works *in
//! combination* (a client certificate presented in addition to the kind's own
//! credential), or the pair is a configuration error that names the key and the kind.
//!
//! Where the key came from decides between error and warning (see
//! docs/design/config-validation.md): a key set in the same place as the auth kind, or in a
//! more specific one, is an error; a key from an ambient `SESAME_<KEY>` variable, or from a
//! less specific layer than the one that chose the auth kind (the file's keys when the
//! kind was overridden), is ignored with a warning — those are not contradictions the user
//! wrote, and must not break a setup that works.

use super::{AuthKind, Origin, ResolvedProfile};
use sesame::{ConfigError, Result};

/// A profile key that its auth kind does not use, and where it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MisplacedKey {
    /// The key, as written in the file.
    pub key: &'static str,
    /// The layer that set it.
    pub origin: Origin,
    /// The kinds that would use it.
    pub used_by: Vec<AuthKind>,
}

fn misplaced_message(
    profile: &str,
    kind: AuthKind,
    inferred: bool,
    inferred_from: Option<&str>,
    keys: &[MisplacedKey],
) -> String {
    let how = match (inferred, inferred_from) {
        (true, Some(k)) => format!(" (inferred from `{k}`: the profile sets no `auth`)"),
        (true, None) => " (the profile sets no `auth` and has no credential keys)".to_string(),
        (false, _) => String::new(),
    };
    let each: Vec<String> = keys
        .iter()
        .map(|m| {
            let users = if m.used_by.is_empty() {
                String::new()
            } else {
                let names: Vec<&str> = m.used_by.iter().map(|k| k.as_str()).collect();
                format!("; it applies to auth = {}", names.join(", "))
            };
            format!("`{}` ({}{users})", m.key, m.origin.describe(m.key))
        })
        .collect();
    let them = if keys.len() == 1 { "it" } else { "them" };
    format!(
        "profile `{profile}` uses auth = \"{kind}\"{how}, which does not use {}; remove {them}, or set `auth` to a kind that uses {them} (the table of keys per kind is in docs/credential-kinds.md)",
        each.join(", "),
    )
}

/// What a key does for one auth kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// The kind reads the key.
    Used,
    /// The key adds to the kind's credential: a client certificate presented in the TLS
    /// handshake in addition to the kind's header (X.509 + token, as grid services expect).
    Added,
    /// The kind has no use for the key: a configuration error.
    Refused,
}

impl KeyUse {
    /// The cell in the documentation table.
    pub fn symbol(self) -> &'static str {
        match self {
            KeyUse::Used => "✓",
            KeyUse::Added => "+",
            KeyUse::Refused => "✗",
        }
    }
}

/// To which kinds a key applies.
#[derive(Debug, Clone, Copy)]
enum Applies {
    /// A session setting: every kind.
    All,
    /// Every kind but these.
    AllBut(&'static [AuthKind]),
    /// Only these kinds.
    Only(&'static [AuthKind]),
    /// A client certificate: the own credential of `x509` (and of `discover`, where it
    /// replaces the discovered one), presented in addition by every other kind but `none`.
    Certificate,
}

// `AuthKind::None` stays qualified: a bare `None` must keep meaning `Option::None`.
use AuthKind::{ApiKey, Basic, Bearer, ClientCredentials, Device, Discover, JsonGrant, Netrc, Oidc, Password, X509};

/// Every kind, in the order of the documentation table.
pub const KINDS: &[AuthKind] = &[
    AuthKind::None,
    Basic,
    Bearer,
    ApiKey,
    Netrc,
    X509,
    Discover,
    ClientCredentials,
    Password,
    Oidc,
    Device,
    JsonGrant,
];
const OAUTH: &[AuthKind] = &[ClientCredentials, Password, Oidc, Device];
/// Kinds that log a person in (`sesame login --browser` also works for `device`).
const INTERACTIVE: &[AuthKind] = &[Oidc, Device];
/// Kinds that hand out a bearer token (for `min_valid`).
const TOKENS: &[AuthKind] = &[
    Bearer,
    ApiKey,
    Discover,
    ClientCredentials,
    Password,
    Oidc,
    Device,
    JsonGrant,
];
/// Kinds whose tokens are cached and renewed by sesame (`cache`, `renew_before`).
const CACHED: &[AuthKind] = &[ClientCredentials, Password, Oidc, Device, JsonGrant];
/// `auth = "json-grant"`'s own keys.
const JSON_GRANT: &[AuthKind] = &[JsonGrant];
/// `trusted_issuers` selects discovered tokens, and lists the issuers an OAuth client may
/// trust when WebFinger names one.
const ISSUER_TRUST: &[AuthKind] = &[Discover, ClientCredentials, Password, Oidc, Device];

/// The table. A key missing here is not classified: [`key_use`] answers `None` and the test
/// `every_profile_key_is_classified` fails, so whoever adds a key must decide where it
/// applies.
const RULES: &[(&str, Applies)] = &[
    ("base_url", Applies::All),
    ("auth", Applies::All),
    ("issuer", Applies::Only(OAUTH)),
    ("webfinger_prefix", Applies::Only(OAUTH)),
    ("authorization_endpoint", Applies::Only(INTERACTIVE)),
    ("token_endpoint", Applies::Only(OAUTH)),
    ("device_authorization_endpoint", Applies::Only(INTERACTIVE)),
    ("revocation_endpoint", Applies::Only(OAUTH)),
    ("introspection_endpoint", Applies::Only(OAUTH)),
    ("userinfo_endpoint", Applies::Only(OAUTH)),
    ("end_session_endpoint", Applies::Only(OAUTH)),
    ("jwks_uri", Applies::Only(OAUTH)),
    ("client_id", Applies::Only(OAUTH)),
    ("client_secret", Applies::Only(OAUTH)),
    ("client_auth", Applies::Only(OAUTH)),
    ("client_key", Applies::Only(OAUTH)),
    ("scopes", Applies::Only(OAUTH)),
    ("audience", Applies::Only(OAUTH)),
    ("resource", Applies::Only(OAUTH)),
    ("redirect_uri", Applies::Only(INTERACTIVE)),
    ("redirect_ports", Applies::Only(INTERACTIVE)),
    ("login_timeout", Applies::Only(INTERACTIVE)),
    ("renew_before", Applies::Only(CACHED)),
    ("dpop", Applies::Only(OAUTH)),
    ("par", Applies::Only(INTERACTIVE)),
    ("username", Applies::Only(&[Basic, Password])),
    ("password", Applies::Only(&[Basic, Password])),
    // With `discover`, an explicit token wins over discovery (as in igwn-auth-utils).
    ("token", Applies::Only(&[Bearer, ApiKey, Discover])),
    ("api_key_header", Applies::Only(&[ApiKey])),
    ("netrc", Applies::Only(&[Netrc, Discover])),
    ("cert", Applies::Certificate),
    ("key", Applies::Certificate),
    ("ca_bundle", Applies::All),
    ("insecure", Applies::All),
    // Both are about where and how credential headers may travel; they mean the same for
    // every kind (for `none`, hand-set headers are the only credentials there are).
    ("allow_http", Applies::All),
    ("credential_headers", Applies::All),
    ("timeout", Applies::All),
    ("connect_timeout", Applies::All),
    ("retries", Applies::All),
    ("redirects", Applies::All),
    ("cache", Applies::Only(CACHED)),
    // The cluster store shares the tokens of the OAuth kinds (docs/design/cluster-cache.md).
    ("openbao_addr", Applies::Only(OAUTH)),
    ("openbao_mount", Applies::Only(OAUTH)),
    ("openbao_path", Applies::Only(OAUTH)),
    ("openbao_auth", Applies::Only(OAUTH)),
    ("openbao_auth_mount", Applies::Only(OAUTH)),
    ("openbao_token", Applies::Only(OAUTH)),
    ("openbao_role_id", Applies::Only(OAUTH)),
    ("openbao_secret_id", Applies::Only(OAUTH)),
    ("openbao_secret_id_wrapped", Applies::Only(OAUTH)),
    ("openbao_role", Applies::Only(OAUTH)),
    ("openbao_jwt", Applies::Only(OAUTH)),
    ("cluster_fallback", Applies::Only(OAUTH)),
    ("http_cache", Applies::All),
    ("expires_after", Applies::All),
    ("min_valid", Applies::Only(TOKENS)),
    ("required_scope", Applies::Only(&[Discover])),
    ("verify_signature", Applies::Only(&[Discover])),
    ("token_discovery", Applies::Only(&[Discover])),
    ("x509_discovery", Applies::Only(&[Discover])),
    ("trusted_issuers", Applies::Only(ISSUER_TRUST)),
    // `none` never has a credential: "fail if there is none" would always fail. The other
    // kinds fail when their credential is missing (netrc: when no entry matches).
    ("fail_if_noauth", Applies::AllBut(&[AuthKind::None])),
    // igwn-auth-utils' meaning for every kind: send nothing at all.
    ("force_noauth", Applies::All),
    // What a response's status means to the caller: the same for every kind.
    ("raise_for_status", Applies::All),
    // The kinds that hold a token they did not ask a provider for.
    ("token_audience", Applies::Only(&[Bearer, Discover])),
    ("grant_endpoint", Applies::Only(JSON_GRANT)),
    ("grant_body", Applies::Only(JSON_GRANT)),
    ("token_field", Applies::Only(JSON_GRANT)),
    ("expires_field", Applies::Only(JSON_GRANT)),
    ("success_page", Applies::Only(INTERACTIVE)),
    ("failure_page", Applies::Only(INTERACTIVE)),
];

/// What `key` does for `kind`; `None` for a key the table does not classify (a bug: the
/// test over [`Profile::KEYS`](super::Profile::KEYS) catches it).
pub fn key_use(key: &str, kind: AuthKind) -> Option<KeyUse> {
    let (_, applies) = RULES.iter().find(|(k, _)| *k == key)?;
    let used = |yes: bool| if yes { KeyUse::Used } else { KeyUse::Refused };
    Some(match applies {
        Applies::All => KeyUse::Used,
        Applies::AllBut(not) => used(!not.contains(&kind)),
        Applies::Only(kinds) => used(kinds.contains(&kind)),
        Applies::Certificate => match kind {
            X509 | Discover => KeyUse::Used,
            AuthKind::None => KeyUse::Refused,
            _ => KeyUse::Added,
        },
    })
}

/// The kinds that use `key` (for the error's advice).
fn used_by(key: &str) -> Vec<AuthKind> {
    KINDS
        .iter()
        .copied()
        .filter(|k| matches!(key_use(key, *k), Some(KeyUse::Used | KeyUse::Added)))
        .collect()
}

/// The kind of a profile and where that choice came from: the `auth` key's layer, or, for
/// an inferred kind, the layer of the keys it was inferred from (with their name).
fn kind_origin(resolved: &ResolvedProfile) -> (AuthKind, Origin, Option<&'static str>) {
    let p = &resolved.profile;
    let o = |k: &str| resolved.origins.of(k).unwrap_or(Origin::Argument);
    if p.auth.is_some() {
        return (p.auth_kind(), o("auth"), None);
    }
    let kind = p.auth_kind();
    let from: &[&'static str] = match kind {
        Bearer => &["token"],
        ClientCredentials => &["client_id", "client_secret"],
        Basic => &["username", "password"],
        X509 => &["cert"],
        _ => &[],
    };
    let origin = from.iter().map(|k| o(k)).max().unwrap_or(Origin::File);
    (kind, origin, from.first().copied())
}

/// Checks the profile's keys against its auth kind: `Err` with every key that contradicts
/// the kind; keys that do not apply but came from the environment (or from a layer below
/// the one that chose the kind) are left out, and returned so the caller may say so (they
/// are also logged as warnings).
pub fn check(resolved: &ResolvedProfile) -> Result<Vec<MisplacedKey>> {
    let p = &resolved.profile;
    let (kind, kind_from, inferred_from) = kind_origin(resolved);
    let mut refused = Vec::new();
    let mut ignored = Vec::new();
    for key in p.keys_set() {
        let origin = resolved.origins.of(key).unwrap_or(Origin::Argument);
        match key_use(key, kind) {
            Some(KeyUse::Refused) => {
                let m = MisplacedKey {
                    key,
                    origin,
                    used_by: used_by(key),
                };
                // The environment is shared by every profile and tool; a file profile's
                // keys stop applying when a flag or variable picks another kind.
                if origin == Origin::Environment || origin < kind_from {
                    tracing::warn!(
                        "profile `{}`: ignoring `{key}` ({}): auth = \"{kind}\" does not use it",
                        resolved.name,
                        origin.describe(key),
                    );
                    ignored.push(m);
                } else {
                    refused.push(m);
                }
            }
            Some(KeyUse::Used | KeyUse::Added) => {}
            None => tracing::debug!(key, "profile key not classified in config::applies"),
        }
    }
    if !refused.is_empty() {
        return Err(ConfigError::KeyNotForKind {
            profile: resolved.name.clone(),
            keys: refused.iter().map(|m| m.key).collect(),
            message: misplaced_message(&resolved.name, kind, p.auth.is_none(), inferred_from, &refused),
        }
        .into());
    }
    if p.force_noauth == Some(true) && p.fail_if_noauth == Some(true) {
        return Err(ConfigError::Invalid(format!(
            "profile `{}` sets both `force_noauth` (send no credential) and `fail_if_noauth` (fail when there is no credential); keep one",
            resolved.name
        ))
        .into());
    }
    // x509 has its own message for a missing `cert` (it also accepts a lone proxy file).
    if p.key.is_some() && p.cert.is_none() && !matches!(kind, X509 | AuthKind::None) {
        return Err(ConfigError::Invalid(format!(
            "profile `{}` has a `key` but no `cert`; set `cert` to the certificate that goes with the key",
            resolved.name
        ))
        .into());
    }
    Ok(ignored)
}

/// The documentation table (docs/credential-kinds.md): one row per key, one column per kind.
pub fn markdown_table() -> String {
    let mut s = String::from("| key |");
    for k in KINDS {
        s.push_str(&format!(" {k} |"));
    }
    s.push_str("\n|---|");
    for _ in KINDS {
        s.push_str(":-:|");
    }
    s.push('\n');
    for key in super::Profile::KEYS {
        s.push_str(&format!("| `{key}` |"));
        for kind in KINDS {
            let cell = key_use(key, *kind).map(KeyUse::symbol).unwrap_or("?");
            s.push_str(&format!(" {cell} |"));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Profile};

    #[test]
    fn every_profile_key_is_classified() {
        let unclassified: Vec<_> = Profile::KEYS.iter().filter(|k| key_use(k, Bearer).is_none()).collect();
        assert!(
            unclassified.is_empty(),
            "classify these keys in crates/sesame-app/src/config/applies.rs RULES (and regenerate docs/credential-kinds.md): {unclassified:?}"
        );
        let stale: Vec<_> = RULES
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| !Profile::KEYS.contains(k))
            .collect();
        assert!(stale.is_empty(), "RULES names keys a profile does not have: {stale:?}");
        assert_eq!(KINDS.len(), AuthKind::NAMES.len(), "a kind is missing from KINDS");
    }

    #[test]
    fn the_docs_table_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/credential-kinds.md");
        let doc = std::fs::read_to_string(path).expect("docs/credential-kinds.md");
        let (begin, end) = ("<!-- BEGIN key-kind table -->\n", "<!-- END key-kind table -->");
        let start = doc.find(begin).expect("begin marker") + begin.len();
        let stop = doc[start..].find(end).expect("end marker") + start;
        let expected = markdown_table();
        if doc[start..stop] != expected && std::env::var_os("SESAME_BLESS").is_some() {
            let blessed = format!("{}{expected}{}", &doc[..start], &doc[stop..]);
            std::fs::write(path, blessed).expect("rewrite docs/credential-kinds.md");
            return;
        }
        assert!(
            doc[start..stop] == expected,
            "docs/credential-kinds.md is out of date: SESAME_BLESS=1 cargo test -p sesame-auth --lib \
             applies rewrites it; the table should be:\n{expected}"
        );
    }

    fn resolve(toml: &str, env: &[(&str, &str)]) -> Result<Vec<MisplacedKey>> {
        let cfg = Config::from_toml_str(toml, "c.toml").unwrap();
        let base = cfg.profiles.values().next().cloned().unwrap_or_default();
        let env_layer = crate::config::profile_from_pairs(env).unwrap();
        let r = crate::config::layer("p".into(), None, base, env_layer, Profile::default());
        check(&r)
    }

    #[test]
    fn a_key_the_kind_does_not_use_is_an_error_naming_key_and_kind() {
        let e = resolve(
            "[profiles.p]\nauth = \"basic\"\nusername = \"u\"\npassword = { env = \"P\" }\nclient_secret = { env = \"S\" }\n",
            &[],
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(e.is_config(), "{e:?}");
        assert!(s.contains("`client_secret`") && s.contains("auth = \"basic\""), "{s}");
        assert!(s.contains("client-credentials"), "says which kinds use it: {s}");
        let s = resolve(
            "[profiles.p]\nauth = \"bearer\"\ntoken = { env = \"T\" }\nusername = \"u\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(s.contains("`username`") && s.contains("auth = \"bearer\""), "{s}");
    }

    #[test]
    fn a_key_from_the_environment_that_does_not_apply_is_a_warning() {
        let ignored = resolve(
            "[profiles.p]\nauth = \"bearer\"\ntoken = { env = \"T\" }\n",
            &[("username", "alice"), ("client_id", "c")],
        )
        .unwrap();
        let keys: Vec<_> = ignored.iter().map(|m| m.key).collect();
        assert_eq!(keys, ["client_id", "username"]);
    }

    #[test]
    fn an_inferred_kind_names_what_it_was_inferred_from() {
        let s = resolve("[profiles.p]\ntoken = { env = \"T\" }\nscopes = [\"a\"]\n", &[])
            .unwrap_err()
            .to_string();
        assert!(s.contains("inferred from `token`") && s.contains("`scopes`"), "{s}");
        let s = resolve(
            "[profiles.p]\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            s.contains("auth = \"none\"") && s.contains("sets no `auth`") && s.contains("`issuer`"),
            "{s}"
        );
        // Inferred from an ambient SESAME_TOKEN: the file's basic keys are below it.
        let ignored = resolve(
            "[profiles.p]\nusername = \"u\"\npassword = { env = \"P\" }\n",
            &[("token", "t")],
        )
        .unwrap();
        assert_eq!(ignored.len(), 2);
    }

    #[test]
    fn fail_if_noauth_with_none_and_both_noauth_keys_are_errors() {
        let s = resolve("[profiles.p]\nauth = \"none\"\nfail_if_noauth = true\n", &[])
            .unwrap_err()
            .to_string();
        assert!(s.contains("`fail_if_noauth`") && s.contains("auth = \"none\""), "{s}");
        let s = resolve(
            "[profiles.p]\nauth = \"discover\"\nfail_if_noauth = true\nforce_noauth = true\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(s.contains("force_noauth") && s.contains("fail_if_noauth"), "{s}");
    }

    #[test]
    fn certificates_combine_with_token_kinds() {
        for kind in [Bearer, ApiKey, Basic, Netrc, ClientCredentials, Password, Oidc, Device] {
            assert_eq!(key_use("cert", kind), Some(KeyUse::Added), "{kind}");
        }
        assert_eq!(key_use("cert", X509), Some(KeyUse::Used));
        assert_eq!(key_use("cert", AuthKind::None), Some(KeyUse::Refused));
        assert_eq!(key_use("token", Discover), Some(KeyUse::Used));
    }
}
