//! The `sesame` command inside the extension module: the wheel's console script
//! (`sesame._cli:main`) runs the Rust CLI compiled in here, so `pip install sesame-auth`
//! puts `sesame` on PATH without shipping a second binary.

use pyo3::prelude::*;

/// Runs the command with `argv` (`argv[0]` is the program name) and returns its exit code.
/// The GIL is released for the whole run: the command may take minutes (a login, a
/// download), and other Python threads keep running meanwhile. Its log lines go to stderr
/// as the command's do, not to the package's `logging` bridge (`sesame_cli::run_embedded`
/// scopes its subscriber to its own threads).
#[pyfunction]
pub fn _cli_main(py: Python<'_>, argv: Vec<std::ffi::OsString>) -> i32 {
    py.detach(move || sesame_cli::run_embedded(argv))
}
