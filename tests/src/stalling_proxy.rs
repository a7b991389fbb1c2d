//! A TCP relay in front of Redis that can stall one kind of connection without
//! closing it, the way a NAT or load balancer that dropped an idle flow does: the
//! bytes stop, the socket stays open. Connections that sent `SUBSCRIBE` are the
//! eviction subscriptions; [`StallingProxy::stall_subscriptions`] freezes those that
//! exist at that moment (new ones pass).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct StallingProxy {
    pub addr: SocketAddr,
    /// Subscription connections opened before this generation are frozen.
    stall_before: Arc<AtomicU64>,
    next_id: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl StallingProxy {
    /// Relays a free loopback port to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<StallingProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stall_before = Arc::new(AtomicU64::new(0));
        let next_id = Arc::new(AtomicU64::new(1));
        let (stall, ids) = (stall_before.clone(), next_id.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let id = ids.fetch_add(1, Ordering::SeqCst);
                let stall = stall.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, id, stall).await;
                    }
                });
            }
        });
        Ok(StallingProxy {
            addr,
            stall_before,
            next_id,
            task,
        })
    }

    /// Freezes every subscription connection open now; later ones pass.
    pub fn stall_subscriptions(&self) {
        self.stall_before
            .store(self.next_id.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

impl Drop for StallingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(client: TcpStream, server: TcpStream, id: u64, stall_before: Arc<AtomicU64>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let subscription = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let frozen = {
        let (subscription, stall_before) = (subscription.clone(), stall_before.clone());
        move || subscription.load(Ordering::SeqCst) && id < stall_before.load(Ordering::SeqCst)
    };
    let frozen_up = frozen.clone();
    let sub = subscription.clone();
    let up = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if buf[..n].windows(9).any(|w| w.eq_ignore_ascii_case(b"SUBSCRIBE")) {
                sub.store(true, Ordering::SeqCst);
            }
            if frozen_up() {
                std::future::pending::<()>().await;
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if frozen() {
                std::future::pending::<()>().await;
            }
            if cw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(up, down);
}
