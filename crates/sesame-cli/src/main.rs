//! The `sesame` command. Thin: parse arguments, build a session from the profile, call the
//! library, print. No auth or HTTP logic lives here.

mod cli;
mod commands;
mod context;
mod exit;
mod out;

fn main() {
    let cli = cli::Cli::parse_args();
    init_logging(cli.global.verbose, cli.global.quiet);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sesame: cannot start the async runtime: {e}");
            std::process::exit(exit::ERROR);
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
    std::process::exit(code);
}

fn init_logging(verbose: u8, quiet: bool) {
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
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(verbose >= 2)
        .with_ansi(false)
        .without_time()
        .try_init();
}
