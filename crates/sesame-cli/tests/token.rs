//! `sesame token` across processes: 32 processes started together on an expired access
//! token with a valid (rotating) refresh token send exactly one refresh and print the same
//! new token; the cache file stays valid JSON.

mod support;

use std::time::Duration;

use sesame_testbed::idp::{Idp, IdpOptions, account, clients};
use support::*;

fn profile(idp: &Idp) -> String {
    format!(
        r#"default_profile = "pw"
[profiles.pw]
base_url = "{base}"
issuer = "{iss}"
auth = "password"
client_id = "{cid}"
client_secret = {{ env = "CS" }}
username = "{user}"
password = {{ env = "PW" }}
scopes = ["openid", "offline_access"]
"#,
        base = idp.url("/api/"),
        iss = idp.issuer(),
        cid = clients::PASSWORD_CLIENT.0,
        user = account::USERNAME,
    )
}

const ENV: &[(&str, &str)] = &[("CS", clients::PASSWORD_CLIENT.1), ("PW", account::PASSWORD)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_processes_one_refresh_same_token() {
    let idp = tokio::task::spawn_blocking(|| {
        Idp::start_blocking_with(IdpOptions {
            access_token_ttl: Some(3),
            ..Default::default()
        })
    })
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), &profile(&idp));
    let first = sesame(home.path(), &["token", "--min-valid", "1"], ENV).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    for round in 0..2 {
        tokio::time::sleep(Duration::from_millis(3200)).await; // the access token expired
        idp.reset_stats();
        let mut runs = Vec::new();
        for _ in 0..32 {
            let h = home.path().to_path_buf();
            runs.push(tokio::spawn(async move {
                sesame(&h, &["token", "--min-valid", "1"], ENV).await
            }));
        }
        let mut outs = std::collections::HashSet::new();
        for r in runs {
            let r = r.await.unwrap();
            assert_eq!(r.code, 0, "round {round}: {}", r.stderr);
            outs.insert(r.stdout);
        }
        assert_eq!(idp.token_requests("refresh_token"), 1, "round {round}: {}", idp.stats());
        assert_eq!(
            idp.token_requests("password"),
            0,
            "round {round}: the refresh token was used"
        );
        assert_eq!(outs.len(), 1, "round {round}: all printed the same token");
        assert_ne!(outs.iter().next().unwrap(), &first.stdout);
        // The cache file is valid JSON with the rotated refresh token.
        let dir = home.path().join(".cache").join("sesame");
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .collect();
        assert_eq!(files.len(), 1);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(files[0].path()).unwrap()).unwrap();
        assert!(v["refresh_token"].is_string());
        assert_eq!(
            format!("{}\n", v["access_token"].as_str().unwrap()),
            *outs.iter().next().unwrap()
        );
    }
}

