//! Where the gateway's state lives: one async, fallible trait per kind of state, each
//! with an in-memory implementation (one process) and a Redis one (replicas that act as
//! one). Both pass the same test suite (`suite`).
//!
//! - [`SessionStore`]: signed-in shoppers, keyed by their public handle [`Sid`]. A hot,
//!   synchronous path ([`SessionStore::cached`]) serves what this process holds fresh;
//!   the async path reaches the shared store. Each site's idle and absolute timeouts,
//!   and how rarely a use is written back, are in [`idle`].
//! - [`SingleUse`]: entries taken exactly once, atomically, whatever replica asks first
//!   (pending logins; later customer-login `jti`s and one-time tokens).
//! - [`Records`]: small per-key records with a TTL, and `put_new` for short locks.
//! - [`Sets`]: small sets of strings with a TTL (sessions linked to one another).
//!
//! What is only a per-process cache (the minted `X-Customer-Token`, the refresh
//! in-flight flag) stays in [`SessionData`] and is never stored.

pub mod idle;
pub mod kv_memory;
pub mod memory_sessions;
pub mod record;
pub mod redis;
pub mod seal;
#[cfg(test)]
mod suite;
#[cfg(test)]
mod suite_idle;
#[cfg(any(test, feature = "test-support"))]
pub mod test_redis;
#[cfg(any(test, feature = "test-support"))]
pub mod test_redis_ha;

use crate::secret::{SessionId, Sid};
use crate::sessions::SessionData;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// Why a store could not answer. The request that needed it gets a clear 503 (or goes
/// on anonymous where that is safe); nothing is half-written.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The shared store cannot be reached or refused the command.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    /// A stored value could not be read (another version, or damaged): treated as absent.
    #[error("stored value unreadable: {0}")]
    Corrupt(String),
}

/// Whose sessions a per-customer index line lists, in every store: 128 bits of
/// SHA-256 over the site name and the customer id (fixed size; a collision would only
/// make two customers share one cap and one admin `DELETE`).
pub fn customer_key(site: &str, customer: &str) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"sso-gateway customer sessions v1")
        .chain_update((site.len() as u64).to_be_bytes())
        .chain_update(site.as_bytes())
        .chain_update(customer.as_bytes())
        .finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// A store key made of `parts`: hex SHA-256 over each part with its length in front
/// (so `("ab", "c")` and `("a", "bc")` differ). The store never holds the parts.
pub fn hashed_key(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// What support staff see of a session: never a credential.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionMeta {
    /// The session's public handle (the `sid` of its tokens).
    pub sid: String,
    pub created_at: u64,
    /// Last use, as far as the store knows (on Redis, its last write-back: to within
    /// a tenth of the site's idle timeout).
    pub last_seen: u64,
    /// When it ends whether used or not (the sooner of its sealed expiry and its
    /// creation plus the site's absolute timeout).
    pub expires_at: u64,
}

