//! One module per command.

mod completions;
mod request;
mod status;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::exit;

pub async fn run(cli: Cli) -> i32 {
    if let Command::Completions(args) = &cli.command {
        return completions::run(args);
    }
    let ctx = match Context::load(cli.global, &cli.profile) {
        Ok(c) => c,
        Err(e) => return exit::report(&e),
    };
    let result = match cli.command {
        Command::Request(args) => request::run(&ctx, args).await,
        Command::Status(args) => status::run(&ctx, args).await,
        Command::Completions(_) => unreachable!("handled above"),
    };
    match result {
        Ok(code) => code,
        Err(e) => exit::report(&e),
    }
}
