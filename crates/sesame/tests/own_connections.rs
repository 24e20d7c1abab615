//! `Session::with_own_connections`: a copy of a session for one thread's own runtime. It
//! must be the same session for everything but its connections: the credential goes
//! where it went and nowhere else, the pool is its own, and the credential's work runs on
//! the runtime it was given, so that it never depends on the copy's thread polling.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sesame::Session;
use sesame::credential::Bearer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A keep-alive HTTP/1.1 server: answers every request with 200 and the request's
/// Authorization header as the body; counts connections.
struct Counting {
    origin: String,
    connections: Arc<AtomicUsize>,
    auth: Arc<Mutex<Vec<String>>>,
}

async fn counting() -> Counting {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let auth: Arc<Mutex<Vec<String>>> = Arc::default();
    let (c, a) = (connections.clone(), auth.clone());
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let a = a.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match tcp.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    buf.drain(..end + 4);
                    let got = head
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("authorization: ")
                                .or_else(|| l.strip_prefix("Authorization: "))
                        })
                        .unwrap_or("-")
                        .to_string();
                    a.lock().unwrap().push(got.clone());
                    let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{got}", got.len());
                    if tcp.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Counting {
        origin,
        connections,
        auth,
    }
}

/// Sends `n` GETs through `s` from a new thread with its own current-thread runtime, the
/// way the Python binding drives the main thread's copy.
fn on_own_thread(s: Session, url: String, n: usize) -> Vec<String> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut out = Vec::new();
            for _ in 0..n {
                out.push(s.get(&url).send().await.unwrap().text().await.unwrap());
            }
            out
        })
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_has_its_own_pool_and_the_same_credential_and_scope() {
    let api = counting().await;
    let other = counting().await;
    let parent = Session::builder()
        .base_url(&format!("{}/api/", api.origin))
        .unwrap()
        .credential(Bearer::new("copy-token-Hq3"))
        .timeout(Some(Duration::from_secs(10)))
        .build()
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            parent.get("x").send().await.unwrap().text().await.unwrap(),
            "Bearer copy-token-Hq3"
        );
    }
    assert_eq!(api.connections.load(Ordering::SeqCst), 1);

    let copy = parent.with_own_connections(tokio::runtime::Handle::current()).unwrap();
    let got = on_own_thread(copy.clone(), format!("{}/api/y", api.origin), 5);
    assert!(got.iter().all(|g| g == "Bearer copy-token-Hq3"), "{got:?}");
    assert_eq!(
        api.connections.load(Ordering::SeqCst),
        2,
        "the copy opened one connection of its own and kept it for its 5 requests"
    );
    // Out of scope (another origin), the copy sends no credential, as its parent would not.
    let elsewhere = on_own_thread(copy.clone(), format!("{}/api/z", other.origin), 1);
    assert_eq!(elsewhere, vec!["-".to_string()]);
    assert_eq!(other.auth.lock().unwrap().as_slice(), ["-"]);
    // The parent's pool is untouched by the copy's thread and runtime having gone.
    assert_eq!(
        parent.get("x").send().await.unwrap().text().await.unwrap(),
        "Bearer copy-token-Hq3"
    );
    assert_eq!(api.connections.load(Ordering::SeqCst), 2);
}
