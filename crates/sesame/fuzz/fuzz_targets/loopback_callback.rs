#![no_main]
//! Fuzzes the loopback login listener over a real socket: every request must get an HTTP
//! answer (a panic in its connection task aborts the process under cargo-fuzz).

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 16 * 1024 {
        return;
    }
    let line = rt().block_on(sesame::fuzzing::loopback_callback(data));
    assert!(line.is_some_and(|l| l.starts_with("HTTP/1.1 ")), "no HTTP answer");
});
