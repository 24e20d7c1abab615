//! The library's `tracing` events → the Python logger `sesame`.
//!
//! The level follows the logger's effective level, read when a session is created. Events
//! are secret-free by the library's rules (docs/session-rules.md#secrets-never-in-output); they are passed on as they are.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// 0 = off, 1 = error … 5 = trace.
static LEVEL: AtomicUsize = AtomicUsize::new(2);
static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn rank(l: &Level) -> usize {
    match *l {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

fn python_level(l: &Level) -> u32 {
    match *l {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG | Level::TRACE => 10,
    }
}

fn logger(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    LOGGER
        .get_or_try_init(py, || {
            py.import("logging")?
                .call_method1("getLogger", ("sesame",))
                .map(Bound::unbind)
        })
        .map(|l| l.bind(py))
}

/// Installs the forwarding subscriber (once per process; a subscriber set by someone else
/// wins).
pub fn install() {
    let _ = tracing::subscriber::set_global_default(PyLog);
}

/// Reads the `sesame` logger's effective level and forwards events from that level up.
pub fn sync_level(py: Python<'_>) {
    let Ok(level) = logger(py).and_then(|l| l.call_method0("getEffectiveLevel")?.extract::<u32>()) else {
        return;
    };
    let rank = match level {
        0..=10 => 4,
        11..=20 => 3,
        21..=30 => 2,
        31..=40 => 1,
        _ => 0,
    };
    if LEVEL.swap(rank, Ordering::Relaxed) != rank {
        tracing::callsite::rebuild_interest_cache();
    }
}

struct PyLog;

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={value}", field.name());
        }
    }
}

impl Subscriber for PyLog {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Decided per event, so that a level change takes effect.
        Interest::sometimes()
    }

    fn enabled(&self, m: &Metadata<'_>) -> bool {
        rank(m.level()) <= LEVEL.load(Ordering::Relaxed)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        use tracing::level_filters::LevelFilter;
        Some(match LEVEL.load(Ordering::Relaxed) {
            0 => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let text = format!("{}{}", f.message, f.rest);
        let level = python_level(event.metadata().level());
        // Not during interpreter shutdown, and never a panic from logging.
        let _ = Python::try_attach(|py| {
            if let Ok(l) = logger(py) {
                let _ = l.call_method1("log", (level, "%s", text));
            }
        });
    }
}
