//! Property test of the configuration file parser (the CI-run counterpart of the cargo-fuzz
//! target `config_toml` in `crates/sesame/fuzz`, with the same seed): arbitrary bytes, and
//! a valid file with random byte edits, must give a result or an error — never a panic.

use proptest::prelude::*;

const SEED: &[u8] = include_bytes!("../../sesame/fuzz/seeds/config_toml/ok");

/// The seed with random edits: replaced, inserted and removed bytes.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((any::<u16>(), any::<u8>(), 0u8..4), 0..12).prop_map(|edits| {
        let mut v = SEED.to_vec();
        for (pos, byte, op) in edits {
            let p = pos as usize % (v.len() + 1);
            match op {
                0 if p < v.len() => v[p] = byte,
                2 if p < v.len() => {
                    v.remove(p);
                }
                3 => {
                    let s: &[u8] = [&b"\""[..], b"[", b"]", b"{", b"}", b"=", b"\\u0000", b"\n"][byte as usize % 8];
                    for (i, b) in s.iter().enumerate() {
                        v.insert((p + i).min(v.len()), *b);
                    }
                }
                _ => v.insert(p, byte),
            }
        }
        v
    })
}

#[test]
fn the_seed_parses() {
    assert!(
        sesame_app::fuzzing::config_toml(SEED),
        "the fuzz seed is a valid config file"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn config_files(d in prop_oneof![prop::collection::vec(any::<u8>(), 0..512), mutated()]) {
        sesame_app::fuzzing::config_toml(&d);
    }
}
