//! One profile of the configuration file (docs/configuration.md): every key, its type, and the merge
//! that gives flags precedence over the environment over the file.

use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::secret_source::SecretSource;

/// How a profile authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    /// No credential.
    None,
    /// HTTP Basic with `username` and `password`.
    Basic,
    /// A static bearer `token`.
    Bearer,
    /// A static `token` in the `api_key_header` header.
    ApiKey,
    /// Basic credentials from the netrc file, per host.
    Netrc,
    /// A TLS client certificate (`cert` + `key`, or a proxy file).
    X509,
    /// Grid token and certificate discovery (SciTokens, WLCG bearer token files, X.509).
    Discover,
    /// OAuth 2.0 client credentials grant.
    ClientCredentials,
    /// OAuth 2.0 resource owner password grant.
    Password,
    /// OpenID Connect authorization code + PKCE in a browser.
    Oidc,
    /// OAuth 2.0 device authorization grant (RFC 8628).
    Device,
    /// A JSON body POSTed to `grant_endpoint`, the token read from the reply (ITk's
    /// `grantToken`); cached and renewed like an OAuth token.
    JsonGrant,
}

impl AuthKind {
    /// All kinds, as written in the file.
    pub const NAMES: &'static [&'static str] = &[
        "none",
        "basic",
        "bearer",
        "api-key",
        "netrc",
        "x509",
        "discover",
        "client-credentials",
        "password",
        "oidc",
        "device",
        "json-grant",
    ];

    /// The name as written in the file.
    pub fn as_str(&self) -> &'static str {
        match self {
            AuthKind::None => "none",
            AuthKind::Basic => "basic",
            AuthKind::Bearer => "bearer",
            AuthKind::ApiKey => "api-key",
            AuthKind::Netrc => "netrc",
            AuthKind::X509 => "x509",
            AuthKind::Discover => "discover",
            AuthKind::ClientCredentials => "client-credentials",
            AuthKind::Password => "password",
            AuthKind::Oidc => "oidc",
            AuthKind::Device => "device",
            AuthKind::JsonGrant => "json-grant",
        }
    }

    /// Whether this kind obtains tokens from an OAuth provider.
    pub fn is_oauth(&self) -> bool {
        matches!(
            self,
            AuthKind::ClientCredentials | AuthKind::Password | AuthKind::Oidc | AuthKind::Device
        )
    }
}

impl FromStr for AuthKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let v = toml::Value::String(s.to_string());
        AuthKind::deserialize(v).map_err(|_| {
            let hint = super::did_you_mean(s, Self::NAMES)
                .map(|h| format!(" (did you mean `{h}`?)"))
                .unwrap_or_default();
            format!("unknown auth kind `{s}`{hint}; one of: {}", Self::NAMES.join(", "))
        })
    }
}

impl std::fmt::Display for AuthKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string or a list of strings (`audience = "x"` or `audience = ["x", "y"]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One value.
    One(String),
    /// Several values.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values as a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// The profile's `dpop`: `true`, `false` or `"auto"` (RFC 9449 sender-constrained tokens).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum DpopSetting {
    /// `true` or `false`.
    Bool(bool),
    /// `"auto"` (or `"true"`/`"false"` from an environment variable).
    Word(String),
}

impl DpopSetting {
    /// The mode, or a configuration error for another word.
    pub fn mode(&self) -> sesame::Result<sesame::oauth::dpop::DpopMode> {
        use sesame::oauth::dpop::DpopMode;
        match self {
            DpopSetting::Bool(true) => Ok(DpopMode::On),
            DpopSetting::Bool(false) => Ok(DpopMode::Off),
            DpopSetting::Word(w) => match w.trim().to_ascii_lowercase().as_str() {
                "auto" => Ok(DpopMode::Auto),
                "true" | "1" | "yes" | "on" => Ok(DpopMode::On),
                "false" | "0" | "no" | "off" => Ok(DpopMode::Off),
                _ => Err(sesame::Error::config(format!(
                    "dpop = \"{}\" is not valid: use true, false or \"auto\"",
                    sesame::oauth::clean(w, 40)
                ))),
            },
        }
    }
}

/// A port or a list of ports for the loopback redirect.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Ports {
    /// One port (0 = any free port).
    One(u16),
    /// Ports to try in order.
    Many(Vec<u16>),
}

macro_rules! profile {
    ($( $(#[doc = $doc:literal])* $field:ident : $ty:ty => $kind:ident ),* $(,)?) => {
        /// A profile: every key optional; [`Profile::merge`] layers flags over environment
        /// over file.
        ///
        /// Serialized, it is the profile's table as the file writes it (only the keys set;
        /// secrets as their source, so `{ env = … }` stays a reference): `sesame config
        /// init` writes it.
        #[derive(Debug, Clone, Default, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct Profile {
            $( $(#[doc = $doc])* #[serde(skip_serializing_if = "Option::is_none")] pub $field: Option<$ty>, )*
        }

        impl Profile {
            /// Every key a profile accepts, as written in the file.
            pub const KEYS: &'static [&'static str] = &[ $( stringify!($field) ),* ];

            /// Each key with its doc comment (one line per doc line), in [`Profile::KEYS`]
            /// order: the source of the key table in `docs/configuration.md`.
            pub const KEY_DOCS: &'static [(&'static str, &'static str)] =
                &[ $( (stringify!($field), concat!($($doc, "\n"),*)) ),* ];

            /// Each key with its Rust type as written (`Option<…>` left off), in
            /// [`Profile::KEYS`] order.
            pub const KEY_TYPES: &'static [(&'static str, &'static str)] =
                &[ $( (stringify!($field), stringify!($ty)) ),* ];

            /// The keys that are set, in [`Profile::KEYS`] order.
            pub fn keys_set(&self) -> Vec<&'static str> {
                let mut set = Vec::new();
                $( if self.$field.is_some() { set.push(stringify!($field)); } )*
                set
            }

            /// `self` with every key set in `over` replaced by `over`'s value.
            pub fn merge(mut self, over: Profile) -> Profile {
                $( if over.$field.is_some() { self.$field = over.$field; } )*
                self
            }

            /// How each key is read from a `SESAME_<KEY>` environment variable.
            pub(crate) fn env_kind(key: &str) -> Option<EnvKind> {
                match key {
                    $( stringify!($field) => Some(EnvKind::$kind), )*
                    _ => None,
                }
            }
        }
    };
}

