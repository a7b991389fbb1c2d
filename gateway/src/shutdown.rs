//! How the gateway stops, by signal:
//!
//! - `SIGINT`: at once; requests in flight are cut. The process exits here, without
//!   Pingora's fast shutdown: that one stops the runtimes without telling the
//!   listeners, and an accept loop polled on a runtime going away could spin, logging
//!   `Accept() failed … being shutdown` by the million and keeping the process alive.
//! - `SIGTERM`: drains. `/readyz` turns 503 at once (`serving: false`) so a load
//!   balancer stops sending; the listeners keep serving until no request is in
//!   flight, for at most `server.graceful_shutdown_timeout`; then they close, and what
//!   still runs gets `server.grace_period` before the process exits. So the process
//!   is gone within `graceful_shutdown_timeout + grace_period`, sooner when idle.
//! - `SIGQUIT`: Pingora's zero-downtime upgrade (the sockets go to the new process).
//!
//! Pingora alone closed the listeners at once on `SIGTERM` and cut every request
//! still running after `grace_period`: its own shutdown timeout only waits for
//! blocking threads, never for a request.

use crate::readiness::ReadyFlag;
use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Counts the storefront requests in flight.
#[derive(Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

/// One request in flight, counted until it is dropped (with the request's context).
pub struct InFlightGuard(Arc<AtomicUsize>);

impl InFlight {
    pub fn enter(&self) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        InFlightGuard(self.0.clone())
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The signals, as described in the module documentation.
pub struct Signals {
    pub in_flight: InFlight,
    /// `/readyz`'s `serving` check: true until `SIGTERM`.
    pub serving: ReadyFlag,
    /// `server.graceful_shutdown_timeout`.
    pub drain_timeout: Duration,
}

fn listen(kind: SignalKind) -> Option<Signal> {
    match signal(kind) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for a shutdown signal");
            None
        }
    }
}

/// The next signal of `s`; never, when it could not be listened for.
async fn next(s: &mut Option<Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

impl Signals {
    /// Until nothing is in flight or `drain_timeout` has passed.
    async fn drain(&self) {
        let started = Instant::now();
        tracing::info!(
            in_flight = self.in_flight.count(),
            timeout = ?self.drain_timeout,
            "SIGTERM received: /readyz says not ready; serving until no request is in flight"
        );
        while self.in_flight.count() > 0 && started.elapsed() < self.drain_timeout {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        match self.in_flight.count() {
            0 => tracing::info!(after = ?started.elapsed(), "no request in flight: closing the listeners"),
            left => tracing::warn!(
                in_flight = left,
                "graceful_shutdown_timeout passed: closing the listeners"
            ),
        }
    }
}

#[async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        let mut quit = listen(SignalKind::quit());
        let mut term = listen(SignalKind::terminate());
        let mut int = listen(SignalKind::interrupt());
        tokio::select! {
            _ = next(&mut quit) => return ShutdownSignal::GracefulUpgrade,
            _ = next(&mut int) => exit_now(),
            _ = next(&mut term) => {}
        }
        self.serving.set(false);
        tokio::select! {
            _ = self.drain() => ShutdownSignal::GracefulTerminate,
            _ = next(&mut int) => exit_now(),
        }
    }
}

/// `SIGINT`: the process ends here (see the module documentation).
fn exit_now() -> ! {
    tracing::info!("SIGINT received: exiting now");
    crate::logging::flush();
    std::process::exit(0)
}
