//! Pingora background services: IdP discovery/JWKS refresh per site, and the sweeper
//! that drops expired sessions and abandoned logins.

use crate::readiness::ReadyFlag;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use sso_filters::oidc::OidcProvider;
use sso_filters::store::Stores;
use std::sync::Arc;
use std::time::Duration;

/// Loads the IdP's metadata at start-up, retrying with backoff while it is
/// unreachable (the gateway keeps serving; `/readyz` says not ready), then refreshes
/// it every `oidc.discovery_refresh`. A failed refresh keeps the last good metadata.
pub struct DiscoveryService {
    pub provider: Arc<OidcProvider>,
    pub ready: ReadyFlag,
    pub on_call: Arc<dyn Fn(f64) + Send + Sync>,
}

#[async_trait]
impl BackgroundService for DiscoveryService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut backoff = Duration::from_millis(500);
        loop {
            let started = std::time::Instant::now();
            let result = self.provider.discover().await;
            (self.on_call)(started.elapsed().as_secs_f64());
            let wait = match result {
                Ok(()) => {
                    if !self.ready.get() {
                        tracing::info!(site = %self.provider.site, issuer = %self.provider.config.issuer, "identity provider metadata loaded");
                    }
                    self.ready.set(true);
                    backoff = Duration::from_millis(500);
                    self.provider.config.discovery_refresh
                }
                Err(e) => {
                    tracing::warn!(site = %self.provider.site, error = %e, retry_in = ?backoff, "identity provider not reachable");
                    let wait = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    wait
                }
            };
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
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

/// Catches `SIGHUP` so an operator's reload signal does not kill the process (the
/// default action): it re-reads the TLS certificates; every other setting needs a
/// restart (`run --upgrade`). Certificate files are also checked for changes every
/// few seconds and re-read when they change.
pub struct HangupService {
    pub certs: Option<Arc<crate::tls::CertStore>>,
}

impl HangupService {
    fn reload_certs(&self, force: bool) {
        let Some(certs) = &self.certs else { return };
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
                    tracing::warn!(
                        "SIGHUP received: TLS certificates are re-read; other configuration changes are not \
                         reloaded (use `run --upgrade` + SIGQUIT for a zero-downtime restart)"
                    );
                    self.reload_certs(true);
                }
                _ = poll.tick() => self.reload_certs(false),
            }
        }
    }
}