/// Sessions, keyed by [`Sid`] (never by the cookie's secret [`SessionId`]).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The hot path, for a request of the session's own site that shows it (a use):
    /// the live session `sid` if this process holds it fresh, without waiting on
    /// anything. `None` means "ask [`Self::get`]", not "anonymous" (also when the use
    /// is due to be written back: [`idle::write_back`]).
    fn cached(&self, sid: &Sid) -> Option<Arc<SessionData>>;

    /// A use of the live session `sid`, from the store itself: refreshes this
    /// process's cache and writes the idle deadline back when
    /// [`idle::write_back`] says so (at most once per window and session, across
    /// replicas). For when [`Self::cached`] had nothing; `Ok(None)` if unknown,
    /// expired or ended.
    async fn get(&self, sid: &Sid) -> Result<Option<Arc<SessionData>>, StoreError>;

    /// The session as the shared store has it now, bypassing this process's cache
    /// (a refresh reads it under its lock: another replica may have rotated the
    /// token). Only a look: it writes nothing back, so another site checking that a
    /// session lives keeps it no longer.
    async fn fresh(&self, sid: &Sid) -> Result<Option<Arc<SessionData>>, StoreError>;

    /// The Unix second the live session `sid` ends at if it is not used again: its
    /// idle deadline as the store holds it (this process's copy may know an earlier
    /// one than another replica wrote since: never a later one). `None` if not live.
    async fn idle_until(&self, sid: &Sid) -> Result<Option<u64>, StoreError>;

    /// Every site's timeouts, as this store applies them; a reload sets them.
    fn timeouts(&self) -> &Arc<idle::SessionTimeouts>;

    /// Stores a new session under a fresh id and returns the id (for the cookie). A
    /// customer holding `max_per_customer` sessions on the site loses the oldest.
    async fn create(&self, data: SessionData) -> Result<SessionId, StoreError>;

    /// Writes a session's changed refresh state back (after a refresh), keeping its
    /// expiry and its idle deadline (a refresh is no use: the request that caused it
    /// was); other replicas drop their cached copy.
    async fn save(&self, sid: &Sid, data: &SessionData) -> Result<(), StoreError>;

    /// Ends a session everywhere; true when it existed.
    async fn remove(&self, sid: &Sid) -> Result<bool, StoreError>;

    /// The live sessions of one customer on one site.
    async fn customer_sessions(&self, site: &str, customer: &str) -> Result<Vec<SessionMeta>, StoreError>;

    /// Ends every session of one customer on one site, on every replica; how many.
    async fn end_customer_sessions(&self, site: &str, customer: &str) -> Result<usize, StoreError>;

    /// Housekeeping of what this process holds: frees expired entries; how many are left.
    fn sweep(&self) -> usize;

    /// Sessions held by this process (all of them in memory; the L1 cache on Redis).
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Entries taken exactly once (`put`, then an atomic `take`): two replicas racing for
/// one entry yield exactly one winner.
#[async_trait]
pub trait SingleUse: Send + Sync {
    /// Stores `value` under (`kind`, `key`) for `ttl`, replacing any entry there.
    async fn put(&self, kind: &str, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError>;
    /// Removes and returns the entry, if it exists and has not expired.
    async fn take(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Housekeeping of what this process holds (memory only; Redis expires by itself).
    fn sweep(&self) {}
}

/// Small records with a TTL.
#[async_trait]
pub trait Records: Send + Sync {
    async fn put(&self, kind: &str, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError>;
    /// Stores only when nothing is there (`SET NX`): true when this call stored it.
    async fn put_new(&self, kind: &str, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError>;
    async fn get(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Deletes the record only when it still holds `value` (releasing one's own lock).
    async fn delete_if(&self, kind: &str, key: &str, value: &[u8]) -> Result<bool, StoreError>;
}

/// Small sets of strings with a TTL: the local sessions linked to an SSO session, the
/// sessions an IdP session signed in (for back-channel logout). Whatever ends "all of
/// them" reads the set, so a member must never be lost silently: a set that is full
/// refuses a new member instead of dropping an old one.
#[async_trait]
pub trait Sets: Send + Sync {
    /// Adds `member`, keeping the set at least `ttl` longer. False (and nothing
    /// changed) when the set already holds `max` members and not this one.
    async fn add(&self, kind: &str, key: &str, member: &str, ttl: Duration, max: usize) -> Result<bool, StoreError>;
    async fn remove(&self, kind: &str, key: &str, member: &str) -> Result<(), StoreError>;
    /// The members, in no particular order (empty when the set is unknown or expired).
    async fn members(&self, kind: &str, key: &str) -> Result<Vec<String>, StoreError>;
    /// Forgets the whole set.
    async fn delete(&self, kind: &str, key: &str) -> Result<(), StoreError>;
}

/// Most sets held in memory (each is made by a verified sign-in, like a session).
pub const MAX_SETS: usize = 1_000_000;

/// Most one-time marks held in memory. A mark lives a few tens of seconds and only a
/// verified token makes one, so this is far more than a shop signs in meanwhile.
pub const MAX_SPENT_MARKS: usize = 200_000;

/// The stores of one gateway process, built once and kept across reloads.
#[derive(Clone)]
pub struct Stores {
    pub sessions: Arc<dyn SessionStore>,
    pub single_use: Arc<dyn SingleUse>,
    pub records: Arc<dyn Records>,
    /// Marks of things used once (a customer-login JWT's `jti`): `put_new` says
    /// whether it was already used. In memory this is its own bounded cache, so a
    /// flood of started logins cannot evict a mark and reopen a replay.
    pub spent: Arc<dyn Records>,
    /// Sets of members (linked sessions). In memory their own cache, so a flood of
    /// started logins cannot evict one and let a session escape a global logout.
    pub sets: Arc<dyn Sets>,
    /// Rate-limit counts every replica shares (Redis); `None` in memory, where each
    /// limiter counts on its own.
    pub rate_counts: Option<Arc<redis::rate_counts::RedisRateCounts>>,
    /// `memory` or `redis`, for metrics and logs.
    pub kind: &'static str,
}

/// The background work of the Redis stores: the health ping and the eviction
/// subscription. The gateway runs it for the life of the process.
pub struct RedisTasks {
    pub conn: Arc<redis::RedisConn>,
    sessions: Arc<redis::sessions::RedisSessionStore>,
}

impl RedisTasks {
    /// Ready: Redis answers pings and the eviction subscription is up.
    pub fn health(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let (conn, sessions) = (self.conn.clone(), self.sessions.clone());
        move || conn.is_healthy() && sessions.is_subscribed()
    }

    /// Which Redis server is in use and since when (`/readyz`, metrics).
    pub fn status(&self) -> impl Fn() -> redis::RedisStatus + Send + Sync + 'static {
        let conn = self.conn.clone();
        move || conn.status()
    }

    pub async fn run(self) {
        tokio::join!(self.conn.run_health(), self.sessions.run_evictions());
    }
}

impl Stores {
    /// Sessions, single-use entries and records in Redis (`sessions.store = "redis"`).
    /// Nothing connects until [`RedisTasks::run`] runs.
    pub fn redis(
        target: &redis::RedisTarget,
        prefix: &str,
        config: redis::sessions::RedisSessionsConfig,
        on_error: redis::ErrorHook,
    ) -> Result<(Self, RedisTasks), StoreError> {
        let conn = redis::RedisConn::new(target, prefix, on_error)?;
        let sessions = Arc::new(redis::sessions::RedisSessionStore::new(conn.clone(), config));
        let kv = Arc::new(redis::RedisKv::new(conn.clone()));
        let stores = Stores {
            sessions: sessions.clone(),
            single_use: kv.clone(),
            records: kv.clone(),
            spent: kv.clone(),
            sets: kv,
            rate_counts: Some(Arc::new(redis::rate_counts::RedisRateCounts::new(conn.clone()))),
            kind: "redis",
        };
        Ok((stores, RedisTasks { conn, sessions }))
    }

    /// Everything in this process's memory. Single-use entries (pending logins,
    /// one-time tokens, adopt grants) are bounded at `max_entries` **per kind**; records
    /// (SSO sessions, their data, locks), which only verified sign-ins make, and sets
    /// have bounds of their own like sessions: a flood of one kind never evicts another.
    pub fn memory(sessions: memory_sessions::MemorySessionStore, max_entries: usize) -> Self {
        Stores {
            sessions: Arc::new(sessions),
            single_use: Arc::new(kv_memory::MemoryKv::new(max_entries)),
            records: Arc::new(kv_memory::MemoryKv::new(MAX_SETS)),
            spent: Arc::new(kv_memory::MemoryKv::new(MAX_SPENT_MARKS)),
            sets: Arc::new(kv_memory::MemoryKv::new(MAX_SETS)),
            rate_counts: None,
            kind: "memory",
        }
    }
}
