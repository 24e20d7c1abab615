//! `sesame help [TOPIC]`: a command's help, the profile keys (`help config`) or the keys of
//! one auth kind (`help oidc`, `help auth discover`), from the same code as the docs pages.

use clap::CommandFactory;
use sesame_app::config::AuthKind;

use crate::cli::{Cli, HelpArgs};
use crate::{exit, out, reference};

pub fn run(args: &HelpArgs) -> i32 {
    let topic: Vec<&str> = args.topic.iter().map(String::as_str).collect();
    match topic.as_slice() {
        ["config"] => {
            out::line(format!(
                "Profile keys: in a [profiles.NAME] table of the configuration file, as a flag, or as an \
                 environment variable (flag > variable > file). See docs/configuration.md.\n\n{}",
                reference::key_table().trim_end()
            ));
            exit::OK
        }
        ["auth", kind] => kind_help(kind),
        [] => print_help(&[]),
        [kind] if kind.parse::<AuthKind>().is_ok() && !is_command(kind) => kind_help(kind),
        path => {
            let code = print_help(path);
            // `discover` is both a command and an auth kind.
            if code == exit::OK && path.len() == 1 && path[0].parse::<AuthKind>().is_ok() {
                eprintln!(
                    "sesame: for the auth kind `{}`, see `sesame help auth {}`",
                    path[0], path[0]
                );
            }
            code
        }
    }
}

fn is_command(name: &str) -> bool {
    Cli::command().find_subcommand(name).is_some()
}

fn kind_help(kind: &str) -> i32 {
    match kind.parse::<AuthKind>() {
        Ok(k) => {
            out::line(reference::kind_keys(k).trim_end());
            exit::OK
        }
        Err(e) => {
            eprintln!("sesame: error: {e}");
            exit::USAGE
        }
    }
}

fn print_help(path: &[&str]) -> i32 {
    let mut cmd = Cli::command();
    cmd.build();
    let mut at = &mut cmd;
    for name in path {
        match at.find_subcommand_mut(name) {
            Some(sub) => at = sub,
            None => {
                eprintln!(
                    "sesame: error: no help topic `{}`: name a command, `config`, or an auth kind ({})",
                    path.join(" "),
                    AuthKind::NAMES.join(", ")
                );
                return exit::USAGE;
            }
        }
    }
    out::line(at.render_long_help().to_string().trim_end());
    exit::OK
}
