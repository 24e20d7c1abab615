//! Bearer-token files sesame writes for other tools (docs/files-on-disk.md): the WLCG location, 0600,
//! atomic replace, newline-ended — checked with a reference reader written here from the
//! WLCG Bearer Token Discovery text (not sesame's code) and with sesame's own discovery —
//! and the [`Keeper`] that keeps such a file valid from a credential whose token changes.

#[path = "../../sesame/tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use sesame::credential::grid::tokens::Env;
use sesame::credential::{Attachment, AuthRequest, Basic, Bearer, Credential, Discover};
use sesame::token::Token;
use sesame_app::bearer_file::{self, Keeper};
use support::*;

/// WLCG Bearer Token Discovery, steps 1–4, as the text says: `BEARER_TOKEN`, then the
/// file named by `BEARER_TOKEN_FILE`, then `$XDG_RUNTIME_DIR/bt_u$ID` if `XDG_RUNTIME_DIR`
/// is set, otherwise `/tmp/bt_u$ID` (`tmp` stands in for `/tmp`); whitespace as C `isspace`;
/// an empty token or a missing file means the next step.
fn reference_reader(env: &HashMap<&str, String>, euid: u32, tmp: &Path) -> Option<String> {
    fn strip(s: &str) -> String {
        s.trim_matches([' ', '\x0c', '\n', '\r', '\t', '\x0b']).to_string()
    }
    let from_file = |p: PathBuf| std::fs::read_to_string(p).ok().map(|s| strip(&s));
    let mut steps: Vec<Option<String>> = vec![
        env.get("BEARER_TOKEN").map(|s| strip(s)),
        env.get("BEARER_TOKEN_FILE").and_then(|f| from_file(PathBuf::from(f))),
    ];
    steps.push(match env.get("XDG_RUNTIME_DIR") {
        Some(x) => from_file(Path::new(x).join(format!("bt_u{euid}"))),
        None => from_file(tmp.join(format!("bt_u{euid}"))),
    });
    steps.into_iter().flatten().find(|t| !t.is_empty())
}

fn env_of(vars: &HashMap<&str, String>, euid: u32, tmp: &Path) -> Env {
    let mut e = Env::isolated().with_euid(euid).with_tmp_root(tmp);
    for (k, v) in vars {
        e = e.set(k, v);
    }
    e
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn write_makes_a_private_newline_ended_file() {
    let dir = tempdir();
    let p = dir.path().join("bt");
    std::fs::write(&p, "old contents, world readable").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let written = bearer_file::write(Some(&p), "  tok.en-1_~+/=\n").unwrap();
    assert_eq!(written, p);
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "tok.en-1_~+/=\n");
    #[cfg(unix)]
    assert_eq!(mode(&p), 0o600);
    // Nothing else is left in the directory (no temporary files).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn write_replaces_the_file_atomically() {
    let dir = tempdir();
    let p = dir.path().join("bt");
    let a = "a".repeat(3000);
    let b = "b".repeat(7000);
    bearer_file::write(Some(&p), &a).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (p, a, b, stop) = (p.clone(), a.clone(), b.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let s = std::fs::read_to_string(&p).expect("the file is always there");
                assert!(
                    s == format!("{a}\n") || s == format!("{b}\n"),
                    "torn read: {} bytes",
                    s.len()
                );
                reads += 1;
            }
            reads
        })
    };
    for i in 0..300 {
        bearer_file::write(Some(&p), if i % 2 == 0 { &b } else { &a }).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary files left"
    );
}

#[test]
fn write_refuses_what_is_not_a_bearer_token() {
    let dir = tempdir();
    let p = dir.path().join("bt");
    assert!(bearer_file::write(Some(&p), "\n \t").is_err());
    let err = bearer_file::write(Some(&p), "two words").unwrap_err();
    assert!(!err.to_string().contains("words"), "{err}");
    assert!(!p.exists());
    let err = bearer_file::write(Some(&dir.path().join("missing-dir/bt")), "tok").unwrap_err();
    assert!(err.to_string().contains("missing-dir"), "{err}");
}

