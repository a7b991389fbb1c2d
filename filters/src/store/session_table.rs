//! The memory store's map from [`Sid`] to session: shards of open-addressing tables
//! whose slot holds the handle, the entry's state word and the record, so a lookup
//! costs one cache miss for the slot and one for the record.
//!
//! - **Hash.** A [`Sid`] is 16 bytes of SHA-256 output: its first 8 bytes are the
//!   hash (top bits pick the shard, low bits the slot). No SipHash: an attacker
//!   cannot choose handles, they come from random session ids.
//! - **Slots.** Linear probing, at most 7/8 full, deletion by backward shift (no
//!   tombstones); a shard doubles when full.
//! - **State word.** Bit 63: referenced (set by a lookup, cleared by the eviction
//!   hand, see `memory_sessions`); bits 0–62: the idle deadline in milliseconds of
//!   the store's clock. Read and changed atomically under the shard's read lock.

use crate::secret::Sid;
use crate::sessions::SessionData;
use std::hash::{Hash, Hasher};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The referenced bit of a state word.
pub const REFERENCED: u64 = 1 << 63;
/// The idle deadline bits of a state word; all ones: never.
pub const IDLE_NEVER: u64 = REFERENCED - 1;

const SHARD_BITS: u32 = 7;
const SHARDS: usize = 1 << SHARD_BITS;

/// One entry: handle and record (`None`: free), and the state word. Aligned so a
/// slot never straddles two cache lines.
#[derive(Default)]
#[repr(align(32))]
pub struct Slot {
    pub entry: Option<(Sid, Arc<SessionData>)>,
    pub state: AtomicU64,
}

/// Takes the first 8 bytes a [`Sid`] hashes (its `[u8; 16]`; the length prefix,
/// written as a `usize`, is skipped).
#[derive(Default)]
struct FirstEight(u64);

impl Hasher for FirstEight {
    fn write(&mut self, bytes: &[u8]) {
        if let Some(first) = bytes.first_chunk::<8>() {
            if bytes.len() >= 16 {
                self.0 = u64::from_le_bytes(*first);
            }
        }
    }

    fn write_usize(&mut self, _: usize) {}

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The hash of `sid`: 8 of its bytes.
#[inline]
pub fn hash(sid: &Sid) -> u64 {
    let mut h = FirstEight::default();
    sid.hash(&mut h);
    h.finish()
}

#[derive(Default)]
pub struct Shard {
    slots: Vec<Slot>,
    len: usize,
}

impl Shard {
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The slot holding `sid`.
    #[inline]
    pub fn find(&self, sid: &Sid, h: u64) -> Option<&Slot> {
        self.position(sid, h).and_then(|i| self.slots.get(i))
    }

    fn position(&self, sid: &Sid, h: u64) -> Option<usize> {
        let mask = self.mask();
        let mut i = (h as usize) & mask;
        for _ in 0..self.slots.len() {
            match &self.slots.get(i)?.entry {
                Some((s, _)) if s == sid => return Some(i),
                Some(_) => i = (i + 1) & mask,
                None => return None,
            }
        }
        None
    }

    /// Stores `data` under `sid` (replacing any entry of that handle; returned).
    pub fn insert(&mut self, sid: Sid, data: Arc<SessionData>, state: u64) -> Option<Arc<SessionData>> {
        let h = hash(&sid);
        if let Some(i) = self.position(&sid, h) {
            let slot = self.slots.get_mut(i)?;
            *slot.state.get_mut() = state;
            return slot.entry.replace((sid, data)).map(|(_, d)| d);
        }
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.grow();
        }
        self.place(Slot {
            entry: Some((sid, data)),
            state: AtomicU64::new(state),
        });
        self.len += 1;
        None
    }

    /// Puts `slot` (whose handle is not stored) in the first free slot of its probe.
    fn place(&mut self, slot: Slot) {
        let Some((sid, _)) = &slot.entry else { return };
        let mask = self.mask();
        let mut i = (hash(sid) as usize) & mask;
        loop {
            match self.slots.get_mut(i) {
                Some(free) if free.entry.is_none() => {
                    *free = slot;
                    return;
                }
                Some(_) => i = (i + 1) & mask,
                None => return,
            }
        }
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(8);
        let old = std::mem::replace(&mut self.slots, (0..size).map(|_| Slot::default()).collect());
        for slot in old {
            self.place(slot);
        }
    }

