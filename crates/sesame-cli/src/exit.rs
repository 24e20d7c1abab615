//! Exit codes (docs/cli.md) and the mapping from library errors.

use sesame::oauth::ProviderHint;
use sesame::{Error, ErrorKind};

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
        eprintln!("hint: {h}");
    }
    match e.oauth_hint() {
        Some(ProviderHint::Login) => eprintln!("hint: run `sesame login` (add -p PROFILE for another profile)"),
        Some(ProviderHint::CheckCredentials) => eprintln!(
            "hint: check the profile's username and password (`username`, `password` or --username, --password-env VAR)"
        ),
        _ => {}
    }
    code_for(e)
}
