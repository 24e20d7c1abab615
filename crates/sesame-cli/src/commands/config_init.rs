//! `sesame config init`: add a profile to the configuration file. On a terminal it asks
//! (only what the chosen auth kind needs); otherwise the profile flags say everything.
//!
//! Secrets are written as references (`{ env = … }`, `{ file = … }`, `{ keyring = … }`),
//! never as their value: no question asks for a secret itself, and no flag takes one. The
//! file keeps its comments and layout (toml_edit), is checked as sesame will read it before
//! it is written, and is replaced atomically (a 0600 temporary file renamed over it, in a
//! 0700 folder when sesame creates the folder).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use sesame::Error;
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
    for (key, s) in [
        ("client_secret", &profile.client_secret),
        ("password", &profile.password),
        ("token", &profile.token),
    ] {
        if s.as_ref().is_some_and(SecretSource::is_literal) {
            return Err(Error::config(format!(
                "`{key}` would be written as plain text; give a reference (env, file or keyring)"
            )));
        }
    }
    let old = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let text = updated_text(&old, &path, &name, &profile, args)?;
    // Read back as sesame will: unknown keys, bad values and keys the kind does not use
    // are refused now, not at the first request.
    let config = Config::from_toml_str(&text, &path)?;
    let resolved = config.resolve(Some(&name), Profile::default())?;
    sesame_app::config::applies::check(&resolved)?;
    write_atomically(&path, &text)?;
    if !global.quiet {
        eprintln!("sesame: wrote profile `{name}` to {}", path.display());
        if matches!(profile.auth, Some(AuthKind::Oidc | AuthKind::Device)) {
            eprintln!("sesame: next: sesame -p {name} login");
        }
    }
    Ok(exit::OK)
}

pub(super) fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::config(format!(
            "profile name `{name}`: use letters, digits, `-`, `_` and `.`"
        )));
    }
    Ok(())
}

/// The file's text with the profile added (or replaced, with --force).
pub(super) fn updated_text(
    old: &str,
    path: &Path,
    name: &str,
    profile: &Profile,
    args: &InitArgs,
) -> Result<String, Error> {
    let mut doc: toml_edit::DocumentMut = old
        .parse()
        .map_err(|e| Error::config(format!("{} is not valid TOML: {e}", path.display())))?;
    let table_text =
        toml::to_string(profile).map_err(|e| Error::config(format!("cannot write the profile as TOML: {e}")))?;
    let mut new_table = table_text
        .parse::<toml_edit::DocumentMut>()
        .map_err(|e| Error::config(format!("cannot write the profile as TOML: {e}")))?
        .as_table()
        .clone();
    // Secrets as `client_secret = { env = "VAR" }`, the way the docs write them.
    for (_, item) in new_table.iter_mut() {
        if let Some(t) = item.as_table() {
            *item = toml_edit::Item::Value(toml_edit::Value::InlineTable(t.clone().into_inline_table()));
        }
    }
    new_table.fmt();
    let profiles = doc
        .entry("profiles")
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_mut()
        .ok_or_else(|| Error::config(format!("{}: `profiles` is not a table", path.display())))?;
    if profiles.contains_key(name) && !args.force {
        return Err(Error::config(format!(
            "profile `{name}` already exists in {}; --force replaces it",
            path.display()
        )));
    }
    profiles.insert(name, toml_edit::Item::Table(new_table));
    if args.make_default {
        doc.insert("default_profile", toml_edit::value(name));
    }
    Ok(doc.to_string())
}

/// Replaces `path` with `text`: a 0600 temporary file in the same folder, synced, renamed.
pub(super) fn write_atomically(path: &Path, text: &str) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    }
    let io = |e: std::io::Error| Error::io(format!("cannot write {}", path.display()), e);
    // tempfile creates the file 0600 (O_EXCL, no other reader ever sees it).
    let mut tmp = tempfile::Builder::new()
        .prefix(".config.toml.")
        .tempfile_in(&dir)
        .map_err(io)?;
    tmp.write_all(text.as_bytes()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
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
