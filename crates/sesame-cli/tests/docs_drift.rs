//! The user documentation under `docs/` stays true to the code.
//!
//! - The table of profile keys in `docs/configuration.md` (between `<!-- keys:start -->` and
//!   `<!-- keys:end -->`) is rendered from `sesame_app::config::Profile::KEYS`, its doc comments
//!   and types, and the command-line flag that sets each key.
//! - The command reference in `docs/cli.md` (between `<!-- cli:start -->` and
//!   `<!-- cli:end -->`) is rendered from the clap definition of the `sesame` command.
//! - Every relative Markdown link in `README.md` and `docs/**/*.md` points at a file that
//!   exists (and, with `#anchor`, at a heading that exists); no Markdown file links to the
//!   build specification outside the repository.
//!
//! When a generated block is out of date, regenerate it with
//! `SESAME_BLESS=1 cargo test -p sesame-auth-cli --test docs_drift` and commit the result.

use std::path::{Path, PathBuf};

use sesame_app::config::Profile;
use sesame_cli::reference::{command, flag_label, flags_by_key, md};

const REGENERATE: &str = "SESAME_BLESS=1 cargo test -p sesame-auth-cli --test docs_drift";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// Compares the block between `<!-- {name}:start -->` and `<!-- {name}:end -->` in `file`
/// with `generated`; rewrites it with `SESAME_BLESS=1`, else fails saying how to.
fn check_block(file: &str, name: &str, generated: &str) {
    let path = repo_root().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start_marker = format!("<!-- {name}:start -->");
    let end_marker = format!("<!-- {name}:end -->");
    let start = text
        .find(&start_marker)
        .unwrap_or_else(|| panic!("{file} has no `{start_marker}` line"))
        + start_marker.len();
    let end = text[start..]
        .find(&end_marker)
        .unwrap_or_else(|| panic!("{file} has no `{end_marker}` line after `{start_marker}`"))
        + start;
    let want = format!("\n{}\n", generated.trim_end());
    let have = &text[start..end];
    if have == want {
        return;
    }
    if std::env::var("SESAME_BLESS").as_deref() == Ok("1") {
        let updated = format!("{}{}{}", &text[..start], want, &text[end..]);
        std::fs::write(&path, updated).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("rewrote the `{name}` block of {file}");
        return;
    }
    let first_diff = have
        .lines()
        .zip(want.lines())
        .enumerate()
        .find(|(_, (h, w))| h != w)
        .map(|(i, (h, w))| {
            format!(
                "first difference, line {} of the block:\n  in {file}: {h}\n  from code: {w}",
                i + 1
            )
        })
        .unwrap_or_else(|| "the block is longer or shorter than the code's".into());
    panic!(
        "the `{name}` block of {file} is out of date with the code; regenerate it with\n\n    {REGENERATE}\n\nand commit the result ({first_diff})"
    );
}

