//! Sessions in Redis, seen by every replica, with a short L1 cache in each.
//!
//! - **Layout.** `<prefix>:session:<sid>` holds the record ([`crate::store::record`]),
//!   its TTL the session's idle deadline: the site's idle timeout after the last
//!   write-back, never past the absolute expiry. One key per session, so every
//!   command on a session names one key (Redis Cluster can place it anywhere).
//!   `<prefix>:customer:<hash of site and customer>` is a sorted set of that customer's
//!   session handles by creation time, its TTL the longest life of a session in it.
//! - **L1.** Sessions read here are kept up to `sessions.l1_ttl` in a `moka` cache,
//!   with the idle deadline Redis gave when they were read, so a steady-state
//!   request does not touch Redis. A copy is never served at or past that deadline,
//!   nor once the use would be due for a write-back ([`idle::write_back`]): the
//!   request then reads Redis again (`GET` and `PTTL`, one round trip) and sees what
//!   other replicas wrote meanwhile, so a session used on another replica is not
//!   ended here, and one unused everywhere is served nowhere.
//! - **Write-back.** When a use is due, one script on the session key moves its TTL,
//!   only if no replica did in the last window ([`WRITE_BACK`]): at most one
//!   write-back per `idle_timeout / 10` per session, whatever the replicas.
//! - **Redis Cluster.** The two scripts above that touch other sessions' keys (create
//!   with its per-customer cap, ending a customer's sessions) cannot run there (their
//!   keys are in other slots: a session's key is found from the cookie alone, so it
//!   cannot carry its customer's hash tag). A cluster runs them as single-key steps
//!   ([`cluster_steps`]); every other command names one key.
//! - **Evictions.** Logout, refusal, the per-customer cap and the admin `DELETE`
//!   publish the handle on `<prefix>:evict`; every replica drops it from its L1 on
//!   receipt. A replica whose subscription dropped drops its whole L1 when it is back
//!   (it may have missed some). A session read while an eviction arrives is served to
//!   that request but not cached.
//! - **Redis down.** L1 entries are served until their L1 TTL — nothing can be
//!   revoked anywhere meanwhile — unless `sessions.fail_closed`, which refuses them at
//!   once. Everything else fails with [`StoreError::Unavailable`].

use super::RedisConn;
use crate::secret::{SessionId, Sid};
use crate::sessions::{now_secs, SessionData};
use crate::store::idle::{self, SessionTimeouts};
use crate::store::{record, SessionMeta, SessionStore, StoreError};
use async_trait::async_trait;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "reseal.rs"]
mod reseal;

/// Stores the record, lists it in the customer's index, drops index entries whose
/// sessions are gone, and ends the oldest sessions over the cap (ordered by the Redis
/// server's clock in microseconds, one clock for every replica). Returns the handles
/// it ended (they are also published as evictions). The index lives at least as long
/// as the session (its TTL only grows).
/// KEYS: session key, index key. ARGV: record, ttl ms, sid, (unused), cap, index ttl
/// ms, session key prefix, evict channel.
const CREATE: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000000 + tonumber(t[2]), ARGV[3])
local live = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('EXISTS', ARGV[7] .. m) == 1 then table.insert(live, m) else redis.call('ZREM', KEYS[2], m) end
end
local ended = {}
while #live > tonumber(ARGV[5]) do
  local m = table.remove(live, 1)
  redis.call('DEL', ARGV[7] .. m)
  redis.call('ZREM', KEYS[2], m)
  redis.call('PUBLISH', ARGV[8], m)
  table.insert(ended, m)
end
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[6]) then redis.call('PEXPIRE', KEYS[2], ARGV[6]) end
return ended
";

/// Writes a session's idle deadline back, [`idle::write_back`]'s rule checked again
/// atomically on the key itself, so of the replicas that found a use due in one
/// window exactly one writes. Returns the key's TTL afterwards in ms (-2: gone).
/// KEYS: session key. ARGV: new TTL ms, window ms, idle timeout ms.
const WRITE_BACK: &str = r"
local left = redis.call('PTTL', KEYS[1])
if left == -2 then return -2 end
local want, window, idle = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if left == -1 or (want > left and want - left >= window) or (left > idle and left - idle >= window) then
  redis.call('PEXPIRE', KEYS[1], want)
  return want
end
return left
";

/// Ends every session in a customer's index. KEYS: index key. ARGV: session key
/// prefix, evict channel. Returns the handles of the sessions that existed.
const END_CUSTOMER: &str = r"
local ended = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('DEL', ARGV[1] .. m) == 1 then table.insert(ended, m) end
  redis.call('PUBLISH', ARGV[2], m)
