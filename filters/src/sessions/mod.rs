//! Sessions: what a signed-in shopper is, and where that is kept.
//!
//! The [`SessionStore`] trait has an in-memory implementation ([`memory`]); a Redis one
//! comes later behind the same trait. The cookie only carries an opaque, signed id
//! ([`cookie`]).

pub mod cookie;
pub mod memory;

use crate::identity::Customer;
use crate::secret::SessionId;
use sso_config::Secret;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The IdP refresh token of a session and when to use it. The gateway refreshes once
/// three quarters of the access token's lifetime have passed; exactly one request
/// does it ([`RefreshState::begin`]), the others go on with the session as it is.
#[derive(Debug, Default)]
pub struct RefreshState {
    token: Mutex<Option<Secret>>,
    /// Unix seconds from which the next request refreshes; 0 = never.
    due_at: AtomicU64,
    in_flight: AtomicBool,
}

impl RefreshState {
    /// `lifetime`: seconds the IdP's access token is valid (`expires_in`).
    pub fn new(token: Option<Secret>, lifetime: Option<u64>) -> Self {
        let state = RefreshState {
            token: Mutex::new(token),
            ..RefreshState::default()
        };
        state.schedule(lifetime);
        state
    }

    fn schedule(&self, lifetime: Option<u64>) {
        let has_token = self.token.lock().map(|t| t.is_some()).unwrap_or(false);
        let due = match lifetime {
            Some(l) if has_token => now_secs() + (l * 3 / 4).max(1),
            _ => 0,
        };
        self.due_at.store(due, Ordering::Release);
    }

    pub fn is_due(&self, now: u64) -> bool {
        let due = self.due_at.load(Ordering::Acquire);
        due != 0 && now >= due
    }

    /// The refresh token, for the one caller that gets to refresh; `None` for everyone
    /// else while a refresh is in flight.
    pub fn begin(&self) -> Option<Secret> {
        if self
            .in_flight
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return None;
        }
        let token = self.token.lock().ok().and_then(|t| t.clone());
        if token.is_none() {
            self.in_flight.store(false, Ordering::Release);
        }
        token
    }

    /// A refresh succeeded: keep the rotated token (if any) and schedule the next one.
    pub fn finish(&self, rotated: Option<Secret>, lifetime: Option<u64>) {
        if let (Some(new), Ok(mut token)) = (rotated, self.token.lock()) {
            *token = Some(new);
        }
        self.schedule(lifetime);
        self.in_flight.store(false, Ordering::Release);
    }

    /// A refresh failed for a passing reason: try again in `secs`.
    pub fn retry_in(&self, secs: u64) {
        self.due_at.store(now_secs() + secs, Ordering::Release);
        self.in_flight.store(false, Ordering::Release);
    }
}

/// What the gateway knows about a signed-in shopper. Immutable once created, except
/// for the cached gateway token and the refresh state.
#[derive(Debug)]
pub struct SessionData {
    /// The site the session belongs to (shared, not copied per session).
    pub site: Arc<str>,
    pub customer: Customer,
    /// The IdP's ID token, sent as `id_token_hint` at logout.
    pub id_token: Option<String>,
    /// The IdP's refresh token, when it gave one, and when to use it.
    pub refresh: RefreshState,
    pub created_at: u64,
    /// Absolute expiry (Unix seconds); idle expiry is tracked by the store.
    pub expires_at: u64,
    /// The last `X-Customer-Token` minted for this session and its expiry.
    pub token_cache: Mutex<Option<(http::HeaderValue, u64)>>,
}

impl SessionData {
    pub fn new(
        site: Arc<str>,
        customer: Customer,
        id_token: Option<String>,
        refresh: RefreshState,
        absolute_ttl: u64,
    ) -> Self {
        let now = now_secs();
        SessionData {
            site,
            customer: customer.sanitized(),
            id_token,
            refresh,
            created_at: now,
            expires_at: now + absolute_ttl,
            token_cache: Mutex::new(None),
        }
    }
}

/// Where sessions live. Lookups are on the hot path: no lock may be held across an
/// `.await`, so the in-memory store is synchronous.
pub trait SessionStore: Send + Sync {
    /// The live session for `id`, refreshing its idle timer; `None` if unknown or expired.
    fn get(&self, id: &SessionId) -> Option<Arc<SessionData>>;
    /// Stores a new session under a fresh id and returns the id.
    fn create(&self, data: SessionData) -> SessionId;
    /// Ends a session; true when it existed.
    fn remove(&self, id: &SessionId) -> bool;
    /// Removes expired sessions; returns how many are left.
    fn sweep(&self) -> usize;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod refresh_tests {
    use super::*;

    #[test]
    fn exactly_one_caller_refreshes() {
        let r = RefreshState::new(Some(Secret::new("rt")), Some(4));
        assert!(!r.is_due(now_secs()));
        assert!(r.is_due(now_secs() + 3));
        let first = r.begin();
        assert_eq!(first.as_ref().map(Secret::expose), Some("rt"));
        assert!(
            r.begin().is_none(),
            "a second caller does not refresh while one is in flight"
        );
        r.finish(Some(Secret::new("rt2")), Some(400));
        assert!(!r.is_due(now_secs() + 200));
        assert_eq!(r.begin().as_ref().map(Secret::expose), Some("rt2"));
        r.retry_in(30);
        assert!(
            RefreshState::new(None, Some(4)).begin().is_none(),
            "no token, no refresh"
        );
        assert!(!RefreshState::new(None, Some(4)).is_due(now_secs() + 100));
    }
}
