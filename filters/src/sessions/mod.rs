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
use std::sync::{Arc, Mutex};

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What the gateway knows about a signed-in shopper. Immutable once created, except
/// for the cached gateway token.
#[derive(Debug)]
pub struct SessionData {
    /// The site the session belongs to (shared, not copied per session).
    pub site: Arc<str>,
    pub customer: Customer,
    /// The IdP's ID token, sent as `id_token_hint` at logout.
    pub id_token: Option<String>,
    /// The IdP's refresh token, when it gave one.
    pub refresh_token: Option<Secret>,
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
        refresh_token: Option<Secret>,
        absolute_ttl: u64,
    ) -> Self {
        let now = now_secs();
        SessionData {
            site,
            customer: customer.sanitized(),
            id_token,
            refresh_token,
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