    /// Removes `sid`'s entry: its record and state word.
    pub fn remove(&mut self, sid: &Sid) -> Option<(Arc<SessionData>, u64)> {
        let mut hole = self.position(sid, hash(sid))?;
        let taken = std::mem::take(self.slots.get_mut(hole)?);
        self.len -= 1;
        // Backward shift: pull later entries of the run into the hole when their
        // ideal slot is not after it (cyclically), so probes need no tombstones.
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let ideal = match &self.slots.get(j)?.entry {
                Some((s, _)) => (hash(s) as usize) & mask,
                None => break,
            };
            let stays = if hole <= j {
                hole < ideal && ideal <= j
            } else {
                hole < ideal || ideal <= j
            };
            if !stays {
                let moved = std::mem::take(self.slots.get_mut(j)?);
                *self.slots.get_mut(hole)? = moved;
                hole = j;
            }
        }
        let (_, data) = taken.entry?;
        Some((data, taken.state.into_inner()))
    }

    /// Every entry, for a scan.
    pub fn slots(&self) -> impl Iterator<Item = (&Sid, &Arc<SessionData>, &AtomicU64)> {
        self.slots
            .iter()
            .filter_map(|s| s.entry.as_ref().map(|(sid, data)| (sid, data, &s.state)))
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }
}

/// The shards.
pub struct SessionTable {
    shards: Box<[RwLock<Shard>]>,
}

impl Default for SessionTable {
    fn default() -> Self {
        SessionTable {
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
        }
    }
}

impl SessionTable {
    fn shard(&self, h: u64) -> Option<&RwLock<Shard>> {
        self.shards.get((h >> (64 - SHARD_BITS)) as usize)
    }

    /// The shard of `sid` to read (a poisoned lock is still used: no code here
    /// panics while it holds one, and the table stays consistent if one did).
    #[inline]
    pub fn read(&self, h: u64) -> Option<RwLockReadGuard<'_, Shard>> {
        self.shard(h).map(|s| s.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn write(&self, h: u64) -> Option<RwLockWriteGuard<'_, Shard>> {
        self.shard(h).map(|s| s.write().unwrap_or_else(PoisonError::into_inner))
    }

    /// Every shard in turn, to write.
    pub fn each_shard(&self) -> impl Iterator<Item = RwLockWriteGuard<'_, Shard>> {
        self.shards
            .iter()
            .map(|s| s.write().unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SessionId;

    fn data() -> Arc<SessionData> {
        Arc::new(crate::store::suite::session("shop", "alice", 3600))
    }

    #[test]
    fn the_hash_is_eight_bytes_of_the_handle() {
        let a = Sid::of(&SessionId::random());
        let b = Sid::of(&SessionId::random());
        assert_ne!(hash(&a), hash(&b));
        assert_ne!(hash(&a), 0);
        assert_eq!(hash(&a), hash(&a.clone()));
    }

    #[test]
    fn inserts_finds_and_removes_across_growth_and_collisions() {
        let mut shard = Shard::default();
        let sids: Vec<Sid> = (0..2_000).map(|_| Sid::of(&SessionId::random())).collect();
        for (i, sid) in sids.iter().enumerate() {
            assert!(shard.insert(*sid, data(), i as u64).is_none());
        }
        assert_eq!(shard.len(), 2_000);
        for (i, sid) in sids.iter().enumerate().step_by(3) {
            assert_eq!(shard.remove(sid).map(|(_, s)| s), Some(i as u64));
        }
        for (i, sid) in sids.iter().enumerate() {
            let found = shard.find(sid, hash(sid)).is_some();
            assert_eq!(found, i % 3 != 0, "entry {i}");
        }
        assert_eq!(shard.slots().count(), shard.len());
        assert!(shard.remove(&sids[0]).is_none());
    }
}
