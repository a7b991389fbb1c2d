//! The session operations that touch several sessions, as a Redis Cluster runs them:
//! one key per command or script, since a customer's index and its sessions' keys are
//! in different slots (a session's key is found from its cookie alone, so it cannot
//! carry the customer's hash tag). Key names are those of one server, so a deployment
//! moved between one server, Sentinel and Cluster (with its data) signs nobody out.
//!
//! - **Create.** The session is written first, then listed in the index by one script
//!   on the index key (Redis's clock orders it, as on one server), which answers the
//!   whole list: the sign-in that listed itself last sees every other, so it is the one
//!   that ends the oldest sessions over the cap. Two sign-ins of one customer at once
//!   may both end the same oldest session; neither leaves the customer over the cap
//!   once both are done.
//! - **End a customer's sessions.** The index is read and deleted in one script, then
//!   each session key is deleted. A sign-in that lists itself after that script is not
//!   ended, as on one server.
//! - A step that fails fails the operation (`StoreError::Unavailable`); what was
//!   written before expires with its TTL.

use super::{ms, RedisSessionStore};
use crate::secret::Sid;
use crate::store::StoreError;
use std::time::Duration;

/// Lists a session in the customer's index by Redis's clock, grows the index's TTL,
/// and returns every handle listed, oldest first. KEYS: index key. ARGV: sid, index
/// ttl ms.
const INDEX_ADD: &str = r"
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], tonumber(t[1]) * 1000000 + tonumber(t[2]), ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('ZRANGE', KEYS[1], 0, -1)
";

/// Returns and deletes a customer's index. KEYS: index key.
const INDEX_TAKE: &str = r"
local listed = redis.call('ZRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return listed
";

pub(super) struct ClusterScripts {
    index_add: redis::Script,
    index_take: redis::Script,
}

impl ClusterScripts {
    pub(super) fn new() -> Self {
        ClusterScripts {
            index_add: redis::Script::new(INDEX_ADD),
            index_take: redis::Script::new(INDEX_TAKE),
        }
    }
}

/// Whether each listed session still exists, one `EXISTS` per key, all in flight.
async fn exist(store: &RedisSessionStore, listed: &[String]) -> Result<Vec<bool>, StoreError> {
    let checks = listed.iter().map(|m| {
        let cmd = redis::cmd("EXISTS").arg(store.conn.key("session", m)).to_owned();
        async move { store.conn.query::<i64>("create", &cmd).await.map(|n| n == 1) }
    });
    futures_util::future::try_join_all(checks).await
}

/// Deletes the sessions `ended` and publishes each as an eviction.
async fn end_listed(store: &RedisSessionStore, ended: &[String], op: &'static str) -> Result<Vec<bool>, StoreError> {
    let deletes = ended.iter().map(|m| {
        let cmd = redis::cmd("DEL").arg(store.conn.key("session", m)).to_owned();
        async move {
            let deleted = store.conn.query::<i64>(op, &cmd).await? == 1;
            let publish = redis::cmd("PUBLISH")
                .arg(store.conn.evict_channel())
                .arg(m)
                .to_owned();
            if let Err(e) = store.conn.query::<i64>("publish", &publish).await {
                tracing::error!(error = %e, "eviction not published: other replicas keep their copy until sessions.l1_ttl");
            }
            Ok::<bool, StoreError>(deleted)
        }
    });
    futures_util::future::try_join_all(deletes).await
}

/// The `CREATE` script in single-key steps: stores the session, lists it, drops index
/// entries of sessions gone and ends the oldest over the cap. Returns the handles
/// it ended.
pub(super) async fn create(
    store: &RedisSessionStore,
    sid: &Sid,
    record: Vec<u8>,
    ttl: Duration,
    index: &str,
    index_ttl: Duration,
) -> Result<Vec<String>, StoreError> {
    let own = sid.encode();
    let set = redis::cmd("SET")
        .arg(store.session_key(sid))
        .arg(record)
        .arg("PX")
        .arg(ms(ttl))
        .to_owned();
    store.conn.query::<()>("create", &set).await?;
    let mut invocation = store.cluster.index_add.key(index);
    invocation.arg(&own).arg(ms(index_ttl));
    let listed: Vec<String> = store.conn.script("create", &invocation).await?;
    let others: Vec<String> = listed.into_iter().filter(|m| *m != own).collect();
    let exists = exist(store, &others).await?;
    let (live, gone): (Vec<_>, Vec<_>) = others.into_iter().zip(exists).partition(|(_, e)| *e);
    let mut unlisted: Vec<String> = gone.into_iter().map(|(m, _)| m).collect();
    let live: Vec<String> = live.into_iter().map(|(m, _)| m).collect();
    // This session counts too: it is the newest.
    let over = (live.len() + 1).saturating_sub(store.config.max_per_customer.max(1));
    let ended: Vec<String> = live.into_iter().take(over).collect();
    end_listed(store, &ended, "create").await?;
    unlisted.extend(ended.iter().cloned());
    if !unlisted.is_empty() {
        let zrem = redis::cmd("ZREM").arg(index).arg(&unlisted).to_owned();
        store.conn.query::<i64>("create", &zrem).await?;
    }
    Ok(ended)
}

/// The `END_CUSTOMER` script in single-key steps. Returns the handles of the sessions
/// that existed.
pub(super) async fn end_customer(store: &RedisSessionStore, index: &str) -> Result<Vec<String>, StoreError> {
    let invocation = store.cluster.index_take.key(index);
    let listed: Vec<String> = store.conn.script("end_customer", &invocation).await?;
    let existed = end_listed(store, &listed, "end_customer").await?;
    Ok(listed
        .into_iter()
        .zip(existed)
        .filter_map(|(m, e)| e.then_some(m))
        .collect())
}
