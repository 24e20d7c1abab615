#![no_main]
//! Fuzzes `sesame::fuzzing::retry_after`: outside data must give a result or an error, never a panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sesame::fuzzing::retry_after(data);
});
