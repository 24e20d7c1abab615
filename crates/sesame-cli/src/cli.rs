//! Command-line arguments (clap derive). Parsing only: every flag maps onto a profile key
//! or a command option; the work is done by the `sesame` library.

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};
use sesame_app::config::{OneOrMany, Ports, Profile, SecretSource};

/// An authenticated HTTP session to a REST API, from the shell.
///
/// stdout carries only the product (a token, JSON, a response body); progress, warnings
/// and errors go to stderr. Exit codes: 0 ok, 1 error, 2 usage or configuration error,
/// 3 HTTP status >= 400 from `request`, 4 login required, 130 interrupted.
#[derive(Debug, Parser)]
// The `help` command is sesame's own: besides a command's help it prints the profile keys
// (`help config`) and the keys of one auth kind (`help oidc`), offline.
#[command(name = "sesame", version, about, long_about, disable_help_subcommand = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(flatten)]
    pub profile: ProfileFlags,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Profile to use (else $SESAME_PROFILE, else `default_profile`).
    #[arg(short = 'p', long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Configuration file (else $SESAME_CONFIG, else ~/.config/sesame/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More detail on stderr (-v info, -vv debug, -vvv trace); secrets are always redacted.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Never prompt and never open a browser.
    #[arg(long, global = true)]
    pub no_input: bool,
}

