//! The embedded session store: a bounded `moka` cache keyed by the session's public
//! handle ([`Sid`]), with idle and absolute expiry per entry, LRU eviction, and a cap
//! on sessions per customer and site.
//!
//! - **Bound.** At most `sessions.max_entries` sessions; past that the least recently
//!   used goes, in O(1) — never a sweep of the whole map on insert. LRU rather than
//!   moka's default TinyLFU: TinyLFU may refuse to admit a new entry while the cache
//!   is full of "popular" ones, so a flood of sign-ins could stop a real shopper from
//!   getting a session; LRU always admits the newest.
//! - **Expiry.** Each entry holds its idle deadline, the site's idle timeout after the
//!   last write-back ([`crate::store::idle`]: a use writes it back at most once per
//!   `idle_timeout / 10`), and expires then or at its absolute expiry, whichever
//!   comes first ([`SessionExpiry`] keeps moka's timer on that instant). A lookup
//!   never returns an expired entry; housekeeping ([`SessionStore::sweep`]) frees
//!   them. Only a use ([`SessionStore::cached`], [`SessionStore::get`]) writes back;
//!   [`SessionStore::fresh`] and the support listing only look.
//! - **One process.** Everything is in this process: [`SessionStore::cached`] is the
//!   whole lookup, and the async methods answer at once and never fail.
//! - **Per customer.** When a customer signs in for the (`max_per_customer` + 1)-th
//!   time on a site, their oldest live session there ends (sessions that expired and
//!   wait for housekeeping take no place). An index (site, customer) → handles,
//!   oldest first, is kept in step by the cache's eviction listener, so it only ever
//!   names sessions the cache holds (or is about to drop).
//!
//! Locking: the eviction listener locks an index shard; moka may call it from any
//! cache operation. So no code here calls into the cache while it holds an index
//! guard (that could deadlock on the shard), and the listener never calls the cache.

use crate::secret::{SessionId, Sid};
use crate::sessions::{now_secs, SessionData};
use crate::store::idle::{self, SessionTimeouts};
use crate::store::{SessionMeta, SessionStore, StoreError};
use async_trait::async_trait;
use dashmap::DashMap;
use moka::notification::RemovalCause;
use moka::policy::{EvictionPolicy, Expiry};
use moka::sync::Cache;
use sso_config::SessionsConfig;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A stored session, the instant its absolute expiry falls on (`None`: beyond what an
/// `Instant` can hold, i.e. never in practice), and its idle deadline in milliseconds
/// after the store's epoch (moved by write-backs only).
struct Held {
    data: Arc<SessionData>,
    deadline: Option<Instant>,
    idle_until: AtomicU64,
}

type Entry = Arc<Held>;

impl Held {
    /// How long from `now` to the idle deadline (`ms`, as read from `idle_until`).
    fn idle_left(epoch: Instant, ms: u64, now: Instant) -> Duration {
        match ms {
            u64::MAX => Duration::MAX,
            ms => epoch
                .checked_add(Duration::from_millis(ms))
                .map_or(Duration::MAX, |u| u.saturating_duration_since(now)),
        }
    }

    /// When the entry expires: its idle deadline or its absolute expiry (`None`: never;
    /// an idle deadline of `u64::MAX` ms is never too).
    fn until(&self, epoch: Instant) -> Option<Instant> {
        let idle = match self.idle_until.load(Ordering::Acquire) {
            u64::MAX => None,
            ms => epoch.checked_add(Duration::from_millis(ms)),
        };
        match (idle, self.deadline) {
            (Some(i), Some(d)) => Some(i.min(d)),
            (one, other) => one.or(other),
        }
    }
}

/// Whose sessions an index line lists: 128 bits of SHA-256 over the site name and the
/// customer id (fixed size, no allocation per customer; a collision would only make
/// two customers share one cap).
type CustomerKey = [u8; 16];

/// Handles of one customer's sessions on one site, oldest first.
type CustomerIndex = DashMap<CustomerKey, VecDeque<Sid>>;

/// Expires an entry at its idle deadline or its absolute one. A read only tells moka
/// when a write-back moved the deadline (a lookup otherwise leaves the entry where it
/// is in moka's timer wheel).
struct SessionExpiry {
    epoch: Instant,
}

impl SessionExpiry {
    fn left(&self, entry: &Entry, at: Instant) -> Option<Duration> {
        entry.until(self.epoch).map(|u| u.saturating_duration_since(at))
    }
}

impl Expiry<Sid, Entry> for SessionExpiry {
    fn expire_after_create(&self, _: &Sid, entry: &Entry, created_at: Instant) -> Option<Duration> {
        self.left(entry, created_at)
    }

    fn expire_after_read(
        &self,
        _: &Sid,
        entry: &Entry,
        read_at: Instant,
        current: Option<Duration>,
        _: Instant,
    ) -> Option<Duration> {
        let left = self.left(entry, read_at);
        match (left, current) {
            (Some(l), Some(c)) if l.abs_diff(c) < Duration::from_millis(1) => current,
            _ => left,
        }
    }
}

/// Milliseconds from `epoch` to `at` (saturating).
fn millis_after(epoch: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX)
}

