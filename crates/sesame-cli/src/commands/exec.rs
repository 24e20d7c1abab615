//! `sesame exec [--bearer-file PATH] [--keep] [--min-valid S] -- CMD ARGS…`: runs CMD with
//! `BEARER_TOKEN_FILE` pointing at a 0600 file holding the profile's token, kept valid while
//! CMD runs (renewed before it expires), removed afterwards unless `--keep` (or unless it
//! existed before: then it is left holding the latest token).
//!
//! The file is `--bearer-file`, else the WLCG location (`$BEARER_TOKEN_FILE`, else
//! `$XDG_RUNTIME_DIR/bt_u<uid>`, else `/tmp/bt_u<uid>`). CMD gets `BEARER_TOKEN_FILE` and not
//! `BEARER_TOKEN` (which WLCG discovery would prefer to the file). SIGINT, SIGTERM and SIGHUP
//! are passed on to CMD; sesame exits with CMD's code, or 128 + the signal that killed it
//! (127 when CMD cannot be found, 126 when it cannot be run).
//!
//! The command runs on a thread with its own runtime: `main` races every command against
//! Ctrl-C and would otherwise stop waiting for CMD (and skip the clean-up) on the first
//! SIGINT, which here belongs to CMD.

use std::process::ExitStatus;
use std::time::Duration;

use sesame::Error;
use sesame_app::bearer_file::Keeper;

use crate::cli::ExecArgs;
use crate::context::Context;

pub async fn run(ctx: &Context, args: ExecArgs) -> Result<i32, Error> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::io("cannot start the async runtime", e))?;
            rt.block_on(supervise(ctx, &args))
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

async fn supervise(ctx: &Context, args: &ExecArgs) -> Result<i32, Error> {
    let Some((program, rest)) = args.command.split_first() else {
        return Err(Error::config(
            "usage: sesame exec [--bearer-file PATH] [--keep] -- CMD ARGS…",
        ));
    };
    // The token goes to CMD, not to an API of ours: only the credential is built
    // (docs/configuration.md#what-a-profile-needs).
    let credential = ctx.credential()?.ok_or_else(|| {
        ctx.no_credential("sesame exec needs a token credential: set `auth` (bearer, discover, oidc, …)")
    })?;
    let min_valid = Duration::from_secs(ctx.resolved.profile.min_valid.unwrap_or(60));
    // Absolute, so that the command finds the file from any directory.
    let target = match &args.bearer_file {
        Some(p) => Some(std::path::absolute(p).map_err(|e| Error::io(format!("bad path {}", p.display()), e))?),
        None => None,
    };
    let keeper = Keeper::start(credential, target.as_deref(), min_valid).await?;

    #[cfg(unix)]
    let mut signals = Signals::new()?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(rest)
        .env("BEARER_TOKEN_FILE", keeper.path())
        .env_remove("BEARER_TOKEN");
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                std::io::ErrorKind::NotFound => 127,
                _ => 126,
            };
            eprintln!(
                "sesame: error: cannot run `{}`: {e}; check the command name and your PATH",
                program.to_string_lossy()
            );
            if let Err(e) = keeper.stop(!args.keep) {
                eprintln!("sesame: warning: {e}");
            }
            return Ok(code);
        }
    };

    let status = {
        #[cfg(unix)]
        {
            let pid = child.id();
            loop {
                tokio::select! {
                    st = child.wait() => break st,
                    sig = signals.next() => {
                        if let Some(pid) = pid {
                            forward(pid, sig);
                        }
                    }
                }
            }
        }
        #[cfg(not(unix))]
        {
            child.wait().await
        }
    };
    if let Err(e) = keeper.stop(!args.keep) {
        eprintln!("sesame: warning: {e}");
    }
    let status = status.map_err(|e| Error::io("cannot wait for the command", e))?;
    Ok(exit_code(status))
}

fn exit_code(status: ExitStatus) -> i32 {
    if let Some(c) = status.code() {
        return c;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    1
}

#[cfg(unix)]
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> Result<Signals, Error> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |k: SignalKind| signal(k).map_err(|e| Error::io("cannot listen for signals", e));
        Ok(Signals {
            int: listen(SignalKind::interrupt())?,
            term: listen(SignalKind::terminate())?,
            hup: listen(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> rustix::process::Signal {
        use rustix::process::Signal;
        tokio::select! {
            _ = self.int.recv() => Signal::INT,
            _ = self.term.recv() => Signal::TERM,
            _ = self.hup.recv() => Signal::HUP,
        }
    }
}

#[cfg(unix)]
fn forward(pid: u32, sig: rustix::process::Signal) {
    let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
        return;
    };
    if let Err(e) = rustix::process::kill_process(pid, sig) {
        tracing::debug!("cannot pass signal {sig:?} on to the command: {e}");
    }
}