#[tokio::test]
async fn output_formats_and_the_cached_fast_path() {
    let idp = tokio::task::spawn_blocking(Idp::start_blocking).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), &profile(&idp));
    let plain = sesame(home.path(), &["token"], ENV).await;
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    let tok = plain.stdout.trim().to_string();
    idp.reset_stats();
    let h = sesame(home.path(), &["token", "--header"], ENV).await;
    assert_eq!(h.stdout, format!("Authorization: Bearer {tok}\n"));
    let e = sesame(home.path(), &["token", "--env"], ENV).await;
    assert_eq!(e.stdout, format!("export BEARER_TOKEN={tok}\n"));
    let j = sesame(home.path(), &["token", "--json"], ENV).await;
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["access_token"], tok.as_str());
    assert_eq!(v["issuer"], idp.issuer());
    assert!(v["expires_at"].as_i64().unwrap() > 0);
    let id = sesame(home.path(), &["token", "--id-token"], ENV).await;
    assert_eq!(id.stdout.matches('.').count(), 2, "an ID token JWT");
    let st = idp.stats();
    for k in [
        "token_total",
        "discovery",
        "jwks",
        "webfinger",
        "introspection",
        "userinfo",
    ] {
        assert_eq!(st[k].as_u64(), Some(0), "no request at all while cached ({k}): {st}");
    }
    // --write-bearer-file: bare, it writes where $BEARER_TOKEN_FILE points; with a path, there.
    // Both 0600, the token alone.
    let default_file = home.path().join("bt_default");
    let default_str = default_file.to_str().unwrap();
    let mut env_bt = ENV.to_vec();
    env_bt.push(("BEARER_TOKEN_FILE", default_str));
    let b = sesame(home.path(), &["token", "--write-bearer-file"], &env_bt).await;
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert_eq!(b.stdout.trim(), tok);
    let explicit = home.path().join("bt_explicit");
    let x = sesame(
        home.path(),
        &["token", "--write-bearer-file", explicit.to_str().unwrap(), "--header"],
        ENV,
    )
    .await;
    assert_eq!(x.code, 0, "{}", x.stderr);
    for file in [&default_file, &explicit] {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::read_to_string(file).unwrap().trim(), tok, "{}", file.display());
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    // --force-refresh renews.
    let f = sesame(home.path(), &["token", "--force-refresh"], ENV).await;
    assert_ne!(f.stdout.trim(), tok);
    assert_eq!(idp.token_requests("refresh_token"), 1);
    // min_valid is a profile key (flag, SESAME_MIN_VALID or the file): asking for more than
    // the token has left (300 s lifetime) renews; the default (60 s) uses the cache.
    idp.reset_stats();
    let m = sesame(home.path(), &["token", "--min-valid", "400"], ENV).await;
    assert_eq!(m.code, 0, "{}", m.stderr);
    assert_eq!(idp.token_requests("refresh_token"), 1, "{}", idp.stats());
    let mut env_mv = ENV.to_vec();
    env_mv.push(("SESAME_MIN_VALID", "400"));
    let m = sesame(home.path(), &["token"], &env_mv).await;
    assert_eq!(m.code, 0, "{}", m.stderr);
    assert_eq!(idp.token_requests("refresh_token"), 2, "{}", idp.stats());
    let m = sesame(home.path(), &["token"], ENV).await;
    assert_eq!(m.code, 0, "{}", m.stderr);
    assert_eq!(idp.token_requests("refresh_token"), 2, "{}", idp.stats());
    // Down-scoping never widens.
    let w = sesame(home.path(), &["token", "--scope", "admin"], ENV).await;
    assert_eq!(w.code, 2, "{}", w.stderr);
    assert!(w.stderr.contains("widen"), "{}", w.stderr);
    idp.reset_stats();
    let n = sesame(home.path(), &["token", "--scope", "openid"], ENV).await;
    assert_eq!(n.code, 0, "{}", n.stderr);
    assert_eq!(idp.token_requests("refresh_token"), 1, "one narrowing: {}", idp.stats());
    assert_ne!(n.stdout.trim(), tok, "a narrowed token, not the grant's");
    // The narrowed token is cached under its own key: asking again costs no provider call
    // and gives the same token; the grant's own token is unchanged by it.
    let again = sesame(home.path(), &["token", "--scope", "openid"], ENV).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, n.stdout);
    assert_eq!(
        idp.token_requests("refresh_token"),
        1,
        "served from the cache: {}",
        idp.stats()
    );
    let plain = sesame(home.path(), &["token"], ENV).await;
    assert_ne!(
        plain.stdout, n.stdout,
        "the profile's own token is not the narrowed one"
    );
    // --force-refresh of the grant still works after a narrowing (the refresh token that
    // may have rotated during it is the grant's).
    let f = sesame(home.path(), &["token", "--force-refresh"], ENV).await;
    assert_eq!(f.code, 0, "{}", f.stderr);
}

