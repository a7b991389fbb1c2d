//! Sessions in Redis, seen by every replica, with a short L1 cache in each.
//!
//! - **Layout.** `<prefix>:session:<sid>` holds the record ([`crate::store::record`]),
//!   its TTL the idle timeout (never past the absolute expiry).
//!   `<prefix>:customer:<hash of site and customer>` is a sorted set of that customer's
//!   session handles by creation time, its TTL the absolute timeout.
//! - **L1.** Sessions read here are kept `sessions.l1_ttl` in a `moka` cache, so a
//!   steady-state request does not touch Redis. The idle timer is written back when
//!   the L1 entry is refilled (`GETEX`), i.e. at most once per `l1_ttl` per replica.
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
use crate::store::{record, SessionMeta, SessionStore, StoreError};
use async_trait::async_trait;
use futures_util::StreamExt;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Stores the record, lists it in the customer's index, drops index entries whose
/// sessions are gone, and ends the oldest sessions over the cap (ordered by the Redis
/// server's clock in microseconds, one clock for every replica). Returns the handles
/// it ended (they are also published as evictions).
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
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return ended
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
#[derive(Debug, Clone)]
pub struct RedisSessionsConfig {
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
    pub l1_ttl: Duration,
    pub l1_max_entries: usize,
    pub max_per_customer: usize,
    pub fail_closed: bool,
    /// Seals records (keyed from `sessions.cookie_secret`).
    pub seal: record::Seal,
}

pub struct RedisSessionStore {
    conn: Arc<RedisConn>,
    l1: Cache<Sid, Arc<SessionData>>,
    config: RedisSessionsConfig,
    /// Bumped on every eviction received: a read that saw it change is not cached.
    evictions: AtomicU64,
    subscribed: std::sync::atomic::AtomicBool,
    create: redis::Script,
    end_customer: redis::Script,
}