/// Every profile key as a flag; a flag overrides the environment and the file.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Profile overrides")]
pub struct ProfileFlags {
    /// Base URL: relative URLs join here; credentials go only to its origin and path.
    #[arg(long, global = true, value_name = "URL")]
    pub base_url: Option<String>,
    /// Auth kind: none, basic, bearer, api-key, netrc, x509, discover, client-credentials, password, oidc, device.
    #[arg(long, global = true, value_name = "KIND")]
    pub auth: Option<String>,
    /// OAuth/OIDC issuer URL.
    #[arg(long, global = true, value_name = "URL")]
    pub issuer: Option<String>,
    /// Path prefix for WebFinger discovery.
    #[arg(long, global = true, value_name = "PREFIX")]
    pub webfinger_prefix: Option<String>,
    /// Explicit token endpoint (skips discovery).
    #[arg(long, global = true, value_name = "URL")]
    pub token_endpoint: Option<String>,
    /// Explicit authorization endpoint.
    #[arg(long, global = true, value_name = "URL")]
    pub authorization_endpoint: Option<String>,
    /// Explicit device authorization endpoint.
    #[arg(long, global = true, value_name = "URL")]
    pub device_authorization_endpoint: Option<String>,
    /// Explicit revocation endpoint.
    #[arg(long, global = true, value_name = "URL")]
    pub revocation_endpoint: Option<String>,
    /// Explicit introspection endpoint.
    #[arg(long, global = true, value_name = "URL")]
    pub introspection_endpoint: Option<String>,
    /// Explicit userinfo endpoint.
    #[arg(long, global = true, value_name = "URL")]
    pub userinfo_endpoint: Option<String>,
    /// Explicit end-session endpoint.
    #[arg(long, global = true, value_name = "URL")]
    pub end_session_endpoint: Option<String>,
    /// OAuth client id.
    #[arg(long, global = true, value_name = "ID")]
    pub client_id: Option<String>,
    /// Read the client secret from this environment variable.
    #[arg(long, global = true, value_name = "VAR")]
    pub client_secret_env: Option<String>,
    /// Read the client secret from this file.
    #[arg(long, global = true, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// Read the client secret from this OS keyring entry (`service:user`).
    #[arg(long, global = true, value_name = "SERVICE:USER")]
    pub client_secret_keyring: Option<String>,
    /// Client authentication: basic, post, none, private-key-jwt.
    #[arg(long, global = true, value_name = "METHOD")]
    pub client_auth: Option<String>,
    /// Private key (PEM) for private-key-jwt client authentication.
    #[arg(long, global = true, value_name = "FILE")]
    pub client_key: Option<PathBuf>,
    /// Scope to request (repeatable).
    #[arg(long = "scope", global = true, value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Audience to request (repeatable).
    #[arg(long = "audience", global = true, value_name = "AUD")]
    pub audiences: Vec<String>,
    /// Also send the audience as an RFC 8707 `resource`.
    #[arg(long, global = true)]
    pub resource: bool,
    /// Loopback redirect URI for the browser login.
    #[arg(long, global = true, value_name = "URI")]
    pub redirect_uri: Option<String>,
    /// Seconds to wait for the browser or device login.
    #[arg(long, global = true, value_name = "S")]
    pub login_timeout: Option<u64>,
    /// Renew tokens when fewer seconds than this remain.
    #[arg(long, global = true, value_name = "S")]
    pub renew_before: Option<u64>,
    /// Sender-constrained tokens (DPoP, RFC 9449): true, false or auto.
    #[arg(long, global = true, value_name = "MODE")]
    pub dpop: Option<String>,
    /// Require pushed authorization requests (RFC 9126) for the browser login.
    #[arg(long, global = true)]
    pub par: bool,
    /// Username (basic auth, password grant).
    #[arg(long, global = true, value_name = "USER")]
    pub username: Option<String>,
    /// Read the password from this environment variable.
    #[arg(long, global = true, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Read the password from this file.
    #[arg(long, global = true, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Read the password from this OS keyring entry (`service:user`).
    #[arg(long, global = true, value_name = "SERVICE:USER")]
    pub password_keyring: Option<String>,
    /// Read the static token (bearer, api-key) from this environment variable.
    #[arg(long, global = true, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Read the static token (bearer, api-key) from this file.
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Read the static token (bearer, api-key) from this OS keyring entry (`service:user`).
    #[arg(long, global = true, value_name = "SERVICE:USER")]
    pub token_keyring: Option<String>,
    /// Header for auth = api-key (default X-API-Key).
    #[arg(long, global = true, value_name = "NAME")]
    pub api_key_header: Option<String>,
    /// Netrc file (default $NETRC, else ~/.netrc).
    #[arg(long, global = true, value_name = "FILE")]
    pub netrc: Option<PathBuf>,
    /// Client certificate PEM (or a proxy file holding certificate, key and chain).
    #[arg(long, global = true, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client key PEM.
    #[arg(long, global = true, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Extra CA bundle (PEM), added to the system roots.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_bundle: Option<PathBuf>,
    /// Disable TLS certificate verification (dangerous; warns on every use).
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Allow credentials over plain http:// to a host that is not loopback (they cross the
    /// network unencrypted).
    #[arg(long, global = true)]
    pub allow_http: bool,
    /// A header that carries a credential when set with -H (repeatable): never sent across
    /// origins on a redirect, part of the HTTP cache key, redacted in logs.
    #[arg(long = "credential-header", global = true, value_name = "NAME")]
    pub credential_headers: Vec<String>,
    /// Request timeout in seconds (0 = none).
    #[arg(long, global = true, value_name = "S")]
    pub timeout: Option<f64>,
    /// Connect timeout in seconds.
    #[arg(long, global = true, value_name = "S")]
    pub connect_timeout: Option<f64>,
    /// Retries for idempotent requests.
    #[arg(long, global = true, value_name = "N")]
    pub retries: Option<u32>,
    /// Redirects to follow: none, same-origin, all.
    #[arg(long, global = true, value_name = "POLICY")]
    pub redirects: Option<String>,
    /// Token cache: file, keyring, memory.
    #[arg(long, global = true, value_name = "STORE")]
    pub cache: Option<String>,
    /// Cache GET responses (RFC 9111).
    #[arg(long, global = true)]
    pub http_cache: bool,
    /// auth = discover: use a JWT only if its signature verifies against its https issuer's keys.
    #[arg(long, global = true)]
    pub verify_signature: bool,
    /// auth = discover: use only tokens from this issuer; a confidential OAuth client: may
    /// authenticate to this issuer when the API's WebFinger names it (repeatable).
    #[arg(long = "trusted-issuer", global = true, value_name = "URL")]
    pub trusted_issuers: Vec<String>,
    /// With --http-cache: treat cached responses as fresh for this many seconds, whatever
    /// the server says (no-store is still honoured).
    #[arg(long, global = true, value_name = "S")]
    pub expires_after: Option<u64>,
    /// Seconds a token must still be valid to be used; fewer left means renew first
    /// (`token`, `exec`, discovered tokens; default 60).
    #[arg(long, global = true, value_name = "S")]
    pub min_valid: Option<u64>,
    /// Explicit JWKS URI (skips discovery of the provider's keys).
    #[arg(long, global = true, value_name = "URL")]
    pub jwks_uri: Option<String>,
    /// Loopback port for the browser login's redirect (repeatable: tried in order; 0 = any).
    #[arg(long = "redirect-port", global = true, value_name = "PORT")]
    pub redirect_ports: Vec<u16>,
    /// auth = discover: a capability a discovered JWT must grant (repeatable).
    #[arg(long = "required-scope", global = true, value_name = "SCOPE")]
    pub required_scopes: Vec<String>,
    /// auth = discover: token discovery is required, optional or off.
    #[arg(long, global = true, value_name = "MODE", value_parser = ["required", "optional", "off"])]
    pub token_discovery: Option<String>,
    /// auth = discover: X.509 credential discovery is required, optional or off.
    #[arg(long, global = true, value_name = "MODE", value_parser = ["required", "optional", "off"])]
    pub x509_discovery: Option<String>,
    /// auth = discover: fail before sending when no credential is found.
    #[arg(long, global = true, conflicts_with = "force_noauth")]
    pub fail_if_noauth: bool,
    /// auth = discover: send no credential at all.
    #[arg(long, global = true)]
    pub force_noauth: bool,
    /// A status >= 400 is an error (`request`: as --fail; the profile key `raise_for_status`).
    #[arg(long, global = true)]
    pub raise_for_status: bool,
    /// auth = discover or bearer: an audience a token's `aud` must name instead of the
    /// request's scheme://host (repeatable).
    #[arg(long = "token-audience", global = true, value_name = "AUD")]
    pub token_audiences: Vec<String>,
    /// auth = json-grant: the URL the grant body is POSTed to.
    #[arg(long, global = true, value_name = "URL")]
    pub grant_endpoint: Option<String>,
    /// auth = json-grant: a member of the JSON body, `NAME=VALUE` (`NAME=env:VAR` and
    /// `NAME=file:PATH` read a secret; a bare `NAME` reads the variable of that name).
    #[arg(long = "grant-body", global = true, value_name = "NAME=VALUE")]
    pub grant_body: Vec<String>,
    /// auth = json-grant: where the reply holds the token (JSON pointer or dotted field).
    #[arg(long, global = true, value_name = "FIELD")]
    pub token_field: Option<String>,
    /// auth = json-grant: where the reply holds the token's lifetime in seconds.
    #[arg(long, global = true, value_name = "FIELD")]
    pub expires_field: Option<String>,
    /// HTML template for the browser login's success page.
    #[arg(long, global = true, value_name = "FILE")]
    pub success_page: Option<PathBuf>,
    /// HTML template for the browser login's failure page.
    #[arg(long, global = true, value_name = "FILE")]
    pub failure_page: Option<PathBuf>,
}

