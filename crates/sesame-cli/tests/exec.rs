//! `sesame exec`: the token file a command gets (contents, mode, WLCG location, found by a
//! reference reader and by sesame's discovery), exit codes, signals, clean-up, and renewal
//! while a long-running command reads the file.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use support::*;
use tokio::io::{AsyncBufReadExt, BufReader};

const TOKEN: &str = "exec-token-5f2a9c";

fn bearer_profile(home: &Path) {
    write_config(
        home,
        "[profiles.api]\nbase_url = \"https://api.example.org/\"\nauth = \"bearer\"\ntoken = { env = \"API_TOKEN\" }\n",
    );
}

/// A token file path in `home` for `--bearer-file`.
fn bt(home: &Path) -> String {
    home.join("bt").display().to_string()
}

/// WLCG Bearer Token Discovery written from its text (not sesame's code): BEARER_TOKEN,
/// the file named by BEARER_TOKEN_FILE, $XDG_RUNTIME_DIR/bt_u$ID if XDG_RUNTIME_DIR is set,
/// else /tmp/bt_u$ID; isspace stripped; empty or missing means next.
fn reference_reader(env: &HashMap<&str, String>, euid: u32) -> Option<String> {
    let strip = |s: &str| s.trim_matches([' ', '\x0c', '\n', '\r', '\t', '\x0b']).to_string();
    let file = |p: PathBuf| std::fs::read_to_string(p).ok().map(|s| strip(&s));
    [
        env.get("BEARER_TOKEN").map(|s| strip(s)),
        env.get("BEARER_TOKEN_FILE").and_then(|f| file(PathBuf::from(f))),
        match env.get("XDG_RUNTIME_DIR") {
            Some(x) => file(Path::new(x).join(format!("bt_u{euid}"))),
            None => file(PathBuf::from(format!("/tmp/bt_u{euid}"))),
        },
    ]
    .into_iter()
    .flatten()
    .find(|t| !t.is_empty())
}

#[tokio::test]
async fn the_command_reads_the_token_from_a_private_file() {
    let home = tempfile::tempdir().unwrap();
    bearer_profile(home.path());
    let file = bt(home.path());
    let r = sesame(
        home.path(),
        &[
            "exec",
            "--bearer-file",
            &file,
            "--",
            "sh",
            "-c",
            r#"cat "$BEARER_TOKEN_FILE"; stat -c %a "$BEARER_TOKEN_FILE"; echo "$BEARER_TOKEN_FILE""#,
        ],
        &[("API_TOKEN", TOKEN)],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("{TOKEN}\n600\n{file}\n"));
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert!(!Path::new(&file).exists(), "the file is removed afterwards");
}