#[tokio::test]
async fn interactive_profile_without_a_person_exits_4() {
    let idp = tokio::task::spawn_blocking(Idp::start_blocking).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let r = sesame(
        home.path(),
        &[
            "--no-input",
            "token",
            "--auth",
            "oidc",
            "--issuer",
            idp.issuer(),
            "--client-id",
            clients::SESAME_CLI,
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 4, "{}", r.stderr);
    // The engine says what happened; the CLI words the hint with its own command.
    assert!(r.stderr.contains("hint: run `sesame login`"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

// ---------------------------------------------------------------- the client secret and the cache

/// A valid cached token needs no client secret: `sesame token` in a shell without the
/// secret's variable prints it (no provider call); renewing then needs the secret and says so.
#[tokio::test]
async fn cached_token_is_printed_without_the_client_secret() {
    let idp = tokio::task::spawn_blocking(Idp::start_blocking).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), &profile(&idp));
    let first = sesame(home.path(), &["token"], ENV).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    idp.reset_stats();
    let no_secret = [("PW", account::PASSWORD)];
    let r = sesame(home.path(), &["token"], &no_secret).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, first.stdout, "the cached token");
    // Nor the password (of the password grant): neither is read for a cached token.
    let r = sesame(home.path(), &["token"], &[]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, first.stdout, "the cached token");
    assert_eq!(idp.stats()["token_total"].as_u64(), Some(0), "{}", idp.stats());
    // A renewal needs the secret: a clear error naming the variable, not a provider call.
    let f = sesame(home.path(), &["token", "--force-refresh"], &no_secret).await;
    assert_eq!(f.code, 2, "{}", f.stderr);
    assert!(
        f.stderr.contains("CS") && f.stderr.contains("client secret"),
        "{}",
        f.stderr
    );
    assert!(!f.stderr.contains(clients::PASSWORD_CLIENT.1));
    assert_eq!(idp.stats()["token_total"].as_u64(), Some(0), "{}", idp.stats());
}

/// A token obtained with one client secret is not handed out under another: the provider
/// is asked, and refuses the wrong secret.
#[tokio::test]
async fn changed_client_secret_does_not_return_the_cached_token() {
    let idp = tokio::task::spawn_blocking(Idp::start_blocking).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), &profile(&idp));
    let first = sesame(home.path(), &["token"], ENV).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    idp.reset_stats();
    let wrong = [("CS", "not-the-client-secret"), ("PW", account::PASSWORD)];
    let r = sesame(home.path(), &["token"], &wrong).await;
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(!r.stdout.contains(first.stdout.trim()), "the cached token was printed");
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("invalid_client"), "{}", r.stderr);
    assert!(
        idp.token_requests("password") >= 1,
        "the provider was asked: {}",
        idp.stats()
    );
    assert!(!r.stderr.contains("not-the-client-secret"));
    // The right secret still finds the cached token.
    idp.reset_stats();
    let ok = sesame(home.path(), &["token"], ENV).await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.stdout, first.stdout);
    assert_eq!(idp.stats()["token_total"].as_u64(), Some(0), "{}", idp.stats());
}

// ---------------------------------------------------------------- secret files the user names

fn chmod(p: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn world_writable_token_file_is_refused_and_readable_one_warns() {
    let home = tempfile::tempdir().unwrap();
    let f = home.path().join("api-token");
    std::fs::write(&f, "static-token-value\n").unwrap();
    let fs = f.to_str().unwrap();
    let args = ["token", "--auth", "bearer", "--token-file", fs];
    chmod(&f, 0o666);
    let r = sesame(home.path(), &args, &[]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("token file {fs} can be written by other users")),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
    chmod(&f, 0o644);
    let r = sesame(home.path(), &args, &[]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "static-token-value\n");
    assert!(
        r.stderr
            .contains(&format!("token file {fs} can be read by other users")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("chmod 600"), "{}", r.stderr);
    chmod(&f, 0o600);
    let r = sesame(home.path(), &args, &[]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("other users"), "{}", r.stderr);
}

#[tokio::test]
async fn world_writable_client_secret_and_password_files_are_refused_and_readable_ones_warn() {
    let idp = tokio::task::spawn_blocking(Idp::start_blocking).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let cs = home.path().join("client-secret");
    let pw = home.path().join("password");
    std::fs::write(&cs, clients::PASSWORD_CLIENT.1).unwrap();
    std::fs::write(&pw, account::PASSWORD).unwrap();
    let text = profile(&idp)
        .replace(
            r#"client_secret = { env = "CS" }"#,
            &format!("client_secret = {{ file = \"{}\" }}", cs.display()),
        )
        .replace(
            r#"password = { env = "PW" }"#,
            &format!("password = {{ file = \"{}\" }}", pw.display()),
        );
    write_config(home.path(), &text);
    chmod(&pw, 0o600);
    for (file, what) in [(&cs, "client_secret file"), (&pw, "password file")] {
        chmod(&cs, 0o600);
        chmod(&pw, 0o600);
        chmod(file, 0o666);
        // No cached grant: the password grant (client secret and password) must be sent.
        let _ = std::fs::remove_dir_all(home.path().join(".cache/sesame"));
        let r = sesame(home.path(), &["token"], &[]).await;
        assert_eq!(r.code, 2, "{what}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("{what} {} can be written by other users", file.display())),
            "{what}: {}",
            r.stderr
        );
        chmod(file, 0o644);
        let _ = std::fs::remove_dir_all(home.path().join(".cache/sesame"));
        let r = sesame(home.path(), &["token"], &[]).await;
        assert_eq!(r.code, 0, "{what}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("{what} {} can be read by other users", file.display())),
            "{what}: {}",
            r.stderr
        );
    }
}

#[tokio::test]
async fn config_file_with_a_plain_text_secret_is_refused_when_others_can_write_it() {
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        "[profiles.b]\nauth = \"bearer\"\ntoken = \"plain-text-token-value\"\n",
    );
    let cfg = home.path().join(".config/sesame/config.toml");
    chmod(&cfg, 0o666);
    let r = sesame(home.path(), &["token"], &[]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "configuration file {} can be written by other users",
            cfg.display()
        )),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
    chmod(&cfg, 0o644);
    let r = sesame(home.path(), &["token"], &[]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "plain-text-token-value\n");
    assert!(r.stderr.contains("plain text"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "configuration file {} can be read by other users",
            cfg.display()
        )),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("plain-text-token-value"));
}

