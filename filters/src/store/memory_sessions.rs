//! The embedded session store: a sharded open-addressing table keyed by the
//! session's public handle ([`Sid`], see [`crate::store::session_table`]), with idle
//! and absolute expiry per entry, second-chance ("CLOCK") eviction, and a cap on
//! sessions per customer and site.
//!
//! - **Bound.** At most `sessions.max_entries` sessions. Every lookup of a live
//!   session marks it *referenced* (one bit in its slot, written only when not yet
//!   set). Handles wait in a queue in the order they were stored; past the bound the
//!   hand takes the queue's front: a referenced entry loses its mark and goes to the
//!   back (a second chance), the first unreferenced one is evicted, and the session
//!   being stored is never the one. So a session used since the hand last passed it
//!   outlives every session not used since (idle ones, or a flood of new sign-ins,
//!   which start unreferenced), and those go oldest first; a new session is always
//!   admitted. That is LRU at the granularity of one turn of the hand, in O(1)
//!   amortised per sign-in, and the lookup writes nothing shared but that bit.
//! - **Expiry.** Each entry holds its idle deadline, the site's idle timeout after the
//!   last write-back ([`crate::store::idle`]: a use writes it back at most once per
//!   `idle_timeout / 10`), and expires then or at its absolute end, whichever comes
//!   first. Times come from [`CoarseClock`] (milliseconds; Unix seconds for the
//!   absolute end). A lookup never returns an expired entry; housekeeping
//!   ([`SessionStore::sweep`]) frees them. Only a use ([`SessionStore::cached`],
//!   [`SessionStore::get`]) writes back; [`SessionStore::fresh`] and the support
//!   listing only look.
//! - **One process.** Everything is in this process: [`SessionStore::cached`] is the
//!   whole lookup, and the async methods answer at once and never fail.
//! - **Per customer.** When a customer signs in for the (`max_per_customer` + 1)-th
//!   time on a site, their oldest live session there ends (sessions that expired and
//!   wait for housekeeping take no place). An index (site, customer) → handles,
//!   oldest first, is kept in step by every removal (end, eviction, expiry), so it
//!   only ever names sessions the table holds (or is about to drop).
//!
//! Locking, always in this order and never back: the eviction queue, then one table
//! shard; an index shard is never held while either is taken.

use crate::secret::{SessionId, Sid};
use crate::sessions::SessionData;
use crate::store::coarse_clock::CoarseClock;
use crate::store::idle::{self, SessionTimeouts, SiteTimeouts};
use crate::store::session_table::{hash, SessionTable, IDLE_NEVER, REFERENCED};
use crate::store::{SessionMeta, SessionStore, StoreError};
use async_trait::async_trait;
use dashmap::DashMap;
use sso_config::SessionsConfig;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Whose sessions an index line lists: 128 bits of SHA-256 over the site name and the
/// customer id (fixed size, no allocation per customer; a collision would only make
/// two customers share one cap).
type CustomerKey = [u8; 16];

/// Handles of one customer's sessions on one site, oldest first. A boxed slice (16
/// bytes in the map, most lines hold one handle) rather than a `VecDeque` (32): the
/// map's buckets are about half empty at 1 M customers, so this is ~33 B a session.
/// A line is rebuilt when it changes, at sign-in and end only.
type CustomerIndex = DashMap<CustomerKey, Box<[Sid]>>;

/// `sids` without those `gone` says.
fn without(sids: &[Sid], gone: impl Fn(&Sid) -> bool) -> Box<[Sid]> {
    sids.iter().filter(|s| !gone(s)).copied().collect()
}

/// One reading of the store's clock.
#[derive(Clone, Copy)]
struct Now {
    millis: u64,
    unix: u64,
}

/// The idle deadline `after` from `millis` (all ones: never).
fn idle_after(millis: u64, after: Duration) -> u64 {
    let after = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
    millis.saturating_add(after).min(IDLE_NEVER)
}