#[test]
fn the_wlcg_location_is_found_by_a_reference_reader_and_by_discovery() {
    let dir = tempdir();
    let tmp = dir.path().join("tmp");
    let xdg = dir.path().join("xdg");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&xdg).unwrap();
    let euid = 5151;
    let cases: Vec<HashMap<&str, String>> = vec![
        HashMap::new(),
        HashMap::from([("XDG_RUNTIME_DIR", xdg.display().to_string())]),
        HashMap::from([
            ("XDG_RUNTIME_DIR", xdg.display().to_string()),
            ("BEARER_TOKEN_FILE", dir.path().join("named").display().to_string()),
        ]),
    ];
    for (i, vars) in cases.iter().enumerate() {
        let token = format!("interop-token-{i}");
        let env = env_of(vars, euid, &tmp);
        let path = bearer_file::default_path_in(&env);
        bearer_file::write(Some(&path), &token).unwrap();
        assert_eq!(
            reference_reader(vars, euid, &tmp).as_deref(),
            Some(token.as_str()),
            "{vars:?}"
        );
        let d = Discover::builder().env(env).build().unwrap();
        let found = d.find_token(None).unwrap();
        assert_eq!(found.token.expose(), token, "{vars:?}");
        std::fs::remove_file(&path).unwrap();
    }
    assert_eq!(
        bearer_file::default_path_in(&env_of(&cases[0], euid, &tmp)),
        tmp.join("bt_u5151")
    );
    assert_eq!(
        bearer_file::default_path_in(&env_of(&cases[1], euid, &tmp)),
        xdg.join("bt_u5151")
    );
}

/// htgettoken (2.x, its `writeTokenSafely`) writes the bare token and
/// one `\n` into a `mkstemp` file (0600) in the target's folder and renames it into place;
/// it reads token files back with Python's `str.strip()`. Byte for byte, sesame's bearer
/// file is the same file, at the same default place (`$BEARER_TOKEN_FILE`, else
/// `$XDG_RUNTIME_DIR/bt_u<euid>`, else `/tmp/bt_u<euid>`), and each reads the other's.
#[test]
fn bearer_files_are_byte_compatible_with_htgettoken() {
    let dir = tempdir();
    // A JWT-shaped access token, as the providers behind htvault-config issue.
    let token =
        "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSIsInNjb3BlIjoic3RvcmFnZS5yZWFkOi8ifQ.c2lnbmF0dXJl-_w";
    let ours = dir.path().join("bt_sesame");
    bearer_file::write(Some(&ours), token).unwrap();
    // What htgettoken leaves: `handle.write(token + '\n')` on a mkstemp file, renamed.
    let theirs = dir.path().join("bt_htgettoken");
    {
        let t = tempfile::Builder::new()
            .prefix(".htgettoken")
            .tempfile_in(dir.path())
            .unwrap();
        std::fs::write(t.path(), format!("{token}\n")).unwrap();
        t.persist(&theirs).unwrap();
    }
    assert_eq!(std::fs::read(&ours).unwrap(), std::fs::read(&theirs).unwrap());
    assert_eq!(std::fs::read(&ours).unwrap(), format!("{token}\n").into_bytes());
    #[cfg(unix)]
    assert_eq!((mode(&ours), mode(&theirs)), (0o600, 0o600));
    // htgettoken reading sesame's file (`open(f).read().strip()`; Python strips the same
    // ASCII whitespace as C isspace here).
    let read_back = std::fs::read_to_string(&ours).unwrap();
    assert_eq!(read_back.trim_matches([' ', '\x0c', '\n', '\r', '\t', '\x0b']), token);
    // sesame reading htgettoken's file, named by BEARER_TOKEN_FILE and at the default place.
    let env = Env::isolated().with_euid(4321).set("BEARER_TOKEN_FILE", &theirs);
    let d = Discover::builder().env(env).build().unwrap();
    assert_eq!(d.find_token(None).unwrap().token.expose(), token);
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::copy(&theirs, tmp.join("bt_u4321")).unwrap();
    let env = Env::isolated().with_euid(4321).with_tmp_root(&tmp);
    assert_eq!(bearer_file::default_path_in(&env), tmp.join("bt_u4321"));
    let d = Discover::builder().env(env).build().unwrap();
    assert_eq!(d.find_token(None).unwrap().token.expose(), token);
}

fn jwt_expiring_in(secs: i64, n: u32) -> String {
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let now = sesame::token::Clock::now(&sesame::token::SystemClock);
    format!(
        "{}.{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64(serde_json::json!({"exp": now + secs, "iat": now, "n": n})
            .to_string()
            .as_bytes()),
        b64(b"sig")
    )
}

