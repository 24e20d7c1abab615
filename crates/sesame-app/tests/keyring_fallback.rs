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

/// `{ keyring = "service:user" }` where no keyring answers: a configuration error naming the
/// entry and the key (never a hang, never the "no keyring support" message of a build
/// without the feature); a malformed entry says how to write it.
#[test]
fn a_keyring_secret_without_a_keyring_service_is_a_clear_error() {
    use sesame_app::config::SecretSource;
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        eprintln!("note: a D-Bus session bus is present; skipping the no-keyring case");
        return;
    }
    let e = SecretSource::Keyring("sesame-test:nobody".into())
        .resolve("token")
        .expect_err("no keyring service here");
    let msg = e.to_string();
    assert!(
        msg.contains("keyring entry `sesame-test:nobody`") && msg.contains("`token`"),
        "{msg}"
    );
    assert!(!msg.contains("no keyring support"), "{msg}");
    let e = SecretSource::Keyring("no-colon".into())
        .resolve("password")
        .unwrap_err();
    assert!(e.to_string().contains("service:user"), "{e}");
}
