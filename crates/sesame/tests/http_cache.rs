//! The RFC 9111 response cache through real sessions: hits and misses counted at the
//! server, `max-age` / `no-store` / `private`, 304 revalidation with ETag and
//! Last-Modified, `expires_after`, invalidation by unsafe requests, identities that never
//! share an entry, and the on-disk store under several processes at once.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::any;
use sesame::Session;
use sesame::credential::Bearer;
use sesame::session::http_cache::HttpCache;
use support::*;

const LAST_MODIFIED: &str = "Mon, 02 Nov 2026 10:00:00 GMT";

async fn server() -> TestServer {
    let counter = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route(
            "/c/max-age",
            any({
                let c = counter.clone();
                move || async move {
                    let n = c.fetch_add(1, Ordering::SeqCst);
                    ([(header::CACHE_CONTROL, "max-age=60")], format!("fresh {n}"))
                }
            }),
        )
        .route(
            "/c/no-store",
            any(|| async { ([(header::CACHE_CONTROL, "no-store, max-age=60")], "secret") }),
        )
        .route(
            "/c/plain",
            any({
                let c = counter.clone();
                move || async move { format!("plain {}", c.fetch_add(1, Ordering::SeqCst)) }
            }),
        )
        .route(
            "/c/whoami",
            any(|h: HeaderMap| async move {
                let who = h
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("anonymous")
                    .to_string();
                ([(header::CACHE_CONTROL, "private, max-age=60")], who)
            }),
        )
        .route(
            "/c/custom-auth",
            // No `Vary`: the server trusts its own auth header and forgets to say so.
            any(|h: HeaderMap| async move {
                let who = h
                    .get("x-custom-auth")
                    .and_then(|v| v.to_str().ok())
                    .map(|v| format!("custom {v}"))
                    .unwrap_or_else(|| "anonymous".into());
                ([(header::CACHE_CONTROL, "max-age=60")], who)
            }),
        )
        .route(
            "/c/etag",
            any(|h: HeaderMap| async move {
                let headers = [(header::ETAG, "\"v1\""), (header::CACHE_CONTROL, "no-cache")];
                if h.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some("\"v1\"") {
                    (StatusCode::NOT_MODIFIED, headers, String::new()).into_response()
                } else {
                    (StatusCode::OK, headers, "etag body".to_string()).into_response()
                }
            }),
        )
        .route(
            "/c/last-modified",
            any(|h: HeaderMap| async move {
                let headers = [
                    (header::LAST_MODIFIED, LAST_MODIFIED),
                    (header::CACHE_CONTROL, "max-age=0"),
                ];
                if h.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok()) == Some(LAST_MODIFIED) {
                    (StatusCode::NOT_MODIFIED, headers, String::new()).into_response()
                } else {
                    (StatusCode::OK, headers, "lm body".to_string()).into_response()
                }
            }),
        )
        .route(
            "/c/blob/{n}",
            any(|axum::extract::Path(n): axum::extract::Path<u32>| async move {
                ([(header::CACHE_CONTROL, "max-age=600")], blob(n))
            }),
        );
    TestServer::start_with(ServerOptions::default(), Some(app)).await
}

fn blob(n: u32) -> Vec<u8> {
    format!("blob-{n};").repeat(1000).into_bytes()
}

fn hits(s: &TestServer, path: &str) -> usize {
    s.requests().iter().filter(|r| r.path == path).count()
}

fn session(srv: &TestServer, cache: &HttpCache, token: Option<&str>) -> Session {
    let mut b = Session::builder()
        .base_url(&srv.url("/c/"))
        .unwrap()
        .http_cache(Some(cache.clone()));
    if let Some(t) = token {
        b = b.credential(Bearer::new(t));
    }
    b.build().unwrap()
}

/// A clock the test moves.
fn clock() -> (HttpCache, Arc<AtomicU64>) {
    let offset = Arc::new(AtomicU64::new(0));
    let o = offset.clone();
    let cache = HttpCache::memory(10 * 1024 * 1024)
        .clock(move || SystemTime::now() + Duration::from_secs(o.load(Ordering::SeqCst)));
    (cache, offset)
}

#[tokio::test]
async fn max_age_is_served_from_the_cache_until_it_expires() {
    let srv = server().await;
    let (cache, offset) = clock();
    let s = session(&srv, &cache, None);
    let a = s.get("max-age").send().await.unwrap().text().await.unwrap();
    let b = s.get("max-age").send().await.unwrap().text().await.unwrap();
    assert_eq!(a, b);
    assert_eq!(hits(&srv, "/c/max-age"), 1, "the second came from the cache");
    let st = cache.stats();
    assert_eq!((st.hits, st.misses, st.stored), (1, 1, 1));
    offset.store(61, Ordering::SeqCst);
    let c = s.get("max-age").send().await.unwrap().text().await.unwrap();
    assert_ne!(a, c, "expired: fetched again");
    assert_eq!(hits(&srv, "/c/max-age"), 2);
}

