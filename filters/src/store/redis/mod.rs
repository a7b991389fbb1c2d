//! The Redis stores: sessions shared by every replica, with a short in-process L1
//! cache ([`sessions`]), single-use entries and TTL records ([`RedisKv`]).
//!
//! - **Connection.** One server (`redis://`, `rediss://`), the primary named by
//!   sentinels (`redis+sentinel://`), or a Redis Cluster (`sessions.redis_cluster`);
//!   [`connection`] says how each is reached. It is opened by [`RedisConn::run_health`],
//!   which the gateway runs as a background task: it also checks Redis every second
//!   (the health behind `/readyz`) and, with Sentinel, moves to the new primary after a
//!   failover.
//! - **Keys.** `<prefix>:<kind>:<id>`; every key has a TTL; no `KEYS` or `SCAN`. Every
//!   command and script names one key, except two session scripts that a Redis Cluster
//!   runs as single-key steps instead ([`sessions`]): key names are the same in every
//!   mode, so moving to Sentinel signs nobody out.
//! - **Faults.** While the last check failed, every operation fails at once with
//!   [`StoreError::Unavailable`] instead of queueing behind timeouts; the next good check
//!   (within a second of Redis, or a new primary, coming back) restores service. Each
//!   failure is reported to the gateway's error hook
//!   (`sso_gateway_store_errors_total{store,op}`). A `READONLY` answer (a primary
//!   demoted under us) counts as down until the sentinels name the new one.

pub mod connection;
mod kv;
pub mod rate_counts;
pub mod sessions;

pub use connection::{RedisConnection, RedisTarget};
pub use kv::RedisKv;

use super::StoreError;
use arc_swap::ArcSwapOption;
use connection::Backend;
use redis::aio::ConnectionManager;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Reports a failed store operation: (`store`, `op`).
pub type ErrorHook = Arc<dyn Fn(&'static str, &'static str) + Send + Sync>;

/// How long one command may take before it counts as a failure.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long asking the sentinels for the primary may take.
const SENTINEL_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the connection's health is checked.
pub const PING_INTERVAL: Duration = Duration::from_secs(1);

/// The connection in use and where it goes.
struct Active {
    conn: RedisConnection,
    /// The server's client (one server, Sentinel's primary): the eviction subscription
    /// connects there too.
    client: Option<redis::Client>,
    /// `host:port` of the server or primary (`None` for a cluster).
    address: Option<String>,
}

/// What the operator is told of the connection (`/readyz`, metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisStatus {
    /// `single`, `sentinel` or `cluster`.
    pub mode: &'static str,
    /// The server or primary in use (`host:port`); for a cluster, the node the
    /// eviction subscription is on. `None` before the first connection.
    pub address: Option<String>,
    /// How many times the primary in use changed (Sentinel failovers seen).
    pub primary_changes: u64,
    /// Unix second the address in use was set (first connection or last change).
    pub since: u64,
}

/// One Redis deployment, as every Redis store of the process uses it.
pub struct RedisConn {
    backend: Backend,
    active: ArcSwapOption<Active>,
    prefix: String,
    healthy: AtomicBool,
    /// Set by a `READONLY` answer: ask the sentinels again at the next check.
    stale_primary: AtomicBool,
    /// Bumped whenever the connection moves to another server.
    generation: AtomicU64,
    primary_changes: AtomicU64,
    since: AtomicU64,
    /// The cluster node the eviction subscription is on (an index into the seeds).
    subscription_node: AtomicUsize,
    subscription_address: ArcSwapOption<String>,
    on_error: ErrorHook,
}

impl RedisConn {
    /// Checks the address only; nothing connects before [`Self::run_health`].
    pub fn new(target: &RedisTarget, prefix: &str, on_error: ErrorHook) -> Result<Arc<Self>, StoreError> {
        Ok(Arc::new(RedisConn {
            backend: Backend::new(target)?,
            active: ArcSwapOption::empty(),
            prefix: prefix.to_string(),
            healthy: AtomicBool::new(false),
            stale_primary: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            primary_changes: AtomicU64::new(0),
            since: AtomicU64::new(0),
            subscription_node: AtomicUsize::new(0),
            subscription_address: ArcSwapOption::empty(),
            on_error,
        }))
    }