// ---------------------------------------------------------------- discovery as a non-root user

/// The issue's scenario end to end: a user without `XDG_RUNTIME_DIR` runs `sesame token`
/// with `auth = "discover"`, and another account has created `/tmp/bt_u<uid>` (0644) first.
/// The token in it is not printed; the error says why the file was passed over.
#[tokio::test]
async fn planted_tmp_bearer_file_is_not_used_by_a_non_root_victim() {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1);
    if me != 0 {
        println!(
            "SKIPPED planted_tmp_bearer_file_is_not_used_by_a_non_root_victim: needs root to run sesame as another uid"
        );
        return;
    }
    let Some(setpriv) = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        println!(
            "SKIPPED planted_tmp_bearer_file_is_not_used_by_a_non_root_victim: setpriv (util-linux) not installed"
        );
        return;
    };
    // An unusual uid, so that no real account's files are touched.
    const VICTIM: u32 = 64_123;
    let work = tempfile::tempdir().unwrap();
    chmod(work.path(), 0o755);
    let exe = work.path().join("sesame");
    std::fs::copy(env!("CARGO_BIN_EXE_sesame"), &exe).unwrap();
    chmod(&exe, 0o755);
    let home = work.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(VICTIM), Some(VICTIM)).unwrap();
    chmod(&home, 0o700);
    let planted = std::path::PathBuf::from(format!("/tmp/bt_u{VICTIM}"));
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _ = std::fs::remove_file(&planted);
    std::fs::write(&planted, "planted-by-another-account\n").unwrap();
    let _cleanup = Remove(planted.clone());
    chmod(&planted, 0o644);
    let run = |args: &[&str]| {
        std::process::Command::new(setpriv)
            .args([
                &format!("--reuid={VICTIM}"),
                &format!("--regid={VICTIM}"),
                "--clear-groups",
                "--",
            ])
            .arg(&exe)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .output()
            .unwrap()
    };
    let out = run(&["--no-input", "token", "--auth", "discover"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains("planted-by-another-account"),
        "the planted token was used: {stdout}"
    );
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("/tmp/bt_u{VICTIM}")) && stderr.contains("owned by uid 0"),
        "{stderr}"
    );
    // The victim's own file there is used.
    std::fs::remove_file(&planted).unwrap();
    std::fs::write(&planted, "victims-own-token\n").unwrap();
    chmod(&planted, 0o600);
    std::os::unix::fs::chown(&planted, Some(VICTIM), Some(VICTIM)).unwrap();
    let out = run(&["--no-input", "token", "--auth", "discover"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "victims-own-token\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
