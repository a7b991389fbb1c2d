//! The process's stores, built once from `[sessions]` and kept for the life of the
//! process (a reload keeps them): memory, or Redis with its background tasks. Each
//! site's session timeouts are the one part a reload changes in them
//! ([`SessionTimeouts::apply`], called once the new configuration is swapped in).

use crate::metrics::Metrics;
use crate::readiness::{Readiness, ReadyFlag};
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use sso_config::{Config, SessionStoreKind};
use sso_filters::store::idle::SessionTimeouts;
use sso_filters::store::memory_sessions::MemorySessionStore;
use sso_filters::store::redis::sessions::RedisSessionsConfig;
use sso_filters::store::redis::{RedisStatus, RedisTarget};
use sso_filters::store::{RedisTasks, Stores};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The stores, and the Redis work to run in the background when they are in Redis.
pub fn build(config: &Config, metrics: &Arc<Metrics>) -> Result<(Stores, Option<RedisTasks>), String> {
    let s = &config.sessions;
    let timeouts = SessionTimeouts::from_config(config);
    match s.store {
        SessionStoreKind::Memory => {
            let sessions = MemorySessionStore::from_config(s, timeouts);
            Ok((Stores::memory(sessions, s.max_pending_logins), None))
        }
        SessionStoreKind::Redis => {
            let target = redis_target(config)?;
            let errors = metrics.store_errors.clone();
            let hook = Arc::new(move |store: &'static str, op: &'static str| {
                errors.with_label_values(&[store, op]).inc();
            });
            let redis = RedisSessionsConfig {
                timeouts,
                l1_ttl: s.l1_ttl,
                l1_max_entries: s.max_entries,
                max_per_customer: s.max_per_customer,
                fail_closed: s.fail_closed,
                seal: sso_filters::store::seal::Seal::from_config(s),
            };
            let (stores, tasks) =
                Stores::redis(&target, &s.redis_key_prefix, redis, hook).map_err(|e| e.to_string())?;
            Ok((stores, Some(tasks)))
        }
    }
}

/// Where `[sessions]` keeps its Redis (`store = "redis"`).
fn redis_target(config: &Config) -> Result<RedisTarget, String> {
    let s = &config.sessions;
    match &s.redis_url {
        Some(url) => Ok(RedisTarget::Url(url.clone())),
        None if !s.redis_cluster.is_empty() => Ok(RedisTarget::Cluster(s.redis_cluster.clone())),
        None => Err("sessions.redis_url or sessions.redis_cluster is required".into()),
    }
}

/// The key path of the Redis address (for messages).
pub fn redis_key(config: &Config) -> &'static str {
    match config.sessions.redis_url {
        Some(_) => "sessions.redis_url",
        None => "sessions.redis_cluster",
    }
}

/// Connects to the sessions' Redis once and pings it, on a connection of its own
/// (dropped after). `None` when the sessions are in memory.
pub async fn probe_redis(config: &Config) -> Option<Result<(), String>> {
    if config.sessions.store != SessionStoreKind::Redis {
        return None;
    }
    let probe = async {
        let target = redis_target(config)?;
        let conn =
            sso_filters::store::redis::RedisConn::new(&target, &config.sessions.redis_key_prefix, Arc::new(|_, _| {}))
                .map_err(|e| e.to_string())?;
        conn.probe().await
    };
    Some(
        tokio::time::timeout(Duration::from_secs(10), probe)
            .await
            .unwrap_or_else(|_| Err("no answer within 10 s".into())),
    )
}

/// Whether a Redis error says the credentials were refused (a configuration error,
/// not an outage: waiting does not mend it).
pub fn is_auth_refusal(error: &str) -> bool {
    [
        "WRONGPASS",
        "NOAUTH",
        "invalid password",
        "AuthenticationFailed",
        "Authentication required",
    ]
    .iter()
    .any(|m| error.contains(m))
}

/// Runs the Redis health ping and eviction subscription, keeps `/readyz`'s `redis`
/// check true only while both work, and shows the server or primary in use (its
/// address and when it changed) in `/readyz` and the metrics.
pub struct RedisService {
    pub tasks: Mutex<Option<RedisTasks>>,
    pub ready: ReadyFlag,
    pub readiness: Arc<Readiness>,
    pub metrics: Arc<Metrics>,
}

impl RedisService {
    /// Publishes `status` where it changed since `shown`.
    fn show(&self, status: &RedisStatus, shown: &mut Option<RedisStatus>) {
        if shown.as_ref() == Some(status) {
            return;
        }
        let previous = shown.as_ref();
        if previous.map(|p| (p.mode, &p.address)) != Some((status.mode, &status.address)) {
            self.metrics.redis_primary.reset();
            if let Some(address) = &status.address {
                self.metrics
                    .redis_primary
                    .with_label_values(&[status.mode, address])
                    .set(1);
            }
        }
        let counted = previous.map_or(0, |p| p.primary_changes);
        self.metrics
            .redis_primary_changes
            .inc_by(status.primary_changes.saturating_sub(counted));
        self.metrics
            .redis_primary_since
            .set(i64::try_from(status.since).unwrap_or(i64::MAX));
        self.readiness.set_detail(
            "redis",
            serde_json::json!({
                "mode": status.mode,
                "address": status.address,
                "primary_changes": status.primary_changes,
                "since": status.since,
            }),
        );
        *shown = Some(status.clone());
    }
}

#[async_trait]
impl BackgroundService for RedisService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let Some(tasks) = self.tasks.lock().ok().and_then(|mut t| t.take()) else {
            return;
        };
        let healthy = tasks.health();
        let status = tasks.status();
        let ready = self.ready.clone();
        let watch = async move {
            let mut shown = None;
            loop {
                ready.set(healthy());
                self.show(&status(), &mut shown);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        };
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = tasks.run() => {}
            _ = watch => {}
        }
    }
}
