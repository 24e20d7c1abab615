//! `cache = "keyring"` where no keyring service answers (CI, containers, SSH sessions):
//! the file store is used instead, within the time box, and it works.
//! Runs with `cargo test -p sesame-auth --features keyring --test keyring_fallback`.

#![cfg(feature = "keyring")]

use std::time::{Duration, Instant};

use sesame::secret::AccessToken;
use sesame::token::{CacheKey, KeyringStore, Token};

#[test]
fn without_a_keyring_service_tokens_go_to_the_file_store() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        // A desktop session may have a real keyring; the fallback is what is tested here.
        eprintln!("note: a D-Bus session bus is present; testing only that the store works");
    }
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let store = KeyringStore::open_or_file(dir.path().join("cache"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "time-boxed: {:?}",
        started.elapsed()
    );
    let key = CacheKey::new("https://issuer.test", "c", "oidc", &[], &[], None);
    let mut t = Token::bare(AccessToken::new("kr-token-value"));
    t.expires_at = Some(2_000_000_000);
    store.save(&key, &t).unwrap();
    assert_eq!(
        store.load(&key).unwrap().unwrap().access_token.expose(),
        "kr-token-value"
    );
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(store.describe().starts_with("file"), "{}", store.describe());
        assert!(dir.path().join("cache").join(format!("{}.json", key.hash())).exists());
    }
    store.delete(&key).unwrap();
    assert!(store.load(&key).unwrap().is_none());
}