    /// True while Redis answered the last check.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// True for a Redis Cluster (some session operations run as single-key steps).
    pub fn is_cluster(&self) -> bool {
        matches!(self.backend, Backend::Cluster { .. })
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

    /// Which server is in use, and since when.
    pub fn status(&self) -> RedisStatus {
        let address = match self.backend {
            Backend::Cluster { .. } => self.subscription_address.load().as_deref().cloned(),
            _ => self.active.load().as_ref().and_then(|a| a.address.clone()),
        };
        RedisStatus {
            mode: self.backend.mode(),
            address,
            primary_changes: self.primary_changes.load(Ordering::Acquire),
            since: self.since.load(Ordering::Acquire),
        }
    }

    /// Changes whenever the connection moves to another server: the eviction
    /// subscription follows.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn use_server(&self, client: redis::Client, conn: RedisConnection) {
        let address = Some(connection::address_of(&client));
        let previous = self.active.load().as_ref().and_then(|a| a.address.clone());
        if previous.is_some() && previous != address {
            self.primary_changes.fetch_add(1, Ordering::AcqRel);
            tracing::warn!(
                from = previous.as_deref().unwrap_or("-"),
                to = address.as_deref().unwrap_or("-"),
                "Redis primary changed (Sentinel failover)"
            );
        }
        self.since.store(crate::sessions::now_secs(), Ordering::Release);
        self.active.store(Some(Arc::new(Active {
            conn,
            client: Some(client),
            address,
        })));
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn manager(client: &redis::Client) -> Option<RedisConnection> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        match ConnectionManager::new_lazy_with_config(client.clone(), config) {
            Ok(m) => Some(RedisConnection::Server(m)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot set up the Redis connection");
                None
            }
        }
    }

    /// Opens the connection if there is none; with Sentinel and `resolve`, asks the
    /// sentinels for the primary and moves there if it is another server.
    async fn connect(&self, resolve: bool) -> Result<(), String> {
        let connected = self.active.load().is_some();
        match &self.backend {
            Backend::Single(client) if !connected => {
                if let Some(conn) = Self::manager(client) {
                    self.use_server(client.as_ref().clone(), conn);
                }
            }
            Backend::Sentinel(sentinel) if resolve || !connected => {
                let mut sentinel = sentinel.lock().await;
                let client = tokio::time::timeout(SENTINEL_TIMEOUT, sentinel.async_get_client())
                    .await
                    .map_err(|_| "the sentinels did not answer in time".to_string())?
                    .map_err(|e| format!("the sentinels named no reachable primary: {e}"))?;
                let current = self.active.load().as_ref().and_then(|a| a.address.clone());
                if current.as_deref() != Some(connection::address_of(&client).as_str()) {
                    if let Some(conn) = Self::manager(&client) {
                        self.use_server(client, conn);
                    }
                }
            }
            Backend::Cluster { client, .. } if !connected => {
                let conn = tokio::time::timeout(SENTINEL_TIMEOUT, client.get_async_connection())
                    .await
                    .map_err(|_| "no cluster node answered in time".to_string())?
                    .map_err(|e| e.to_string())?;
                self.since.store(crate::sessions::now_secs(), Ordering::Release);
                self.active.store(Some(Arc::new(Active {
                    conn: RedisConnection::Cluster(conn),
                    client: None,
                    address: None,
                })));
            }
            _ => {}
        }
        Ok(())
    }

