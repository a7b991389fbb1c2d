//! `/readyz`'s `listeners` check: not ready until every storefront address (plain,
//! TLS and the HTTPS redirect) accepts connections. Pingora binds its listeners in
//! each service's own runtime after the admin listener may already answer, and says
//! nowhere when it is done; a connection that is accepted says it. The addresses were
//! free a moment before Pingora started ([`crate::bind_check`]), so what accepts is
//! this gateway.

use crate::readiness::ReadyFlag;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use sso_config::Config;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// How long one connection attempt may take.
const ATTEMPT: Duration = Duration::from_millis(500);
/// How often the addresses that do not accept yet are tried again.
const RETRY: Duration = Duration::from_millis(20);

pub struct ListenerProbe {
    pub addresses: Vec<String>,
    pub ready: ReadyFlag,
}

impl ListenerProbe {
    /// The storefront addresses of `config` (the admin listener is the one asked).
    pub fn new(config: &Config, ready: ReadyFlag) -> ListenerProbe {
        let addresses = crate::bind_check::listeners(config)
            .into_iter()
            .filter(|(key, _)| key != "server.admin_listen")
            .map(|(_, address)| address)
            .collect();
        ListenerProbe { addresses, ready }
    }
}

/// Where to connect to reach a listener bound to `socket`: a wildcard address is
/// reached on loopback.
fn dial_address(mut socket: SocketAddr) -> SocketAddr {
    if socket.ip().is_unspecified() {
        socket.set_ip(match socket.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    socket
}

/// The address `addr` (`ip:port` or `host:port`) is bound to, as the listener
/// resolves it; `None` while it does not resolve.
async fn resolve(addr: &str) -> Option<SocketAddr> {
    match addr.parse() {
        Ok(socket) => Some(socket),
        Err(_) => tokio::net::lookup_host(addr).await.ok()?.next(),
    }
}

async fn accepts(addr: SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(ATTEMPT, tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

#[async_trait]
impl BackgroundService for ListenerProbe {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut waiting: Vec<&str> = self.addresses.iter().map(String::as_str).collect();
        loop {
            let mut still = Vec::new();
            for addr in waiting {
                let accepted = match resolve(addr).await {
                    Some(socket) => accepts(dial_address(socket)).await,
                    None => false,
                };
                if !accepted {
                    still.push(addr);
                }
            }
            waiting = still;
            if waiting.is_empty() {
                self.ready.set(true);
                tracing::info!(listeners = self.addresses.len(), "every listener accepts connections");
                return;
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(RETRY) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_address_is_dialled_on_loopback() {
        let dial = |a: &str| a.parse().map(dial_address).ok();
        assert_eq!(dial("0.0.0.0:8080"), "127.0.0.1:8080".parse().ok());
        assert_eq!(dial("[::]:8443"), "[::1]:8443".parse().ok());
        assert_eq!(dial("10.0.0.5:80"), "10.0.0.5:80".parse().ok());
    }

    #[test]
    fn ready_only_once_every_address_accepts() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let first = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let later = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let later_addr = later.local_addr().expect("addr");
            drop(later);
            let readiness = crate::readiness::Readiness::default();
            let ready = readiness.check("listeners");
            let probe = ListenerProbe {
                addresses: vec![first.local_addr().expect("addr").to_string(), later_addr.to_string()],
                ready: ready.clone(),
            };
            let (_stop, shutdown) = tokio::sync::watch::channel(false);
            let task = tokio::spawn(async move { probe.start(shutdown).await });
            tokio::time::sleep(Duration::from_millis(400)).await;
            assert!(!ready.get(), "ready while one address does not accept");
            let _bound = tokio::net::TcpListener::bind(later_addr).await.expect("bind again");
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .expect("the probe ends once both accept")
                .expect("task");
            assert!(ready.get());
        });
    }
}
