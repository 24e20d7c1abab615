//! Entry points for the fuzzers (`crates/sesame/fuzz`) and the property tests
//! (`tests/config_prop.rs`) for what this crate parses. Not a stable API.

/// The configuration file (TOML), and resolving its default profile.
pub fn config_toml(data: &[u8]) -> bool {
    match crate::config::Config::from_toml_str(&String::from_utf8_lossy(data), "fuzz.toml") {
        Ok(c) => {
            let _ = c.profile(None).map(|p| p.profile.auth_kind());
            true
        }
        Err(e) => {
            let _ = e.to_string();
            false
        }
    }
}
