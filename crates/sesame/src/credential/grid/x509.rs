//! Finding the user's X.509 credential the way grid tools do (docs/credentials.md):
//! `X509_USER_CERT` + `X509_USER_KEY`, then `X509_USER_PROXY`, then `/tmp/x509up_u<uid>`,
//! then `~/.globus/usercert.pem` + `~/.globus/userkey.pem`.
//!
//! A place that holds nothing is skipped; a place that holds something unusable (expired or
//! expiring within 600 s, a key others can read, a file another account owns or can
//! write, not PEM) is skipped too, with the reason
//! kept, so that a stale proxy in `/tmp` does not hide a good certificate in `~/.globus` —
//! and so that the caller can say exactly why nothing was usable.

use std::path::{Path, PathBuf};

use super::tokens::{Env, Skipped};
use crate::credential::X509;

/// The outcome of [`discover_x509`].
#[derive(Debug, Default)]
pub struct X509Discovery {
    /// The first usable credential.
    pub found: Option<X509>,
    /// Where it came from (`X509_USER_PROXY (/path)`).
    pub source: Option<String>,
    /// The places looked at before it (or all of them, when none was usable), and why each
    /// was passed over.
    pub skipped: Vec<Skipped>,
}

/// Looks for an X.509 credential in the grid places, in order (see the module docs).
pub fn discover_x509(env: &Env) -> X509Discovery {
    let mut out = X509Discovery::default();

    // 1. X509_USER_CERT + X509_USER_KEY (a cert variable alone: the file holds both).
    match (env.path_var("X509_USER_CERT"), env.path_var("X509_USER_KEY")) {
        (Some(c), Some(k)) => {
            let label = format!("X509_USER_CERT + X509_USER_KEY ({}, {})", c.display(), k.display());
            let exists = c.exists();
            if try_source(&mut out, label, &[&c, &k], &|| X509::from_files(&c, &k), exists) {
                return out;
            }
        }
        (Some(c), None) => {
            let label = format!("X509_USER_CERT ({}; X509_USER_KEY not set)", c.display());
            let exists = c.exists();
            if try_source(&mut out, label, &[&c], &|| X509::from_proxy_file(&c), exists) {
                return out;
            }
        }
        (None, Some(k)) => out.skipped.push(Skipped::new(
            format!("X509_USER_KEY ({})", k.display()),
            "set without X509_USER_CERT",
        )),
        (None, None) => out
            .skipped
            .push(Skipped::new("X509_USER_CERT + X509_USER_KEY", "not set")),
    }

    // 2. X509_USER_PROXY.
    match env.path_var("X509_USER_PROXY") {
        Some(p) => {
            let label = format!("X509_USER_PROXY ({})", p.display());
            let exists = p.exists();
            if try_source(&mut out, label, &[&p], &|| X509::from_proxy_file(&p), exists) {
                return out;
            }
        }
        None => out.skipped.push(Skipped::new("X509_USER_PROXY", "not set")),
    }

    // 3. /tmp/x509up_u<uid>.
    let proxy = env.tmp_root().join(format!("x509up_u{}", env.uid()));
    let exists = proxy.exists();
    if try_source(
        &mut out,
        proxy.display().to_string(),
        &[&proxy],
        &|| X509::from_proxy_file(&proxy),
        exists,
    ) {
        return out;
    }

    // 4. ~/.globus/usercert.pem + userkey.pem.
    match env.home() {
        Some(home) => {
            let globus: PathBuf = home.join(".globus");
            let (c, k) = (globus.join("usercert.pem"), globus.join("userkey.pem"));
            let label = format!("{} + userkey.pem", c.display());
            let exists = c.exists() && Path::new(&k).exists();
            try_source(&mut out, label, &[&c, &k], &|| X509::from_files(&c, &k), exists);
        }
        None => out
            .skipped
            .push(Skipped::new("~/.globus/usercert.pem", "no home directory")),
    }
    out
}

/// Tries one place; records the credential or why it was passed over. True when found.
///
/// Every file of the place (certificate and key, or the proxy) must be owned by this
/// process's effective uid and not writable by group or others: another account can
/// create `/tmp/x509up_u<uid>` first, and a certificate and key it chose would make the
/// user's requests run as that account.
fn try_source(
    out: &mut X509Discovery,
    label: String,
    files: &[&Path],
    load: &dyn Fn() -> crate::Result<X509>,
    exists: bool,
) -> bool {
    if !exists {
        out.skipped.push(Skipped::new(label, "not found"));
        return false;
    }
    for f in files {
        let problem = match crate::permissions::discovered_path_problem(f) {
            Ok(None) => continue,
            Ok(Some(p)) => format!("{}: {p}", f.display()),
            Err(e) => format!("{}: {e}", f.display()),
        };
        tracing::debug!(source = %label, "X.509 credential passed over: {problem}");
        out.skipped.push(Skipped::new(label, problem));
        return false;
    }
    match load() {
        Ok(x) => {
            tracing::debug!(source = %label, subject = %x.info().subject, "X.509 credential found");
            out.found = Some(x);
            out.source = Some(label);
            true
        }
        Err(e) => {
            tracing::debug!(source = %label, "X.509 credential skipped: {e}");
            out.skipped.push(Skipped::new(label, e.to_string()));
            false
        }
    }
}