#[tokio::test]
async fn no_store_is_never_stored_and_plain_responses_are_not_reused() {
    let srv = server().await;
    let (cache, _) = clock();
    let s = session(&srv, &cache, None);
    for _ in 0..3 {
        assert_eq!(s.get("no-store").send().await.unwrap().text().await.unwrap(), "secret");
        s.get("plain").send().await.unwrap().text().await.unwrap();
    }
    assert_eq!(hits(&srv, "/c/no-store"), 3);
    assert_eq!(hits(&srv, "/c/plain"), 3);
    assert_eq!(cache.stats().stored, 0);
    assert_eq!(cache.size(), 0);
}

#[tokio::test]
async fn expires_after_overrides_the_servers_freshness() {
    let srv = server().await;
    let (cache, offset) = clock();
    let cache = cache.expires_after(Some(Duration::from_secs(30)));
    let s = session(&srv, &cache, None);
    let a = s.get("plain").send().await.unwrap().text().await.unwrap();
    let b = s.get("plain").send().await.unwrap().text().await.unwrap();
    assert_eq!(a, b);
    assert_eq!(hits(&srv, "/c/plain"), 1);
    // Shorter than the server's max-age=60 too.
    s.get("max-age").send().await.unwrap();
    offset.store(31, Ordering::SeqCst);
    s.get("plain").send().await.unwrap();
    s.get("max-age").send().await.unwrap();
    assert_eq!(hits(&srv, "/c/plain"), 2);
    assert_eq!(hits(&srv, "/c/max-age"), 2);
    // no-store still wins.
    s.get("no-store").send().await.unwrap();
    s.get("no-store").send().await.unwrap();
    assert_eq!(hits(&srv, "/c/no-store"), 2);
}

#[tokio::test]
async fn stale_entries_are_revalidated_with_etag_and_last_modified() {
    let srv = server().await;
    let (cache, _) = clock();
    let s = session(&srv, &cache, None);
    for (path, body, cond) in [
        ("etag", "etag body", "if-none-match"),
        ("last-modified", "lm body", "if-modified-since"),
    ] {
        let r = s.get(path).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), body);
        let r = s.get(path).send().await.unwrap();
        assert_eq!(r.status(), 200, "a 304 is served as the stored 200");
        assert_eq!(r.text().await.unwrap(), body);
        let reqs: Vec<_> = srv
            .requests()
            .into_iter()
            .filter(|r| r.path == format!("/c/{path}"))
            .collect();
        assert_eq!(reqs.len(), 2);
        assert!(reqs[0].header(cond).is_none());
        assert!(reqs[1].header(cond).is_some(), "{path}: conditional request");
    }
    assert_eq!(cache.stats().revalidated, 2);
}

