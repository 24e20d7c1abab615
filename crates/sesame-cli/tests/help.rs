//! `sesame help config` and `sesame help KIND` print, offline, the same tables as
//! docs/configuration.md and docs/credential-kinds.md.

mod support;

use support::sesame;

fn repo_file(rel: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel)).unwrap()
}

#[tokio::test]
async fn help_config_prints_the_key_table_of_the_configuration_page() {
    let home = tempfile::tempdir().unwrap();
    let r = sesame(home.path(), &["help", "config"], &[]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = repo_file("docs/configuration.md");
    let start = doc.find("<!-- keys:start -->\n").unwrap() + "<!-- keys:start -->\n".len();
    let end = doc.find("<!-- keys:end -->").unwrap();
    let table = doc[start..end].trim();
    assert!(
        r.stdout.contains(table),
        "`sesame help config` differs from docs/configuration.md"
    );
}

/// For every kind: the keys `help KIND` lists are exactly those marked ✓ or + in its column.
#[tokio::test]
async fn help_kind_lists_the_keys_of_that_kinds_column() {
    let home = tempfile::tempdir().unwrap();
    let doc = repo_file("docs/credential-kinds.md");
    let rows: Vec<Vec<&str>> = doc
        .lines()
        .skip_while(|l| !l.starts_with("<!-- BEGIN key-kind table"))
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    let kinds = &rows[0][1..];
    for (col, kind) in kinds.iter().enumerate() {
        let r = sesame(home.path(), &["help", "auth", kind], &[]).await;
        assert_eq!(r.code, 0, "{kind}: {}", r.stderr);
        let listed: Vec<&str> = r
            .stdout
            .lines()
            .filter(|l| l.starts_with("  "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let documented: Vec<&str> = rows[2..]
            .iter()
            .filter(|row| matches!(row[col + 1], "✓" | "+"))
            .map(|row| row[0].trim_matches('`'))
            .collect();
        let mut a = listed.clone();
        let mut b = documented.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "`sesame help auth {kind}` vs docs/credential-kinds.md");
    }
    // A kind that is not also a command needs no `auth`.
    let r = sesame(home.path(), &["help", "oidc"], &[]).await;
    assert!(r.code == 0 && r.stdout.contains("client_id"), "{}", r.all());
}

#[tokio::test]
async fn help_of_a_command_and_of_an_unknown_topic() {
    let home = tempfile::tempdir().unwrap();
    let r = sesame(home.path(), &["help", "login"], &[]).await;
    assert!(r.code == 0 && r.stdout.contains("Usage: sesame login"), "{}", r.all());
    let r = sesame(home.path(), &["help", "config", "init"], &[]).await;
    assert!(
        r.code == 0 && r.stdout.contains("Usage: sesame config init"),
        "{}",
        r.all()
    );
    let r = sesame(home.path(), &["help"], &[]).await;
    assert!(r.code == 0 && r.stdout.contains("Usage: sesame"), "{}", r.all());
    let r = sesame(home.path(), &["help", "nope"], &[]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no help topic `nope`") && r.stdout.is_empty(),
        "{}",
        r.all()
    );
}
