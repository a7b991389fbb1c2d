//! The embedded session store: a bounded `moka` cache keyed by the session's public
//! handle ([`Sid`]), with idle and absolute expiry per entry, LRU eviction, and a cap
//! on sessions per customer and site.
//!
//! - **Bound.** At most `sessions.max_entries` sessions; past that the least recently
//!   used goes, in O(1) — never a sweep of the whole map on insert. LRU rather than
//!   moka's default TinyLFU: TinyLFU may refuse to admit a new entry while the cache
//!   is full of "popular" ones, so a flood of sign-ins could stop a real shopper from
//!   getting a session; LRU always admits the newest.
//! - **Expiry.** Each entry expires `idle_timeout` after its last use (moka's
//!   time-to-idle) and at its absolute expiry ([`SessionExpiry`], set once at
//!   creation), whichever comes first. A lookup never returns an expired entry;
//!   housekeeping ([`SessionStore::sweep`]) frees them.
//! - **One process.** Everything is in this process: [`SessionStore::cached`] is the
//!   whole lookup, and the async methods answer at once and never fail.
//! - **Per customer.** When a customer signs in for the (`max_per_customer` + 1)-th
//!   time on a site, their oldest session there ends. An index (site, customer) →
//!   handles, oldest first, is kept in step by the cache's eviction listener, so it
//!   only ever names sessions the cache holds (or is about to drop).
//!
//! Locking: the eviction listener locks an index shard; moka may call it from any
//! cache operation. So no code here calls into the cache while it holds an index
//! guard (that could deadlock on the shard), and the listener never calls the cache.

