//! One module per command.

mod completions;
mod discover;
mod exec;
mod introspect;
mod login;
mod logout;
mod register;
mod request;
mod status;
mod token;
mod userinfo;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::exit;

pub async fn run(mut cli: Cli) -> i32 {
    if let Command::Completions(args) = &cli.command {
        return completions::run(args);
    }
    if let Command::Token(args) = &mut cli.command {
        // For `token`, --scope/--audience down-scope this one token; they do not change
        // the profile's grant (nor its cache key).
        args.scopes = std::mem::take(&mut cli.profile.scopes);
        args.audiences = std::mem::take(&mut cli.profile.audiences);
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
        Command::Completions(_) => unreachable!("handled above"),
    };
    match result {
        Ok(code) => code,
        Err(e) => exit::report(&e),
    }
}
