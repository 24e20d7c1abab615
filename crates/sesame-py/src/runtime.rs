//! The one tokio runtime every session of the process shares, and the way a Python thread
//! waits for it: with the GIL released, waking up now and then to let Ctrl-C through.

use std::future::Future;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Once, OnceLock};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static ASYNC_INIT: Once = Once::new();

/// How often a waiting thread looks for a pending signal (Ctrl-C) while a request runs.
const SIGNAL_POLL: Duration = Duration::from_millis(100);

/// The shared multi-thread runtime (one worker per core, at least two). `AsyncSession`
/// uses the same one through `pyo3-async-runtimes`.
pub fn runtime() -> &'static Runtime {
    let rt = RUNTIME.get_or_init(|| {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .max(2);
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("sesame-runtime")
            .enable_all()
            .build()
            .expect("sesame: cannot start the tokio runtime")
    });
    ASYNC_INIT.call_once(|| {
        // Fails only if pyo3-async-runtimes already has a runtime; then both are fine.
        let _ = pyo3_async_runtimes::tokio::init_with_runtime(rt);
    });
    rt
}

/// Runs `fut` on the shared runtime and waits for its output with the GIL released.
/// Every [`SIGNAL_POLL`] the thread re-attaches to check for signals, so Ctrl-C interrupts
/// a long request (the task is then aborted).
pub fn wait<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    let task = runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    let mut rx = rx;
    loop {
        let (back, got) = py.detach(move || {
            let got = rx.recv_timeout(SIGNAL_POLL);
            (rx, got)
        });
        rx = back;
        match got {
            Ok(v) => return Ok(v),
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    task.abort();
                    return Err(e);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err(
                    "sesame: the operation stopped unexpectedly (the runtime task panicked)",
                ));
            }
        }
    }
}
