//! `sesame config init` writes a profile (flags, or questions on a terminal) with secrets as
//! references; `sesame profiles` lists the profiles; completions complete their names.

mod support;

use std::path::Path;

use support::{sesame, sesame_on_a_terminal};

fn config_path(home: &Path) -> std::path::PathBuf {
    home.join(".config/sesame/config.toml")
}

#[tokio::test]
async fn flags_write_a_profile_with_secret_references_atomically_and_privately() {
    let home = tempfile::tempdir().unwrap();
    let args = [
        "config",
        "init",
        "--name",
        "robot",
        "--auth",
        "client-credentials",
        "--base-url",
        "https://api.example/",
        "--issuer",
        "https://idp.example",
        "--client-id",
        "robot",
        "--client-secret-env",
        "ROBOT_SECRET",
    ];
    let r = sesame(home.path(), &args, &[("ROBOT_SECRET", "do-not-write-me")]).await;
    assert_eq!(r.code, 0, "{}", r.all());
    let path = config_path(home.path());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("[profiles.robot]"), "{text}");
    assert!(text.contains(r#"client_secret = { env = "ROBOT_SECRET" }"#), "{text}");
    assert!(!text.contains("do-not-write-me"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    // No temporary file is left next to it.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["config.toml"]);
    // The profile works as written.
    let r = sesame(home.path(), &["-p", "robot", "status", "--json"], &[]).await;
    assert!(r.stdout.contains("\"profile\": \"robot\""), "{}", r.all());

    // A second profile keeps the first and the file's comments.
    let with_comment = format!("# mine\n{text}");
    std::fs::write(&path, &with_comment).unwrap();
    let r = sesame(
        home.path(),
        &[
            "config",
            "init",
            "--name",
            "files",
            "--auth",
            "bearer",
            "--token-keyring",
            "files:alice",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.all());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("# mine\n") && text.contains("[profiles.robot]"),
        "{text}"
    );
    assert!(text.contains(r#"token = { keyring = "files:alice" }"#), "{text}");
}

#[tokio::test]
async fn an_existing_profile_is_replaced_only_with_force() {
    let home = tempfile::tempdir().unwrap();
    let first = [
        "config",
        "init",
        "--name",
        "api",
        "--auth",
        "bearer",
        "--token-env",
        "A",
    ];
    assert_eq!(sesame(home.path(), &first, &[]).await.code, 0);
    let second = [
        "config",
        "init",
        "--name",
        "api",
        "--auth",
        "bearer",
        "--token-env",
        "B",
    ];
    let r = sesame(home.path(), &second, &[]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("profile `api` already exists") && r.stderr.contains("--force"),
        "{}",
        r.all()
    );
    let text = std::fs::read_to_string(config_path(home.path())).unwrap();
    assert!(text.contains(r#"env = "A""#), "unchanged: {text}");
    let mut forced = second.to_vec();
    forced.extend(["--force", "--make-default"]);
    let r = sesame(home.path(), &forced, &[]).await;
    assert_eq!(r.code, 0, "{}", r.all());
    let text = std::fs::read_to_string(config_path(home.path())).unwrap();
    assert!(
        text.contains(r#"env = "B""#) && !text.contains(r#"env = "A""#),
        "{text}"
    );
    assert!(text.contains(r#"default_profile = "api""#), "{text}");
}

#[tokio::test]
async fn without_a_terminal_the_kind_is_required_and_wrong_keys_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let r = sesame(home.path(), &["config", "init", "--name", "x"], &[]).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("needs --auth KIND"), "{}", r.all());
    let r = sesame(
        home.path(),
        &[
            "config",
            "init",
            "--auth",
            "bearer",
            "--token-env",
            "T",
            "--issuer",
            "https://idp",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("`issuer`"), "{}", r.all());
    let r = sesame(
        home.path(),
        &["config", "init", "--name", "bad name", "--auth", "none"],
        &[],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(!config_path(home.path()).exists(), "nothing written on an error");
}

#[test]
fn on_a_terminal_it_asks_only_what_the_kind_needs() {
    let home = tempfile::tempdir().unwrap();
    let (code, screen) = sesame_on_a_terminal(
        home.path(),
        &["config", "init"],
        &[
            ("Profile name", "robot"),
            ("Auth kind", "client-credentials"),
            ("Base URL", "https://api.example/"),
            ("Issuer URL", "https://idp.example"),
            ("Client id", "robot"),
            ("Where is the client secret?", "file"),
            ("File that holds it", "~/.secrets/robot"),
            ("Scopes", "read write"),
            ("Audience", ""),
        ],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(
        !screen.contains("Username") && !screen.contains("Certificate"),
        "asked too much: {screen}"
    );
    let text = std::fs::read_to_string(config_path(home.path())).unwrap();
    assert!(
        text.contains(r#"client_secret = { file = "~/.secrets/robot" }"#),
        "{text}"
    );
    assert!(
        text.contains(r#"scopes = ["read", "write"]"#) && !text.contains("audience"),
        "{text}"
    );

    let (code, screen) = sesame_on_a_terminal(
        home.path(),
        &["config", "init"],
        &[
            ("Profile name", "files"),
            ("Auth kind", "basic"),
            ("Base URL", ""),
            ("Username", "alice"),
            ("Where is the password?", "keyring"),
            ("OS keyring entry", "files:alice"),
        ],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(
        !screen.contains("Client id") && !screen.contains("Issuer"),
        "asked too much: {screen}"
    );
    let text = std::fs::read_to_string(config_path(home.path())).unwrap();
    assert!(
        text.contains("[profiles.robot]") && text.contains("[profiles.files]"),
        "{text}"
    );
    assert!(text.contains(r#"password = { keyring = "files:alice" }"#), "{text}");
}

#[tokio::test]
async fn profiles_lists_name_kind_and_base_url() {
    let home = tempfile::tempdir().unwrap();
    support::write_config(
        home.path(),
        "default_profile = \"b\"\n[profiles.a]\nbase_url = \"https://a.example/\"\nauth = \"oidc\"\nissuer = \"https://i\"\nclient_id = \"c\"\n\n[profiles.b]\ntoken = { env = \"T\" }\n",
    );
    let r = sesame(home.path(), &["profiles"], &[]).await;
    assert_eq!(r.code, 0, "{}", r.all());
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "  NAME  AUTH    BASE_URL",
            "  a     oidc    https://a.example/",
            "* b     bearer  -"
        ]
    );
    let r = sesame(home.path(), &["profiles", "--json"], &[]).await;
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v[0]["name"], "a");
    assert_eq!(v[0]["auth"], "oidc");
    assert_eq!(v[0]["base_url"], "https://a.example/");
    assert_eq!(v[1]["default"], true);
    let r = sesame(home.path(), &["profiles", "--names"], &[]).await;
    assert_eq!(r.stdout, "a\nb\n");
}

/// Bash: the script's completion function offers the file's profile names after -p.
#[tokio::test]
async fn bash_completion_completes_profile_names() {
    let home = tempfile::tempdir().unwrap();
    support::write_config(
        home.path(),
        "[profiles.ods-prod]\n\n[profiles.ods-test]\n\n[profiles.other]\n",
    );
    let script = sesame(home.path(), &["completions", "bash"], &[]).await;
    assert_eq!(script.code, 0);
    let file = home.path().join("sesame.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_sesame")).parent().unwrap();
    let probe = format!(
        "source {}; COMP_WORDS=(sesame -p ods); COMP_CWORD=2; _sesame_with_profiles sesame ods -p; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "-c", &probe])
        .env(
            "PATH",
            format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default()),
        )
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ods-prod\nods-test\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (shell, hook) in [
        ("zsh", ":NAME:_sesame_profiles'"),
        ("fish", "(sesame profiles --names 2>/dev/null)"),
    ] {
        let r = sesame(home.path(), &["completions", shell], &[]).await;
        assert!(r.stdout.contains(hook), "{shell}");
    }
}
