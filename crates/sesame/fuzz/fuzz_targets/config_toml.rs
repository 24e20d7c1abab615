#![no_main]
//! Fuzzes `sesame_app::fuzzing::config_toml`: outside data must give a result or an error, never a panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sesame_app::fuzzing::config_toml(data);
});