/// A credential that mints a new short-lived token whenever it is asked for one with more
/// validity than its current token has left, as an OAuth credential renews.
#[derive(Debug, Default)]
struct Rotating {
    minted: AtomicU32,
    current: std::sync::Mutex<Option<Token>>,
}

#[async_trait]
impl Credential for Rotating {
    async fn attach(
        &self,
        _req: &AuthRequest<'_>,
        _headers: &mut sesame::session::header::HeaderMap,
    ) -> sesame::Result<Attachment> {
        Ok(Attachment::default())
    }

    async fn token(&self, min_valid: Duration, _force: bool) -> sesame::Result<Option<Token>> {
        let mut cur = self.current.lock().unwrap();
        let now = sesame::token::Clock::now(&sesame::token::SystemClock);
        if let Some(t) = cur.as_ref()
            && t.valid_for(min_valid, now)
        {
            return Ok(Some(t.clone()));
        }
        let n = self.minted.fetch_add(1, Ordering::SeqCst);
        let t = Token::bare(jwt_expiring_in(4, n));
        *cur = Some(t.clone());
        Ok(Some(t))
    }
}

#[tokio::test]
async fn the_keeper_renews_the_file_before_the_token_expires() {
    let dir = tempdir();
    let p = dir.path().join("bt");
    let cred = Arc::new(Rotating::default());
    let keeper = Keeper::start(cred.clone(), Some(&p), Duration::from_secs(1))
        .await
        .unwrap();
    let first = std::fs::read_to_string(&p).unwrap();
    assert_eq!(keeper.writes(), 1);
    // The token lives 4 s; the keeper renews it 2 s before expiry (at most half its life).
    let mut seen = vec![first.clone()];
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = std::fs::read_to_string(&p).unwrap();
        if now != *seen.last().unwrap() {
            seen.push(now);
        }
        if seen.len() >= 3 {
            break;
        }
    }
    assert!(
        seen.len() >= 3,
        "the file was renewed twice in 6 s: {} versions",
        seen.len()
    );
    for s in &seen {
        assert!(s.ends_with('\n'));
        let claims = sesame::token::jwt_claims(s.trim()).unwrap();
        assert!(claims["exp"].as_i64().unwrap() > sesame::token::Clock::now(&sesame::token::SystemClock) - 5);
    }
    assert!(keeper.writes() >= 3);
    keeper.stop(true).unwrap();
    assert!(!p.exists(), "removed afterwards");
}

#[tokio::test]
async fn a_token_that_never_changes_is_written_once_and_kept_on_request() {
    let dir = tempdir();
    let p = dir.path().join("bt");
    let keeper = Keeper::start(Arc::new(Bearer::new("static-token")), Some(&p), Duration::from_secs(60))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(keeper.writes(), 1);
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "static-token\n");
    keeper.stop(false).unwrap();
    assert!(p.exists(), "kept");
}

#[tokio::test]
async fn a_file_replaced_by_another_tool_is_not_removed() {
    let dir = tempdir();
    let p = dir.path().join("bt");
    let keeper = Keeper::start(Arc::new(Bearer::new("ours")), Some(&p), Duration::from_secs(60))
        .await
        .unwrap();
    bearer_file::write(Some(&p), "theirs").unwrap();
    keeper.stop(true).unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "theirs\n");
}

#[tokio::test]
async fn a_file_that_existed_before_is_replaced_but_not_removed() {
    // It may be the very file the credential reads from (BEARER_TOKEN_FILE), or another tool's.
    let dir = tempdir();
    let p = dir.path().join("bt");
    bearer_file::write(Some(&p), "previous").unwrap();
    let keeper = Keeper::start(Arc::new(Bearer::new("ours")), Some(&p), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "ours\n");
    keeper.stop(true).unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "ours\n");
}

#[tokio::test]
async fn a_credential_without_tokens_is_refused() {
    let dir = tempdir();
    let p = dir.path().join("bt");
    let err = Keeper::start(
        Arc::new(Basic::new("u", "p").unwrap()),
        Some(&p),
        Duration::from_secs(60),
    )
    .await
    .unwrap_err();
    assert!(err.is_config() && err.to_string().contains("basic"), "{err}");
    assert!(!p.exists());
}
