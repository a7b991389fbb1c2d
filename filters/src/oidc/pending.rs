//! Login flows waiting for their callback, keyed by `state`. Each is taken exactly
//! once; entries expire after [`PENDING_TTL`] and their number is bounded.

use crate::sessions::now_secs;
use dashmap::DashMap;
use openidconnect::{Nonce, PkceCodeVerifier};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How long a started login may take.
pub const PENDING_TTL: Duration = Duration::from_secs(600);
/// Most logins in flight at once; past this the oldest are dropped.
pub const MAX_PENDING: usize = 100_000;

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

#[derive(Default)]
pub struct PendingLogins {
    /// Keyed by SHA-256 of the state, so the map never holds the state itself.
    map: DashMap<[u8; 32], PendingLogin>,
}

impl PendingLogins {
    pub fn insert(&self, state: &str, login: PendingLogin) {
        if self.map.len() >= MAX_PENDING {
            self.sweep();
            if self.map.len() >= MAX_PENDING {
                let oldest = self
                    .map
                    .iter()
                    .take(256)
                    .min_by_key(|e| e.value().created_at)
                    .map(|e| *e.key());
                if let Some(k) = oldest {
                    self.map.remove(&k);
                }
            }
        }
        self.map.insert(Sha256::digest(state.as_bytes()).into(), login);
    }

    /// Removes and returns the login for `state` if it exists and has not expired.
    pub fn take(&self, state: &str) -> Option<PendingLogin> {
        let key: [u8; 32] = Sha256::digest(state.as_bytes()).into();
        let (_, login) = self.map.remove(&key)?;
        (now_secs().saturating_sub(login.created_at) < PENDING_TTL.as_secs()).then_some(login)
    }

    pub fn sweep(&self) {
        let now = now_secs();
        self.map
            .retain(|_, l| now.saturating_sub(l.created_at) < PENDING_TTL.as_secs());
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
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
        let p = PendingLogins::default();
        p.insert("state-1", login());
        assert!(p.take("state-2").is_none());
        let l = p.take("state-1").expect("first take");
        assert!(l.binding_matches("b") && !l.binding_matches("c"));
        assert!(p.take("state-1").is_none(), "a state is single-use");
    }

    #[test]
    fn expired_logins_are_refused() {
        let p = PendingLogins::default();
        p.insert(
            "old",
            PendingLogin {
                created_at: now_secs() - PENDING_TTL.as_secs() - 1,
                ..login()
            },
        );
        assert!(p.take("old").is_none());
    }
}
