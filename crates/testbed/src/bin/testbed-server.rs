//! A protected demo API for the README's demo: prints one JSON line with its URL, serves
//! until stdin closes. `/protected/…` accepts `Bearer demo-token`, basic `alice:wonderland`
//! and `X-API-Key: demo-key`; everything else is the echo server of `server.rs`.

use std::io::Read;

use sesame_testbed::server::{ServerOptions, TestServer};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let server = TestServer::start(ServerOptions {
        expect_authorization: Some("Bearer demo-token".into()),
        accept_headers: vec![
            ("authorization".into(), "Basic YWxpY2U6d29uZGVybGFuZA==".into()),
            ("x-api-key".into(), "demo-key".into()),
        ],
        ..Default::default()
    })
    .await;
    println!("{}", serde_json::json!({ "url": server.url("/") }));
    // Serve until stdin closes (the demo script holds it open).
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await
    .ok();
}
