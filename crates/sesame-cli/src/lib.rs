//! The `sesame` command as a library: `src/main.rs` is `sesame_cli::main`, and the Python
//! wheel (crates/sesame-py) calls [`run_embedded`] from its `sesame` console script, so
//! `pip install sesame-auth` gives the same command, compiled into the extension module,
//! without a second binary in the wheel. Thin: parse arguments, build a session from the
//! profile, call the `sesame` library, print. No auth or HTTP logic lives here.

pub mod cli;
mod commands;
mod context;
mod exit;
mod out;
pub mod reference;

use std::ffi::OsString;

/// The command's entry point in its own process: logs through a process-wide subscriber.
pub fn main() -> ! {
    let code = run_with(std::env::args_os().collect(), Logging::Process);
    std::process::exit(code)
}

/// Runs the command inside a host process (the Python console script) and returns its exit
/// code. The log subscriber is set for the command's threads only: the host keeps its own
/// (the Python package forwards the library's events to the `logging` module, and the CLI
/// must neither replace that nor send its lines there).
pub fn run_embedded(args: Vec<OsString>) -> i32 {
    run_with(args, Logging::Scoped)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Logging {
    Process,
    Scoped,
}

fn run_with(args: Vec<OsString>, logging: Logging) -> i32 {
    let cli = match cli::Cli::try_parse_args(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version (exit 0) go to stdout, usage errors (exit 2) to stderr.
            let _ = e.print();
            return e.exit_code();
        }
    };
    let dispatch = log_dispatch(cli.global.verbose, cli.global.quiet);
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all();
    let _guard = match logging {
        Logging::Process => {
            let _ = tracing::dispatcher::set_global_default(dispatch);
            None
        }
        Logging::Scoped => {
            // Blocking-pool threads (file locks, DNS) log through the command's subscriber too.
            let d = dispatch.clone();
            builder.on_thread_start(move || std::mem::forget(tracing::dispatcher::set_default(&d)));
            Some(tracing::dispatcher::set_default(&dispatch))
        }
    };
    let runtime = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sesame: cannot start the async runtime: {e}");
            return exit::ERROR;
        }
    };
    let code = runtime.block_on(async {
        tokio::select! {
            code = commands::run(cli) => code,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("sesame: interrupted");
                exit::INTERRUPTED
            }
        }
    });
    // A host process outlives the command: what it wrote must be out before it returns.
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    code
}

fn log_dispatch(verbose: u8, quiet: bool) -> tracing::Dispatch {
    use tracing_subscriber::EnvFilter;
    // The library's `sesame::insecure` lines repeat, per client and per request, the notice
    // the CLI prints once per process whatever -q says (context.rs); -v shows them. The
    // `sesame::config_warning` lines are the configuration's own warnings, which the CLI
    // prints itself from `Config::warnings` (context.rs): logged too, they would show twice.
    let filter = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn,sesame::insecure=off,sesame::config_warning=off",
        (_, 1) => "warn,sesame=info,sesame_cli=info,sesame::config_warning=off",
        (_, 2) => "warn,sesame=debug,sesame_cli=debug,sesame::config_warning=off",
        _ => "debug,sesame=trace,sesame_cli=trace,sesame::config_warning=off",
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(verbose >= 2)
        .with_ansi(false)
        .without_time()
        .finish()
        .into()
}
