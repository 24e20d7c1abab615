//! The engine never writes to the terminal: it logs through `tracing` and returns typed
//! errors, and each front end (CLI, Python) decides what a person sees. A `println!` or
//! `eprintln!` in the library would reach a Python notebook's stderr or a daemon's journal
//! with no way to turn it off.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn engine_sources_have_no_print_macros() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(
        files.len() > 20,
        "found only {} source files under {}",
        files.len(),
        src.display()
    );
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if ["println!(", "eprintln!(", "print!(", "eprint!(", "dbg!("]
                .iter()
                .any(|m| line.contains(m))
            {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "the engine prints:\n{}", found.join("\n"));
}

/// The engine's messages carry typed hints ([`sesame::Hint`]) that each front end words: no
/// CLI command (`sesame login`) or flag (`--device`, `-vv`) inside the library's code.
/// Doc comments may name them (they explain who calls what); string literals may not.
#[test]
fn engine_sources_name_no_cli_command_or_flag() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            // Only what is inside string literals counts.
            let strings: String = code.split('"').skip(1).step_by(2).collect::<Vec<_>>().join(" ");
            let cli_word = ["`sesame ", "run sesame ", "`--", "`-v", " -vv", "(-v"]
                .iter()
                .any(|m| strings.contains(m))
                || strings.split_whitespace().any(|w| {
                    let w = w.trim_matches(|c: char| c == '`' || c == '(' || c == ')' || c == ',' || c == '.');
                    w.len() > 3 && w.starts_with("--") && w[2..].chars().all(|c| c.is_ascii_lowercase() || c == '-')
                });
            if cli_word {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the engine names CLI commands or flags (return a Hint instead):\n{}",
        found.join("\n")
    );
}
