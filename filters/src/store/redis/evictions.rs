//! How evictions reach every replica's L1: published on `<prefix>:evict` by whoever
//! ends a session (logout, refusal, the per-customer cap, the admin `DELETE`), and
//! applied here by the subscription each replica keeps alive.

use super::RedisSessionStore;
use crate::secret::Sid;
use futures_util::StreamExt;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How often the eviction subscription's connection is pinged, and how long an
/// answer may take.
const SUBSCRIPTION_PING: Duration = Duration::from_secs(2);

impl RedisSessionStore {
    /// Drops `sid` from this replica's L1 (an eviction from anywhere).
    pub fn evicted(&self, sid: &Sid) {
        self.evictions.fetch_add(1, Ordering::AcqRel);
        self.l1.invalidate(sid);
    }

    /// Tells the other replicas to drop `sid`. The change itself is already in Redis:
    /// a failed publish (counted, logged) leaves them serving their copy until
    /// `l1_ttl`, it does not undo the change.
    pub(super) async fn publish_or_warn(&self, sid: &Sid) {
        let cmd = redis::cmd("PUBLISH")
            .arg(self.conn.evict_channel())
            .arg(sid.encode())
            .to_owned();
        if let Err(e) = self.conn.query::<i64>("publish", &cmd).await {
            tracing::error!(error = %e, "eviction not published: other replicas keep their copy until sessions.l1_ttl");
        }
    }

    /// True while the eviction subscription is up and answering pings: without it,
    /// revocations on other replicas reach this one only after `l1_ttl`.
    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
    }

    /// Keeps the eviction subscription alive for as long as the process runs:
    /// subscribes (on the server or primary in use, or on a cluster node), drops what
    /// each message names, and pings the subscription's own connection every
    /// [`SUBSCRIPTION_PING`] (a connection dropped silently by a NAT
    /// or proxy is noticed within a few seconds, not never). After a lost
    /// subscription it drops the whole L1 before serving from it again.
    pub async fn run_evictions(&self) {
        let channel = self.conn.evict_channel();
        let mut lost = false;
        let mut reported = false;
        loop {
            let subscribed = match self.conn.pubsub().await {
                Ok(mut pubsub) => pubsub
                    .subscribe(&channel)
                    .await
                    .map(|()| pubsub)
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match subscribed {
                Ok(pubsub) => {
                    if lost {
                        // Revocations may have been missed while the subscription was down.
                        self.evictions.fetch_add(1, Ordering::AcqRel);
                        self.l1.invalidate_all();
                        tracing::info!("eviction subscription back; L1 session cache dropped");
                    }
                    self.subscribed.store(true, Ordering::Release);
                    reported = false;
                    self.listen(pubsub).await;
                    self.subscribed.store(false, Ordering::Release);
                    tracing::warn!("eviction subscription lost; reconnecting");
                }
                Err(e) if !reported => {
                    // E.g. an ACL user without `&<prefix>:evict`: say so once, loudly.
                    tracing::error!(error = %e, channel = %channel, "cannot subscribe to session evictions; revocations from other replicas reach this one only after sessions.l1_ttl");
                    reported = true;
                }
                Err(_) => {}
            }
            lost = true;
            tokio::time::sleep(crate::store::redis::PING_INTERVAL).await;
        }
    }

    /// Applies evictions until the subscription ends or stops answering pings.
    async fn listen(&self, pubsub: redis::aio::PubSub) {
        // A Sentinel failover moves the store to another server: the subscription
        // follows it (and the L1 is dropped, as after any lost subscription).
        let server = self.conn.generation();
        let (mut sink, mut messages) = pubsub.split();
        let mut ping = tokio::time::interval(SUBSCRIPTION_PING);
        ping.tick().await;
        loop {
            tokio::select! {
                msg = messages.next() => {
                    let Some(msg) = msg else { return };
                    let sid = std::str::from_utf8(msg.get_payload_bytes()).ok().and_then(Sid::parse);
                    match sid {
                        Some(sid) => self.evicted(&sid),
                        None => tracing::warn!("ignored a malformed eviction message"),
                    }
                }
                _ = ping.tick() => {
                    if self.conn.generation() != server {
                        return;
                    }
                    let answered = tokio::time::timeout(SUBSCRIPTION_PING, sink.ping::<redis::Value>()).await;
                    if !matches!(answered, Ok(Ok(_))) {
                        return;
                    }
                }
            }
        }
    }
}