/// How long from `now` to the idle deadline of `state`.
fn idle_left(state: u64, now: Now) -> Duration {
    match state & IDLE_NEVER {
        IDLE_NEVER => Duration::MAX,
        until => Duration::from_millis(until.saturating_sub(now.millis)),
    }
}

pub struct MemorySessionStore {
    table: SessionTable,
    /// Handles in the order the eviction hand meets them (and handles of sessions
    /// ended since, dropped when the hand or a compaction finds them).
    queue: Mutex<VecDeque<Sid>>,
    held: AtomicUsize,
    max_entries: usize,
    by_customer: CustomerIndex,
    max_per_customer: usize,
    timeouts: Arc<SessionTimeouts>,
    clock: Arc<CoarseClock>,
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
        MemorySessionStore {
            table: SessionTable::default(),
            queue: Mutex::new(VecDeque::new()),
            held: AtomicUsize::new(0),
            max_entries: max_entries.max(1),
            by_customer: DashMap::new(),
            max_per_customer: usize::MAX,
            timeouts,
            clock: CoarseClock::shared(),
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

    /// Lines in the per-customer index (for tests: it must not outgrow the table).
    #[cfg(test)]
    fn index_len(&self) -> usize {
        self.by_customer.len()
    }

    fn now(&self) -> Now {
        Now {
            millis: self.clock.millis(),
            unix: self.clock.unix(),
        }
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<Sid>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn customer_key(data: &SessionData) -> CustomerKey {
    crate::store::customer_key(&data.site, &data.customer.id)
}

/// Removes `sid` from its customer's index line, and the line once it is empty.
/// Touches only the index.
fn unlist(index: &CustomerIndex, data: &SessionData, sid: &Sid) {
    let key = customer_key(data);
    let emptied = match index.get_mut(&key) {
        Some(mut sids) => {
            if sids.contains(sid) {
                *sids = without(&sids, |s| s == sid);
            }
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
    /// True while an entry of `data` with `state` is live at `now`.
    fn alive(&self, data: &SessionData, state: u64, timeouts: SiteTimeouts, now: Now) -> bool {
        now.millis < state & IDLE_NEVER && timeouts.is_live(data, now.unix)
    }

    /// Runs `f` on the live session `sid` under its shard's read lock (with its state
    /// word, the state read, its site's timeouts and the time), after marking it
    /// referenced.
    #[inline]
    fn with_live<R>(
        &self,
        sid: &Sid,
        f: impl FnOnce(&Arc<SessionData>, &AtomicU64, u64, SiteTimeouts, Now) -> R,
    ) -> Option<R> {
        let h = hash(sid);
        let shard = self.table.read(h)?;
        let slot = shard.find(sid, h)?;
        let (_, data) = slot.entry.as_ref()?;
        let state = slot.state.load(Ordering::Acquire);
        let now = self.now();
        let timeouts = self.timeouts.of(&data.site);
        if !self.alive(data, state, timeouts, now) {
            return None;
        }
        if state & REFERENCED == 0 {
            slot.state.fetch_or(REFERENCED, Ordering::Relaxed);
        }
        Some(f(data, &slot.state, state, timeouts, now))
    }

    /// The live session `sid`, without counting a use (see [`SessionStore::fresh`]).
    pub fn lookup(&self, sid: &Sid) -> Option<Arc<SessionData>> {
        self.with_live(sid, |data, _, _, _, _| data.clone())
    }

    /// The live session `sid`, used now: its idle deadline is written back when the
    /// rule of [`idle::write_back`] says so, by exactly one of concurrent users.
    pub fn touch(&self, sid: &Sid) -> Option<Arc<SessionData>> {
        self.with_live(sid, |data, word, seen, timeouts, now| {
            let to_end = Duration::from_secs(timeouts.ends_at(data).saturating_sub(now.unix));
            if let Some(next) = idle::write_back(idle_left(seen, now), timeouts, to_end) {
                let until = idle_after(now.millis, next);
                let mut current = seen | REFERENCED;
                loop {
                    let new = until | (current & REFERENCED);
                    match word.compare_exchange(current, new, Ordering::AcqRel, Ordering::Acquire) {
                        Ok(_) => {
                            self.write_backs.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        // Only the mark changed (the eviction hand passed): retry.
                        Err(actual) if actual & IDLE_NEVER == seen & IDLE_NEVER => current = actual,
                        // Another use wrote it back.
                        Err(_) => break,
                    }
                }
            }
            data.seen(now.unix);
            data.clone()
        })
    }

    /// Unix second the session's idle deadline falls on, if it is live.
    pub fn idle_deadline(&self, sid: &Sid) -> Option<u64> {
        self.with_live(sid, |_, _, state, _, now| idle::unix_after(idle_left(state, now)))
    }

    /// True when the table holds `sid` expired; marks nothing. A handle the table
    /// does not hold is not "expired": it may be listed and not yet stored (its
    /// sign-in is under way), or being removed (whoever removes it unlists it).
    fn is_expired(&self, sid: &Sid) -> bool {
        let h = hash(sid);
        let Some(shard) = self.table.read(h) else { return false };
        shard.find(sid, h).is_some_and(|slot| {
            slot.entry.as_ref().is_some_and(|(_, data)| {
                let state = slot.state.load(Ordering::Acquire);
                !self.alive(data, state, self.timeouts.of(&data.site), self.now())
            })
        })
    }

    /// Stores a new session and returns its id (see [`SessionStore::create`]).
    pub fn insert(&self, data: SessionData) -> SessionId {
        let id = SessionId::random();
        let sid = Sid::of(&id);
        let key = customer_key(&data);
        self.forget_expired(&key);
        // Listed before it is stored, so every removal finds it; the guard is dropped
        // before the table is touched.
        let ended: Vec<Sid> = {
            let mut sids = self.by_customer.entry(key).or_default();
            let over = (sids.len() + 1).saturating_sub(self.max_per_customer);
            let ended = sids.get(..over).map(<[Sid]>::to_vec).unwrap_or_default();
            let kept = sids.get(over..).unwrap_or_default();
            *sids = kept.iter().copied().chain(std::iter::once(sid)).collect();
            ended
        };
        let now = self.now();
        let timeouts = self.timeouts.of(&data.site);
        let left = Duration::from_secs(timeouts.ends_at(&data).saturating_sub(now.unix));
        let idle_until = idle_after(now.millis, timeouts.idle.min(left));
        self.admit(sid, Arc::new(data), idle_until);
        for old in &ended {
            self.delete(old);
        }
        // A concurrent sign-in of the same customer may have ended this session in the
        // index before it was stored: then it must not live on unlisted (over the cap).
        let listed = self.by_customer.get(&key).is_some_and(|sids| sids.contains(&sid));
        if !listed {
            self.delete(&sid);
        }
        id
    }

    /// Stores `data` under `sid`, unreferenced, at the back of the queue, then evicts
    /// while the table is over its bound (never `sid` itself).
    fn admit(&self, sid: Sid, data: Arc<SessionData>, idle_until: u64) {
        let mut evicted = Vec::new();
        {
            let mut queue = self.queue();
            let replaced = self
                .table
                .write(hash(&sid))
                .map(|mut shard| shard.insert(sid, data, idle_until));
            if let Some(None) = replaced {
                self.held.fetch_add(1, Ordering::AcqRel);
                queue.push_back(sid);
            }
            while self.held.load(Ordering::Acquire) > self.max_entries {
                match self.evict_one(&mut queue, &sid) {
                    Some(gone) => evicted.push(gone),
                    None => break,
                }
            }
            self.compact(&mut queue);
        }
        for (sid, data) in &evicted {
            unlist(&self.by_customer, data, sid);
        }
    }

    /// One step of the hand (see the module doc): the evicted session, or `None` when
    /// the queue holds nothing else that could go.
    fn evict_one(&self, queue: &mut VecDeque<Sid>, keep: &Sid) -> Option<(Sid, Arc<SessionData>)> {
        // Two turns: the first clears every mark, the second finds an unmarked entry.
        let mut steps = queue.len().saturating_mul(2).saturating_add(1);
        while steps > 0 {
            steps -= 1;
            let sid = queue.pop_front()?;
            if sid == *keep {
                queue.push_back(sid);
                continue;
            }
            let h = hash(&sid);
            let mut shard = self.table.write(h)?;
            let referenced = match shard.find(&sid, h) {
                // Ended since it was queued: its place goes too.
                None => continue,
                Some(slot) => slot.state.fetch_and(!REFERENCED, Ordering::AcqRel) & REFERENCED != 0,
            };
            if referenced {
                queue.push_back(sid);
                continue;
            }
            let (data, _) = shard.remove(&sid)?;
            self.held.fetch_sub(1, Ordering::AcqRel);
            return Some((sid, data));
        }
        None
    }

    /// Drops from the queue the handles of ended sessions once they are as many as
    /// the live ones (so the queue stays within twice the table, amortised O(1)).
    fn compact(&self, queue: &mut VecDeque<Sid>) {
        if queue.len() <= self.held.load(Ordering::Acquire).saturating_mul(2).saturating_add(64) {
            return;
        }
        queue.retain(|sid| {
            let h = hash(sid);
            self.table.read(h).is_some_and(|shard| shard.find(sid, h).is_some())
        });
        queue.shrink_to(queue.len().saturating_mul(2));
    }

    /// Drops from a customer's index line the sessions that expired and wait for
    /// housekeeping, so they take no place under the cap. Looked up with no guard
    /// held; a session the line gained meanwhile is kept.
    fn forget_expired(&self, key: &CustomerKey) {
        let listed: Vec<Sid> = match self.by_customer.get(key) {
            Some(sids) if sids.len() >= self.max_per_customer => sids.iter().copied().collect(),
            _ => return,
        };
        let gone: Vec<Sid> = listed.into_iter().filter(|s| self.is_expired(s)).collect();
        if gone.is_empty() {
            return;
        }
        if let Some(mut sids) = self.by_customer.get_mut(key) {
            *sids = without(&sids, |s| gone.contains(s));
        }
    }

    /// Ends a session; true when it existed (also if expired and not yet freed, as
    /// moka's `remove` answered).
    pub fn delete(&self, sid: &Sid) -> bool {
        let removed = self.table.write(hash(sid)).and_then(|mut shard| shard.remove(sid));
        let Some((data, _)) = removed else { return false };
        self.held.fetch_sub(1, Ordering::AcqRel);
        unlist(&self.by_customer, &data, sid);
        true
    }

    /// Handles of one customer's sessions on one site, oldest first.
    fn listed(&self, site: &str, customer: &str) -> Vec<Sid> {
        let key = crate::store::customer_key(site, customer);
        // Copied out: the guard must be gone before the table is touched.
        self.by_customer
            .get(&key)
            .map(|sids| sids.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Frees every expired entry (one shard locked at a time) and compacts the queue.
    fn free_expired(&self) {
        let now = self.now();
        let mut gone = Vec::new();
        for mut shard in self.table.each_shard() {
            let expired: Vec<Sid> = shard
                .slots()
                .filter(|(_, data, state)| {
                    let timeouts = self.timeouts.of(&data.site);
                    !self.alive(data, state.load(Ordering::Acquire), timeouts, now)
                })
                .map(|(sid, _, _)| *sid)
                .collect();
            for sid in expired {
                if let Some((data, _)) = shard.remove(&sid) {
                    self.held.fetch_sub(1, Ordering::AcqRel);
                    gone.push((sid, data));
                }
            }
        }
        for (sid, data) in &gone {
            unlist(&self.by_customer, data, sid);
        }
        self.compact(&mut self.queue());
    }

    /// Exact: expired entries are freed first.
    pub fn count(&self) -> usize {
        self.free_expired();
        self.held.load(Ordering::Acquire)
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

    /// What the table holds, expired entries awaiting housekeeping included (no scan).
    fn len(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }
}

#[cfg(test)]
#[path = "memory_sessions_tests.rs"]
mod tests;
