//! The one tokio runtime every session of the process shares, the main thread's own
//! runtime for its blocking requests, and the way a Python thread waits for them: with the
//! GIL released, the main thread waking up now and then to let Ctrl-C through.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Once, OnceLock};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static ASYNC_INIT: Once = Once::new();
/// The process that started the runtime: its threads do not exist in a forked child.
static OWNER: AtomicU32 = AtomicU32::new(0);

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
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("sesame-runtime")
            // Token work runs as spawned tasks on these threads (a renewal outlives a
            // caller that gave up), and an unoptimised build's futures for a renewal that
            // narrows a grant outgrow tokio's 2 MiB default (seen: SIGSEGV in a debug wheel;
            // a cdylib has no stack-overflow message). The main thread's 8 MiB is reserved,
            // not committed: only pages used cost memory.
            .thread_stack_size(8 * 1024 * 1024)
            .enable_all()
            .build()
            .expect("sesame: cannot start the tokio runtime");
        OWNER.store(std::process::id(), Ordering::Relaxed);
        rt
    });
    ASYNC_INIT.call_once(|| {
        // Fails only if pyo3-async-runtimes already has a runtime; then both are fine.
        let _ = pyo3_async_runtimes::tokio::init_with_runtime(rt);
    });
    rt
}

/// Fails in a child process forked after the runtime started (its worker threads are not
/// there: a request would wait forever).
pub fn check_fork() -> PyResult<()> {
    let owner = OWNER.load(Ordering::Relaxed);
    if owner != 0 && owner != std::process::id() {
        return Err(crate::errors::error(
            "Error",
            "fork",
            "this sesame session was created before fork(): create sessions in the child process (or use the spawn start method of multiprocessing)",
        ));
    }
    Ok(())
}

/// Runs `fut` to completion with the GIL released and returns its output.
///
/// The calling thread drives the future itself (`block_on`: the fastest hand-off, measured
/// with 64 threads on one session). On the main thread — the only one where Python runs
/// signal handlers — it does so in slices of [`SIGNAL_POLL`], re-attaching between slices
/// to check for signals, so Ctrl-C interrupts a long request (the future is then dropped,
/// which cancels it); other threads wait in one go. A call made on a runtime thread (a logging handler, say)
/// cannot block that thread: it runs the future as a task and waits for it instead.
pub fn wait<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    check_fork()?;
    let rt = runtime();
    if tokio::runtime::Handle::try_current().is_ok() {
        return wait_spawned(py, fut);
    }
    drive(py, rt, fut)
}

thread_local! {
    /// The main thread's own current-thread runtime, for [`wait_on_main`]: made on the
    /// first blocking request there (only ever on the main thread).
    static MAIN_RUNTIME: Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("sesame: cannot start a tokio runtime for the main thread");
}

/// Whether a blocking request made now may use [`wait_on_main`]: on the interpreter's main
/// thread, and not inside a runtime (a logging handler called from a runtime worker, say).
pub fn can_wait_on_main(py: Python<'_>) -> bool {
    tokio::runtime::Handle::try_current().is_err() && is_main_thread(py)
}

/// [`wait`], with the main thread's own current-thread runtime driving `fut`: nothing of the
/// request runs on another thread. For the main thread's copy of a session (its connections
/// belong to that runtime; see `Core::main_session`). Call it only where
/// [`can_wait_on_main`] said yes.
pub fn wait_on_main<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    check_fork()?;
    debug_assert!(can_wait_on_main(py));
    MAIN_RUNTIME.with(|rt| drive(py, rt, fut))
}

/// Drives `fut` on `rt` from this thread, with the GIL released.
fn drive<F, T>(py: Python<'_>, rt: &Runtime, fut: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    if !is_main_thread(py) {
        // No signal can be handled here: one wait, without a timer per call (registering
        // and cancelling a runtime timer from outside the runtime takes its timer lock
        // twice per request, and may wake the runtime's driver).
        return Ok(py.detach(move || rt.block_on(fut)));
    }
    let mut fut = Box::pin(fut);
    loop {
        let (back, out) = py.detach(move || {
            let out = rt.block_on(async { tokio::time::timeout(SIGNAL_POLL, &mut fut).await.ok() });
            (fut, out)
        });
        fut = back;
        match out {
            Some(v) => return Ok(v),
            None => py.check_signals()?,
        }
    }
}

/// [`wait`] for a thread that is inside the runtime: the future runs as a task.
fn wait_spawned<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
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

/// Whether this is the interpreter's main thread: the only one on which Python runs signal
/// handlers (`PyErr_CheckSignals` does nothing elsewhere), so the only one whose wait needs
/// slices. Asked of `threading` once per thread.
fn is_main_thread(py: Python<'_>) -> bool {
    thread_local! {
        static MAIN: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
    }
    if let Some(m) = MAIN.with(|m| m.get()) {
        return m;
    }
    let main = (|| -> PyResult<bool> {
        let threading = py.import("threading")?;
        let me = threading.call_method0("get_ident")?;
        let main = threading.call_method0("main_thread")?.getattr("ident")?;
        me.eq(main)
    })()
    .unwrap_or(true);
    MAIN.with(|m| m.set(Some(main)));
    main
}
