//! The engine (`crates/sesame`) never words its messages in the command line's terms: no
//! `sesame SUBCOMMAND`, no `--flag` of this CLI and no `-v`/`-vv` inside a string in the
//! engine's code. Its errors carry a typed `sesame::Hint` that each front end words (the
//! CLI names commands and flags, Python names methods and arguments), so a Python user is
//! never told to "pass --base-url".
//!
//! This test lives in the CLI crate because the CLI is what knows its own subcommands and
//! flags: the lists come from clap, so a new flag is checked the day it is added.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

#[path = "../src/cli.rs"]
#[allow(dead_code)]
mod cli;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The string literals of one line of code (comments and doc comments skipped: rustdoc for
/// Rust users may explain how the CLI uses an API).
fn literals(line: &str) -> Vec<String> {
    let code = line.trim_start();
    if code.starts_with("//") {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut chars = code.chars().peekable();
    let mut current: Option<String> = None;
    while let Some(c) = chars.next() {
        match (&mut current, c) {
            (None, '"') => current = Some(String::new()),
            (None, '/') if chars.peek() == Some(&'/') => break,
            (None, _) => {}
            (Some(s), '\\') => {
                if let Some(n) = chars.next() {
                    s.push('\\');
                    s.push(n);
                }
            }
            (Some(_), '"') => out.push(current.take().unwrap()),
            (Some(s), c) => s.push(c),
        }
    }
    // A literal continued on the next line is checked as far as this line goes.
    if let Some(s) = current {
        out.push(s);
    }
    out
}

/// What counts as command-line wording: `sesame SUB` for each subcommand, `--FLAG` for each
/// long flag, and the verbosity flags.
fn cli_words() -> Vec<String> {
    let cmd = cli::Cli::command();
    let mut words: Vec<String> = cmd
        .get_subcommands()
        .map(|s| format!("sesame {}", s.get_name()))
        .collect();
    let mut flags = Vec::new();
    fn collect(cmd: &clap::Command, flags: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            if let Some(long) = a.get_long() {
                flags.push(format!("--{long}"));
            }
        }
        for s in cmd.get_subcommands() {
            collect(s, flags);
        }
    }
    collect(&cmd, &mut flags);
    flags.sort();
    flags.dedup();
    words.extend(flags);
    words.extend(["-vv".to_string(), "`-v`".to_string()]);
    words
}

/// Whether `word` occurs in `text` as a whole word (`--base-url` not inside `--base-urls`).
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let after = text[i + word.len()..].chars().next();
        !after.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
    })
}

/// Lines whose literals legitimately contain such a word, with the reason.
const ALLOWED: &[(&str, &str)] = &[
    // A key-derivation label: "sesame token cache" names the cache, not a command, and
    // changing it would change every stored fingerprint.
    ("token/key.rs", "FINGERPRINT_CONTEXT"),
];

#[test]
fn engine_strings_name_no_command_or_flag() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sesame/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(
        files.len() > 20,
        "found only {} files under {}",
        files.len(),
        src.display()
    );
    let words = cli_words();
    assert!(words.iter().any(|w| w == "sesame login") && words.iter().any(|w| w == "--base-url"));
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        for (n, line) in text.lines().enumerate() {
            // Unit tests at the end of a file may feed CLI-looking strings to parsers.
            if line.trim_start().starts_with("#[cfg(test)]") {
                break;
            }
            if ALLOWED.iter().any(|(f, marker)| rel == *f && line.contains(marker)) {
                continue;
            }
            for lit in literals(line) {
                for w in &words {
                    if has_word(&lit, w) {
                        found.push(format!("{rel}:{}: `{w}` in {lit:?}", n + 1));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "the engine words messages for the CLI (return a sesame::Hint instead):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanner_finds_what_it_looks_for() {
    assert_eq!(
        literals(r#"    Err(e("run `sesame login` now", "x"))"#),
        vec!["run `sesame login` now", "x"]
    );
    assert!(literals("    // run `sesame login`").is_empty());
    assert!(literals("    /// pass --base-url").is_empty());
    assert_eq!(literals(r#"f("a \" b") // "c""#), vec![r#"a \" b"#]);
    assert!(has_word("pass --base-url now", "--base-url"));
    assert!(!has_word("pass --base-urls", "--base-url"));
}