/// How an environment variable's text becomes a TOML value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum EnvKind {
    Str,
    List,
    Bool,
    Int,
    Float,
    Secret,
    Ports,
    /// A TOML inline table (`{ grant_type = "password", accessCode1 = { env = "X" } }`).
    Table,
}

profile! {
    /// Relative request URLs join here; credentials are sent only to this origin and path.
    base_url: String => Str,
    /// How to authenticate.
    auth: AuthKind => Str,
    /// The OAuth/OIDC issuer; found by WebFinger on `base_url` when omitted.
    issuer: String => Str,
    /// Path prefix for WebFinger (ASAM ODS convention).
    webfinger_prefix: String => Str,
    /// Explicit authorization endpoint (skips discovery).
    authorization_endpoint: String => Str,
    /// Explicit token endpoint (skips discovery).
    token_endpoint: String => Str,
    /// Explicit device authorization endpoint.
    device_authorization_endpoint: String => Str,
    /// Explicit revocation endpoint (RFC 7009).
    revocation_endpoint: String => Str,
    /// Explicit introspection endpoint (RFC 7662).
    introspection_endpoint: String => Str,
    /// Explicit userinfo endpoint.
    userinfo_endpoint: String => Str,
    /// Explicit end-session endpoint.
    end_session_endpoint: String => Str,
    /// Explicit JWKS URI.
    jwks_uri: String => Str,
    /// OAuth client id.
    client_id: String => Str,
    /// OAuth client secret.
    client_secret: SecretSource => Secret,
    /// Client authentication: basic, post, none, private-key-jwt.
    client_auth: String => Str,
    /// PEM private key for `client_auth = "private-key-jwt"`.
    client_key: PathBuf => Str,
    /// Scopes to request.
    scopes: Vec<String> => List,
    /// Audience(s) to request.
    audience: OneOrMany => List,
    /// Also send the audience as RFC 8707 `resource`.
    resource: bool => Bool,
    /// Loopback redirect URI for the browser flow.
    redirect_uri: String => Str,
    /// Ports to try for the loopback redirect.
    redirect_ports: Ports => Ports,
    /// Seconds to wait for the browser or the device.
    login_timeout: u64 => Int,
    /// Renew when fewer seconds than this remain.
    renew_before: u64 => Int,
    /// Sender-constrained tokens (DPoP, RFC 9449): `true`, `false` (default) or `"auto"`
    /// (when the provider advertises `dpop_signing_alg_values_supported`).
    dpop: DpopSetting => Str,
    /// Pushed authorization requests (PAR, RFC 9126) for the browser login: `true`
    /// requires them, `false` never pushes; unset, they are used when the provider
    /// advertises `pushed_authorization_request_endpoint`.
    par: bool => Bool,
    /// Username (basic, password grant).
    username: String => Str,
    /// Password (basic, password grant).
    password: SecretSource => Secret,
    /// Static token (bearer, api-key).
    token: SecretSource => Secret,
    /// Header for `auth = "api-key"` (default X-API-Key).
    api_key_header: String => Str,
    /// Netrc file (default $NETRC, else ~/.netrc).
    netrc: PathBuf => Str,
    /// Client certificate (or proxy) PEM file.
    cert: PathBuf => Str,
    /// Client key PEM file.
    key: PathBuf => Str,
    /// Extra CA bundle, added to the system roots.
    ca_bundle: PathBuf => Str,
    /// Disable TLS verification for this profile (loudly).
    insecure: bool => Bool,
    /// Send credentials over plain `http://` to a host that is not loopback (they cross
    /// the network readable by anyone on the path; refused without this or `insecure`).
    allow_http: bool => Bool,
    /// Extra request headers that carry credentials when set by hand (`X-Auth`, …):
    /// dropped on redirects that leave the origin, part of the HTTP cache key, redacted.
    credential_headers: Vec<String> => List,
    /// Request timeout, seconds.
    timeout: f64 => Float,
    /// Connect timeout, seconds.
    connect_timeout: f64 => Float,
    /// Retries for idempotent requests.
    retries: u32 => Int,
    /// Redirect policy: none, same-origin, all.
    redirects: String => Str,
    /// Token cache: file, keyring, memory, openbao (shared by the hosts of a cluster,
    /// in front of the local file cache).
    cache: String => Str,
    /// OpenBao (Vault) node URLs of the cluster token store (`cache = "openbao"`): one or
    /// several, tried in order.
    openbao_addr: OneOrMany => List,
    /// KV v2 mount of the cluster token store (default `secret`).
    openbao_mount: String => Str,
    /// Path prefix of the token records under the mount (default `sesame`).
    openbao_path: String => Str,
    /// How sesame logs in to OpenBao: `token` (default: `openbao_token`, else
    /// `$VAULT_TOKEN`, `$BAO_TOKEN`, `~/.vault-token`, htgettoken's `/tmp/vt_u<uid>`),
    /// `approle` or `jwt`.
    openbao_auth: String => Str,
    /// Where the OpenBao auth method is mounted (default `approle` or `jwt`).
    openbao_auth_mount: String => Str,
    /// The OpenBao token (`openbao_auth = "token"`), instead of the default search.
    openbao_token: SecretSource => Secret,
    /// AppRole role ID (`openbao_auth = "approle"`).
    openbao_role_id: SecretSource => Secret,
    /// AppRole secret ID (`openbao_auth = "approle"`).
    openbao_secret_id: SecretSource => Secret,
    /// The AppRole secret ID is a response-wrapping token: unwrapped once, kept in memory.
    openbao_secret_id_wrapped: bool => Bool,
    /// JWT auth role (`openbao_auth = "jwt"`).
    openbao_role: String => Str,
    /// File holding the workload JWT (`openbao_auth = "jwt"`: a Kubernetes service-account
    /// token, an HTCondor-issued token), re-read at every login.
    openbao_jwt: PathBuf => Str,
    /// OpenBao unreachable: `local` refreshes on this host, `fail` keeps serving the
    /// cached token and then fails (default when a refresh token may rotate).
    cluster_fallback: String => Str,
    /// RFC 9111 response cache for GET.
    http_cache: bool => Bool,
    /// Seconds a cached response stays fresh whatever the server said (overrides its
    /// freshness; `no-store` responses are still never stored).
    expires_after: u64 => Int,
    /// Seconds a token must still be valid to be used.
    min_valid: u64 => Int,
    /// Capabilities a discovered JWT must grant, e.g. `storage.read:/data` (discover).
    required_scope: OneOrMany => List,
    /// Use a discovered JWT only if its signature verifies against its `https` issuer's
    /// JWKS; opaque tokens are then passed over (discover).
    verify_signature: bool => Bool,
    /// Use only discovered tokens whose `iss` is one of these (discover); the issuers a
    /// confidential OAuth client may authenticate to when WebFinger names them (without
    /// `issuer`, a client with a secret or key refuses any other).
    trusted_issuers: Vec<String> => List,
    /// Discover: `"required"` (finding no token is an error), `"optional"` or `"off"` (no
    /// token is looked for); igwn-auth-utils' `token=True`/`False`. Default:
    /// `SESAME_FIND_TOKEN`, else optional.
    token_discovery: String => Str,
    /// Discover: `"required"`, `"optional"` or `"off"` for the X.509 credential;
    /// igwn-auth-utils' `cert=True`/`False`. Default: `SESAME_FIND_X509`, else optional.
    x509_discovery: String => Str,
    /// Fail before sending when no credential is found (discover).
    fail_if_noauth: bool => Bool,
    /// Send no credential at all (discover).
    force_noauth: bool => Bool,
    /// Turn every response with a status of 400 or more into an HTTP error (igwn-auth-utils'
    /// `raise_for_status`; default off: a response is returned whatever its status).
    raise_for_status: bool => Bool,
    /// The audience(s) a token's `aud` must name (or `ANY`), instead of the request's
    /// `scheme://host`: discovered tokens that do not are passed over (discover); a static
    /// JWT that does not is refused before anything is sent (bearer).
    token_audience: OneOrMany => List,
    /// auth = json-grant: the URL the grant body is POSTed to (ITk's `…/grantToken`).
    grant_endpoint: String => Str,
    /// auth = json-grant: the JSON body's members; a value is a string, number or boolean,
    /// or a secret source (`{ env = "VAR" }`, `{ file = "path" }`, `{ keyring = "s:u" }`).
    grant_body: super::json_grant::GrantBody => Table,
    /// auth = json-grant: where the reply holds the token, a JSON pointer (`/id_token`) or
    /// a dotted field (`data.token`); default `id_token`.
    token_field: String => Str,
    /// auth = json-grant: where the reply says how many seconds the token lives (pointer
    /// or dotted field); default `expires_in`.
    expires_field: String => Str,
    /// HTML template for the login success page.
    success_page: PathBuf => Str,
    /// HTML template for the login failure page.
    failure_page: PathBuf => Str,
}
