//! The process's stores, built once from `[sessions]` and kept for the life of the
//! process (a reload keeps them): memory, or Redis with its background tasks. Each
//! site's session timeouts are the one part a reload changes in them
//! ([`SessionTimeouts::apply`], called once the new configuration is swapped in).

use crate::metrics::Metrics;
use crate::readiness::ReadyFlag;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use sso_config::{Config, SessionStoreKind};
use sso_filters::store::idle::SessionTimeouts;
use sso_filters::store::memory_sessions::MemorySessionStore;
use sso_filters::store::redis::sessions::RedisSessionsConfig;
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
            let url = s.redis_url.as_deref().ok_or("sessions.redis_url is required")?;
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
            let (stores, tasks) = Stores::redis(url, &s.redis_key_prefix, redis, hook).map_err(|e| e.to_string())?;
            Ok((stores, Some(tasks)))
        }
    }
}

/// Runs the Redis health ping and eviction subscription, and keeps `/readyz`'s
/// `redis` check true only while both work.
pub struct RedisService {
    pub tasks: Mutex<Option<RedisTasks>>,
    pub ready: ReadyFlag,
}

#[async_trait]
impl BackgroundService for RedisService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let Some(tasks) = self.tasks.lock().ok().and_then(|mut t| t.take()) else {
            return;
        };
        let healthy = tasks.health();
        let ready = self.ready.clone();
        let watch = async move {
            loop {
                ready.set(healthy());
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