#[tokio::test]
async fn two_identities_never_share_an_entry() {
    let srv = server().await;
    let (cache, _) = clock();
    let alice = session(&srv, &cache, Some("alice-token"));
    let bob = session(&srv, &cache, Some("bob-token"));
    let anon = session(&srv, &cache, None);
    for _ in 0..2 {
        assert_eq!(
            alice.get("whoami").send().await.unwrap().text().await.unwrap(),
            "Bearer alice-token"
        );
        assert_eq!(
            bob.get("whoami").send().await.unwrap().text().await.unwrap(),
            "Bearer bob-token"
        );
        assert_eq!(
            anon.get("whoami").send().await.unwrap().text().await.unwrap(),
            "anonymous"
        );
        // A hand-set Authorization header is an identity too.
        let r = anon
            .get("whoami")
            .header("Authorization", "Bearer carol-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), "Bearer carol-token");
    }
    assert_eq!(hits(&srv, "/c/whoami"), 4, "one miss per identity, then hits");
    assert_eq!(cache.stats().hits, 4);
    // Outside the credential's scope a request carries nothing and is anonymous: it gets
    // the anonymous entry, never alice's.
    let elsewhere = Session::builder()
        .base_url(&srv.url("/c/sub/"))
        .unwrap()
        .credential(Bearer::new("alice-token"))
        .http_cache(Some(cache.clone()))
        .build()
        .unwrap();
    let r = elsewhere.get(&srv.url("/c/whoami")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "anonymous");
    assert_eq!(hits(&srv, "/c/whoami"), 4, "served from the anonymous entry");
}

#[tokio::test]
async fn unsafe_requests_invalidate_the_url() {
    let srv = server().await;
    let (cache, _) = clock();
    let s = session(&srv, &cache, Some("t"));
    let other = session(&srv, &cache, Some("u"));
    s.get("max-age").send().await.unwrap();
    other.get("max-age").send().await.unwrap();
    s.get("max-age").send().await.unwrap();
    assert_eq!(hits(&srv, "/c/max-age"), 2);
    let r = s.post("max-age").body("x").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(cache.stats().invalidated, 2, "every identity's entry of that URL");
    s.get("max-age").send().await.unwrap();
    other.get("max-age").send().await.unwrap();
    assert_eq!(hits(&srv, "/c/max-age"), 5, "two GETs, the POST, two GETs");
}

#[tokio::test]
async fn large_bodies_stream_through_uncached() {
    let srv = server().await;
    let cache = HttpCache::memory(1024 * 1024).max_entry_bytes(4096);
    let s = session(&srv, &cache, None);
    for _ in 0..2 {
        let b = s.get("blob/7").send().await.unwrap().bytes().await.unwrap();
        assert_eq!(b, blob(7));
    }
    assert_eq!(hits(&srv, "/c/blob/7"), 2);
    assert_eq!(cache.stats().stored, 0);
}

/// The child half of the multi-process test: runs only when the parent sets the variables.
#[tokio::test]
async fn disk_cache_child() {
    let (Ok(dir), Ok(base)) = (std::env::var("SESAME_HC_DIR"), std::env::var("SESAME_HC_BASE")) else {
        return;
    };
    let cache = HttpCache::disk(&dir, 200 * 1024).unwrap();
    let s = Session::builder()
        .base_url(&base)
        .unwrap()
        .http_cache(Some(cache))
        .build()
        .unwrap();
    let me: u32 = std::process::id();
    for i in 0..60u32 {
        let n = (i * 7 + me) % 30;
        let b = s.get(&format!("blob/{n}")).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(b, blob(n), "a torn or foreign entry was served");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_store_is_safe_under_concurrent_processes() {
    let srv = server().await;
    let dir = tempdir();
    let exe = std::env::current_exe().unwrap();
    let mut children = Vec::new();
    for _ in 0..4 {
        children.push(
            tokio::process::Command::new(&exe)
                .args(["--exact", "disk_cache_child", "--nocapture", "--test-threads=1"])
                .env("SESAME_HC_DIR", dir.path())
                .env("SESAME_HC_BASE", srv.url("/c/"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    // And threads of this process on the same folder at the same time.
    let cache = HttpCache::disk(dir.path(), 200 * 1024).unwrap();
    let mut tasks = Vec::new();
    for t in 0..4u32 {
        let s = session(&srv, &cache, None);
        tasks.push(tokio::spawn(async move {
            for i in 0..60u32 {
                let n = (i * 11 + t) % 30;
                let b = s.get(&format!("blob/{n}")).send().await.unwrap().bytes().await.unwrap();
                assert_eq!(b, blob(n));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for c in children {
        let out = c.wait_with_output().await.unwrap();
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
    }
    // Every entry left is whole, the cap holds (one entry of slack for a racing writer)
    // and no temporary file is left behind.
    let mut total = 0;
    for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(".tmp-"), "left over: {name}");
        if name.ends_with(".hc") {
            let data = std::fs::read(e.path()).unwrap();
            total += data.len();
            assert!(sesame::session::http_cache::fuzz_entry(&data), "corrupt entry {name}");
        }
    }
    assert!(total <= 200 * 1024 + 16 * 1024, "{total} bytes");
    assert!(cache.stats().hits > 0, "{:?}", cache.stats());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
        let _ = mode; // tempdir made the folder; entries are 0600:
        for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let m = e.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(m & 0o077, 0, "{:?} is {m:o}", e.file_name());
        }
    }
}

#[tokio::test]
async fn listed_credential_header_is_part_of_the_cache_key() {
    let srv = server().await;
    let dir = tempdir();
    let cache = HttpCache::disk(dir.path().join("http"), 10 * 1024 * 1024).unwrap();
    let s = Session::builder()
        .base_url(&srv.url("/c/"))
        .unwrap()
        .credential_header("X-Custom-Auth")
        .unwrap()
        .http_cache(Some(cache.clone()))
        .build()
        .unwrap();
    let get = |v: Option<&'static str>| {
        let mut r = s.get("custom-auth");
        if let Some(v) = v {
            r = r.header("X-Custom-Auth", v);
        }
        async move { r.send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(get(None).await, "anonymous");
    assert_eq!(get(None).await, "anonymous");
    assert_eq!(hits(&srv, "/c/custom-auth"), 1, "the anonymous GET is cached");
    // The same URL with the credential header must not get the anonymous entry...
    assert_eq!(get(Some("k1-s3cret")).await, "custom k1-s3cret");
    assert_eq!(hits(&srv, "/c/custom-auth"), 2, "went to the server");
    // ...nor another value's.
    assert_eq!(get(Some("k2-s3cret")).await, "custom k2-s3cret");
    assert_eq!(hits(&srv, "/c/custom-auth"), 3);
    // Each value has its own entry.
    assert_eq!(get(Some("k1-s3cret")).await, "custom k1-s3cret");
    assert_eq!(get(None).await, "anonymous");
    assert_eq!(hits(&srv, "/c/custom-auth"), 3);
    // Values are hashed into the key, never stored: no cache file holds them.
    let mut files = 0;
    for e in std::fs::read_dir(dir.path().join("http")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        assert!(!name.contains("s3cret"), "{name}");
        if p.is_file() {
            files += 1;
            let bytes = std::fs::read(&p).unwrap();
            let meta = String::from_utf8_lossy(&bytes);
            assert!(
                !meta.to_ascii_lowercase().contains("x-custom-auth"),
                "{name} stored the credential header"
            );
        }
    }
    assert!(files >= 3, "three identities stored ({files} files)");
}