end
redis.call('DEL', KEYS[1])
return ended
";

/// What the Redis session store needs to know.
#[derive(Clone)]
pub struct RedisSessionsConfig {
    /// Every site's idle and absolute timeouts (a reload sets them).
    pub timeouts: Arc<SessionTimeouts>,
    pub l1_ttl: Duration,
    pub l1_max_entries: usize,
    pub max_per_customer: usize,
    pub fail_closed: bool,
    /// Encrypts records (keys from the cookie key ring).
    pub seal: record::Seal,
}

/// A session this replica read, and the instant Redis said its idle deadline falls
/// on (taken before the read was sent: never later than Redis's).
#[derive(Clone)]
struct Held {
    data: Arc<SessionData>,
    until: Instant,
}

pub struct RedisSessionStore {
    conn: Arc<RedisConn>,
    l1: Cache<Sid, Held>,
    config: RedisSessionsConfig,
    /// Bumped on every eviction received: a read that saw it change is not cached.
    evictions: AtomicU64,
    subscribed: std::sync::atomic::AtomicBool,
    create: redis::Script,
    end_customer: redis::Script,
    write_back: redis::Script,
    reseal: redis::Script,
    cluster: cluster_steps::ClusterScripts,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisSessionStore {
    pub fn new(conn: Arc<RedisConn>, config: RedisSessionsConfig) -> Self {
        let l1 = Cache::builder()
            .max_capacity(config.l1_max_entries.max(1) as u64)
            .eviction_policy(EvictionPolicy::lru())
            .time_to_live(config.l1_ttl.max(Duration::from_millis(1)))
            .build();
        RedisSessionStore {
            conn,
            l1,
            config,
            evictions: AtomicU64::new(0),
            subscribed: std::sync::atomic::AtomicBool::new(false),
            create: redis::Script::new(CREATE),
            end_customer: redis::Script::new(END_CUSTOMER),
            write_back: redis::Script::new(WRITE_BACK),
            reseal: redis::Script::new(reseal::RESEAL),
            cluster: cluster_steps::ClusterScripts::new(),
        }
    }

    pub fn conn(&self) -> &Arc<RedisConn> {
        &self.conn
    }

    fn session_key(&self, sid: &Sid) -> String {
        self.conn.key("session", &sid.encode())
    }

    fn index_key(&self, site: &str, customer: &str) -> String {
        let key = crate::store::customer_key(site, customer);
        self.conn.key("customer", &hex::encode(key))
    }

    /// How long `data` may live from now regardless of use (its absolute end).
    fn to_end(&self, data: &SessionData) -> (idle::SiteTimeouts, Duration) {
        let timeouts = self.config.timeouts.of(&data.site);
        let end = timeouts.ends_at(data).saturating_sub(now_secs());
        (timeouts, Duration::from_secs(end))
    }

    /// Opens and decodes the record stored for `sid` into a live session of any site,
    /// or `None` (expired, unreadable or not sealed by us: the shopper is anonymous).
    /// True with it when the record is to be encrypted again with the current key.
    fn live(&self, sid: &Sid, bytes: &[u8]) -> Option<(Arc<SessionData>, bool)> {
        let opened = record::open(&self.config.seal, sid, bytes);
        let (data, stale) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable session record ignored");
                return None;
            }
        };
        let live = self.config.timeouts.of(&data.site).is_live(&data, now_secs());
        live.then(|| (Arc::new(data), stale))
    }

    /// Caches `data`, whose idle deadline is `until`, unless an eviction arrived since
    /// `seen` (it may have named it).
    fn remember(&self, sid: Sid, data: &Arc<SessionData>, until: Instant, seen: u64) {
        if self.evictions.load(Ordering::Acquire) == seen {
            let data = data.clone();
            self.l1.insert(sid, Held { data, until });
        }
    }

    /// The session `sid` in Redis and its key's TTL, read in one round trip: the
    /// live session, the TTL (`None`: no TTL) and the instant the read was sent.
    async fn read(&self, sid: &Sid) -> Result<Option<(Arc<SessionData>, Option<Duration>, Instant)>, StoreError> {
        let key = self.session_key(sid);
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(&key).cmd("PTTL").arg(&key);
        let sent = Instant::now();
        let (bytes, pttl): (Option<Vec<u8>>, i64) = self.conn.pipe("get", &pipe).await?;
        if pttl == -2 {
            return Ok(None);
        }
        let left = u64::try_from(pttl).ok().map(Duration::from_millis);
        let Some((data, stale)) = bytes.as_deref().and_then(|b| self.live(sid, b)) else {
            return Ok(None);
        };
        if stale {
            if let Some(read) = bytes {
                reseal::reseal(
                    &self.conn,
                    &self.reseal,
                    &self.config.seal,
                    &self.session_key(sid),
                    sid,
                    &data,
                    read,
                )
                .await;
            }
        }
        Ok(Some((data, left, sent)))
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    fn cached(&self, sid: &Sid) -> Option<Arc<SessionData>> {
        // Fail closed: nothing from L1 while Redis or the eviction subscription is
        // down (a revocation could be missed either way).
        if self.config.fail_closed && !(self.conn.is_healthy() && self.is_subscribed()) {
            return None;
        }
        let held = self.l1.get(sid)?;
        let now = Instant::now();
        let (timeouts, to_end) = self.to_end(&held.data);
        // Past the deadline this copy knows, or its absolute end: maybe over (another
        // replica may have used it: Redis knows). Due for a write-back: Redis writes it.
        let over = now >= held.until || to_end.is_zero();
        if over || idle::write_back(held.until.saturating_duration_since(now), timeouts, to_end).is_some() {
            return None;
        }
        held.data.seen(now_secs());
        Some(held.data)
    }

    /// Always asks Redis (the caller tried [`SessionStore::cached`] first): the
    /// record and its TTL in one round trip, then, when the use is due, the
    /// write-back script (one replica of those racing writes; the others read its
    /// deadline back). Refills the L1 with the deadline Redis holds.
    async fn get(&self, sid: &Sid) -> Result<Option<Arc<SessionData>>, StoreError> {
        let seen = self.evictions.load(Ordering::Acquire);
        let Some((data, left, sent)) = self.read(sid).await? else {
            self.l1.invalidate(sid);
            return Ok(None);
        };
        let (timeouts, to_end) = self.to_end(&data);
        let mut left = left.unwrap_or(Duration::MAX);
        if let Some(want) = idle::write_back(left, timeouts, to_end) {
            let mut invocation = self.write_back.key(self.session_key(sid));
            invocation
                .arg(ms(want))
                .arg(ms(timeouts.window()))
                .arg(ms(timeouts.idle));
            let after: i64 = self.conn.script("touch", &invocation).await?;
            match u64::try_from(after) {
                Ok(ttl) => left = Duration::from_millis(ttl),
                Err(_) => {
                    self.l1.invalidate(sid);
                    return Ok(None);
                }
            }
        }
        let until = sent.checked_add(left).unwrap_or(sent);
        self.remember(*sid, &data, until, seen);
        data.seen(now_secs());
        Ok(Some(data))
    }

    async fn fresh(&self, sid: &Sid) -> Result<Option<Arc<SessionData>>, StoreError> {
        let seen = self.evictions.load(Ordering::Acquire);
        match self.read(sid).await? {
            Some((data, left, sent)) => {
                let until = left.and_then(|l| sent.checked_add(l));
                if let Some(until) = until {
                    self.remember(*sid, &data, until, seen);
                }
                Ok(Some(data))
            }
            None => {
                self.l1.invalidate(sid);
                Ok(None)
            }
        }
    }

    async fn idle_until(&self, sid: &Sid) -> Result<Option<u64>, StoreError> {
        if let Some(held) = self.l1.get(sid) {
            return Ok(Some(idle::unix_after(
                held.until.saturating_duration_since(Instant::now()),
            )));
        }
        let cmd = redis::cmd("PTTL").arg(self.session_key(sid)).to_owned();
        let left: i64 = self.conn.query("get", &cmd).await?;
        Ok(u64::try_from(left)
            .ok()
            .map(|l| idle::unix_after(Duration::from_millis(l))))
    }

    fn timeouts(&self) -> &Arc<SessionTimeouts> {
        &self.config.timeouts
    }

    async fn create(&self, data: SessionData) -> Result<SessionId, StoreError> {
        let id = SessionId::random();
        let sid = Sid::of(&id);
        let bytes = record::seal(&self.config.seal, &sid, &data)?;
        let session_prefix = self.conn.key("session", "");
        let (timeouts, to_end) = self.to_end(&data);
        let ttl = timeouts.idle.min(to_end);
        let index = self.index_key(&data.site, &data.customer.id);
        let sent = Instant::now();
        let ended: Vec<String> = if self.conn.is_cluster() {
            cluster_steps::create(self, &sid, bytes, ttl, &index, to_end).await?
        } else {
            let mut invocation = self.create.key(self.session_key(&sid));
            invocation
                .key(index)
                .arg(bytes)
                .arg(ms(ttl))
                .arg(sid.encode())
                .arg(data.created_at)
                .arg(self.config.max_per_customer.max(1))
                .arg(ms(to_end))
                .arg(session_prefix)
                .arg(self.conn.evict_channel());
            self.conn.script("create", &invocation).await?
        };
        for old in ended.iter().filter_map(|s| Sid::parse(s)) {
            self.evicted(&old);
        }
        let until = sent.checked_add(ttl).unwrap_or(sent);
        self.l1.insert(
            sid,
            Held {
                data: Arc::new(data),
                until,
            },
        );
        Ok(id)
    }

    /// `SET … XX KEEPTTL`: the session keeps its expiry, and is not brought back if it
    /// ended meanwhile. Other replicas drop their copy.
    async fn save(&self, sid: &Sid, data: &SessionData) -> Result<(), StoreError> {
        let cmd = redis::cmd("SET")
            .arg(self.session_key(sid))
            .arg(record::seal(&self.config.seal, sid, data)?)
            .arg("XX")
            .arg("KEEPTTL")
            .to_owned();
        self.conn.query::<Option<String>>("save", &cmd).await?;
        self.publish_or_warn(sid).await;
        Ok(())
    }

    async fn remove(&self, sid: &Sid) -> Result<bool, StoreError> {
        self.l1.invalidate(sid);
        let cmd = redis::cmd("DEL").arg(self.session_key(sid)).to_owned();
        let deleted: i64 = self.conn.query("remove", &cmd).await?;
        self.evictions.fetch_add(1, Ordering::AcqRel);
        self.publish_or_warn(sid).await;
        Ok(deleted > 0)
    }

    async fn customer_sessions(&self, site: &str, customer: &str) -> Result<Vec<SessionMeta>, StoreError> {
        let index = redis::cmd("ZRANGE")
            .arg(self.index_key(site, customer))
            .arg(0)
            .arg(-1)
            .to_owned();
        let sids: Vec<String> = self.conn.query("list", &index).await?;
        let sids: Vec<Sid> = sids.iter().filter_map(|s| Sid::parse(s)).collect();
        if sids.is_empty() {
            return Ok(Vec::new());
        }
        // One round trip per session, all in flight at once (in a cluster the sessions
        // live on different nodes; one server gets them pipelined on its connection).
        let reads = sids.iter().map(|sid| {
            let key = self.session_key(sid);
            let mut pipe = redis::pipe();
            pipe.cmd("GET").arg(&key).cmd("PTTL").arg(&key);
            async move { self.conn.pipe::<(Option<Vec<u8>>, i64)>("list", &pipe).await }
        });
        let replies = futures_util::future::try_join_all(reads).await?;
        let now = now_secs();
        Ok(sids
            .iter()
            .zip(replies)
            .filter_map(|(sid, (bytes, pttl))| {
                let (data, _) = self.live(sid, bytes.as_deref()?)?;
                (data.site.as_ref() == site && data.customer.id == customer).then(|| {
                    // The key's TTL restarts at each write-back: its age since then is
                    // how long ago the session was last seen, to within a window (when
                    // the idle timeout bounds it).
                    let timeouts = self.config.timeouts.of(&data.site);
                    let ends_at = timeouts.ends_at(&data);
                    let left = u64::try_from(pttl).unwrap_or(0) / 1000;
                    let idle_bound = left < ends_at.saturating_sub(now);
                    let last_seen = if idle_bound {
                        now.saturating_sub(timeouts.idle.as_secs().saturating_sub(left))
                    } else {
                        data.created_at
                    };
                    SessionMeta {
                        sid: sid.encode(),
                        created_at: data.created_at,
                        last_seen: last_seen.max(data.created_at),
                        expires_at: ends_at,
                    }
                })
            })
            .collect())
    }

    async fn end_customer_sessions(&self, site: &str, customer: &str) -> Result<usize, StoreError> {
        let index = self.index_key(site, customer);
        let ended: Vec<String> = if self.conn.is_cluster() {
            cluster_steps::end_customer(self, &index).await?
        } else {
            let mut invocation = self.end_customer.key(index);
            invocation
                .arg(self.conn.key("session", ""))
                .arg(self.conn.evict_channel());
            self.conn.script("end_customer", &invocation).await?
        };
        for sid in ended.iter().filter_map(|s| Sid::parse(s)) {
            self.evicted(&sid);
        }
        Ok(ended.len())
    }

    fn sweep(&self) -> usize {
        self.len()
    }

    fn len(&self) -> usize {
        self.l1.run_pending_tasks();
        usize::try_from(self.l1.entry_count()).unwrap_or(usize::MAX)
    }
}

#[path = "cluster_steps.rs"]
mod cluster_steps;
#[path = "evictions.rs"]
mod evictions;
