//! Faults: every call against a misbehaving server ends within its timeout with a typed
//! error, and memory stays bounded (the peak RSS of this process grows by far less than
//! what the server sent or would decompress to).
//!
//! The fault server runs in this process, so its own buffers (a 10 MiB page, the gzip
//! bomb) count too; the bound leaves room for them.

use std::time::{Duration, Instant};

use sesame::session::RetryPolicy;
use sesame::session::retry::Jitter;
use sesame::{ErrorKind, Session};
use sesame_app::config::{AuthKind, Config, Profile, SecretSource};
use sesame_testbed::faults::FaultServer;

const TIMEOUT: Duration = Duration::from_millis(1500);

/// Peak resident memory of this process, bytes (Linux).
fn vm_hwm() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn session(f: &FaultServer) -> Session {
    Session::builder()
        .base_url(&f.origin())
        .unwrap()
        .timeout(Some(TIMEOUT))
        .retry_policy(
            RetryPolicy::new(1)
                .base_delay(Duration::from_millis(10))
                .jitter(Jitter::None),
        )
        .error_for_status(true)
        .build()
        .unwrap()
}

/// Sends, reads the whole body, and returns the error (every case here must fail).
async fn fail(s: &Session, path: &str) -> (sesame::Error, Duration) {
    let t = Instant::now();
    let out = async {
        let r = s.get(path).send().await?;
        r.bytes().await
    }
    .await;
    let took = t.elapsed();
    match out {
        Ok(b) => panic!("{path}: expected an error, got {} bytes", b.len()),
        Err(e) => (e, took),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_fault_ends_in_time_with_a_typed_error_and_bounded_memory() {
    let f = FaultServer::start().await;
    let s = session(&f);
    let before = vm_hwm();
    let slack = Duration::from_millis(700);
    let cases: &[(&str, &[ErrorKind])] = &[
        ("/reset", &[ErrorKind::Transport]),
        ("/reset-mid-body", &[ErrorKind::Decode, ErrorKind::Transport]),
        ("/stall-body", &[ErrorKind::Http]),
        ("/stall-headers", &[ErrorKind::Timeout]),
        ("/big?status=500", &[ErrorKind::Http]),
        ("/big?status=502&type=application/json", &[ErrorKind::Http]),
        ("/invalid-utf8?status=400", &[ErrorKind::Http]),
        ("/invalid-utf8?status=500&type=application/json", &[ErrorKind::Http]),
        ("/gzip-bomb?mib=1024&status=500", &[ErrorKind::Http]),
        ("/storm?retry_after=1", &[ErrorKind::Http]),
    ];
    for (path, kinds) in cases {
        let (e, took) = fail(&s, path).await;
        assert!(kinds.contains(&e.kind()), "{path}: {:?}: {e}", e.kind());
        assert!(took < TIMEOUT + slack, "{path} took {took:?}");
        let text = e.to_string();
        assert!(
            text.chars().count() < 6000,
            "{path}: message of {} chars",
            text.chars().count()
        );
        if e.kind() == ErrorKind::Http {
            assert!(e.status().is_some());
        }
        eprintln!(
            "{path}: {:?} in {took:?}: {}",
            e.kind(),
            &text.chars().take(120).collect::<String>()
        );
    }
    // A streaming download of a stalled body ends at the timeout too.
    let t = Instant::now();
    let plain = Session::builder()
        .base_url(&f.origin())
        .unwrap()
        .timeout(Some(TIMEOUT))
        .build()
        .unwrap();
    let mut r = plain.get("stall-body").send().await.unwrap();
    let mut err = None;
    loop {
        match r.chunk().await {
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let e = err.expect("a stalled body is an error");
    assert!(matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Decode), "{e}");
    assert!(t.elapsed() < TIMEOUT + slack);

    if let (Some(b), Some(a)) = (before, vm_hwm()) {
        let grown = a.saturating_sub(b);
        eprintln!("peak RSS {} MiB → {} MiB", b >> 20, a >> 20);
        // The server sent 2 × 10 MiB pages and a 1 GiB gzip bomb: a client that buffered
        // them (or inflated the bomb) would grow by at least 20 MiB–1 GiB. The server's
        // own 10 MiB buffers are in this process too.
        assert!(grown < 128 << 20, "peak RSS grew by {} MiB", grown >> 20);
    }
}

fn fault_profile(issuer: String, timeout: f64) -> Profile {
    Profile {
        base_url: Some("http://127.0.0.1:9/api/".into()),
        issuer: Some(issuer),
        auth: Some(AuthKind::ClientCredentials),
        client_id: Some("c".into()),
        client_secret: Some(SecretSource::Literal("s".into())),
        cache: Some("memory".into()),
        timeout: Some(timeout),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_endpoint_faults_end_in_time_with_typed_errors() {
    let f = FaultServer::start().await;
    let before = vm_hwm();
    let budget = TIMEOUT + Duration::from_millis(700);
    for mode in [
        "bomb",
        "big",
        "stall",
        "slowloris",
        "reset",
        "utf8",
        "bad-discovery-bomb",
        "bad-discovery-big",
        "bad-discovery-stall",
        "bad-discovery-slowloris",
        "bad-discovery-reset",
        "bad-discovery-utf8",
    ] {
        let p = fault_profile(f.issuer(mode), TIMEOUT.as_secs_f64());
        let r = Config::default().resolve(None, p).unwrap();
        let cred = sesame_app::config::credential_for(&r, &Default::default())
            .unwrap()
            .unwrap();
        let t = Instant::now();
        let e = cred.token(Duration::ZERO, false).await.unwrap_err();
        let took = t.elapsed();
        eprintln!(
            "{mode}: {:?} in {took:?}: {}",
            e.kind(),
            e.to_string().chars().take(160).collect::<String>()
        );
        assert!(
            matches!(
                e.kind(),
                ErrorKind::OAuth | ErrorKind::Timeout | ErrorKind::Transport | ErrorKind::Decode
            ),
            "{mode}: {:?}: {e}",
            e.kind()
        );
        // Discovery tries up to two documents, each bounded by the timeout.
        assert!(took < budget * 2, "{mode} took {took:?}");
        assert!(!e.to_string().contains("fault-token"));
    }
    // A 503 storm with Retry-After on the token endpoint: retried, then a token.
    let p = fault_profile(f.issuer("storm"), 10.0);
    let r = Config::default().resolve(None, p).unwrap();
    let cred = sesame_app::config::credential_for(&r, &Default::default())
        .unwrap()
        .unwrap();
    let t = cred.token(Duration::ZERO, false).await.unwrap().unwrap();
    assert_eq!(t.access_token.expose(), "fault-token");
    assert_eq!(f.hits("/as/storm/token"), 3);
    if let (Some(b), Some(a)) = (before, vm_hwm()) {
        eprintln!("peak RSS {} MiB → {} MiB", b >> 20, a >> 20);
        assert!(
            a.saturating_sub(b) < 128 << 20,
            "peak RSS grew by {} MiB",
            (a - b) >> 20
        );
    }
}
