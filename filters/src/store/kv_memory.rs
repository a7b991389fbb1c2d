//! Single-use entries and TTL records in this process's memory: one bounded `moka`
//! cache **per kind of record** (pending logins, one-time tokens, SSO sessions, adopt
//! grants, locks, ...), each with a TTL per entry and LRU eviction. A flood of one kind
//! evicts only the oldest entries of that kind, never another kind's (a flood of minted
//! one-time tokens cannot push out a shopper's pending login); the newest entry is
//! always admitted, so a real shopper's login is never refused for room.

use super::{Records, Sets, SingleUse, StoreError};
use async_trait::async_trait;
use dashmap::DashMap;
use moka::policy::{EvictionPolicy, Expiry};
use moka::sync::Cache;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
struct Entry {
    value: Arc<Vec<u8>>,
    ttl: Duration,
    deadline: Instant,
}

struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _: &String, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }
    fn expire_after_update(&self, _: &String, entry: &Entry, _: Instant, _: Option<Duration>) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// Longest TTL handed to moka (which refuses more than 1000 years).
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 86_400);

pub struct MemoryKv {
    /// One cache per kind, made at the kind's first use. Kinds are the code's own
    /// constants (a handful), never request input.
    kinds: DashMap<Box<str>, Cache<String, Entry>>,
    max_per_kind: u64,
}

impl MemoryKv {
    /// At most `max_per_kind` entries of each kind.
    pub fn new(max_per_kind: usize) -> Self {
        MemoryKv {
            kinds: DashMap::new(),
            max_per_kind: max_per_kind.max(1) as u64,
        }
    }

    /// The cache of `kind` (a cheap handle onto the shared cache).
    fn cache(&self, kind: &str) -> Cache<String, Entry> {
        if let Some(cache) = self.kinds.get(kind) {
            return cache.clone();
        }
        self.kinds
            .entry(kind.into())
            .or_insert_with(|| {
                Cache::builder()
                    .max_capacity(self.max_per_kind)
                    .eviction_policy(EvictionPolicy::lru())
                    .expire_after(PerEntryTtl)
                    .build()
            })
            .clone()
    }

    /// Applies pending evictions and expiries now; how many entries are left, of all
    /// kinds together.
    pub fn count(&self) -> usize {
        self.kinds
            .iter()
            .map(|c| {
                c.run_pending_tasks();
                usize::try_from(c.entry_count()).unwrap_or(usize::MAX)
            })
            .fold(0, usize::saturating_add)
    }

    /// How many entries of `kind` are left (after pending evictions).
    pub fn count_of(&self, kind: &str) -> usize {
        let cache = self.cache(kind);
        cache.run_pending_tasks();
        usize::try_from(cache.entry_count()).unwrap_or(usize::MAX)
    }

    fn entry(value: Vec<u8>, ttl: Duration) -> Entry {
        let ttl = ttl.min(MAX_TTL);
        Entry {
            value: Arc::new(value),
            ttl,
            deadline: Instant::now() + ttl,
        }
    }
}

fn live(entry: Entry) -> Option<Vec<u8>> {
    (Instant::now() < entry.deadline).then(|| Arc::unwrap_or_clone(entry.value))
}

#[async_trait]
impl SingleUse for MemoryKv {
    async fn put(&self, kind: &str, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        self.cache(kind).insert(key.to_string(), Self::entry(value, ttl));
        Ok(())
    }

    async fn take(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.cache(kind).remove(key).and_then(live))
    }

    fn sweep(&self) {
        for cache in self.kinds.iter() {
            cache.run_pending_tasks();
        }
    }
}

#[async_trait]
impl Records for MemoryKv {
    async fn put(&self, kind: &str, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        self.cache(kind).insert(key.to_string(), Self::entry(value, ttl));
        Ok(())
    }

    async fn put_new(&self, kind: &str, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        let entry = self
            .cache(kind)
            .entry(key.to_string())
            .or_insert_with(|| Self::entry(value, ttl));
        Ok(entry.is_fresh())
    }

