//! What the caller can do about an error, as data: the engine decides *which* advice fits,
//! each front end (the command line, the Python package, a Rust program) words it with its
//! own commands, flags or arguments.
//!
//! Why a type and not a sentence: the same `LoginRequired` reaches a shell user, who should
//! run `sesame login`, and a Python user, who should call `Session.login()`. A sentence
//! written in the engine is right for one of them at most. The engine's messages say what
//! happened and name profile keys (which every front end shares); they never name a command
//! or a flag.

use std::fmt;
use std::path::PathBuf;

/// A suggestion of what to do next, attached to an [`Error`](crate::Error) by the engine
/// and worded by the front end (see [`Error::hint`](crate::Error::hint)).
///
/// [`Display`](fmt::Display) gives a front-end-neutral wording in terms of profile keys,
/// for Rust programs that just want a line to show.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint {
    /// No valid token, and getting one needs a person: log in (again) for this profile.
    Login,
    /// Logging in needs a person at a terminal (or a browser program), and there is none
    /// here: log in where there is one; sessions then use the stored tokens.
    LoginInTerminal,
    /// An interactive login did not finish in time: try again, or allow more time
    /// (profile key `login_timeout`).
    LoginTimedOut,
    /// The provider has no device authorization endpoint: use the browser login instead,
    /// or set `device_authorization_endpoint`.
    UseBrowserLogin,
    /// The provider refused the resource owner's username and password (password grant):
    /// check them. Logging in again cannot help.
    CheckCredentials,
    /// The API answered 401 to the credential sent: check what the profile uses.
    CredentialRejected,
    /// Set this profile key (front ends add the flag or argument that sets it).
    SetKey(&'static str),
    /// A file named by the configuration (or a flag/argument) could not be used: check the
    /// path, that it exists and that it is readable by this user.
    CheckFile,
    /// Restrict the permissions of this file or folder to its owner.
    FixPermissions {
        /// The file or folder.
        path: PathBuf,
    },
    /// The configuration file could not be read or parsed: check its path and contents.
    CheckConfigFile,
    /// Pick an existing profile, or add the one asked for.
    PickProfile,
    /// A profile of that name is already in the configuration file: replace it explicitly,
    /// or pick another name.
    ReplaceProfile,
    /// The configuration is invalid: see the configuration reference.
    SeeConfiguration,
    /// The server is unreachable: check the network path; a debug log shows each attempt.
    CheckNetwork,
    /// The server rejected the body's media type: set a `Content-Type` header.
    SetContentType,
    /// A DPoP-bound token (RFC 9449) is only good with a fresh proof per request: send the
    /// request through sesame, have sesame make the proof for one request, or turn `dpop`
    /// off in the profile.
    UseDpopProof,
    /// An end user of a web application has no usable token (never logged in, the refresh
    /// token expired or was refused, the pending login is stale): send them through the
    /// web login again.
    UserLogin,
}

impl fmt::Display for Hint {
    /// A neutral wording in terms of profile keys; front ends word it their own way.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hint::Login => f.write_str("log in for this profile"),
            Hint::LoginInTerminal => {
                f.write_str("log in once where a person can answer (a terminal or a browser); sessions use the tokens it stores")
            }
            Hint::LoginTimedOut => f.write_str("log in again, or give it more time with `login_timeout`"),
            Hint::UseBrowserLogin => {
                f.write_str("use the browser login, or set `device_authorization_endpoint`")
            }
            Hint::CheckCredentials => f.write_str("check the profile's username and password"),
            Hint::CredentialRejected => f.write_str("check the credential the profile uses"),
            Hint::SetKey(key) => write!(f, "set `{key}` in the profile"),
            Hint::CheckFile => {
                f.write_str("check the path, and that the file exists and is readable by you")
            }
            Hint::FixPermissions { path } => write!(f, "chmod go-rwx {}", path.display()),
            Hint::CheckConfigFile => f.write_str("check the configuration file ($SESAME_CONFIG)"),
            Hint::PickProfile => f.write_str("pick an existing profile, or add a [profiles.NAME] table"),
            Hint::ReplaceProfile => f.write_str("replace the existing profile explicitly, or pick another name"),
            Hint::SeeConfiguration => f.write_str("see the configuration reference (docs/configuration.md)"),
            Hint::CheckNetwork => f.write_str(
                "check that the server is up and reachable from here (host name, port, firewall, HTTPS_PROXY/NO_PROXY); a debug log shows each attempt",
            ),
            Hint::SetContentType => f.write_str("set a Content-Type header the server accepts"),
            Hint::UserLogin => f.write_str("send the end user through the web login again"),
            Hint::UseDpopProof => f.write_str(
                "a DPoP-bound token needs a fresh proof per request: send the request through sesame, or set `dpop = false`",
            ),
        }
    }
}