pub struct MemorySessionStore {
    cache: Cache<Sid, Entry>,
    by_customer: Arc<CustomerIndex>,
    max_per_customer: usize,
    timeouts: Arc<SessionTimeouts>,
    epoch: Instant,
    write_backs: AtomicU64,
}

impl MemorySessionStore {
    /// The store the gateway runs: `max_entries` and `max_per_customer` from
    /// `[sessions]`, each site's timeouts from `timeouts`.
    pub fn from_config(sessions: &SessionsConfig, timeouts: Arc<SessionTimeouts>) -> Self {
        Self::with_timeouts(timeouts, sessions.max_entries).with_max_per_customer(sessions.max_per_customer)
    }

    /// A store of at most `max_entries` sessions that expire `idle_timeout` after their
    /// last use, with no cap per customer (see [`Self::with_max_per_customer`]).
    pub fn new(idle_timeout: Duration, max_entries: usize) -> Self {
        Self::with_timeouts(SessionTimeouts::uniform(idle_timeout, Duration::MAX), max_entries)
    }

    /// A store of at most `max_entries` sessions with each site's `timeouts`.
    pub fn with_timeouts(timeouts: Arc<SessionTimeouts>, max_entries: usize) -> Self {
        let by_customer: Arc<CustomerIndex> = Arc::new(DashMap::new());
        let index = by_customer.clone();
        let epoch = Instant::now();
        let cache = Cache::builder()
            .max_capacity(max_entries.max(1) as u64)
            .eviction_policy(EvictionPolicy::lru())
            .expire_after(SessionExpiry { epoch })
            .eviction_listener(move |sid: Arc<Sid>, entry: Entry, cause| {
                // A replaced entry is still live under this handle (never happens:
                // handles come from fresh random ids, but it would not end a session).
                if cause != RemovalCause::Replaced {
                    unlist(&index, &entry.data, &sid);
                }
            })
            .build();
        MemorySessionStore {
            cache,
            by_customer,
            max_per_customer: usize::MAX,
            timeouts,
            epoch,
            write_backs: AtomicU64::new(0),
        }
    }

    /// Caps the sessions one customer may hold on one site; the oldest ends first.
    pub fn with_max_per_customer(mut self, max: usize) -> Self {
        self.max_per_customer = max.max(1);
        self
    }

    /// How many times a use wrote a session's idle deadline back (for tests: at most
    /// once per window and session).
    pub fn write_backs(&self) -> u64 {
        self.write_backs.load(Ordering::Relaxed)
    }

    /// Lines in the per-customer index (for tests: it must not outgrow the cache).
    #[cfg(test)]
    fn index_len(&self) -> usize {
        self.by_customer.len()
    }
}

fn customer_key(data: &SessionData) -> CustomerKey {
    crate::store::customer_key(&data.site, &data.customer.id)
}