/// How often the eviction subscription's connection is pinged, and how long an
/// answer may take.
const SUBSCRIPTION_PING: Duration = Duration::from_secs(2);

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

    /// Milliseconds the session key may live from now: the idle timeout, never past
    /// the absolute expiry.
    fn key_ttl_ms(&self, expires_at: u64, now: u64) -> u64 {
        let left = Duration::from_secs(expires_at.saturating_sub(now));
        ms(self.config.idle_timeout.min(left))
    }

    /// Opens and decodes the record stored for `sid` into a live session of any site,
    /// or `None` (expired, unreadable or not sealed by us: the shopper is anonymous).
    fn live(&self, sid: &Sid, bytes: Option<Vec<u8>>) -> Option<Arc<SessionData>> {
        let bytes = bytes?;
        let opened = self
            .config
            .seal
            .open(sid, &bytes)
            .and_then(|body| record::decode(body, None));
        let data = match opened {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable session record ignored");
                return None;
            }
        };
        data.is_live(now_secs()).then(|| Arc::new(data))
    }

    /// Caches `data` unless an eviction arrived since `seen` (it may have named it).
    fn remember(&self, sid: Sid, data: &Arc<SessionData>, seen: u64) {
        if self.evictions.load(Ordering::Acquire) == seen {
            self.l1.insert(sid, data.clone());
        }
    }

    /// Drops `sid` from this replica's L1 (an eviction from anywhere).
    pub fn evicted(&self, sid: &Sid) {
        self.evictions.fetch_add(1, Ordering::AcqRel);
        self.l1.invalidate(sid);
    }

    /// Tells the other replicas to drop `sid`. The change itself is already in Redis:
    /// a failed publish (counted, logged) leaves them serving their copy until
    /// `l1_ttl`, it does not undo the change.
    async fn publish_or_warn(&self, sid: &Sid) {
        let cmd = redis::cmd("PUBLISH")
            .arg(self.conn.evict_channel())
            .arg(sid.encode())
            .to_owned();
        if let Err(e) = self.conn.query::<i64>("publish", &cmd).await {
            tracing::error!(error = %e, "eviction not published: other replicas keep their copy until sessions.l1_ttl");
        }
    }

    /// True while the eviction subscription is up and answering pings: without it,
    /// revocations on other replicas reach this one only after `l1_ttl`.
    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
    }

    /// Keeps the eviction subscription alive for as long as the process runs:
    /// subscribes, drops what each message names, and pings the subscription's own
    /// connection every [`SUBSCRIPTION_PING`] (a connection dropped silently by a NAT
    /// or proxy is noticed within a few seconds, not never). After a lost
    /// subscription it drops the whole L1 before serving from it again.
    pub async fn run_evictions(&self) {
        let channel = self.conn.evict_channel();
        let mut lost = false;
        let mut reported = false;
        loop {
            let subscribed = match self.conn.pubsub().await {
                Ok(mut pubsub) => pubsub
                    .subscribe(&channel)
                    .await
                    .map(|()| pubsub)
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match subscribed {
                Ok(pubsub) => {
                    if lost {
                        // Revocations may have been missed while the subscription was down.
                        self.evictions.fetch_add(1, Ordering::AcqRel);
                        self.l1.invalidate_all();
                        tracing::info!("eviction subscription back; L1 session cache dropped");
                    }
                    self.subscribed.store(true, Ordering::Release);
                    reported = false;
                    self.listen(pubsub).await;
                    self.subscribed.store(false, Ordering::Release);
                    tracing::warn!("eviction subscription lost; reconnecting");
                }
                Err(e) if !reported => {
                    // E.g. an ACL user without `&<prefix>:evict`: say so once, loudly.
                    tracing::error!(error = %e, channel = %channel, "cannot subscribe to session evictions; revocations from other replicas reach this one only after sessions.l1_ttl");
                    reported = true;
                }
                Err(_) => {}
            }
            lost = true;
            tokio::time::sleep(super::PING_INTERVAL).await;
        }
    }

    /// Applies evictions until the subscription ends or stops answering pings.
    async fn listen(&self, pubsub: redis::aio::PubSub) {
        let (mut sink, mut messages) = pubsub.split();
        let mut ping = tokio::time::interval(SUBSCRIPTION_PING);
        ping.tick().await;
        loop {
            tokio::select! {
                msg = messages.next() => {
                    let Some(msg) = msg else { return };
                    let sid = std::str::from_utf8(msg.get_payload_bytes()).ok().and_then(Sid::parse);
                    match sid {
                        Some(sid) => self.evicted(&sid),
                        None => tracing::warn!("ignored a malformed eviction message"),
                    }
                }
                _ = ping.tick() => {
                    let answered = tokio::time::timeout(SUBSCRIPTION_PING, sink.ping::<redis::Value>()).await;
                    if !matches!(answered, Ok(Ok(_))) {
                        return;
                    }
                }
            }
        }
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
        let data = self.l1.get(sid)?;
        let now = now_secs();
        if !data.is_live(now) {
            self.l1.invalidate(sid);
            return None;
        }
        data.seen(now);
        Some(data)
    }

    /// Always asks Redis (the caller tried [`SessionStore::cached`] first): `GETEX`
    /// refills the L1 and restarts the idle timer in one command; the absolute expiry
    /// caps the timer when it is nearer.
    async fn get(&self, sid: &Sid) -> Result<Option<Arc<SessionData>>, StoreError> {
        let seen = self.evictions.load(Ordering::Acquire);
        let key = self.session_key(sid);
        let cmd = redis::cmd("GETEX")
            .arg(&key)
            .arg("PX")
            .arg(ms(self.config.idle_timeout))
            .to_owned();
        let Some(data) = self.live(sid, self.conn.query("get", &cmd).await?) else {
            return Ok(None);
        };
        let now = now_secs();
        if Duration::from_secs(data.expires_at.saturating_sub(now)) < self.config.idle_timeout {
            let cap = redis::cmd("PEXPIRE")
                .arg(&key)
                .arg(self.key_ttl_ms(data.expires_at, now))
                .to_owned();
            self.conn.query::<i64>("touch", &cap).await?;
        }
        self.remember(*sid, &data, seen);
        Ok(Some(data))
    }

    async fn fresh(&self, sid: &Sid) -> Result<Option<Arc<SessionData>>, StoreError> {
        let seen = self.evictions.load(Ordering::Acquire);
        let cmd = redis::cmd("GET").arg(self.session_key(sid)).to_owned();
        match self.live(sid, self.conn.query("get", &cmd).await?) {
            Some(data) => {
                self.remember(*sid, &data, seen);
                Ok(Some(data))
            }
            None => {
                self.l1.invalidate(sid);
                Ok(None)
            }
        }
    }

    async fn create(&self, data: SessionData) -> Result<SessionId, StoreError> {
        let id = SessionId::random();
        let sid = Sid::of(&id);
        let now = now_secs();
        let bytes = self.config.seal.seal(&sid, record::encode(&data)?);
        let session_prefix = self.conn.key("session", "");
        let mut invocation = self.create.key(self.session_key(&sid));
        invocation
            .key(self.index_key(&data.site, &data.customer.id))
            .arg(bytes)
            .arg(self.key_ttl_ms(data.expires_at, now))
            .arg(sid.encode())
            .arg(data.created_at)
            .arg(self.config.max_per_customer.max(1))
            .arg(ms(self.config.absolute_timeout))
            .arg(session_prefix)
            .arg(self.conn.evict_channel());
        let ended: Vec<String> = self.conn.script("create", &invocation).await?;
        for old in ended.iter().filter_map(|s| Sid::parse(s)) {
            self.evicted(&old);
        }
        self.l1.insert(sid, Arc::new(data));
        Ok(id)
    }

    /// `SET … XX KEEPTTL`: the session keeps its expiry, and is not brought back if it
    /// ended meanwhile. Other replicas drop their copy.
    async fn save(&self, sid: &Sid, data: &SessionData) -> Result<(), StoreError> {
        let cmd = redis::cmd("SET")
            .arg(self.session_key(sid))
            .arg(self.config.seal.seal(sid, record::encode(data)?))
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
        let mut pipe = redis::pipe();
        for sid in &sids {
            let key = self.session_key(sid);
            pipe.cmd("GET").arg(&key).cmd("PTTL").arg(&key);
        }
        let replies: Vec<(Option<Vec<u8>>, i64)> = self.conn.pipe("list", &pipe).await?;
        let now = now_secs();
        let idle = self.config.idle_timeout.as_secs();
        Ok(sids
            .iter()
            .zip(replies)
            .filter_map(|(sid, (bytes, pttl))| {
                let data = self.live(sid, bytes)?;
                (data.site.as_ref() == site && data.customer.id == customer).then(|| {
                    // The key's TTL restarts at each use: its age since then is how long
                    // ago the session was last seen (when the idle timeout bounds it).
                    let left = u64::try_from(pttl).unwrap_or(0) / 1000;
                    let idle_bound = left < data.expires_at.saturating_sub(now);
                    let last_seen = if idle_bound {
                        now.saturating_sub(idle.saturating_sub(left))
                    } else {
                        data.created_at
                    };
                    SessionMeta {
                        sid: sid.encode(),
                        created_at: data.created_at,
                        last_seen: last_seen.max(data.created_at),
                        expires_at: data.expires_at,
                    }
                })
            })
            .collect())
    }

    async fn end_customer_sessions(&self, site: &str, customer: &str) -> Result<usize, StoreError> {
        let mut invocation = self.end_customer.key(self.index_key(site, customer));
        invocation
            .arg(self.conn.key("session", ""))
            .arg(self.conn.evict_channel());
        let ended: Vec<String> = self.conn.script("end_customer", &invocation).await?;
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
