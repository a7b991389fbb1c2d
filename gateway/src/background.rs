//! Pingora background services: IdP discovery/JWKS refresh for the providers of the
//! running configuration, the sweeper that drops expired sessions and abandoned
//! logins, and `SIGHUP` (reload) with the certificate-file watch.

use crate::metrics::Metrics;
use crate::reload::Reloader;
use crate::snapshot::CurrentSnapshot;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use sso_filters::oidc::OidcProvider;
use sso_filters::store::Stores;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};

/// Keeps the metadata of every IdP of the running configuration fresh: one task per
/// provider, started when a snapshot brings a provider it has not seen and stopped
/// when the running snapshot no longer has it. A provider kept across a reload keeps
/// its task (no new discovery).
pub struct DiscoveryService {
    pub current: CurrentSnapshot,
    /// Changes on each swap (see [`Reloader::swaps`]).
    pub swaps: watch::Receiver<u64>,
    pub metrics: Arc<Metrics>,
}

#[async_trait]
impl BackgroundService for DiscoveryService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut swaps = self.swaps.clone();
        let mut tasks = JoinSet::new();
        let mut running: Vec<(Arc<OidcProvider>, AbortHandle)> = Vec::new();
        loop {
            let snapshot = self.current.load_full();
            running.retain(|(p, task)| {
                let kept = snapshot.providers().any(|(_, q)| Arc::ptr_eq(p, q));
                if !kept {
                    task.abort();
                }
                kept
            });
            for (_, provider) in snapshot.providers() {
                if !running.iter().any(|(p, _)| Arc::ptr_eq(p, provider)) {
                    let task = tasks.spawn(keep_fresh(provider.clone(), self.metrics.clone(), self.current.clone()));
                    running.push((provider.clone(), task));
                }
            }
            drop(snapshot);
            tokio::select! {
                _ = shutdown.changed() => {
                    tasks.abort_all();
                    return;
                }
                changed = swaps.changed() => {
                    if changed.is_err() {
                        // No more reloads: keep the tasks until shutdown.
                        let _ = shutdown.changed().await;
                        tasks.abort_all();
                        return;
                    }
                }
                Some(_) = tasks.join_next() => {}
            }
        }
    }
}

/// Loads the IdP's metadata, retrying with backoff while it is unreachable (the
/// gateway keeps serving; `/readyz` says not ready), then refreshes it every
/// `oidc.discovery_refresh`. A failed refresh keeps the last good metadata. A
/// provider that already has metadata (discovered by the reload that added it)
/// waits for its first refresh. A failure is logged naming the provider's key path
/// in the running configuration (`sites[0].oidc.issuer: ...`).
async fn keep_fresh(provider: Arc<OidcProvider>, metrics: Arc<Metrics>, current: CurrentSnapshot) {
    let refresh = provider.config.discovery_refresh;
    let mut wait = if provider.current().is_some() {
        refresh
    } else {
        Duration::ZERO
    };
    let mut backoff = Duration::from_millis(500);
    loop {
        tokio::time::sleep(wait).await;
        let had_metadata = provider.current().is_some();
        let started = std::time::Instant::now();
        let result = provider.discover().await;
        let seconds = started.elapsed().as_secs_f64();
        sso_filters::events::AuthEvents::idp_call(&*metrics, &provider.site, "discovery", seconds, result.is_ok());
        // Discovery fetches the signing keys too; a failure before them counts as theirs.
        metrics.jwks_refreshed(&provider.site, result.is_ok());
        wait = match result {
            Ok(()) => {
                if !had_metadata {
                    tracing::info!(site = %provider.site, issuer = %provider.config.issuer, "identity provider metadata loaded");
                }
                backoff = Duration::from_millis(500);
                refresh
            }
            Err(e) => {
                let at = current.load().key_path_of(&provider);
                let error = at.map_or_else(|| e.to_string(), |at| e.at(&at));
                tracing::warn!(site = %provider.site, %error, retry_in = ?backoff, "identity provider discovery failed");
                let wait = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(60));
                wait
            }
        };
    }
}

/// Every 30 s: frees expired sessions held in this process (the store never serves
/// one, but only housekeeping releases its memory and its place in the per-customer
/// index) and drops expired pending logins.
pub struct SweepService {
    pub stores: Stores,
}

#[async_trait]
impl BackgroundService for SweepService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            }
            let left = self.stores.sessions.sweep();
            self.stores.single_use.sweep();
            tracing::debug!(sessions = left, "swept expired sessions");
        }
    }
}

/// `SIGHUP` reloads the configuration (see [`crate::reload`]); the certificates are
/// read anew with it. When the new configuration is refused, the running one's
/// certificates are still re-read (the signal's meaning before configuration reload
/// existed). Certificate files are also checked for changes every few seconds and
/// re-read when they change.
pub struct HangupService {
    pub reloader: Arc<Reloader>,
    pub current: CurrentSnapshot,
}

impl HangupService {
    fn reload_certs(&self, force: bool) {
        let snapshot = self.current.load();
        let Some(certs) = &snapshot.certs else { return };
        let (replaced, errors) = certs.reload(force);
        for e in &errors {
            tracing::error!(error = %e, "certificate not reloaded");
        }
        if replaced > 0 {
            tracing::info!(replaced, "certificates reloaded");
        }
    }
}

#[async_trait]
impl BackgroundService for HangupService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP");
                return;
            }
        };
        let mut poll = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = hangups.recv() => {
                    tracing::info!("SIGHUP received: reloading the configuration");
                    if !self.reloader.reload("sighup").await.is_applied() {
                        self.reload_certs(true);
                    }
                }
                _ = poll.tick() => self.reload_certs(false),
            }
        }
    }
}
