//! `sesame config init`: add a profile to the configuration file. On a terminal it asks
//! (only what the chosen auth kind needs); otherwise the profile flags say everything.
//!
//! Secrets are written as references (`{ env = … }`, `{ file = … }`, `{ keyring = … }`),
//! never as their value: no question asks for a secret itself, and no flag takes one. The
//! file keeps its comments and layout (toml_edit), is checked as sesame will read it before
//! it is written, and is replaced atomically (a 0600 temporary file renamed over it, in a
//! 0700 folder when sesame creates the folder).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use sesame::Error;
use sesame_app::config::write::{WriteOptions, check_name, write_profile};
use sesame_app::config::{AuthKind, Config, OneOrMany, Profile, SecretSource};

use crate::cli::{Global, InitArgs, ProfileFlags};
use crate::exit;

pub fn run(global: &Global, flags: &ProfileFlags, args: &InitArgs) -> Result<i32, Error> {
    let (path, _) = Config::locate(global.config.as_deref())
        .ok_or_else(|| Error::config("no place for the configuration file: set --config FILE or $SESAME_CONFIG"))?;
    let mut profile = flags.to_profile().map_err(Error::config)?;
    let mut name = args.name.clone();
    let interactive =
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal() && !global.no_input && profile.auth.is_none();
    if interactive {
        let mut ask = Asker::stdin();
        ask_profile(&mut ask, &mut name, &mut profile)?;
    }
    let name = name.unwrap_or_else(|| "default".into());
    check_name(&name)?;
    if profile.auth.is_none() {
        return Err(Error::config(
            "`sesame config init` needs --auth KIND (and the keys that kind uses) when it cannot ask on a terminal",
        ));
    }
    let opts = WriteOptions {
        force: args.force,
        make_default: args.make_default,
    };
    write_profile(&path, &name, &profile, opts)?;
    if !global.quiet {
        eprintln!("sesame: wrote profile `{name}` to {}", path.display());
        if matches!(profile.auth, Some(AuthKind::Oidc | AuthKind::Device)) {
            eprintln!("sesame: next: sesame -p {name} login");
        }
    }
    Ok(exit::OK)
}

/// Questions on stderr, answers from stdin.
struct Asker {
    input: Box<dyn BufRead>,
}

impl Asker {
    fn stdin() -> Asker {
        Asker {
            input: Box::new(std::io::BufReader::new(std::io::stdin())),
        }
    }

    /// One answer; `default` when the answer is empty.
    fn ask(&mut self, question: &str, default: Option<&str>) -> Result<String, Error> {
        loop {
            match default {
                Some(d) if !d.is_empty() => eprint!("{question} [{d}]: "),
                _ => eprint!("{question}: "),
            }
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            let n = self
                .input
                .read_line(&mut line)
                .map_err(|e| Error::io("cannot read the answer", e))?;
            if n == 0 {
                return Err(Error::config(
                    "`sesame config init`: no answer (end of input); nothing written",
                ));
            }
            let answer = line.trim();
            if !answer.is_empty() {
                return Ok(answer.to_string());
            }
            if let Some(d) = default {
                return Ok(d.to_string());
            }
            eprintln!("  (an answer is needed)");
        }
    }

    /// An answer that may be left empty.
    fn optional(&mut self, question: &str) -> Result<Option<String>, Error> {
        let a = self.ask(&format!("{question} (Enter to skip)"), Some(""))?;
        Ok((!a.is_empty()).then_some(a))
    }

    /// Where a secret is: never the secret itself.
    fn secret(&mut self, what: &str, required: bool) -> Result<Option<SecretSource>, Error> {
        let choices = if required {
            "env, file or keyring"
        } else {
            "env, file, keyring or none"
        };
        loop {
            let how = self.ask(&format!("Where is the {what}? {choices}"), Some("env"))?;
            return Ok(Some(match how.as_str() {
                "env" => SecretSource::Env(self.ask("  Environment variable that holds it", None)?),
                "file" => SecretSource::File(self.ask("  File that holds it", None)?.into()),
                "keyring" => SecretSource::Keyring(self.ask("  OS keyring entry (service:user)", None)?),
                "none" if !required => return Ok(None),
                other => {
                    eprintln!("  `{other}`: answer {choices}");
                    continue;
                }
            }));
        }
    }
}

/// The questions: name, kind, base URL, then what that kind needs (keys already given as
/// flags are not asked again).
fn ask_profile(ask: &mut Asker, name: &mut Option<String>, p: &mut Profile) -> Result<(), Error> {
    if name.is_none() {
        *name = Some(ask.ask("Profile name", Some("default"))?);
    }
    let kind = loop {
        let a = ask.ask(&format!("Auth kind ({})", AuthKind::NAMES.join(", ")), Some("oidc"))?;
        match a.parse::<AuthKind>() {
            Ok(k) => break k,
            Err(e) => eprintln!("  {e}"),
        }
    };
    p.auth = Some(kind);
    if p.base_url.is_none() {
        p.base_url = ask.optional("Base URL of the API (credentials go only there)")?;
    }
    use AuthKind as K;
    if kind.is_oauth() {
        if p.issuer.is_none() {
            p.issuer = ask.optional("Issuer URL (skip to find it by WebFinger on the base URL)")?;
        }
        if p.client_id.is_none() {
            p.client_id = Some(ask.ask("Client id", None)?);
        }
        if p.client_secret.is_none() {
            p.client_secret = ask.secret("client secret", kind == K::ClientCredentials)?;
        }
        if p.scopes.is_none()
            && let Some(s) = ask.optional("Scopes, separated by spaces")?
        {
            p.scopes = Some(s.split_whitespace().map(str::to_string).collect());
        }
        if p.audience.is_none()
            && let Some(a) = ask.optional("Audience")?
        {
            p.audience = Some(OneOrMany::One(a));
        }
    }
    match kind {
        K::Basic | K::Password => {
            if p.username.is_none() {
                p.username = Some(ask.ask("Username", None)?);
            }
            if p.password.is_none() {
                p.password = ask.secret("password", true)?;
            }
        }
        K::Bearer | K::ApiKey => {
            if p.token.is_none() {
                p.token = ask.secret("token", true)?;
            }
            if kind == K::ApiKey && p.api_key_header.is_none() {
                p.api_key_header = ask.optional("Header that carries the key (default X-API-Key)")?;
            }
        }
        K::Netrc if p.netrc.is_none() => {
            p.netrc = ask
                .optional("Netrc file (default $NETRC, else ~/.netrc)")?
                .map(PathBuf::from);
        }
        K::X509 => {
            if p.cert.is_none() {
                p.cert = Some(ask.ask("Certificate (PEM, or a proxy file)", None)?.into());
            }
            if p.key.is_none() {
                p.key = ask
                    .optional("Private key (PEM) if not in the certificate file")?
                    .map(PathBuf::from);
            }
        }
        _ => {}
    }
    Ok(())
}