/// Removes `sid` from its customer's index line, and the line once it is empty.
/// Called from the eviction listener: touches only the index.
fn unlist(index: &CustomerIndex, data: &SessionData, sid: &Sid) {
    let key = customer_key(data);
    let emptied = match index.get_mut(&key) {
        Some(mut sids) => {
            sids.retain(|s| s != sid);
            sids.is_empty()
        }
        None => false,
    };
    if emptied {
        // Re-checked under the shard lock: a sign-in may have listed a session since.
        index.remove_if(&key, |_, sids| sids.is_empty());
    }
}

impl MemorySessionStore {
    /// The live session `sid` and its entry, without writing anything back.
    fn held(&self, sid: &Sid) -> Option<(Entry, Instant)> {
        let entry = self.cache.get(sid)?;
        let now = Instant::now();
        let live = entry.until(self.epoch).is_none_or(|u| now < u)
            && self.timeouts.of(&entry.data.site).is_live(&entry.data, now_secs());
        live.then_some((entry, now))
    }

    /// The live session `sid`, without counting a use (see [`SessionStore::fresh`]).
    pub fn lookup(&self, sid: &Sid) -> Option<Arc<SessionData>> {
        self.held(sid).map(|(entry, _)| entry.data.clone())
    }

    /// The live session `sid`, used now: its idle deadline is written back when the
    /// rule of [`idle::write_back`] says so, by exactly one of concurrent users.
    pub fn touch(&self, sid: &Sid) -> Option<Arc<SessionData>> {
        let (entry, now) = self.held(sid)?;
        let unix = now_secs();
        let timeouts = self.timeouts.of(&entry.data.site);
        let seen = entry.idle_until.load(Ordering::Acquire);
        let left = Held::idle_left(self.epoch, seen, now);
        let to_end = Duration::from_secs(timeouts.ends_at(&entry.data).saturating_sub(unix));
        if let Some(next) = idle::write_back(left, timeouts, to_end) {
            let until = now.checked_add(next).map_or(u64::MAX, |u| millis_after(self.epoch, u));
            let won = entry
                .idle_until
                .compare_exchange(seen, until, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
            if won {
                self.write_backs.fetch_add(1, Ordering::Relaxed);
                // A read is what tells moka the entry's new expiry.
                let _ = self.cache.get(sid);
            }
        }
        entry.data.seen(unix);
        Some(entry.data.clone())
    }

    /// Unix second the session's idle deadline falls on, if it is live.
    pub fn idle_deadline(&self, sid: &Sid) -> Option<u64> {
        let (entry, now) = self.held(sid)?;
        let left = Held::idle_left(self.epoch, entry.idle_until.load(Ordering::Acquire), now);
        Some(idle::unix_after(left))
    }

    /// Stores a new session and returns its id (see [`SessionStore::create`]).
    pub fn insert(&self, data: SessionData) -> SessionId {
        let id = SessionId::random();
        let sid = Sid::of(&id);
        let key = customer_key(&data);
        self.forget_expired(&key);
        // Listed before it is stored, so the eviction listener always finds it; the
        // guard is dropped before the cache is touched.
        let ended: Vec<Sid> = {
            // Most customers hold one session: start with room for exactly one.
            let mut sids = self
                .by_customer
                .entry(key)
                .or_insert_with(|| VecDeque::with_capacity(1));
            sids.push_back(sid);
            let over = sids.len().saturating_sub(self.max_per_customer);
            sids.drain(..over).collect()
        };
        let now = Instant::now();
        let timeouts = self.timeouts.of(&data.site);
        let left = Duration::from_secs(timeouts.ends_at(&data).saturating_sub(now_secs()));
        let idle_until = now
            .checked_add(timeouts.idle.min(left))
            .map_or(u64::MAX, |u| millis_after(self.epoch, u));
        let entry = Arc::new(Held {
            deadline: now.checked_add(Duration::from_secs(data.expires_at.saturating_sub(now_secs()))),
            data: Arc::new(data),
            idle_until: AtomicU64::new(idle_until),
        });
        self.cache.insert(sid, entry);
        for old in &ended {
            self.cache.invalidate(old);
        }
        // A concurrent sign-in of the same customer may have ended this session in the
        // index before it was stored: then it must not live on unlisted (over the cap).
        let listed = self.by_customer.get(&key).is_some_and(|sids| sids.contains(&sid));
        if !listed {
            self.cache.invalidate(&sid);
        }
        id
    }

    /// Drops from a customer's index line the sessions that expired and wait for
    /// housekeeping, so they take no place under the cap. Looked up with no guard
    /// held; a session the line gained meanwhile is kept.
    fn forget_expired(&self, key: &CustomerKey) {
        let listed: Vec<Sid> = match self.by_customer.get(key) {
            Some(sids) if sids.len() >= self.max_per_customer => sids.iter().copied().collect(),
            _ => return,
        };
        let gone: Vec<Sid> = listed.into_iter().filter(|s| !self.cache.contains_key(s)).collect();
        if gone.is_empty() {
            return;
        }
        if let Some(mut sids) = self.by_customer.get_mut(key) {
            sids.retain(|s| !gone.contains(s));
        }
    }

    /// Ends a session; true when it existed.
    pub fn delete(&self, sid: &Sid) -> bool {
        self.cache.remove(sid).is_some()
    }

    /// Handles of one customer's sessions on one site, oldest first.
    fn listed(&self, site: &str, customer: &str) -> Vec<Sid> {
        let key = crate::store::customer_key(site, customer);
        // Copied out: the guard must be gone before the cache is touched.
        self.by_customer
            .get(&key)
            .map(|sids| sids.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Exact: pending evictions and expiries are applied first.
    pub fn count(&self) -> usize {
        self.cache.run_pending_tasks();
        usize::try_from(self.cache.entry_count()).unwrap_or(usize::MAX)
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    fn cached(&self, sid: &Sid) -> Option<Arc<SessionData>> {
        self.touch(sid)
    }

    async fn get(&self, sid: &Sid) -> Result<Option<Arc<SessionData>>, StoreError> {
        Ok(self.touch(sid))
    }

    async fn fresh(&self, sid: &Sid) -> Result<Option<Arc<SessionData>>, StoreError> {
        Ok(self.lookup(sid))
    }

    async fn idle_until(&self, sid: &Sid) -> Result<Option<u64>, StoreError> {
        Ok(self.idle_deadline(sid))
    }

    fn timeouts(&self) -> &Arc<SessionTimeouts> {
        &self.timeouts
    }

    async fn create(&self, data: SessionData) -> Result<SessionId, StoreError> {
        Ok(self.insert(data))
    }

    /// The stored session is the one the caller changed: nothing to write.
    async fn save(&self, _: &Sid, _: &SessionData) -> Result<(), StoreError> {
        Ok(())
    }

    async fn remove(&self, sid: &Sid) -> Result<bool, StoreError> {
        Ok(self.delete(sid))
    }

    async fn customer_sessions(&self, site: &str, customer: &str) -> Result<Vec<SessionMeta>, StoreError> {
        Ok(self
            .listed(site, customer)
            .into_iter()
            .filter_map(|sid| {
                let data = self.lookup(&sid)?;
                Some(SessionMeta {
                    sid: sid.encode(),
                    created_at: data.created_at,
                    last_seen: data.last_seen.load(Ordering::Relaxed),
                    expires_at: self.timeouts.of(&data.site).ends_at(&data),
                })
            })
            .collect())
    }

    async fn end_customer_sessions(&self, site: &str, customer: &str) -> Result<usize, StoreError> {
        Ok(self
            .listed(site, customer)
            .into_iter()
            .filter(|sid| self.delete(sid))
            .count())
    }

    fn sweep(&self) -> usize {
        self.count()
    }

    fn len(&self) -> usize {
        self.count()
    }
}

#[cfg(test)]
#[path = "memory_sessions_tests.rs"]
mod tests;
