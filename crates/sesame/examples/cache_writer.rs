//! Writes tokens to the file store in a loop: the crash-safety test kills it with SIGKILL
//! at random points and checks that the cache file is always the old or the new one.
//!
//! Usage: `cache_writer DIR COUNT`

use sesame::secret::AccessToken;
use sesame::token::{CacheKey, FileStore, Token, TokenStore};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("DIR");
    let count: usize = args.next().and_then(|c| c.parse().ok()).unwrap_or(1000);
    let store = FileStore::new(dir);
    let key = CacheKey::new("https://issuer.test", "writer", "client-credentials", &[], &[], None);
    let padding = "x".repeat(8000);
    for i in 0..count {
        let mut t = Token::bare(AccessToken::new(format!("tok-{i:06}-{padding}")));
        t.expires_at = Some(2_000_000_000);
        store.save(&key, &t).expect("save");
    }
}
