//! Build settings that the project's own files must carry (`.cargo/config.toml`), checked on
//! the binary the tests run, so that losing one fails a test instead of a benchmark.

/// aws-lc's CPU-jitter entropy source costs every new TLS-speaking process 30–50 ms of CPU
/// on its first random number (docs/design/tls-startup.md). `.cargo/config.toml` builds
/// aws-lc without it; the opt-out stubs are linked in its place.
#[test]
fn sesame_binary_is_built_without_cpu_jitter_entropy() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_sesame")).expect("read the sesame binary");
    let has = |needle: &[u8]| binary.windows(needle.len()).any(|w| w == needle);
    // The probe: aws-lc is in this binary at all (its opt-out stub names are).
    assert!(
        has(b"opt_out_cpu_jitter_initialize"),
        "aws-lc's entropy code is not where this test looks: update the test with the crypto provider"
    );
    assert!(
        !has(b"jent_entropy_init"),
        "the sesame binary links aws-lc's CPU jitter entropy source: is AWS_LC_SYS_NO_JITTER_ENTROPY \
         missing from .cargo/config.toml [env], or overridden in the environment?"
    );
}
