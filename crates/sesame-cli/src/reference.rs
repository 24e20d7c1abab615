//! Reference text rendered from the code: the table of profile keys (`docs/configuration.md`
//! and `sesame help config`) and the keys one auth kind uses (`sesame help KIND`, the
//! column of `docs/credential-kinds.md`). One renderer for both, so the page and the
//! offline help cannot say different things (tests/docs_drift.rs and tests/help.rs).

use std::collections::BTreeMap;

use clap::{CommandFactory, Parser};
use sesame_app::config::applies::{self, KeyUse};
use sesame_app::config::{AuthKind, Profile};

use crate::cli::Cli;

/// Escapes `<`, `>` and `|` outside backtick spans, so that help text renders as text in
/// Markdown (and inside a table cell).
pub fn md(text: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for c in text.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '<' if !in_code => out.push_str("&lt;"),
            '>' if !in_code => out.push_str("&gt;"),
            '|' => out.push_str("\\|"),
            _ => out.push(c),
        }
    }
    out
}

/// The flag as a user types it: `-H, --header <'K: V'>`.
pub fn flag_label(arg: &clap::Arg) -> String {
    let value_name = || {
        arg.get_value_names()
            .and_then(|v| v.first())
            .map(|v| v.to_string())
            .unwrap_or_else(|| arg.get_id().to_string().to_uppercase())
    };
    if arg.is_positional() {
        let name = value_name();
        let mut s = if arg.is_required_set() {
            format!("<{name}>")
        } else {
            format!("[{name}]")
        };
        if arg.get_num_args().is_some_and(|n| n.max_values() > 1) && !name.contains(' ') {
            s.push_str("...");
        }
        return s;
    }
    let mut s = String::new();
    if let Some(short) = arg.get_short() {
        s.push_str(&format!("-{short}"));
    }
    if let Some(long) = arg.get_long() {
        if !s.is_empty() {
            s.push_str(", ");
        }
        s.push_str(&format!("--{long}"));
    }
    if arg.get_action().takes_values() && arg.get_num_args().is_none_or(|n| n.takes_values()) {
        if arg.get_num_args().is_some_and(|n| n.min_values() == 0) {
            s.push_str(&format!(" [<{}>]", value_name()));
        } else {
            s.push_str(&format!(" <{}>", value_name()));
        }
    }
    s
}

/// The clap definition, built (global flags propagated, bin names set, width fixed).
pub fn command() -> clap::Command {
    let mut cmd = Cli::command().term_width(100);
    cmd.build();
    cmd
}

/// Profile key → the flags that set it, found by parsing each "Profile overrides" flag and
/// looking at which key it sets.
pub fn flags_by_key() -> BTreeMap<&'static str, Vec<String>> {
    let cmd = command();
    let mut map: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for arg in cmd.get_arguments() {
        if arg.get_help_heading() != Some("Profile overrides") {
            continue;
        }
        let long = arg.get_long().expect("profile flags are long flags");
        let takes_value = arg.get_action().takes_values();
        let mut keys = None;
        for value in ["7", "discover", "off"] {
            let mut argv = vec!["sesame".to_string(), format!("--{long}")];
            if takes_value {
                argv.push(value.to_string());
            }
            argv.push("status".into());
            if let Ok(parsed) = Cli::try_parse_from(&argv)
                && let Ok(profile) = parsed.profile.to_profile()
            {
                keys = Some(profile.keys_set());
                break;
            }
        }
        let keys = keys.unwrap_or_else(|| panic!("--{long}: no test value parses"));
        assert_eq!(
            keys.len(),
            1,
            "--{long} sets {keys:?}, expected exactly one profile key"
        );
        map.entry(keys[0]).or_default().push(flag_label(arg));
    }
    map
}

fn kind_of(ty: &str) -> String {
    let ty: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
    match ty.as_str() {
        "String" => "string",
        "AuthKind" => "auth kind",
        "SecretSource" => "secret",
        "PathBuf" => "path",
        "Vec<String>" => "list of strings",
        "OneOrMany" => "string or list of strings",
        "DpopSetting" => "boolean or `\"auto\"`",
        "bool" => "boolean",
        "u64" | "u32" => "whole number",
        "f64" => "number",
        "Ports" => "port or list of ports",
        _ => return format!("`{ty}`"),
    }
    .to_string()
}

/// A key's doc comment on one line.
fn doc_line(doc: &str) -> String {
    doc.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The table of profile keys (`docs/configuration.md`, `sesame help config`).
pub fn key_table() -> String {
    let flags = flags_by_key();
    let types: BTreeMap<_, _> = Profile::KEY_TYPES.iter().copied().collect();
    let mut out = String::new();
    out.push_str("| Key | Type | What it does | Flag | Environment variable |\n");
    out.push_str("|---|---|---|---|---|\n");
    for (key, doc) in Profile::KEY_DOCS {
        let doc = doc_line(doc);
        assert!(
            !doc.is_empty(),
            "profile key `{key}` has no doc comment in the profile! macro"
        );
        let flag = flags
            .get(key)
            .map(|f| {
                f.iter()
                    .map(|f| format!("`{}`", f.replace('|', "\\|")))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_else(|| "–".into());
        out.push_str(&format!(
            "| `{key}` | {} | {} | {flag} | `SESAME_{}` |\n",
            kind_of(types[key]),
            md(&doc),
            key.to_ascii_uppercase()
        ));
    }
    out
}

/// `sesame help KIND`: the keys the kind uses and those that add to it (the kind's column of
/// the table in `docs/credential-kinds.md`), each with its doc line.
pub fn kind_keys(kind: AuthKind) -> String {
    let mut used = String::new();
    let mut added = String::new();
    for (key, doc) in Profile::KEY_DOCS {
        let line = format!("  {key:<31}{}\n", doc_line(doc));
        match applies::key_use(key, kind) {
            Some(KeyUse::Used) => used.push_str(&line),
            Some(KeyUse::Added) => added.push_str(&line),
            _ => {}
        }
    }
    let mut out = format!("auth = \"{kind}\": the keys it uses\n{used}");
    if !added.is_empty() {
        out.push_str(&format!(
            "\nkeys that add to it (a TLS client certificate presented as well)\n{added}"
        ));
    }
    out.push_str("\nAny other key is a configuration error with this kind (docs/credential-kinds.md).\n");
    out
}
