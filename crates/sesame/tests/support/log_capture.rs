//! Capturing what the library logs, for the tests that check log lines. Each such test is
//! alone in its binary (see `retry_logging.rs` for why), and includes this file with
//! `#[path = "support/log_capture.rs"] mod log_capture;`.

use std::sync::{Arc, Mutex};

/// A writer that keeps what the log says.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Debug-level logs of this thread go to the returned [`Captured`] while the guard lives.
pub fn capture_debug() -> (tracing::subscriber::DefaultGuard, Captured) {
    let log = Captured::default();
    let w = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || w.clone())
        .with_ansi(false)
        .finish();
    (tracing::subscriber::set_default(subscriber), log)
}
