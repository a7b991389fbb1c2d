//! Everything a shared Redis holds under a key prefix, read as an attacker with a
//! `redis-cli` would: every key name, every value (`GET`, or the members of a set,
//! hash, list or sorted set) and every `DUMP`.

use anyhow::Result;

/// One key and what it holds.
pub struct Held {
    pub key: String,
    /// The value(s), as stored.
    pub values: Vec<Vec<u8>>,
    /// `DUMP`: the serialized form a backup or a replica gets.
    pub dump: Vec<u8>,
}

impl Held {
    /// True when `needle` appears in the key name, a value or the dump.
    pub fn contains(&self, needle: &[u8]) -> bool {
        let within = |hay: &[u8]| !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle);
        within(self.key.as_bytes()) || within(&self.dump) || self.values.iter().any(|v| within(v))
    }
}

/// Every key of `prefix` (`<prefix>:*`) on the Redis at `url`.
pub async fn everything(url: &str, prefix: &str) -> Result<Vec<Held>> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut keys: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let mut held = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await?;
        let values: Vec<Vec<u8>> = match kind.as_str() {
            "string" => {
                let v: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
                v.into_iter().collect()
            }
            "set" => redis::cmd("SMEMBERS").arg(&key).query_async(&mut conn).await?,
            "hash" => redis::cmd("HGETALL").arg(&key).query_async(&mut conn).await?,
            "list" => {
                redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await?
            }
            "zset" => {
                redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await?
            }
            // Gone meanwhile (expired), or a type the gateway does not write.
            _ => Vec::new(),
        };
        let dump: Option<Vec<u8>> = redis::cmd("DUMP").arg(&key).query_async(&mut conn).await?;
        held.push(Held {
            key,
            values,
            dump: dump.unwrap_or_default(),
        });
    }
    Ok(held)
}