    /// One health check: `PING` (every node of a cluster), or with Sentinel `ROLE`, which
    /// must still say `master`.
    async fn check(&self) -> Result<(), String> {
        let Some(mut conn) = self.connection() else {
            return Err("no connection".into());
        };
        if let Backend::Sentinel(_) = self.backend {
            let role: redis::Value = redis::cmd("ROLE")
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            return if connection::is_primary_role(&role) {
                Ok(())
            } else {
                Err("the server is no longer the primary".into())
            };
        }
        if let RedisConnection::Cluster(cluster) = &mut conn {
            return connection::ping_every_primary(cluster).await;
        }
        redis::cmd("PING")
            .query_async::<redis::Value>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// One connection and one health check, as the first ping of a running gateway
    /// would do them (`check --online`, start-up). Meant for a `RedisConn` made for it
    /// and dropped afterwards: the connection it opens belongs to the caller's runtime.
    pub async fn probe(&self) -> Result<(), String> {
        self.connect(true).await?;
        self.check().await
    }

    /// Connects, then checks every [`PING_INTERVAL`], keeping the health flag current
    /// (and, with Sentinel, the primary). Never returns: an unreachable Redis is retried.
    pub async fn run_health(&self) {
        let mut reported_down = false;
        let mut resolve = false;
        loop {
            let resolve_now = resolve || self.stale_primary.swap(false, Ordering::AcqRel);
            let answer = match self.connect(resolve_now).await {
                Ok(()) => self.check().await,
                Err(e) => Err(e),
            };
            // With Sentinel, a failed check means: ask the sentinels at the next one.
            resolve = answer.is_err() && matches!(self.backend, Backend::Sentinel(_));
            let ok = answer.is_ok();
            let was = self.healthy.swap(ok, Ordering::AcqRel);
            if ok && !was {
                let status = self.status();
                tracing::info!(
                    mode = status.mode,
                    address = status.address.as_deref().unwrap_or("-"),
                    "Redis session store reachable"
                );
                reported_down = false;
            } else if let (Err(e), false) = (&answer, reported_down) {
                // The error names the cause (refused, WRONGPASS, timeout), never the URL.
                tracing::error!(error = %e, "Redis session store unreachable: new logins are refused until it is back");
                (self.on_error)("redis", "ping");
                reported_down = true;
            }
            if ok && self.stale_primary.load(Ordering::Acquire) {
                continue;
            }
            tokio::time::sleep(PING_INTERVAL).await;
        }
    }

    fn connection(&self) -> Option<RedisConnection> {
        self.active.load().as_ref().map(|a| a.conn.clone())
    }

    /// A connection for one operation, or at once an error while Redis is down.
    pub fn ready(&self, op: &'static str) -> Result<RedisConnection, StoreError> {
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

    /// Runs a pipeline (its commands must name keys of one slot in a cluster).
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

    /// Counts and logs a failed operation. A `READONLY` answer means the server was
    /// demoted (a failover): Redis counts as down until the sentinels name the primary.
    pub fn failed(&self, op: &'static str, e: redis::RedisError) -> StoreError {
        (self.on_error)("redis", op);
        tracing::warn!(op, error = %e, "Redis operation failed");
        if matches!(self.backend, Backend::Sentinel(_))
            && e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
        {
            self.healthy.store(false, Ordering::Release);
            self.stale_primary.store(true, Ordering::Release);
        }
        StoreError::Unavailable(e.to_string())
    }

    /// A dedicated connection for the eviction subscription: on the server or primary
    /// in use, or on a cluster node (the last one that worked first, then the others).
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub, StoreError> {
        let unavailable = |e: String| StoreError::Unavailable(e);
        match &self.backend {
            Backend::Cluster { nodes, .. } => {
                let first = self.subscription_node.load(Ordering::Acquire);
                let mut last = String::from("no node");
                for i in (0..nodes.len()).map(|k| (first + k) % nodes.len()) {
                    let Some(node) = nodes.get(i) else { continue };
                    match tokio::time::timeout(CONNECT_TIMEOUT * 2, node.get_async_pubsub()).await {
                        Ok(Ok(pubsub)) => {
                            self.subscription_node.store(i, Ordering::Release);
                            self.subscription_address
                                .store(Some(Arc::new(connection::address_of(node))));
                            return Ok(pubsub);
                        }
                        Ok(Err(e)) => last = e.to_string(),
                        Err(_) => last = "timed out".into(),
                    }
                }
                Err(unavailable(last))
            }
            _ => {
                let client = self.active.load().as_ref().and_then(|a| a.client.clone());
                let client = client.ok_or_else(|| unavailable("not connected yet".into()))?;
                tokio::time::timeout(CONNECT_TIMEOUT * 2, client.get_async_pubsub())
                    .await
                    .map_err(|_| unavailable("timed out".into()))?
                    .map_err(|e| unavailable(e.to_string()))
            }
        }
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod health_tests;