impl ProfileFlags {
    /// The flags as a profile layer (unset flags leave keys untouched).
    pub fn to_profile(&self) -> Result<Profile, String> {
        let secret = |env: &Option<String>, file: &Option<PathBuf>, keyring: &Option<String>| {
            env.clone()
                .map(SecretSource::Env)
                .or_else(|| file.clone().map(SecretSource::File))
                .or_else(|| keyring.clone().map(SecretSource::Keyring))
        };
        let auth = match &self.auth {
            Some(a) => Some(a.parse()?),
            None => None,
        };
        Ok(Profile {
            base_url: self.base_url.clone(),
            auth,
            issuer: self.issuer.clone(),
            webfinger_prefix: self.webfinger_prefix.clone(),
            token_endpoint: self.token_endpoint.clone(),
            authorization_endpoint: self.authorization_endpoint.clone(),
            device_authorization_endpoint: self.device_authorization_endpoint.clone(),
            revocation_endpoint: self.revocation_endpoint.clone(),
            introspection_endpoint: self.introspection_endpoint.clone(),
            userinfo_endpoint: self.userinfo_endpoint.clone(),
            end_session_endpoint: self.end_session_endpoint.clone(),
            client_id: self.client_id.clone(),
            client_secret: secret(
                &self.client_secret_env,
                &self.client_secret_file,
                &self.client_secret_keyring,
            ),
            client_auth: self.client_auth.clone(),
            client_key: self.client_key.clone(),
            scopes: (!self.scopes.is_empty()).then(|| self.scopes.clone()),
            audience: (!self.audiences.is_empty()).then(|| OneOrMany::Many(self.audiences.clone())),
            resource: self.resource.then_some(true),
            redirect_uri: self.redirect_uri.clone(),
            login_timeout: self.login_timeout,
            renew_before: self.renew_before,
            dpop: self.dpop.clone().map(sesame_app::config::DpopSetting::Word),
            par: self.par.then_some(true),
            username: self.username.clone(),
            password: secret(&self.password_env, &self.password_file, &self.password_keyring),
            token: secret(&self.token_env, &self.token_file, &self.token_keyring),
            api_key_header: self.api_key_header.clone(),
            netrc: self.netrc.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
            ca_bundle: self.ca_bundle.clone(),
            insecure: self.insecure.then_some(true),
            allow_http: self.allow_http.then_some(true),
            credential_headers: (!self.credential_headers.is_empty()).then(|| self.credential_headers.clone()),
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            retries: self.retries,
            redirects: self.redirects.clone(),
            cache: self.cache.clone(),
            http_cache: self.http_cache.then_some(true),
            expires_after: self.expires_after,
            verify_signature: self.verify_signature.then_some(true),
            trusted_issuers: (!self.trusted_issuers.is_empty()).then(|| self.trusted_issuers.clone()),
            min_valid: self.min_valid,
            jwks_uri: self.jwks_uri.clone(),
            redirect_ports: match self.redirect_ports.as_slice() {
                [] => None,
                [one] => Some(Ports::One(*one)),
                many => Some(Ports::Many(many.to_vec())),
            },
            required_scope: (!self.required_scopes.is_empty()).then(|| OneOrMany::Many(self.required_scopes.clone())),
            token_discovery: self.token_discovery.clone(),
            x509_discovery: self.x509_discovery.clone(),
            fail_if_noauth: self.fail_if_noauth.then_some(true),
            force_noauth: self.force_noauth.then_some(true),
            raise_for_status: self.raise_for_status.then_some(true),
            token_audience: (!self.token_audiences.is_empty()).then(|| OneOrMany::Many(self.token_audiences.clone())),
            grant_endpoint: self.grant_endpoint.clone(),
            grant_body: grant_body(&self.grant_body),
            token_field: self.token_field.clone(),
            expires_field: self.expires_field.clone(),
            success_page: self.success_page.clone(),
            failure_page: self.failure_page.clone(),
            // The cluster token store is site configuration, shared by every job of a
            // batch cluster: set in the file or as SESAME_OPENBAO_* variables, no flags.
            ..Profile::default()
        })
    }
}

