//! One module per command.

mod completions;
mod config_init;
mod discover;
mod exec;
mod help;
mod introspect;
mod login;
mod logout;
mod profiles;
mod register;
mod request;
mod status;
mod token;
mod userinfo;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::context::Context;
use crate::exit;

pub async fn run(cli: Cli) -> i32 {
    // Commands that need no profile (the file may not exist yet, or name none).
    let early = match &cli.command {
        Command::Completions(args) => Some(Ok(completions::run(args))),
        Command::Help(args) => Some(Ok(help::run(args))),
        Command::Profiles(args) => Some(profiles::run(&cli.global, args)),
        Command::Config(ConfigCommand::Init(args)) => Some(config_init::run(&cli.global, &cli.profile, args)),
        _ => None,
    };
    if let Some(result) = early {
        return result.unwrap_or_else(|e| exit::report(&e));
    }
    let ctx = match Context::load(cli.global, &cli.profile) {
        Ok(c) => c,
        Err(e) => return exit::report(&e),
    };
    let result = match cli.command {
        Command::Login(args) => login::run(&ctx, args).await,
        Command::Request(args) => request::run(&ctx, args).await,
        Command::Status(args) => status::run(&ctx, args).await,
        Command::Exec(args) => exec::run(&ctx, args).await,
        Command::Token(args) => token::run(&ctx, args).await,
        Command::Logout(args) => logout::run(&ctx, args).await,
        Command::Discover(args) => discover::run(&ctx, args).await,
        Command::Introspect(args) => introspect::run(&ctx, args).await,
        Command::Userinfo => userinfo::run(&ctx).await,
        Command::Register(args) => register::run(&ctx, args).await,
        Command::Completions(_) | Command::Help(_) | Command::Profiles(_) | Command::Config(_) => {
            unreachable!("handled above")
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => exit::report(&e),
    }
}