fn help_of(arg: &clap::Arg) -> String {
    arg.get_long_help()
        .or(arg.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default()
}

fn render_args(out: &mut String, args: &[&clap::Arg]) {
    for arg in args {
        let mut line = format!("- `{}`", flag_label(arg));
        let help = help_of(arg);
        if !help.is_empty() {
            let mut help = help.trim().replace("\n\n", "\n").replace('\n', "\n  ");
            if !help.ends_with(['.', ')', '`', '!', '?']) {
                help.push('.');
            }
            line.push_str(&format!(": {}", md(&help)));
        }
        if arg.get_action().takes_values() {
            let values: Vec<String> = arg
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| format!("`{}`", v.get_name()))
                .collect();
            if !values.is_empty() {
                line.push_str(&format!(" One of: {}.", values.join(", ")));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
}

/// One command's section (and its subcommands', as `sesame config init`).
fn render_command(out: &mut String, parent: &str, sub: &mut clap::Command) {
    let is_builtin = |a: &clap::Arg| matches!(a.get_id().as_str(), "help" | "version");
    let name = format!("{parent} {}", sub.get_name());
    let about = sub
        .get_long_about()
        .or(sub.get_about())
        .map(|s| s.to_string())
        .unwrap_or_default();
    out.push_str(&format!("\n## {name}\n\n{}\n\n```text\n", md(about.trim())));
    out.push_str(sub.render_usage().to_string().trim());
    out.push_str("\n```\n");
    let own: Vec<&clap::Arg> = sub
        .get_arguments()
        .filter(|a| !a.is_global_set() && !a.is_hide_set() && !is_builtin(a))
        .collect();
    let (positional, options): (Vec<&clap::Arg>, Vec<&clap::Arg>) = own.into_iter().partition(|a| a.is_positional());
    if !positional.is_empty() {
        out.push_str("\nArguments:\n\n");
        render_args(out, &positional);
    }
    if !options.is_empty() {
        out.push_str("\nOptions:\n\n");
        render_args(out, &options);
    }
    for nested in sub.get_subcommands_mut().filter(|n| n.get_name() != "help") {
        render_command(out, &name, nested);
    }
}

/// The command reference for `docs/cli.md`.
fn render_cli() -> String {
    let mut cmd = command();
    let mut out = String::new();
    let about = cmd
        .get_long_about()
        .or(cmd.get_about())
        .map(|s| s.to_string())
        .unwrap_or_default();
    out.push_str("## sesame\n\n");
    out.push_str(&md(about.trim()));
    out.push_str("\n\n```text\n");
    out.push_str(cmd.render_usage().to_string().trim());
    out.push_str("\n```\n\n");
    let is_builtin = |a: &clap::Arg| matches!(a.get_id().as_str(), "help" | "version");
    let global: Vec<&clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.get_help_heading().is_none() && !is_builtin(a))
        .collect();
    out.push_str("### Global options\n\nAccepted by every command, before or after its name.\n\n");
    render_args(&mut out, &global);
    out.push_str("- `-h, --help`: Print help (`sesame help COMMAND` or `sesame COMMAND --help` for one command).\n");
    out.push_str("- `-V, --version`: Print the version.\n\n");
    let overrides: Vec<&clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.get_help_heading() == Some("Profile overrides"))
        .collect();
    out.push_str(
        "### Profile overrides\n\nAccepted by every command. Each flag sets one profile key and wins over \
         the `SESAME_<KEY>` environment variable and the configuration file; see the \
         [table of profile keys](configuration.md#profile-keys).\n\n",
    );
    render_args(&mut out, &overrides);
    for sub in cmd.get_subcommands_mut() {
        render_command(&mut out, "sesame", sub);
    }
    out
}

#[test]
fn configuration_key_table_matches_the_code() {
    check_block("docs/configuration.md", "keys", &sesame_cli::reference::key_table());
}

#[test]
fn cli_reference_matches_the_code() {
    check_block("docs/cli.md", "cli", &render_cli());
}

/// Every key of the profile has a documented flag (the table would say `–` otherwise),
/// except the cluster token store's: site configuration shared by every job of a batch
/// cluster, set in the file or as `SESAME_OPENBAO_*` variables.
#[test]
fn every_profile_key_is_set_by_a_flag() {
    let flags = flags_by_key();
    let missing: Vec<_> = Profile::KEYS
        .iter()
        .filter(|k| !flags.contains_key(*k) && !k.starts_with("openbao_") && **k != "cluster_fallback")
        .collect();
    assert!(missing.is_empty(), "profile keys no flag sets: {missing:?}");
}

// ---------------------------------------------------------------- links

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() {
            if !matches!(name, "target" | "node_modules" | ".git") && !name.starts_with('.') {
                markdown_files(&path, out);
            }
        } else if name.ends_with(".md") {
            out.push(path);
        }
    }
}

/// Text outside fenced code blocks and inline code spans, line by line.
fn prose_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut fence: Option<&str> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if t.starts_with("```") {
            fence = Some("```");
            continue;
        }
        if t.starts_with("~~~") {
            fence = Some("~~~");
            continue;
        }
        let mut out = String::new();
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                out.push(c);
            }
        }
        lines.push(out);
    }
    lines
}

/// Link targets: `[text](target)`, `[text](target "title")` and `[ref]: target`.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose_lines(text) {
        let mut rest = line.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or_default();
            targets.push(target.trim_matches(|c| c == '<' || c == '>').to_string());
            rest = &after[end..];
        }
        let t = line.trim_start();
        if t.starts_with('[')
            && let Some(i) = t.find("]:")
            && let Some(target) = t[i + 2..].split_whitespace().next()
        {
            targets.push(target.to_string());
        }
    }
    targets
}