/// `--grant-body` items as the profile's table. Secrets come from `env:`/`file:` sources:
/// a code written on the command line would be visible to every user of the machine.
fn grant_body(items: &[String]) -> Option<sesame_app::config::GrantBody> {
    use sesame_app::config::GrantValue;
    if items.is_empty() {
        return None;
    }
    let body = items
        .iter()
        .map(|item| {
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n, v),
                None => (item.as_str(), ""),
            };
            let value = if value.is_empty() {
                SecretSource::Env(name.to_string())
            } else if let Some(var) = value.strip_prefix("env:") {
                SecretSource::Env(var.to_string())
            } else if let Some(path) = value.strip_prefix("file:") {
                SecretSource::File(PathBuf::from(path))
            } else {
                SecretSource::Literal(value.to_string())
            };
            (name.to_string(), GrantValue::Text(value))
        })
        .collect();
    Some(body)
}

/// `sesame token` alone: the same global flags and the same [`TokenArgs`], without the other
/// commands. Why it exists: `sesame token` runs in shell prompts and scripts many times a
/// second, and clap spends about a third of that command's run copying every global flag
/// into every subcommand when it builds the full tree. This grammar is a strict subset of
/// [`Cli`]'s, so whatever it accepts the full parser would read the same way; everything it
/// refuses (help, `--version`, typos, other commands) goes to the full parser, which prints
/// exactly what it always printed.
#[derive(Debug, Parser)]
#[command(name = "sesame")]
pub struct TokenCli {
    #[command(flatten)]
    pub global: Global,
    #[command(flatten)]
    pub profile: ProfileFlags,
    #[command(subcommand)]
    pub command: TokenOnly,
}