use crate::secret::{SessionId, Sid};
use crate::sessions::{now_secs, SessionData};
use crate::store::{SessionMeta, SessionStore, StoreError};
use async_trait::async_trait;
use dashmap::DashMap;
use moka::notification::RemovalCause;
use moka::policy::{EvictionPolicy, Expiry};
use moka::sync::Cache;
use sso_config::SessionsConfig;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A stored session and the instant its absolute expiry falls on (`None`: beyond
/// what an `Instant` can hold, i.e. never in practice).
#[derive(Clone)]
struct Entry {
    data: Arc<SessionData>,
    deadline: Option<Instant>,
}

/// Whose sessions an index line lists: 128 bits of SHA-256 over the site name and the
/// customer id (fixed size, no allocation per customer; a collision would only make
/// two customers share one cap).
type CustomerKey = [u8; 16];

/// Handles of one customer's sessions on one site, oldest first.
type CustomerIndex = DashMap<CustomerKey, VecDeque<Sid>>;

/// Expires an entry at its absolute deadline. Set once, at creation: reads leave it
/// alone (the idle timeout is moka's time-to-idle), so a lookup never has to move
/// the entry in moka's timer wheel.
struct SessionExpiry;

impl Expiry<Sid, Entry> for SessionExpiry {
    fn expire_after_create(&self, _: &Sid, entry: &Entry, created_at: Instant) -> Option<Duration> {
        entry.deadline.map(|d| d.saturating_duration_since(created_at))
    }
}

/// Longest idle timeout handed to moka (which refuses more than 1000 years).
const MAX_IDLE: Duration = Duration::from_secs(100 * 365 * 86_400);

pub struct MemorySessionStore {
    cache: Cache<Sid, Entry>,
    by_customer: Arc<CustomerIndex>,
    max_per_customer: usize,
}

impl MemorySessionStore {
    /// The store the gateway runs: `idle_timeout`, `max_entries` and
    /// `max_per_customer` from `[sessions]`.
    pub fn from_config(sessions: &SessionsConfig) -> Self {
        Self::new(sessions.idle_timeout, sessions.max_entries).with_max_per_customer(sessions.max_per_customer)
    }

    /// A store of at most `max_entries` sessions that expire `idle_timeout` after their
    /// last use, with no cap per customer (see [`Self::with_max_per_customer`]).
    pub fn new(idle_timeout: Duration, max_entries: usize) -> Self {
        let by_customer: Arc<CustomerIndex> = Arc::new(DashMap::new());
        let index = by_customer.clone();
        let cache = Cache::builder()
            .max_capacity(max_entries.max(1) as u64)
            .eviction_policy(EvictionPolicy::lru())
            .time_to_idle(idle_timeout.min(MAX_IDLE))
            .expire_after(SessionExpiry)
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
        }
    }

    /// Caps the sessions one customer may hold on one site; the oldest ends first.
    pub fn with_max_per_customer(mut self, max: usize) -> Self {
        self.max_per_customer = max.max(1);
        self
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
    /// The live session `sid`, refreshing its idle timer.
    pub fn lookup(&self, sid: &Sid) -> Option<Arc<SessionData>> {
        self.cache.get(sid).map(|entry| entry.data)
    }

    /// Stores a new session and returns its id (see [`SessionStore::create`]).
    pub fn insert(&self, data: SessionData) -> SessionId {
        let id = SessionId::random();
        let sid = Sid::of(&id);
        let key = customer_key(&data);
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
        let left = data.expires_at.saturating_sub(now_secs());
        let entry = Entry {
            deadline: Instant::now().checked_add(Duration::from_secs(left)),
            data: Arc::new(data),
        };
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
        let data = self.lookup(sid)?;
        data.seen(now_secs());
        Some(data)
    }

    async fn get(&self, sid: &Sid) -> Result<Option<Arc<SessionData>>, StoreError> {
        Ok(self.cached(sid))
    }

    async fn fresh(&self, sid: &Sid) -> Result<Option<Arc<SessionData>>, StoreError> {
        Ok(self.lookup(sid))
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
        let now = now_secs();
        Ok(self
            .listed(site, customer)
            .into_iter()
            .filter_map(|sid| {
                let data = self.cache.get(&sid)?.data;
                data.is_live(now).then(|| SessionMeta {
                    sid: sid.encode(),
                    created_at: data.created_at,
                    last_seen: data.last_seen.load(std::sync::atomic::Ordering::Relaxed),
                    expires_at: data.expires_at,
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
mod tests {
    use super::*;
    use crate::identity::Customer;

    fn session(site: &str, customer: &str, ttl: u64) -> SessionData {
        SessionData::new(
            site.into(),
            Customer {
                id: customer.into(),
                ..Customer::default()
            },
            None,
            Default::default(),
            ttl,
        )
    }

    fn data(ttl: u64) -> SessionData {
        session("shop", "alice", ttl)
    }

    fn live(store: &MemorySessionStore, id: &SessionId) -> bool {
        store.lookup(&Sid::of(id)).is_some()
    }

    #[test]
    fn create_get_remove() {
        let store = MemorySessionStore::new(Duration::from_secs(60), 10);
        let id = store.insert(data(3600));
        let sid = Sid::of(&id);
        assert_eq!(store.lookup(&sid).map(|s| s.customer.id.clone()), Some("alice".into()));
        assert!(store.lookup(&Sid::of(&SessionId::random())).is_none());
        assert_eq!(store.count(), 1);
        assert!(store.delete(&sid));
        assert!(!store.delete(&sid), "already gone");
        assert!(store.lookup(&sid).is_none());
        assert_eq!(store.count(), 0);
        assert_eq!(store.index_len(), 0, "the index forgets an ended session");
    }

    #[test]
    fn absolute_and_idle_expiry() {
        let store = MemorySessionStore::new(Duration::from_secs(60), 10);
        let expired = store.insert(data(0));
        assert!(
            !live(&store, &expired),
            "a session past its absolute expiry is not served"
        );
        let idle = MemorySessionStore::new(Duration::ZERO, 10);
        let id = idle.insert(data(3600));
        assert!(!live(&idle, &id), "a session idle for idle_timeout is not served");
        // Housekeeping frees expired entries once moka's timer wheel passes them
        // (about a second): then they leave the count and the per-customer index.
        let deadline = Instant::now() + Duration::from_secs(10);
        for s in [&store, &idle] {
            while s.count() > 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            assert_eq!(s.count(), 0);
            assert_eq!(s.index_len(), 0, "an expired session leaves the index");
        }
    }

    #[test]
    fn the_absolute_deadline_is_set_at_creation_and_kept_by_reads() {
        let now = Instant::now();
        let sid = Sid::of(&SessionId::random());
        let entry = |deadline| Entry {
            data: Arc::new(data(3600)),
            deadline,
        };
        let near = entry(Some(now + Duration::from_secs(60)));
        assert_eq!(
            SessionExpiry.expire_after_create(&sid, &near, now),
            Some(Duration::from_secs(60))
        );
        let later = now + Duration::from_secs(30);
        let left = Some(Duration::from_secs(30));
        assert_eq!(
            SessionExpiry.expire_after_read(&sid, &near, later, left, now),
            left,
            "a read does not move the absolute expiry"
        );
        assert_eq!(
            SessionExpiry.expire_after_create(&sid, &near, now + Duration::from_secs(61)),
            Some(Duration::ZERO)
        );
        assert_eq!(SessionExpiry.expire_after_create(&sid, &entry(None), now), None);
        // Timeouts too far off for an Instant (or for moka) are "never", not a panic.
        let store = MemorySessionStore::new(Duration::MAX, 10);
        let id = store.insert(data(u64::MAX));
        assert!(live(&store, &id));
    }

    #[test]
    fn the_bound_evicts_the_least_recently_used() {
        let store = MemorySessionStore::new(Duration::from_secs(60), 3);
        let ids: Vec<_> = (0..3)
            .map(|i| store.insert(session("shop", &format!("c{i}"), 3600)))
            .collect();
        store.count();
        assert!(live(&store, &ids[0]), "the oldest session was used just now");
        store.count();
        let newest = store.insert(session("shop", "c3", 3600));
        assert_eq!(store.count(), 3);
        assert!(live(&store, &newest), "a new session is always admitted");
        assert!(live(&store, &ids[0]), "recently used: kept");
        assert!(!live(&store, &ids[1]), "least recently used: evicted");
        assert!(live(&store, &ids[2]));
        assert_eq!(store.index_len(), 3, "the evicted customer left the index");

        // A flood of sign-ins never locks out the next shopper.
        for i in 0..50 {
            store.insert(session("shop", &format!("flood{i}"), 3600));
        }
        let shopper = store.insert(session("shop", "real", 3600));
        assert!(live(&store, &shopper));
        assert!(store.count() <= 3);
        assert!(store.index_len() <= 3);
    }

    #[test]
    fn a_customer_holds_at_most_max_per_customer_sessions_per_site() {
        let store = MemorySessionStore::new(Duration::from_secs(60), 100).with_max_per_customer(2);
        let first = store.insert(session("shop", "alice", 3600));
        let other_site = store.insert(session("outlet", "alice", 3600));
        let bob = store.insert(session("shop", "bob", 3600));
        let second = store.insert(session("shop", "alice", 3600));
        assert!(live(&store, &first) && live(&store, &second));
        let third = store.insert(session("shop", "alice", 3600));
        assert!(!live(&store, &first), "the oldest session ends at once");
        assert!(live(&store, &second) && live(&store, &third));
        assert!(live(&store, &other_site), "another site's sessions do not count");
        assert!(live(&store, &bob), "another customer's sessions do not count");
        let fourth = store.insert(session("shop", "alice", 3600));
        assert!(!live(&store, &second));
        assert!(live(&store, &third) && live(&store, &fourth));
        assert_eq!(store.count(), 4);

        // Ending a session frees its place: no other session is ended for the next.
        assert!(store.delete(&Sid::of(&third)));
        let fifth = store.insert(session("shop", "alice", 3600));
        assert!(live(&store, &fourth) && live(&store, &fifth));
    }

    #[test]
    fn concurrent_sign_ins_and_evictions_neither_deadlock_nor_leak() {
        let store = Arc::new(MemorySessionStore::new(Duration::from_secs(60), 16).with_max_per_customer(2));
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..2_000 {
                        let id = store.insert(session("shop", &format!("c{}", (i + t) % 7), 3600));
                        if i % 3 == 0 {
                            store.delete(&Sid::of(&id));
                        }
                        store.lookup(&Sid::of(&id));
                    }
                })
            })
            .collect();
        for w in workers {
            assert!(w.join().is_ok(), "a worker panicked");
        }
        assert!(store.count() <= 16);
        assert!(
            store.index_len() <= store.count(),
            "every index line names a live session"
        );
        let listed: usize = store.by_customer.iter().map(|l| l.len()).sum();
        assert_eq!(listed, store.count(), "the index lists exactly the stored sessions");
    }
}
