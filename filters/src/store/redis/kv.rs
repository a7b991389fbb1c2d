//! Single-use entries, TTL records and small sets in Redis: one key each, so every
//! command and script touches one key (and one slot of a Redis Cluster).

use super::RedisConn;
use crate::store::{Records, SingleUse, StoreError};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Single-use entries (`SET PX` / `GETDEL`) and TTL records (`SET NX PX`, and a
/// compare-and-delete script for locks).
pub struct RedisKv {
    conn: Arc<RedisConn>,
    delete_if: redis::Script,
    add_member: redis::Script,
}

impl RedisKv {
    pub fn new(conn: Arc<RedisConn>) -> Self {
        RedisKv {
            conn,
            delete_if: redis::Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
            ),
            // Adds a member unless the set is full; the set's TTL only ever grows.
            add_member: redis::Script::new(
                "if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 and redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end \
                 redis.call('SADD', KEYS[1], ARGV[1]) \
                 if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end \
                 return 1",
            ),
        }
    }
}

#[async_trait]
impl SingleUse for RedisKv {
    async fn put(&self, kind: &str, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let cmd = redis::cmd("SET")
            .arg(self.conn.key(kind, key))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms(ttl))
            .to_owned();
        self.conn.query::<()>("put", &cmd).await
    }

    /// One `GETDEL`: of two replicas taking the same entry, exactly one gets it.
    async fn take(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let cmd = redis::cmd("GETDEL").arg(self.conn.key(kind, key)).to_owned();
        self.conn.query("take", &cmd).await
    }
}

#[async_trait]
impl Records for RedisKv {
    async fn put(&self, kind: &str, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        SingleUse::put(self, kind, key, value, ttl).await
    }

    async fn put_new(&self, kind: &str, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        let cmd = redis::cmd("SET")
            .arg(self.conn.key(kind, key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms(ttl))
            .to_owned();
        let stored: Option<String> = self.conn.query("put_new", &cmd).await?;
        Ok(stored.is_some())
    }

    async fn get(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let cmd = redis::cmd("GET").arg(self.conn.key(kind, key)).to_owned();
        self.conn.query("get", &cmd).await
    }

    async fn delete_if(&self, kind: &str, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        let mut invocation = self.delete_if.key(self.conn.key(kind, key));
        invocation.arg(value);
        let deleted: i64 = self.conn.script("delete", &invocation).await?;
        Ok(deleted > 0)
    }
}

#[async_trait]
impl crate::store::Sets for RedisKv {
    /// One script: the size check, `SADD` and the TTL are one atomic step.
    async fn add(&self, kind: &str, key: &str, member: &str, ttl: Duration, max: usize) -> Result<bool, StoreError> {
        let mut invocation = self.add_member.key(self.conn.key(kind, key));
        invocation.arg(member).arg(ttl_ms(ttl)).arg(max);
        let added: i64 = self.conn.script("set_add", &invocation).await?;
        Ok(added > 0)
    }

    async fn remove(&self, kind: &str, key: &str, member: &str) -> Result<(), StoreError> {
        let cmd = redis::cmd("SREM").arg(self.conn.key(kind, key)).arg(member).to_owned();
        self.conn.query::<()>("set_remove", &cmd).await
    }

    async fn members(&self, kind: &str, key: &str) -> Result<Vec<String>, StoreError> {
        let cmd = redis::cmd("SMEMBERS").arg(self.conn.key(kind, key)).to_owned();
        self.conn.query("set_members", &cmd).await
    }

    async fn delete(&self, kind: &str, key: &str) -> Result<(), StoreError> {
        let cmd = redis::cmd("DEL").arg(self.conn.key(kind, key)).to_owned();
        self.conn.query::<()>("set_delete", &cmd).await
    }
}
