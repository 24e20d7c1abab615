//! The engine's layers import downwards only (docs/ARCHITECTURE.md draws them):
//!
//! ```text
//! middleware, blocking      adapters over a Session
//! session                   scoping, the auth exchange, send stages, response cache
//! credential                what goes on a request; interactive logins; grid discovery
//! oauth                     grants, discovery, JWKS, DPoP, UMA (RFC per file)
//! token                     the token cache, the Grant trait a grant implements
//! transport                 retry policy, WWW-Authenticate, header building
//! ```
//!
//! Beside them, used by all and using none of them: `error` (the one public error; it
//! wraps each layer's error enum, so it alone may name `oauth::OAuthError`), `hint`,
//! `redact`, `secret`, `scope`, `tls`, `message`, `permissions`. The application layer
//! (profiles, login UI, status) is another crate, `sesame-auth-app`, that this one cannot
//! name: Cargo refuses a dependency cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: &[(&str, u8)] = &[
    ("transport", 1),
    ("token", 2),
    ("oauth", 3),
    ("credential", 4),
    ("session", 5),
    ("middleware", 6),
    ("blocking", 6),
];
const FOUNDATION: &[&str] = &[
    "error",
    "hint",
    "redact",
    "secret",
    "scope",
    "tls",
    "message",
    "permissions",
];
/// Entry points for fuzzers: they call every parser, at any layer.
const OUTSIDE: &[&str] = &["fuzzing", "lib"];

/// The root re-exports (`crate::Session`, …) and the module each comes from.
const ROOT_NAMES: &[(&str, &str)] = &[
    ("Credential", "credential"),
    ("Session", "session"),
    ("SessionBuilder", "session"),
    ("RequestBuilder", "session"),
    ("Response", "session"),
    ("RedirectPolicy", "session"),
    ("CredentialScope", "scope"),
    ("Hint", "hint"),
    ("Error", "error"),
    ("ErrorKind", "error"),
    ("Result", "error"),
    ("ConfigError", "error"),
    ("CredentialError", "error"),
    ("HttpError", "error"),
    ("Url", ""),
    ("USER_AGENT", ""),
];

fn rank(module: &str) -> Option<u8> {
    if FOUNDATION.contains(&module) {
        return Some(0);
    }
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

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

/// The top-level modules a line names through `crate::`: `crate::oauth::…`, `crate::Session`,
/// and each item of `crate::{a, b::c}`.
fn targets(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let names: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            group[..end]
                .split(',')
                .map(|s| s.trim().split("::").next().unwrap_or("").to_string())
                .collect()
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            vec![rest[..end].to_string()]
        };
        for n in names {
            if n.is_empty() {
                continue;
            }
            match ROOT_NAMES.iter().find(|(name, _)| *name == n) {
                Some((_, "")) => {}
                Some((_, m)) => out.push(m.to_string()),
                None => out.push(n),
            }
        }
    }
    out
}

fn import_graph() -> BTreeMap<String, BTreeSet<(String, String)>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        let module = rel.split('/').next().unwrap().trim_end_matches(".rs").to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for t in targets(code) {
                if t != module {
                    graph
                        .entry(module.clone())
                        .or_default()
                        .insert((t, format!("{rel}:{}", n + 1)));
                }
            }
        }
    }
    graph
}

#[test]
fn every_import_points_down_the_layers() {
    let graph = import_graph();
    assert!(
        graph.contains_key("session") && graph.contains_key("credential"),
        "parsed nothing: {graph:?}"
    );
    let mut up = Vec::new();
    for (from, edges) in &graph {
        if OUTSIDE.contains(&from.as_str()) {
            continue;
        }
        let Some(r_from) = rank(from) else {
            up.push(format!(
                "module `{from}` is in no layer: add it to tests/layering.rs and docs/ARCHITECTURE.md"
            ));
            continue;
        };
        for (to, at) in edges {
            let Some(r_to) = rank(to) else {
                up.push(format!("{at}: `{from}` uses `{to}`, which is in no layer"));
                continue;
            };
            let allowed = if r_from == 0 {
                // Foundation modules use only each other; the public error wraps OAuthError.
                r_to == 0 || (from == "error" && to == "oauth")
            } else {
                r_to < r_from
            };
            if !allowed {
                up.push(format!("{at}: `{from}` (layer {r_from}) uses `{to}` (layer {r_to})"));
            }
        }
    }
    assert!(up.is_empty(), "imports that point up the layers:\n{}", up.join("\n"));
}

#[test]
fn the_engine_never_names_the_application_layer() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    assert!(!manifest.contains("sesame-app") && !manifest.contains("sesame-auth-app"));
    let graph = import_graph();
    for gone in ["config", "login", "bearer_file", "status"] {
        assert!(
            !graph.contains_key(gone),
            "`{gone}` belongs to the application layer (crates/sesame-app)"
        );
    }
}

#[test]
fn the_layer_test_sees_a_planted_edge() {
    // The parser itself: a group import and a root re-export are both seen.
    assert_eq!(
        targets("use crate::{Error, oauth::OAuthClient, token};"),
        ["error", "oauth", "token"]
    );
    assert_eq!(
        targets("let s: crate::Session = crate::session::x();"),
        ["session", "session"]
    );
}
