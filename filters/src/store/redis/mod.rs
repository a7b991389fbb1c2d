//! The Redis stores: sessions shared by every replica, with a short in-process L1
//! cache ([`sessions`]), single-use entries and TTL records ([`RedisKv`]).
//!
//! - **Connection.** One `redis` `ConnectionManager` (multiplexed, reconnects by itself),
//!   `redis://` or `rediss://` (TLS, system roots). It is opened by [`RedisConn::run`],
//!   which the gateway runs as a background task: it also pings Redis every second
//!   (the health behind `/readyz`) and keeps the eviction subscription alive.
//! - **Keys.** `<prefix>:<kind>:<id>`; every key has a TTL; no `KEYS` or `SCAN`.
//! - **Faults.** While the last ping failed, every operation fails at once with
//!   [`StoreError::Unavailable`] instead of queueing behind timeouts; the next good ping
//!   (within a second of Redis coming back) restores service. Each failure is reported
//!   to the gateway's error hook (`sso_gateway_store_errors_total{store,op}`).

pub mod rate_counts;
pub mod sessions;

use super::{Records, SingleUse, StoreError};
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Reports a failed store operation: (`store`, `op`).
pub type ErrorHook = Arc<dyn Fn(&'static str, &'static str) + Send + Sync>;

/// How long one command may take before it counts as a failure.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the connection's health is checked.
pub const PING_INTERVAL: Duration = Duration::from_secs(1);

/// One Redis server, as every Redis store of the process uses it.
pub struct RedisConn {
    client: redis::Client,
    manager: arc_swap::ArcSwapOption<ConnectionManager>,
    prefix: String,
    healthy: AtomicBool,
    on_error: ErrorHook,
}

impl RedisConn {
    /// Checks the URL only; nothing connects before [`Self::run`].
    pub fn new(url: &str, prefix: &str, on_error: ErrorHook) -> Result<Arc<Self>, StoreError> {
        let client =
            redis::Client::open(url).map_err(|e| StoreError::Unavailable(format!("sessions.redis_url: {e}")))?;
        Ok(Arc::new(RedisConn {
            client,
            manager: arc_swap::ArcSwapOption::empty(),
            prefix: prefix.to_string(),
            healthy: AtomicBool::new(false),
            on_error,
        }))
    }