#[derive(Debug, Subcommand)]
pub enum TokenOnly {
    /// Print a valid access token (from the cache when it has --min-valid seconds left).
    Token(TokenArgs),
}

impl From<TokenCli> for Cli {
    fn from(t: TokenCli) -> Cli {
        let TokenOnly::Token(args) = t.command;
        Cli {
            global: t.global,
            profile: t.profile,
            command: Command::Token(args),
        }
    }
}

impl Cli {
    /// Parses a command line (`args[0]` is the program). The error is clap's: printed, it
    /// is the usage message (exit code 2) or the help or version text (exit code 0).
    ///
    /// `--scope`/`--audience` set the profile's `scopes`/`audience` (as `SESAME_SCOPES` and
    /// `SESAME_AUDIENCE` do) wherever they stand, except after `token`: there they
    /// down-scope that one token ([`TokenArgs::scopes`]).
    pub fn try_parse_args(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        if args.iter().skip(1).any(|a| a == "token") {
            let cmd = TokenCli::command();
            if let Ok(m) = cmd.clone().try_get_matches_from(&args)
                && let Ok(cli) = TokenCli::from_arg_matches(&m)
            {
                let mut cli: Cli = cli.into();
                split_token_flags(&mut cli, &cmd, &args);
                return Ok(cli);
            }
        }
        let cmd = Cli::command();
        let m = cmd.clone().try_get_matches_from(&args)?;
        let mut cli = Cli::from_arg_matches(&m)?;
        split_token_flags(&mut cli, &cmd, &args);
        Ok(cli)
    }
}

/// Splits the `--scope`/`--audience` values around `token`: those before it set the
/// profile, those after it down-scope the token. clap merges a global flag's values from
/// both sides (the subcommand's win), so the split reads the command line itself, with the
/// grammar's own knowledge of which options take a value.
fn split_token_flags(cli: &mut Cli, cmd: &clap::Command, args: &[std::ffi::OsString]) {
    let Command::Token(token) = &mut cli.command else {
        return;
    };
    let takes_value = |long: Option<&str>, short: Option<char>| {
        cmd.get_arguments().any(|a| {
            (long.is_some() && a.get_long() == long || short.is_some() && a.get_short() == short)
                && a.get_action().takes_values()
        })
    };
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let (mut before, mut after) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    let mut seen_token = false;
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            break;
        }
        let side = if seen_token { &mut after } else { &mut before };
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let value = match inline {
                Some(v) => Some(v),
                None if takes_value(Some(name), None) => {
                    i += 1;
                    args.get(i).cloned()
                }
                None => None,
            };
            match (name, value) {
                ("scope", Some(v)) => side.0.push(v),
                ("audience", Some(v)) => side.1.push(v),
                _ => {}
            }
        } else if a.len() > 1 && a.starts_with('-') {
            // Short options: only the last of a cluster may take a value, attached or next.
            let last = a.chars().last();
            if a.chars().count() == 2 && takes_value(None, last) {
                i += 1;
            }
        } else if !seen_token {
            seen_token = a == "token";
        }
        i += 1;
    }
    if !seen_token {
        return;
    }
    cli.profile.scopes = before.0;
    cli.profile.audiences = before.1;
    token.scopes = after.0;
    token.audiences = after.1;
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in (browser or device flow, per the profile) and store the tokens in the cache.
    Login(LoginArgs),
    /// Send an authenticated request; the body goes to stdout.
    Request(RequestArgs),
    /// Show the profile, its credential and how long it stays valid (tokens masked).
    Status(StatusArgs),
    /// Run a command with BEARER_TOKEN_FILE pointing at a 0600 token file kept valid while it runs.
    Exec(ExecArgs),
    /// Print a valid access token (from the cache when it has --min-valid seconds left).
    Token(TokenArgs),
    /// Delete the profile's cached tokens (and revoke them with --revoke).
    Logout(LogoutArgs),
    /// Discover a provider (WebFinger, then OIDC / RFC 8414 metadata) and print its endpoints.
    Discover(DiscoverArgs),
    /// RFC 7662 introspection of a token (argument, `-` for stdin, else the profile's).
    Introspect(IntrospectArgs),
    /// Print the userinfo claims of the profile's token.
    Userinfo,
    /// RFC 7591 dynamic client registration; prints the new client_id.
    Register(RegisterArgs),
    /// List the profiles of the configuration file: name, auth kind, base URL.
    Profiles(ProfilesArgs),
    /// Write the configuration file (`config init`: add a profile).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script (profile names complete after -p/--profile).
    Completions(CompletionsArgs),
    /// Print help: of sesame, of a command (`help login`), the profile keys (`help config`)
    /// or the keys an auth kind uses (`help oidc`).
    Help(HelpArgs),
}

