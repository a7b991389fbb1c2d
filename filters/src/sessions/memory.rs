//! The embedded session store: a concurrent map with idle and absolute timeouts and a
//! bound on entries.

use super::{now_secs, SessionData, SessionStore};
use crate::secret::SessionId;
use dashmap::DashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct Entry {
    data: Arc<SessionData>,
    /// Unix seconds of the last request seen with this session.
    last_seen: AtomicU64,
    /// Copy of `data.expires_at`, so an expiry check never touches the session data.
    expires_at: u64,
}

pub struct MemorySessionStore {
    map: DashMap<SessionId, Entry>,
    idle_secs: u64,
    max_entries: usize,
}

impl MemorySessionStore {
    pub fn new(idle_timeout: Duration, max_entries: usize) -> Self {
        MemorySessionStore {
            map: DashMap::new(),
            idle_secs: idle_timeout.as_secs().max(1),
            max_entries: max_entries.max(1),
        }
    }

    fn expired(&self, e: &Entry, now: u64) -> bool {
        now >= e.expires_at || now.saturating_sub(e.last_seen.load(Ordering::Relaxed)) >= self.idle_secs
    }

    /// Makes room for one more: sweep, then drop the least recently seen of a sample.
    fn make_room(&self) {
        if self.map.len() < self.max_entries {
            return;
        }
        self.sweep();
        while self.map.len() >= self.max_entries {
            let victim = self
                .map
                .iter()
                .take(64)
                .min_by_key(|e| e.value().last_seen.load(Ordering::Relaxed))
                .map(|e| *e.key());
            match victim {
                Some(id) => {
                    self.map.remove(&id);
                }
                None => break,
            }
        }
    }
}

impl SessionStore for MemorySessionStore {
    fn get(&self, id: &SessionId) -> Option<Arc<SessionData>> {
        let now = now_secs();
        let found = {
            let entry = self.map.get(id)?;
            if self.expired(&entry, now) {
                None
            } else {
                // Written only when the second changes: most lookups leave the line clean.
                if entry.last_seen.load(Ordering::Relaxed) != now {
                    entry.last_seen.store(now, Ordering::Relaxed);
                }
                Some(entry.data.clone())
            }
        };
        if found.is_none() {
            self.map.remove(id);
        }
        found
    }

    fn create(&self, data: SessionData) -> SessionId {
        self.make_room();
        let id = SessionId::random();
        let expires_at = data.expires_at;
        let entry = Entry {
            data: Arc::new(data),
            last_seen: AtomicU64::new(now_secs()),
            expires_at,
        };
        self.map.insert(id, entry);
        id
    }

    fn remove(&self, id: &SessionId) -> bool {
        self.map.remove(id).is_some()
    }

    fn sweep(&self) -> usize {
        let now = now_secs();
        self.map.retain(|_, e| !self.expired(e, now));
        self.map.len()
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Customer;

    fn data(ttl: u64) -> SessionData {
        SessionData::new(
            "shop".into(),
            Customer {
                id: "alice".into(),
                ..Customer::default()
            },
            None,
            Default::default(),
            ttl,
        )
    }

    #[test]
    fn create_get_remove() {
        let store = MemorySessionStore::new(Duration::from_secs(60), 10);
        let id = store.create(data(3600));
        assert_eq!(store.get(&id).map(|s| s.customer.id.clone()), Some("alice".into()));
        assert!(store.get(&SessionId::random()).is_none());
        assert!(store.remove(&id));
        assert!(store.get(&id).is_none());
    }

    #[test]
    fn absolute_expiry_and_the_entry_bound() {
        let store = MemorySessionStore::new(Duration::from_secs(60), 3);
        let expired = store.create(data(0));
        assert!(store.get(&expired).is_none(), "an expired session is not served");
        let ids: Vec<_> = (0..5).map(|_| store.create(data(3600))).collect();
        assert!(store.len() <= 3);
        assert!(store.get(&ids[4]).is_some(), "the newest session survives eviction");
    }
}
