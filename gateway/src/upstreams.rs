//! The origins of one site: round-robin with passive health.
//!
//! An origin that refuses a connection is skipped for `server.upstream_failure_cooldown`;
//! when every origin is cooling down the gateway still tries one rather than fail
//! without trying.

use pingora::lb::{selection::RoundRobin, LoadBalancer};
use pingora::upstreams::peer::HttpPeer;
use sso_config::{ServerConfig, Upstream};
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One resolved origin address.
struct Origin {
    tls: bool,
    sni: String,
    /// Milliseconds since `UpstreamPool::epoch` until which this origin is skipped.
    down_until_ms: AtomicU64,
}

pub struct UpstreamPool {
    balancer: LoadBalancer<RoundRobin>,
    origins: HashMap<SocketAddr, Origin>,
    epoch: Instant,
    cooldown: Duration,
    timeouts: Timeouts,
    /// Skip verification of `https://` origins' certificates (explicit, logged).
    insecure_skip_verify: bool,
    /// The peer of a site with one origin, made once.
    only: Option<(SocketAddr, HttpPeer)>,
}

#[derive(Clone, Copy)]
struct Timeouts {
    connect: Duration,
    read: Duration,
    write: Duration,
    idle: Duration,
}

impl UpstreamPool {
    /// Resolves every upstream (host names once, at start-up).
    /// `insecure_skip_verify` turns off certificate checks of `https://` origins.
    pub fn from_config(
        upstreams: &[Upstream],
        server: &ServerConfig,
        insecure_skip_verify: bool,
    ) -> Result<Arc<Self>, String> {
        let mut origins = HashMap::new();
        for u in upstreams {
            let addrs = u
                .address
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve {:?}: {e}", u.address))?;
            for addr in addrs {
                origins.insert(
                    addr,
                    Origin {
                        tls: u.tls,
                        sni: u.sni.clone(),
                        down_until_ms: AtomicU64::new(0),
                    },
                );
            }
        }
        if origins.is_empty() {
            return Err("no upstream address resolved".into());
        }
        let balancer = LoadBalancer::try_from_iter(origins.keys().map(|a| a.to_string()))
            .map_err(|e| format!("cannot build the upstream balancer: {e}"))?;
        let mut pool = UpstreamPool {
            balancer,
            origins,
            epoch: Instant::now(),
            cooldown: server.upstream_failure_cooldown,
            insecure_skip_verify,
            timeouts: Timeouts {
                connect: server.connect_timeout,
                read: server.read_timeout,
                write: server.write_timeout,
                idle: server.upstream_idle_timeout,
            },
            only: None,
        };
        pool.only = match pool.origins.iter().next() {
            Some((addr, origin)) if pool.origins.len() == 1 => Some((*addr, pool.peer(*addr, origin))),
            _ => None,
        };
        Ok(Arc::new(pool))
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn is_cooling(&self, addr: &SocketAddr, now: u64) -> bool {
        self.origins
            .get(addr)
            .is_some_and(|o| o.down_until_ms.load(Ordering::Relaxed) > now)
    }

    /// The next origin to try, skipping those that failed recently.
    pub fn select(&self) -> Option<(SocketAddr, Box<HttpPeer>)> {
        if let Some(only) = &self.only {
            // One origin: it is tried whatever its health (see the module
            // documentation), so the balancer has nothing to decide.
            return Some((only.0, Box::new(only.1.clone())));
        }
        let now = self.now_ms();
        let tries = self.origins.len();
        let backend = self
            .balancer
            .select_with(b"", tries, |b, healthy| {
                healthy && b.addr.as_inet().is_some_and(|a| !self.is_cooling(a, now))
            })
            .or_else(|| self.balancer.select(b"", 1))?;
        let addr = *backend.addr.as_inet()?;
        let origin = self.origins.get(&addr)?;
        Some((addr, Box::new(self.peer(addr, origin))))
    }

    /// The peer for `origin` at `addr`, with the configured timeouts.
    fn peer(&self, addr: SocketAddr, origin: &Origin) -> HttpPeer {
        let mut peer = HttpPeer::new(addr, origin.tls, origin.sni.clone());
        peer.options.connection_timeout = Some(self.timeouts.connect);
        peer.options.read_timeout = Some(self.timeouts.read);
        peer.options.write_timeout = Some(self.timeouts.write);
        peer.options.idle_timeout = Some(self.timeouts.idle);
        if origin.tls && self.insecure_skip_verify {
            peer.options.verify_cert = false;
            peer.options.verify_hostname = false;
        }
        peer
    }

    /// Records a failed connection: the origin is skipped for the cooldown.
    pub fn mark_failed(&self, addr: &SocketAddr) {
        if let Some(o) = self.origins.get(addr) {
            let until = self.now_ms() + self.cooldown.as_millis() as u64;
            o.down_until_ms.store(until, Ordering::Relaxed);
            tracing::warn!(upstream = %addr, cooldown = ?self.cooldown, "upstream failed; skipping it for a while");
        }
    }

    pub fn len(&self) -> usize {
        self.origins.len()
    }
}
