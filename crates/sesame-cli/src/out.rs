//! stdout carries only the product. A closed pipe (`sesame discover | head`) ends the
//! program quietly instead of panicking as `println!` would.

use std::io::Write;

/// Writes a line to stdout.
pub fn line(s: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{s}").and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("sesame: error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}