#[tokio::test]
async fn the_default_file_is_the_wlcg_location_and_discovery_finds_it() {
    let home = tempfile::tempdir().unwrap();
    bearer_profile(home.path());
    let xdg = home.path().join("run");
    std::fs::create_dir(&xdg).unwrap();
    let xdg_s = xdg.display().to_string();
    let r = sesame(
        home.path(),
        &[
            "exec",
            "--keep",
            "--",
            "sh",
            "-c",
            r#"echo "$BEARER_TOKEN_FILE"; id -u"#,
        ],
        &[("API_TOKEN", TOKEN), ("XDG_RUNTIME_DIR", &xdg_s)],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut lines = r.stdout.lines();
    let path = lines.next().unwrap().to_string();
    let uid: u32 = lines.next().unwrap().parse().unwrap();
    assert_eq!(PathBuf::from(&path), xdg.join(format!("bt_u{uid}")));
    // --keep: still there; a WLCG reader with the same environment finds the token…
    let env = HashMap::from([("XDG_RUNTIME_DIR", xdg_s.clone())]);
    assert_eq!(reference_reader(&env, uid).as_deref(), Some(TOKEN));
    // …and so does sesame's own discovery.
    let d = sesame::credential::Discover::builder()
        .env(
            sesame::credential::grid::tokens::Env::isolated()
                .with_euid(uid)
                .set("XDG_RUNTIME_DIR", &xdg),
        )
        .build()
        .unwrap();
    assert_eq!(d.find_token(None).unwrap().token.expose(), TOKEN);
}

#[tokio::test]
async fn bearer_token_in_the_environment_does_not_shadow_the_file() {
    let home = tempfile::tempdir().unwrap();
    bearer_profile(home.path());
    let file = bt(home.path());
    let r = sesame(
        home.path(),
        &[
            "exec",
            "--bearer-file",
            &file,
            "--",
            "sh",
            "-c",
            r#"echo "${BEARER_TOKEN-unset}""#,
        ],
        &[("API_TOKEN", TOKEN), ("BEARER_TOKEN", "stale-parent-token")],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "unset\n");
}

#[tokio::test]
async fn the_exit_code_is_the_commands() {
    let home = tempfile::tempdir().unwrap();
    bearer_profile(home.path());
    let file = bt(home.path());
    let env = [("API_TOKEN", TOKEN)];
    let r = sesame(
        home.path(),
        &["exec", "--bearer-file", &file, "--", "sh", "-c", "exit 7"],
        &env,
    )
    .await;
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert!(!Path::new(&file).exists());
    // Killed by a signal: 128 + the signal.
    let r = sesame(
        home.path(),
        &["exec", "--bearer-file", &file, "--", "sh", "-c", "kill -TERM $$"],
        &env,
    )
    .await;
    assert_eq!(r.code, 128 + 15, "{}", r.stderr);
    assert!(!Path::new(&file).exists());
    // No such command: 127, as shells say.
    let r = sesame(
        home.path(),
        &["exec", "--bearer-file", &file, "--", "no-such-command-7f3e"],
        &env,
    )
    .await;
    assert_eq!(r.code, 127, "{}", r.stderr);
    assert!(r.stderr.contains("no-such-command-7f3e"), "{}", r.stderr);
    assert!(!Path::new(&file).exists());
    assert!(!r.all().contains(TOKEN));
}

#[tokio::test]
async fn a_credential_that_is_not_a_token_is_an_error() {
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        "[profiles.n]\nbase_url = \"https://api.example.org/\"\nauth = \"basic\"\nusername = \"u\"\npassword = { env = \"PW\" }\n",
    );
    let file = bt(home.path());
    let r = sesame(
        home.path(),
        &["exec", "--bearer-file", &file, "--", "true"],
        &[("PW", "pw-secret-value")],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("bearer token"), "{}", r.stderr);
    assert!(!r.all().contains("pw-secret-value"));
    assert!(!Path::new(&file).exists());

    write_config(home.path(), "[profiles.none]\nauth = \"none\"\n");
    let r = sesame(home.path(), &["exec", "--bearer-file", &file, "--", "true"], &[]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// Starts `sesame` with piped stdout (the environment as `support::sesame` sets it).
fn spawn(home: &Path, args: &[&str], env: &[(&str, &str)]) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sesame"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_RUNTIME_DIR", home)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

async fn next_line(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("a line within 30 s")
        .unwrap()
        .expect("a line")
}

async fn signal_is_forwarded(signal: &str, trap: &str, expected_code: i32) {
    let home = tempfile::tempdir().unwrap();
    bearer_profile(home.path());
    let file = bt(home.path());
    let script = format!("trap '{trap}' {signal}; echo ready; while :; do sleep 0.1; done");
    let mut child = spawn(
        home.path(),
        &["exec", "--bearer-file", &file, "--", "sh", "-c", &script],
        &[("API_TOKEN", TOKEN)],
    );
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(next_line(&mut lines).await, "ready");
    assert!(Path::new(&file).exists());
    let pid = child.id().unwrap().to_string();
    let st = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(next_line(&mut lines).await, format!("got-{signal}"));
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        status.code(),
        Some(expected_code),
        "sesame exits with the command's code"
    );
    assert!(!Path::new(&file).exists(), "clean-up ran");
}

#[tokio::test]
async fn sigterm_is_forwarded_to_the_command() {
    signal_is_forwarded("TERM", "echo got-TERM; exit 3", 3).await;
}

#[tokio::test]
async fn sigint_is_forwarded_to_the_command() {
    signal_is_forwarded("INT", "echo got-INT; exit 0", 0).await;
}

fn jwt(exp_in: i64, n: u32) -> String {
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    format!(
        "{}.{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64(serde_json::json!({"exp": now + exp_in, "iat": now, "n": n})
            .to_string()
            .as_bytes()),
        b64(b"sig")
    )
}

#[tokio::test]
async fn a_long_running_command_sees_the_file_renewed() {
    // The profile discovers its token in a file that an "agent" (this test) refreshes; the
    // first token lives 4 s, so sesame must replace the command's file before then.
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        "[profiles.grid]\nbase_url = \"https://se.example.org/\"\nauth = \"discover\"\nmin_valid = 1\n",
    );
    let source = home.path().join("source-token");
    let first = jwt(6, 1);
    write_private(&source, first.as_bytes());
    let file = bt(home.path());
    let mut child = spawn(
        home.path(),
        &[
            "exec",
            "--bearer-file",
            &file,
            "--",
            "sh",
            "-c",
            r#"cat "$BEARER_TOKEN_FILE"; sleep 7; cat "$BEARER_TOKEN_FILE""#,
        ],
        &[("SCITOKEN_FILE", &source.display().to_string())],
    );
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(next_line(&mut lines).await, first);
    // The agent refreshes the source (atomically, as agents do).
    let second = jwt(3600, 2);
    let tmp = home.path().join("source-token.new");
    write_private(&tmp, second.as_bytes());
    std::fs::rename(&tmp, &source).unwrap();
    assert_eq!(next_line(&mut lines).await, second, "the command saw the renewed token");
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!Path::new(&file).exists());
}
