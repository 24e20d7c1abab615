//! Helpers for the CLI tests: run the real `sesame` binary against real local servers.
#![allow(dead_code, unused_imports)]

use std::path::Path;
use std::process::Output;

pub use sesame_testbed::pki::{TestCa, write_private};
pub use sesame_testbed::server::{ServerOptions, TestServer};

/// The result of one `sesame` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// The whole environment of a test run: PATH, and HOME and the XDG folders in `home`.
fn clean_env(home: &Path) -> Vec<(&'static str, std::ffi::OsString)> {
    vec![
        ("PATH", std::env::var_os("PATH").unwrap_or_default()),
        ("HOME", home.into()),
        ("XDG_CONFIG_HOME", home.join(".config").into()),
        ("XDG_CACHE_HOME", home.join(".cache").into()),
        ("NO_PROXY", "*".into()),
    ]
}

/// Runs `sesame` with `args`, a clean environment (HOME and XDG dirs in `home`) plus `env`.
pub async fn sesame(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    sesame_stdin(home, args, env, None).await
}

/// Same, with bytes on stdin.
pub async fn sesame_stdin(home: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Run {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sesame"));
    cmd.args(args)
        .env_clear()
        .envs(clean_env(home))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn sesame");
    let mut input = child.stdin.take().unwrap();
    if let Some(b) = stdin {
        input.write_all(b).await.unwrap();
    }
    drop(input);
    let out: Output = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("sesame finished within 60 s")
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes a config file into `home/.config/sesame/config.toml`.
pub fn write_config(home: &Path, text: &str) {
    let dir = home.join(".config").join("sesame");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

/// Runs `sesame args` on a pseudo-terminal (support/pty_run.py, Python's `pty`), typing
/// each answer once its prompt has shown. Returns the exit code and what the terminal showed.
pub fn sesame_on_a_terminal(home: &Path, args: &[&str], dialogue: &[(&str, &str)]) -> (i32, String) {
    let script = serde_json::to_string(&dialogue.iter().map(|(a, b)| [a, b]).collect::<Vec<_>>()).unwrap();
    let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/pty_run.py");
    let out = std::process::Command::new("python3")
        .arg(helper)
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_sesame"))
        .args(args)
        .env_clear()
        .envs(clean_env(home))
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("python3 runs support/pty_run.py");
    assert!(
        out.status.success(),
        "pty_run.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("pty_run.py prints JSON");
    (
        v["code"].as_i64().unwrap() as i32,
        v["output"].as_str().unwrap().to_string(),
    )
}
