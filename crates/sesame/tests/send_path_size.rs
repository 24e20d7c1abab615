//! The send path stays in stages a reader takes in at once: no function in it grows over
//! 50 lines (issue 14). The send path is `session/send.rs` (the stages), `session/redirect.rs`
//! (the redirect stage), `session/request.rs` (`send`) and `credential/exchange.rs` (the
//! auth exchange every sender drives).

use std::path::Path;

const MAX_LINES: usize = 50;
const SEND_PATH: &[&str] = &[
    "src/session/send.rs",
    "src/session/redirect.rs",
    "src/session/request.rs",
    "src/credential/exchange.rs",
    "src/middleware.rs",
];

/// `(name, lines)` of every function outside `#[cfg(test)]`, from its `fn` line to its
/// closing brace. Braces inside string literals are balanced in this code (`{}` in format
/// strings), so counting them is enough.
fn functions(src: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = src.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_start();
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        let Some(name) = fn_name(line) else {
            i += 1;
            continue;
        };
        let (mut depth, mut opened, mut j) = (0i32, false, i);
        while j < lines.len() {
            let code = lines[j].split("//").next().unwrap_or("");
            for c in code.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            // A declaration without a body (`fn f();` in a trait) ends at its `;`.
            if (opened && depth == 0) || (!opened && code.trim_end().ends_with(';')) {
                break;
            }
            j += 1;
        }
        out.push((name, j - i + 1));
        i = j + 1;
    }
    out
}

fn fn_name(line: &str) -> Option<String> {
    let mut words = line.split_whitespace().peekable();
    while let Some(w) = words.peek() {
        if w.starts_with("pub") || *w == "async" || *w == "const" || *w == "unsafe" {
            words.next();
        } else {
            break;
        }
    }
    if words.next()? != "fn" {
        return None;
    }
    let rest = words.next()?;
    Some(rest.split(['(', '<']).next()?.to_string())
}

#[test]
fn no_function_in_the_send_path_is_over_50_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut long = Vec::new();
    let mut seen = 0;
    for file in SEND_PATH {
        let src = std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        for (name, n) in functions(&src) {
            seen += 1;
            if n > MAX_LINES {
                long.push(format!("{file}: fn {name} is {n} lines"));
            }
        }
    }
    assert!(
        seen > 20,
        "the scan found only {seen} functions: is it reading the right files?"
    );
    assert!(
        long.is_empty(),
        "split these into stages of at most {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_counter_sees_a_long_function() {
    let body: String = (0..60).map(|i| format!("    let x{i} = {{ {i} }};\n")).collect();
    let src = format!("pub(super) async fn big(a: u8) -> u8 {{\n{body}    a\n}}\nfn small() {{}}\n");
    assert_eq!(functions(&src), vec![("big".to_string(), 63), ("small".to_string(), 1)]);
    let trait_src = "trait T {\n    fn decl(&self);\n    fn with_body(&self) {\n        ()\n    }\n}\n";
    assert_eq!(
        functions(trait_src),
        vec![("decl".to_string(), 1), ("with_body".to_string(), 3)]
    );
}