/// The anchor of a heading, as GitHub and mdBook make it.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut fence = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = !fence;
            continue;
        }
        if !fence && t.starts_with('#') {
            out.push(slug(t.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn relative_links_in_the_docs_point_at_existing_files() {
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    markdown_files(&root.join("docs"), &mut files);
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let rel = file.strip_prefix(&root).unwrap().display().to_string();
        for target in link_targets(&text) {
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path_part, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let dest = if path_part.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path_part)
            };
            let Ok(dest) = dest.canonicalize() else {
                broken.push(format!("{rel}: `{target}` does not exist"));
                continue;
            };
            if !dest.starts_with(&root) {
                broken.push(format!("{rel}: `{target}` points outside the repository"));
                continue;
            }
            if let Some(anchor) = anchor
                && dest.extension().is_some_and(|e| e == "md")
            {
                let text = std::fs::read_to_string(&dest).unwrap();
                if !anchors(&text).iter().any(|a| a == anchor) {
                    broken.push(format!("{rel}: `{target}`: no heading with anchor `#{anchor}`"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn no_markdown_file_points_at_the_build_specification() {
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    markdown_files(&root.join("docs"), &mut files);
    markdown_files(&root.join("crates"), &mut files);
    let mut offending = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let rel = file.strip_prefix(&root).unwrap().display().to_string();
        for (n, line) in text.lines().enumerate() {
            // The build notes beside the repository: users never have them.
            if line.contains(concat!("../", "shared")) || line.contains(concat!("SPEC", ".md")) {
                offending.push(format!("{rel}:{}: {line}", n + 1));
            }
        }
    }
    assert!(
        offending.is_empty(),
        "users do not have the build specification; link to docs/ instead:\n{}",
        offending.join("\n")
    );
}

/// Whether `word` occurs in `line` on its own (not inside `SESAME_INTROSPECTION_…`).
fn mentions_word(line: &str, word: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    line.match_indices(word).any(|(i, _)| {
        !line[..i].chars().next_back().is_some_and(is_word)
            && !line[i + word.len()..].chars().next().is_some_and(is_word)
    })
}

#[test]
fn the_user_docs_do_not_cite_the_build_specification() {
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    markdown_files(&root.join("docs"), &mut files);
    let mut offending = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let rel = file.strip_prefix(&root).unwrap().display().to_string();
        for (n, line) in text.lines().enumerate() {
            if mentions_word(line, "SPEC") {
                offending.push(format!("{rel}:{}: {line}", n + 1));
            }
        }
    }
    assert!(
        offending.is_empty(),
        "name the page under docs/ instead of SPEC:\n{}",
        offending.join("\n")
    );
}

#[test]
fn the_link_checker_finds_links_and_anchors() {
    let text = "See [a](a.md#x-y) and [b](b.md \"B\"), `[not](code.md)`.\n```\n[no](fence.md)\n```\n[r]: r.md\n";
    assert_eq!(link_targets(text), ["a.md#x-y", "b.md", "r.md"]);
    assert_eq!(
        slug(" 6.1 Credentials go only to their `scope` "),
        "61-credentials-go-only-to-their-scope"
    );
    assert!(mentions_word("see SPEC §2", "SPEC") && !mentions_word("SESAME_INTROSPECTION_ENDPOINT", "SPEC"));
    assert_eq!(
        anchors("# Title\n```\n# not\n```\n## Two words"),
        ["title", "two-words"]
    );
}

// ---------------------------------------------------------------- code blocks

/// Every fenced block of the book with its info string, file and first line.
fn code_blocks() -> Vec<(String, String, usize, String)> {
    let root = repo_root();
    let mut files = Vec::new();
    markdown_files(&root.join("docs"), &mut files);
    let mut blocks = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        let mut open: Option<(String, usize, String)> = None;
        for (n, line) in text.lines().enumerate() {
            let t = line.trim_start();
            match &mut open {
                Some((info, start, body)) => {
                    if t.starts_with("```") {
                        blocks.push((rel.clone(), info.clone(), *start, std::mem::take(body)));
                        open = None;
                    } else {
                        body.push_str(line);
                        body.push('\n');
                    }
                }
                None if t.starts_with("```") => open = Some((t[3..].trim().to_string(), n + 1, String::new())),
                None => {}
            }
        }
    }
    blocks
}

/// The book's convention (docs/README.md#code-blocks): `toml` blocks are configuration files
/// this test parses as sesame does; `python` blocks are compiled by the Python suite
/// (tests/test_docs_examples.py); `text` (output, file layouts) and `mermaid` (figures) are
/// illustrations, and so is any block whose info string ends in `,ignore`; `sh` blocks
/// are commands shown to be typed.
#[test]
fn every_code_block_of_the_book_is_checked_or_marked_as_an_illustration() {
    let mut bad = Vec::new();
    for (file, info, line, body) in code_blocks() {
        let lang = info.split(',').next().unwrap_or_default();
        let ignored = info.ends_with(",ignore");
        match lang {
            "toml" if !ignored => {
                if let Err(e) = sesame_app::config::Config::from_toml_str(&body, format!("{file}:{line}")) {
                    bad.push(format!(
                        "{file}:{line}: not a valid configuration (mark it `toml,ignore` if it is a fragment): {e}"
                    ));
                }
            }
            "toml" | "python" | "text" | "mermaid" | "sh" | "rust" if lang != "rust" || ignored => {}
            _ => bad.push(format!(
                "{file}:{line}: code block ```{info}: use toml, python, sh, text, mermaid or `LANG,ignore`"
            )),
        }
    }
    assert!(bad.is_empty(), "code blocks of the book:\n{}", bad.join("\n"));
}