    async fn get(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.cache(kind).get(key).and_then(live))
    }

    async fn delete_if(&self, kind: &str, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        use moka::ops::compute::{CompResult, Op};
        let result = self
            .cache(kind)
            .entry(key.to_string())
            .and_compute_with(|held| match held {
                Some(e) if e.value().value.as_slice() == value => Op::Remove,
                _ => Op::Nop,
            });
        Ok(matches!(result, CompResult::Removed(_)))
    }
}

/// A set's members as one value: each member followed by a newline (members never
/// hold one: callers add handles and names).
fn split_members(value: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(value)
        .split_terminator('\n')
        .map(str::to_string)
        .collect()
}

#[async_trait]
impl Sets for MemoryKv {
    async fn add(&self, kind: &str, key: &str, member: &str, ttl: Duration, max: usize) -> Result<bool, StoreError> {
        use moka::ops::compute::Op;
        if member.contains('\n') {
            return Err(StoreError::Corrupt("a set member may not hold a newline".into()));
        }
        let mut added = false;
        self.cache(kind).entry(key.to_string()).and_compute_with(|held| {
            let now = Instant::now();
            let held = held.map(|e| e.into_value()).filter(|e| now < e.deadline);
            let mut members = held.as_ref().map(|e| split_members(&e.value)).unwrap_or_default();
            if !members.iter().any(|m| m == member) {
                if members.len() >= max {
                    return Op::Nop;
                }
                members.push(member.to_string());
            }
            added = true;
            // The set lives as long as its longest-lived member needs.
            let deadline = held.map_or(now + ttl.min(MAX_TTL), |e| e.deadline.max(now + ttl.min(MAX_TTL)));
            let value: String = members.iter().flat_map(|m| [m.as_str(), "\n"]).collect();
            Op::Put(Entry {
                value: Arc::new(value.into_bytes()),
                ttl: deadline.saturating_duration_since(now),
                deadline,
            })
        });
        Ok(added)
    }

    async fn remove(&self, kind: &str, key: &str, member: &str) -> Result<(), StoreError> {
        use moka::ops::compute::Op;
        self.cache(kind)
            .entry(key.to_string())
            .and_compute_with(|held| match held.map(|e| e.into_value()) {
                Some(e) => {
                    let members = split_members(&e.value);
                    if !members.iter().any(|m| m == member) {
                        return Op::Nop;
                    }
                    let value: String = members
                        .iter()
                        .filter(|m| *m != member)
                        .flat_map(|m| [m.as_str(), "\n"])
                        .collect();
                    let now = Instant::now();
                    Op::Put(Entry {
                        value: Arc::new(value.into_bytes()),
                        ttl: e.deadline.saturating_duration_since(now),
                        deadline: e.deadline,
                    })
                }
                None => Op::Nop,
            });
        Ok(())
    }

    async fn members(&self, kind: &str, key: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .cache(kind)
            .get(key)
            .and_then(live)
            .map(|v| split_members(&v))
            .unwrap_or_default())
    }

    async fn delete(&self, kind: &str, key: &str) -> Result<(), StoreError> {
        self.cache(kind).invalidate(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_flood_of_one_kind_never_evicts_another_kind() -> Result<(), StoreError> {
        let kv = MemoryKv::new(50);
        SingleUse::put(
            &kv,
            "pending-login",
            "shopper",
            b"login".to_vec(),
            Duration::from_secs(600),
        )
        .await?;
        Records::put(&kv, "sso-session", "handle", b"sso".to_vec(), Duration::from_secs(600)).await?;
        for i in 0..5_000 {
            SingleUse::put(&kv, "sso-ott", &format!("flood-{i}"), vec![1], Duration::from_secs(60)).await?;
        }
        assert!(kv.count_of("sso-ott") <= 50, "the flooded kind stays bounded");
        assert_eq!(
            SingleUse::take(&kv, "pending-login", "shopper").await?.as_deref(),
            Some(&b"login"[..])
        );
        assert_eq!(
            Records::get(&kv, "sso-session", "handle").await?.as_deref(),
            Some(&b"sso"[..])
        );
        Ok(())
    }
}