    /// True while Redis answered the last ping.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    pub fn key(&self, kind: &str, id: &str) -> String {
        let mut k = String::with_capacity(self.prefix.len() + kind.len() + id.len() + 2);
        k.push_str(&self.prefix);
        k.push(':');
        k.push_str(kind);
        k.push(':');
        k.push_str(id);
        k
    }

    /// The channel on which evictions are published.
    pub fn evict_channel(&self) -> String {
        format!("{}:evict", self.prefix)
    }

    /// Connects, then pings every [`PING_INTERVAL`] until `stop` resolves, keeping the
    /// health flag current. Never returns an error: an unreachable Redis is retried.
    pub async fn run_health(&self) {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let mut reported_down = false;
        loop {
            if self.manager.load().is_none() {
                match ConnectionManager::new_lazy_with_config(self.client.clone(), config.clone()) {
                    Ok(m) => self.manager.store(Some(Arc::new(m))),
                    Err(e) => tracing::warn!(error = %e, "cannot set up the Redis connection"),
                }
            }
            let answer = match self.connection() {
                Some(mut conn) => redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .map_err(|e| e.to_string()),
                None => Err("no connection".into()),
            };
            let ok = answer.is_ok();
            let was = self.healthy.swap(ok, Ordering::AcqRel);
            if ok && !was {
                tracing::info!("Redis session store reachable");
                reported_down = false;
            } else if let (Err(e), false) = (&answer, reported_down) {
                // The error names the cause (refused, WRONGPASS, timeout), never the URL.
                tracing::error!(error = %e, "Redis session store unreachable: new logins are refused until it is back");
                (self.on_error)("redis", "ping");
                reported_down = true;
            }
            tokio::time::sleep(PING_INTERVAL).await;
        }
    }

    fn connection(&self) -> Option<ConnectionManager> {
        self.manager.load().as_deref().cloned()
    }

    /// A connection for one operation, or at once an error while Redis is down.
    fn ready(&self, op: &'static str) -> Result<ConnectionManager, StoreError> {
        match self.connection() {
            Some(conn) if self.is_healthy() => Ok(conn),
            _ => {
                (self.on_error)("redis", op);
                Err(StoreError::Unavailable("Redis is not reachable".into()))
            }
        }
    }

    /// Runs one command.
    pub async fn query<T: redis::FromRedisValue>(&self, op: &'static str, cmd: &redis::Cmd) -> Result<T, StoreError> {
        let mut conn = self.ready(op)?;
        cmd.query_async(&mut conn).await.map_err(|e| self.failed(op, e))
    }

    /// Runs a pipeline.
    pub async fn pipe<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        pipe: &redis::Pipeline,
    ) -> Result<T, StoreError> {
        let mut conn = self.ready(op)?;
        pipe.query_async(&mut conn).await.map_err(|e| self.failed(op, e))
    }

    /// Runs a Lua script (`EVALSHA`, loading it on first use).
    pub async fn script<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut conn = self.ready(op)?;
        invocation.invoke_async(&mut conn).await.map_err(|e| self.failed(op, e))
    }

    fn failed(&self, op: &'static str, e: redis::RedisError) -> StoreError {
        (self.on_error)("redis", op);
        tracing::warn!(op, error = %e, "Redis operation failed");
        StoreError::Unavailable(e.to_string())
    }

    /// A dedicated connection for the eviction subscription.
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub, StoreError> {
        self.client
            .get_async_pubsub()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Single-use entries (`SET PX` / `GETDEL`) and TTL records (`SET NX PX`, and a
/// compare-and-delete script for locks).
pub struct RedisKv {
    conn: Arc<RedisConn>,
    delete_if: redis::Script,
    add_member: redis::Script,
}

impl RedisKv {
    pub fn new(conn: Arc<RedisConn>) -> Self {
        RedisKv {
            conn,
            delete_if: redis::Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
            ),
            // Adds a member unless the set is full; the set's TTL only ever grows.
            add_member: redis::Script::new(
                "if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 and redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end \
                 redis.call('SADD', KEYS[1], ARGV[1]) \
                 if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end \
                 return 1",
            ),
        }
    }
}

#[async_trait]
impl SingleUse for RedisKv {
    async fn put(&self, kind: &str, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let cmd = redis::cmd("SET")
            .arg(self.conn.key(kind, key))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms(ttl))
            .to_owned();
        self.conn.query::<()>("put", &cmd).await
    }

    /// One `GETDEL`: of two replicas taking the same entry, exactly one gets it.
    async fn take(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let cmd = redis::cmd("GETDEL").arg(self.conn.key(kind, key)).to_owned();
        self.conn.query("take", &cmd).await
    }
}

#[async_trait]
impl Records for RedisKv {
    async fn put(&self, kind: &str, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        SingleUse::put(self, kind, key, value, ttl).await
    }

    async fn put_new(&self, kind: &str, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        let cmd = redis::cmd("SET")
            .arg(self.conn.key(kind, key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms(ttl))
            .to_owned();
        let stored: Option<String> = self.conn.query("put_new", &cmd).await?;
        Ok(stored.is_some())
    }

    async fn get(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let cmd = redis::cmd("GET").arg(self.conn.key(kind, key)).to_owned();
        self.conn.query("get", &cmd).await
    }

    async fn delete_if(&self, kind: &str, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        let mut invocation = self.delete_if.key(self.conn.key(kind, key));
        invocation.arg(value);
        let deleted: i64 = self.conn.script("delete", &invocation).await?;
        Ok(deleted > 0)
    }
}

#[async_trait]
impl super::Sets for RedisKv {
    /// One script: the size check, `SADD` and the TTL are one atomic step.
    async fn add(&self, kind: &str, key: &str, member: &str, ttl: Duration, max: usize) -> Result<bool, StoreError> {
        let mut invocation = self.add_member.key(self.conn.key(kind, key));
        invocation.arg(member).arg(ttl_ms(ttl)).arg(max);
        let added: i64 = self.conn.script("set_add", &invocation).await?;
        Ok(added > 0)
    }

    async fn remove(&self, kind: &str, key: &str, member: &str) -> Result<(), StoreError> {
        let cmd = redis::cmd("SREM").arg(self.conn.key(kind, key)).arg(member).to_owned();
        self.conn.query::<()>("set_remove", &cmd).await
    }

    async fn members(&self, kind: &str, key: &str) -> Result<Vec<String>, StoreError> {
        let cmd = redis::cmd("SMEMBERS").arg(self.conn.key(kind, key)).to_owned();
        self.conn.query("set_members", &cmd).await
    }

    async fn delete(&self, kind: &str, key: &str) -> Result<(), StoreError> {
        let cmd = redis::cmd("DEL").arg(self.conn.key(kind, key)).to_owned();
        self.conn.query::<()>("set_delete", &cmd).await
    }
}