#[derive(Debug, Args)]
pub struct HelpArgs {
    /// A command (and subcommand), `config`, or an auth kind.
    #[arg(value_name = "TOPIC")]
    pub topic: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ProfilesArgs {
    /// Print JSON: a list of {name, auth, base_url, default}.
    #[arg(long, conflicts_with = "names")]
    pub json: bool,
    /// Print only the names, one a line (what shell completion reads).
    #[arg(long)]
    pub names: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Add a profile to the configuration file: asks on a terminal (only what the auth kind
    /// needs), else takes the profile flags (--auth, --base-url, --issuer, --client-id,
    /// --client-secret-env …). Secrets are written as references ({ env = … }, { file = … },
    /// { keyring = … }), never as plain text.
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The profile's name (asked on a terminal; default `default`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Replace a profile of that name.
    #[arg(long)]
    pub force: bool,
    /// Also make it the file's `default_profile`.
    #[arg(long)]
    pub make_default: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Use the browser flow (authorization code + PKCE), whatever the profile's auth kind.
    #[arg(long, conflicts_with = "device")]
    pub browser: bool,
    /// Use the device flow (RFC 8628): a code to enter on any device.
    #[arg(long)]
    pub device: bool,
    /// Open no browser: print the URL (or the device code) and wait.
    #[arg(long)]
    pub no_browser: bool,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Print `Authorization: Bearer …`.
    #[arg(long, group = "format")]
    pub header: bool,
    /// Print JSON: access_token, token_type, expires_at, scopes, issuer.
    #[arg(long, group = "format")]
    pub json: bool,
    /// Print `export BEARER_TOKEN=…`.
    #[arg(long, group = "format")]
    pub env: bool,
    /// Print the ID token instead of the access token.
    #[arg(long)]
    pub id_token: bool,
    /// Renew even if the cached token is still valid.
    #[arg(long)]
    pub force_refresh: bool,
    /// Also write the token to the WLCG bearer-token file (default $BEARER_TOKEN_FILE,
    /// else $XDG_RUNTIME_DIR/bt_u<uid>, else /tmp/bt_u<uid>).
    // Bare `--write-bearer-file` arrives as an empty path (clap's PathBuf parser refuses
    // empty values, hence the OsString parser).
    #[arg(
        long,
        value_name = "PATH",
        num_args = 0..=1,
        default_missing_value = "",
        value_parser = clap::builder::OsStringValueParser::new().map(std::path::PathBuf::from)
    )]
    pub write_bearer_file: Option<std::path::PathBuf>,
    /// For a DPoP-bound token (profile key `dpop`): print `Authorization: DPoP …` and a
    /// `DPoP:` proof header for one request to URL with METHOD (for curl; a proof is good
    /// for that one request only).
    #[arg(long, num_args = 2, value_names = ["METHOD", "URL"], conflicts_with_all = ["json", "env", "write_bearer_file", "id_token"])]
    pub dpop_proof: Option<Vec<String>>,
    /// Down-scoping: scopes requested for this token only (`--scope` after `token`; before
    /// it, `--scope` sets the profile's scopes).
    #[arg(skip)]
    pub scopes: Vec<String>,
    /// Down-scoping: audiences requested for this token only (`--audience` after `token`).
    #[arg(skip)]
    pub audiences: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Revoke the tokens at the provider (RFC 7009) before deleting them.
    #[arg(long)]
    pub revoke: bool,
}

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// An issuer URL, or an API URL to run WebFinger on (with --webfinger-prefix P for the
    /// ASAM ODS convention).
    pub url: String,
    /// Print the metadata as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IntrospectArgs {
    /// The token; `-` reads it from stdin; none: the profile's current token.
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// More redirect URIs to register besides --redirect-uri (repeatable).
    #[arg(long = "also-redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// Client name.
    #[arg(long)]
    pub name: Option<String>,
    /// Grant type to register (repeatable; default authorization_code and refresh_token).
    #[arg(long = "grant-type", value_name = "GRANT")]
    pub grant_types: Vec<String>,
    /// Print the client secret on stderr (with --json: in the JSON, unmasked).
    #[arg(long)]
    pub show_secret: bool,
    /// Print every field of the registration response as JSON (the client secret masked
    /// unless --show-secret).
    #[arg(long)]
    pub json: bool,
    /// Write the new client into the configuration file as profile NAME (the provider and
    /// scopes of this profile, the new client id; a client secret goes to a 0600 file next
    /// to the configuration, referenced as `{ file = … }`).
    #[arg(long, value_name = "NAME")]
    pub save_profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// [METHOD] URL: the method (default GET, or POST with a body) and the URL, absolute
    /// or relative to the profile's base_url.
    #[arg(value_name = "[METHOD] URL", num_args = 1..=2, required = true)]
    pub args: Vec<String>,
    /// Extra header 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "'K: V'")]
    pub headers: Vec<String>,
    /// Request body: text, @FILE, or @- for stdin.
    #[arg(short = 'd', long = "data", value_name = "DATA", conflicts_with = "json")]
    pub data: Option<String>,
    /// JSON request body (sets Content-Type and Accept to application/json); @FILE allowed.
    #[arg(long, value_name = "BODY")]
    pub json: Option<String>,
    /// Write the body to FILE instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the status line and headers before the body.
    #[arg(short = 'i', long)]
    pub include: bool,
    /// On a status >= 400, print nothing to stdout (the server's message goes to stderr).
    #[arg(long)]
    pub fail: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Token file to write (default: $BEARER_TOKEN_FILE, else $XDG_RUNTIME_DIR/bt_u<uid>, else /tmp/bt_u<uid>).
    #[arg(long, value_name = "PATH")]
    pub bearer_file: Option<PathBuf>,
    /// Leave the token file in place when the command ends.
    #[arg(long)]
    pub keep: bool,
    /// The command and its arguments, after `--`.
    #[arg(value_name = "CMD", required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, powershell or elvish.
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
        super::TokenCli::command().debug_assert();
    }

    /// docs/configuration.md: every profile key has a flag that overrides it.
    #[test]
    fn every_profile_key_has_a_flag() {
        use clap::Parser;
        let mut argv = vec!["sesame".to_string()];
        let mut flag = |f: &str, v: Option<&str>| {
            argv.push(format!("--{f}"));
            argv.extend(v.map(str::to_string));
        };
        for f in [
            "base-url",
            "issuer",
            "webfinger-prefix",
            "token-endpoint",
            "authorization-endpoint",
            "device-authorization-endpoint",
            "revocation-endpoint",
            "introspection-endpoint",
            "userinfo-endpoint",
            "end-session-endpoint",
            "jwks-uri",
            "client-id",
            "client-auth",
            "redirect-uri",
            "username",
            "api-key-header",
            "redirects",
            "cache",
            "trusted-issuer",
            "required-scope",
            "scope",
            "credential-header",
            "audience",
            "dpop",
            "grant-endpoint",
            "grant-body",
            "token-field",
            "expires-field",
            "token-audience",
        ] {
            flag(f, Some("x"));
        }
        for f in [
            "client-key",
            "netrc",
            "cert",
            "key",
            "ca-bundle",
            "success-page",
            "failure-page",
        ] {
            flag(f, Some("/f"));
        }
        for f in [
            "login-timeout",
            "renew-before",
            "timeout",
            "connect-timeout",
            "retries",
            "expires-after",
            "min-valid",
            "redirect-port",
        ] {
            flag(f, Some("7"));
        }
        flag("auth", Some("discover"));
        flag("client-secret-env", Some("CS"));
        flag("password-file", Some("/pw"));
        flag("token-env", Some("TOK"));
        flag("token-discovery", Some("required"));
        flag("x509-discovery", Some("off"));
        for f in [
            "resource",
            "par",
            "insecure",
            "allow-http",
            "http-cache",
            "verify-signature",
            "fail-if-noauth",
            "raise-for-status",
        ] {
            flag(f, None);
        }
        argv.push("status".into());
        let cli = super::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{e}"));
        let profile = cli.profile.to_profile().unwrap();
        let set = profile.keys_set();
        // force_noauth conflicts with fail_if_noauth: checked on its own below.
        let missing: Vec<_> = sesame_app::config::Profile::KEYS
            .iter()
            .filter(|k| {
                !set.contains(k) && **k != "force_noauth" && !k.starts_with("openbao_") && **k != "cluster_fallback"
            })
            .collect();
        assert!(missing.is_empty(), "profile keys without a flag: {missing:?}");
        let cli = super::Cli::try_parse_from(["sesame", "--force-noauth", "status"]).unwrap();
        assert_eq!(cli.profile.to_profile().unwrap().force_noauth, Some(true));
        let cli = super::Cli::try_parse_from(["sesame", "--redirect-port", "8400", "--redirect-port", "0", "status"])
            .unwrap();
        assert_eq!(
            cli.profile.to_profile().unwrap().redirect_ports,
            Some(sesame_app::config::Ports::Many(vec![8400, 0]))
        );
    }

    /// The `token` fast path must read every command line exactly as the full parser does.
    #[test]
    fn the_token_fast_path_parses_like_the_full_parser() {
        use clap::{CommandFactory, Parser};
        let accepted: &[&[&str]] = &[
            &["token"],
            &["token", "-p", "bench"],
            &["-p", "bench", "token", "--json"],
            &["-vv", "--config", "/x.toml", "token", "--min-valid", "300", "--header"],
            &[
                "token",
                "--scope",
                "a",
                "--scope",
                "b",
                "--audience",
                "https://api",
                "--env",
            ],
            &[
                "--auth",
                "client-credentials",
                "--issuer",
                "https://idp",
                "token",
                "--force-refresh",
            ],
            &["token", "--write-bearer-file"],
            &[
                "token",
                "--write-bearer-file",
                "/tmp/bt",
                "--id-token",
                "--no-input",
                "-q",
            ],
        ];
        for args in accepted {
            let argv: Vec<&str> = std::iter::once("sesame").chain(args.iter().copied()).collect();
            let fast: super::Cli = super::TokenCli::try_parse_from(&argv)
                .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
                .into();
            let full = super::Cli::try_parse_from(&argv).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{argv:?}");
        }
        // Refused by the fast path, so the full parser answers (help, version, errors, others).
        let refused: &[&[&str]] = &[
            &["token", "--help"],
            &["--version", "token"],
            &["token", "--json", "--header"],
            &["token", "extra"],
            &["--profile", "token", "status"],
            &["help", "token"],
            &["token", "--bogus"],
        ];
        for args in refused {
            let argv: Vec<&str> = std::iter::once("sesame").chain(args.iter().copied()).collect();
            assert!(super::TokenCli::try_parse_from(&argv).is_err(), "{argv:?}");
        }
        // Same flags, same help text for `token` in both trees.
        let full = super::Cli::command();
        let fast = super::TokenCli::command();
        let describe = |c: &clap::Command| {
            let t = c.find_subcommand("token").unwrap();
            let mut args: Vec<String> = t
                .get_arguments()
                .chain(c.get_arguments())
                .map(|a| format!("{:?} {:?} {:?}", a.get_id(), a.get_long(), a.get_help()))
                .collect();
            args.sort();
            (format!("{:?}", t.get_about()), args)
        };
        assert_eq!(describe(&full), describe(&fast));
    }

    #[test]
    fn discover_verification_flags_become_profile_keys() {
        use clap::Parser;
        let cli = super::Cli::try_parse_from([
            "sesame",
            "--verify-signature",
            "--trusted-issuer",
            "https://a.example",
            "--trusted-issuer",
            "https://b.example",
            "status",
        ])
        .unwrap();
        let p = cli.profile.to_profile().unwrap();
        assert_eq!(p.verify_signature, Some(true));
        assert_eq!(
            p.trusted_issuers.as_deref(),
            Some(&["https://a.example".to_string(), "https://b.example".to_string()][..])
        );
        let none = super::Cli::try_parse_from(["sesame", "status"])
            .unwrap()
            .profile
            .to_profile()
            .unwrap();
        assert_eq!((none.verify_signature, none.trusted_issuers), (None, None));
    }
}
