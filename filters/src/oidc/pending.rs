//! Login flows waiting for their callback, keyed by `state`. Each is taken exactly
//! once; entries expire after [`PENDING_TTL`] and their number is bounded by
//! `sessions.max_pending_logins` per site.
//!
//! The store is a `moka` cache with LRU eviction: when it is full, inserting evicts
//! the least recently started login in O(1). (moka's default TinyLFU admission
//! could refuse a new entry under a flood of logins — which would refuse the real
//! shopper — while LRU always admits the newest.)

use crate::sessions::now_secs;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use openidconnect::{Nonce, PkceCodeVerifier};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a started login may take.
pub const PENDING_TTL: Duration = Duration::from_secs(600);
/// Longest `return_to` kept in a pending login.
pub const MAX_RETURN_TO: usize = 2048;

/// A started login. Created at `/_sso/login`, consumed at the callback.
#[derive(Debug)]
pub struct PendingLogin {
    pub nonce: Nonce,
    pub pkce_verifier: PkceCodeVerifier,
    pub return_to: String,
    /// SHA-256 of the per-flow cookie value that binds this flow to the browser.
    pub binding_hash: [u8; 32],
    pub created_at: u64,
}

impl PendingLogin {
    pub fn binding_matches(&self, cookie_value: &str) -> bool {
        use subtle::ConstantTimeEq;
        let h: [u8; 32] = Sha256::digest(cookie_value.as_bytes()).into();
        h.ct_eq(&self.binding_hash).into()
    }
}

pub fn hash_binding(binding: &str) -> [u8; 32] {
    Sha256::digest(binding.as_bytes()).into()
}

/// The cache holds a shared slot from which the login is moved out once: the PKCE
/// verifier is deliberately not `Clone`, and an emptied slot cannot be taken twice.
type Slot = Arc<Mutex<Option<PendingLogin>>>;

pub struct PendingLogins {
    /// Keyed by SHA-256 of the state, so the cache never holds the state itself.
    cache: Cache<[u8; 32], Slot>,
}

impl PendingLogins {
    /// At most `max_entries` logins in flight; the least recently started go first.
    pub fn new(max_entries: usize) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_entries as u64)
            .time_to_live(PENDING_TTL)
            .eviction_policy(EvictionPolicy::lru())
            .build();
        PendingLogins { cache }
    }

    pub fn insert(&self, state: &str, login: PendingLogin) {
        self.cache.insert(key(state), Arc::new(Mutex::new(Some(login))));
    }

    /// Removes and returns the login for `state` if it exists and has not expired.
    pub fn take(&self, state: &str) -> Option<PendingLogin> {
        let slot = self.cache.remove(&key(state))?;
        let login = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()?;
        (now_secs().saturating_sub(login.created_at) < PENDING_TTL.as_secs()).then_some(login)
    }

    /// Applies pending evictions and expiries now (the cache otherwise does this
    /// as it is used); called by the gateway's sweeper.
    pub fn sweep(&self) {
        self.cache.run_pending_tasks();
    }

    /// Logins in flight (approximate until [`Self::sweep`] has run).
    pub fn len(&self) -> usize {
        self.cache.entry_count() as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `return_to` as stored: whole when short, else its path alone, else `/`.
pub fn bounded_return_to(mut return_to: String) -> String {
    if return_to.len() <= MAX_RETURN_TO {
        return return_to;
    }
    if let Some(q) = return_to.find('?') {
        return_to.truncate(q);
    }
    if return_to.len() <= MAX_RETURN_TO {
        return_to
    } else {
        "/".to_string()
    }
}

fn key(state: &str) -> [u8; 32] {
    Sha256::digest(state.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> PendingLogin {
        PendingLogin {
            nonce: Nonce::new_random(),
            pkce_verifier: PkceCodeVerifier::new("v".repeat(43)),
            return_to: "/".into(),
            binding_hash: hash_binding("b"),
            created_at: now_secs(),
        }
    }

    #[test]
    fn taken_exactly_once() {
        let p = PendingLogins::new(100);
        p.insert("state-1", login());
        assert!(p.take("state-2").is_none());
        let l = p.take("state-1").expect("first take");
        assert!(l.binding_matches("b") && !l.binding_matches("c"));
        assert!(p.take("state-1").is_none(), "a state is single-use");
    }

    #[test]
    fn expired_logins_are_refused() {
        let p = PendingLogins::new(100);
        p.insert(
            "old",
            PendingLogin {
                created_at: now_secs() - PENDING_TTL.as_secs() - 1,
                ..login()
            },
        );
        assert!(p.take("old").is_none());
    }

    #[test]
    fn a_flood_evicts_the_oldest_and_the_newest_login_still_works() {
        let p = PendingLogins::new(50);
        for i in 0..5_000 {
            p.insert(&format!("flood-{i}"), login());
        }
        p.insert("shopper", login());
        p.sweep();
        assert!(p.len() <= 50, "{} entries", p.len());
        assert!(p.take("flood-0").is_none(), "the oldest were evicted");
        assert!(p.take("shopper").is_some(), "LRU always admits the newest");
    }

    #[test]
    fn long_return_targets_are_cut_to_their_path() {
        assert_eq!(bounded_return_to("/a?b=1".into()), "/a?b=1");
        let long_query = format!("/orders?{}", "x".repeat(MAX_RETURN_TO));
        assert_eq!(bounded_return_to(long_query), "/orders");
        assert_eq!(bounded_return_to(format!("/{}", "p".repeat(MAX_RETURN_TO))), "/");
    }
}
