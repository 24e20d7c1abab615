//! Property tests of every parser that reads outside data (the CI-run counterpart of the
//! cargo-fuzz targets in `crates/sesame/fuzz`, with the same entry points and seeds):
//! arbitrary bytes, and valid documents with random byte edits, must give a result or an
//! error — never a panic, never a hang.

use proptest::prelude::*;
use sesame::fuzzing as fz;

/// A seed with random edits: replaced, inserted and removed bytes, and truncation.
fn mutated(seed: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec((any::<u16>(), any::<u8>(), 0u8..4), 0..12);
    (edits, any::<u16>()).prop_map(move |(edits, cut)| {
        let mut v = seed.to_vec();
        for (pos, byte, op) in edits {
            let p = if v.is_empty() { 0 } else { pos as usize % (v.len() + 1) };
            match op {
                0 if p < v.len() => v[p] = byte,
                1 => v.insert(p, byte),
                2 if p < v.len() => {
                    v.remove(p);
                }
                _ => {
                    // Interesting bytes: quotes, braces, escapes, huge numbers.
                    let s: &[u8] = [
                        &b"\""[..],
                        b"{",
                        b"}",
                        b"\\u0000",
                        b"99999999999999999999999",
                        b"-1",
                        b"\xff\xfe",
                        b"=",
                        b",",
                    ][byte as usize % 9];
                    for (i, b) in s.iter().enumerate() {
                        v.insert((p + i).min(v.len()), *b);
                    }
                }
            }
        }
        if cut % 5 == 0 && !v.is_empty() {
            v.truncate(cut as usize % v.len());
        }
        v
    })
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..600)
}

fn input(seeds: &'static [&'static [u8]]) -> BoxedStrategy<Vec<u8>> {
    let mut options: Vec<BoxedStrategy<Vec<u8>>> = vec![bytes().boxed()];
    for s in seeds {
        options.push(mutated(s).boxed());
    }
    prop::strategy::Union::new(options).boxed()
}

macro_rules! seeds {
    ($($f:literal),*) => { &[$(include_bytes!(concat!("../fuzz/seeds/", $f)) as &[u8]),*] };
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn token_responses(d in input(seeds!("token_response/ok", "token_response/error", "token_response/exchange"))) {
        fz::token_response(&d);
    }

    #[test]
    fn uma_responses(d in input(seeds!("uma_response/ok", "uma_response/need_info", "uma_response/submitted"))) {
        fz::uma_response(&d);
    }

    #[test]
    fn jwks_documents(d in input(seeds!("jwks/ok"))) {
        fz::jwks(&d);
    }

    #[test]
    fn discovery_documents(d in input(seeds!("discovery/ok"))) {
        fz::discovery(&d);
    }

    #[test]
    fn webfinger_jrds(d in input(seeds!("webfinger/ok"))) {
        fz::webfinger(&d);
    }

    #[test]
    fn jwts(d in input(seeds!("jwt/ok"))) {
        fz::jwt(&d);
    }

    #[test]
    fn www_authenticate_headers(d in input(seeds!("www_authenticate/ok", "www_authenticate/token68"))) {
        fz::www_authenticate(&d);
    }

    #[test]
    fn netrc_files(d in input(seeds!("netrc/ok"))) {
        fz::netrc(&d);
    }

    #[test]
    fn error_summaries(d in input(seeds!("summarize/json", "summarize/html", "summarize/protobuf"))) {
        let n = fz::summarize(&d);
        // Capped, whatever the input (4000 characters, a few bytes each at most).
        prop_assert!(n <= 4 * 4100);
    }

    #[test]
    fn retry_after_values(d in input(seeds!("retry_after/seconds", "retry_after/date"))) {
        fz::retry_after(&d);
    }

    #[test]
    fn http_cache_entries(d in prop::strategy::Union::new(vec![
        bytes().boxed(),
        mutated(Box::leak(fz::sample_http_cache_entry().into_boxed_slice())).boxed(),
    ])) {
        fz::http_cache_entry(&d);
    }
}

#[test]
fn the_sample_cache_entry_is_accepted() {
    let sample = fz::sample_http_cache_entry();
    assert!(fz::http_cache_entry(&sample));
    // bench/fuzz.sh asks for it as the fuzzer's seed.
    if let Some(path) = std::env::var_os("SESAME_WRITE_CACHE_SEED") {
        std::fs::write(path, &sample).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Every request to the loopback listener gets an HTTP answer (a panic in its handler
    /// would close the connection without one).
    #[test]
    fn loopback_callbacks(d in input(seeds!("loopback_callback/ok", "loopback_callback/error", "loopback_callback/favicon"))) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let line = rt.block_on(fz::loopback_callback(&d));
        let line = line.unwrap_or_default();
        prop_assert!(line.starts_with("HTTP/1.1 "), "no HTTP answer: {line:?}");
    }
}
