//! Exit codes (docs/cli.md) and the mapping from library errors.

use sesame::{Error, ErrorKind, Hint};

pub const OK: i32 = 0;
pub const ERROR: i32 = 1;
pub const USAGE: i32 = 2;
pub const HTTP: i32 = 3;
pub const LOGIN_REQUIRED: i32 = 4;
pub const INTERRUPTED: i32 = 130;

/// The exit code for a library error.
pub fn code_for(e: &Error) -> i32 {
    use sesame::CredentialError as C;
    match e.as_credential() {
        // A credential file that is missing, unreadable, malformed or unsafe is a setup
        // problem the user fixes in the profile: a configuration error.
        Some(
            C::File { .. }
            | C::UnsafePermissions { .. }
            | C::UnsafeWritable { .. }
            | C::UnsafeFolder { .. }
            | C::Config(_),
        ) => return USAGE,
        Some(C::Expired(_) | C::Missing(_)) => return LOGIN_REQUIRED,
        _ => {}
    }
    match e.kind() {
        ErrorKind::Config => USAGE,
        ErrorKind::LoginRequired => LOGIN_REQUIRED,
        ErrorKind::Http => HTTP,
        ErrorKind::Interrupted => INTERRUPTED,
        _ => ERROR,
    }
}

/// Prints an error (and what to do next) on stderr and returns its exit code.
pub fn report(e: &Error) -> i32 {
    eprintln!("sesame: error: {e}");
    if let Some(h) = e.hint() {
        eprintln!("hint: {}", word(&h));
    }
    code_for(e)
}

/// The command line's wording of a library hint: its commands and flags.
pub fn word(hint: &Hint) -> String {
    match hint {
        Hint::Login => "run `sesame login` (add -p PROFILE for another profile)".into(),
        Hint::LoginInTerminal => {
            "run `sesame login` in a terminal first; later commands use the tokens it stores".into()
        }
        Hint::LoginTimedOut => "run `sesame login` again, or give it more time with --login-timeout S (`login_timeout`)".into(),
        Hint::UseBrowserLogin => {
            "use the browser login (`sesame login --browser`), or set `device_authorization_endpoint`".into()
        }
        Hint::CheckCredentials => {
            "check the profile's username and password (`username`, `password` or --username, --password-env VAR)".into()
        }
        Hint::CredentialRejected => {
            "check the credential: `sesame status` shows what the profile uses (a person's token comes from `sesame login`)".into()
        }
        Hint::SetKey(key) => match flag_for(key) {
            Some(flag) => format!("set `{key}` in the profile or pass --{flag}"),
            None => format!("set `{key}` in the profile"),
        },
        Hint::CheckFile => {
            "check the path (profile key or flag), and that the file exists and is readable by you".into()
        }
        Hint::CheckConfigFile => "check the configuration file (its path is $SESAME_CONFIG or --config)".into(),
        Hint::ReplaceProfile => "--force replaces it".into(),
        Hint::PickProfile => {
            "pick an existing profile with --profile (or -p), or add a [profiles.NAME] table".into()
        }
        Hint::SeeConfiguration => "see `sesame --help` and docs/configuration.md".into(),
        Hint::CheckNetwork => {
            "check that the server is up and reachable from here (host name, port, firewall, HTTPS_PROXY/NO_PROXY); -vv shows each attempt".into()
        }
        Hint::SetContentType => "set the body's type with -H 'Content-Type: …'".into(),
        Hint::UseDpopProof => "a DPoP-bound token is sent with a fresh proof per request: use `sesame request`, `sesame token --dpop-proof METHOD URL` for one request with curl, or `dpop = false` in the profile".into(),
        // Hints without a command-line wording of their own (file permissions, future
        // variants) read the same everywhere.
        other => other.to_string(),
    }
}

/// The long flag that sets profile key `key`, if the command line has one by that name.
fn flag_for(key: &str) -> Option<String> {
    use clap::CommandFactory;
    let flag = key.replace('_', "-");
    crate::cli::Cli::command()
        .get_arguments()
        .any(|a| a.get_long() == Some(flag.as_str()))
        .then_some(flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_worded_with_their_flags() {
        assert_eq!(
            word(&Hint::SetKey("base_url")),
            "set `base_url` in the profile or pass --base-url"
        );
        assert_eq!(
            word(&Hint::SetKey("ca_bundle")),
            "set `ca_bundle` in the profile or pass --ca-bundle"
        );
        assert_eq!(word(&Hint::SetKey("no_such_key")), "set `no_such_key` in the profile");
        assert!(word(&Hint::Login).contains("sesame login"));
    }
}
