//! Rate-limit counts in Redis, shared by every replica ([`crate::rate_limit`] asks
//! here first when the store is Redis), so N replicas allow a client what one would.
//!
//! - **Layout.** One key per (scope, endpoint, client, minute):
//!   `<prefix>:ratelimit:{<scope>:<endpoint>:<client>}:<minute>`, a plain integer with
//!   a TTL of two windows and a little: minute `m` is read as "the previous minute"
//!   until `m + 1` ends, then expires by itself. `<client>` is the limiter's identity of
//!   a client (an IPv4 address, an IPv6 `/64`, or 64 bits of a hash of a session
//!   handle), never raw request input, so a key's length is bounded.
//! - **Cluster.** The two minutes of one counter share a hash tag (`{…}`), so the
//!   script below names two keys of one slot; no script ever spans two counters.
//! - **Atomic.** One script reads both minutes, compares the sliding estimate with
//!   the limit and increments only when the request is allowed: of replicas racing
//!   for the last unit of a budget, exactly one gets it, and a refused request is
//!   not counted (a client that waits `Retry-After` is let in again).
//! - **Clock.** The minute is the gateway's wall clock (Unix time), so replicas need
//!   synchronised clocks (NTP); a skew of a few seconds only moves the window edges.

use super::RedisConn;
use crate::store::StoreError;
use std::sync::Arc;
use std::time::Duration;

/// Keeps a counter through the minute after its own, plus slack for clock skew.
pub const COUNT_TTL: Duration = Duration::from_secs(125);

/// KEYS: this minute's count, the previous minute's (one hash tag). ARGV: limit,
/// window ms, ms elapsed in this window, key TTL ms. Returns {1 allowed / 0 refused,
/// the previous minute's count, this minute's count (this request included when
/// allowed)}. The sliding estimate is Cloudflare's: `prev * (window - elapsed) / window
/// + current`, compared in integer-valued doubles (all below 2^53).
const CHECK_AND_COUNT: &str = r"
local curr = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local prev = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local limit, window, elapsed = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if prev * (window - elapsed) + (curr + 1) * window > limit * window then
  return {0, prev, curr}
end
curr = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, prev, curr}
";

/// What Redis answered for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub allowed: bool,
    /// Requests counted in the previous minute.
    pub previous: u64,
    /// Requests counted in this minute (this one included when allowed).
    pub current: u64,
}

/// One window of one counter to check: which counter, which minute, and how far into it.
#[derive(Debug, Clone, Copy)]
pub struct WindowAt<'a> {
    /// `<scope>:<endpoint>:<client>`, from bounded parts only.
    pub counter: &'a str,
    /// The window's number (Unix time / window).
    pub number: u64,
    pub window_ms: u64,
    pub elapsed_ms: u64,
}

pub struct RedisRateCounts {
    conn: Arc<RedisConn>,
    check_and_count: redis::Script,
}

impl RedisRateCounts {
    pub fn new(conn: Arc<RedisConn>) -> Self {
        RedisRateCounts {
            conn,
            check_and_count: redis::Script::new(CHECK_AND_COUNT),
        }
    }

    /// True while Redis answered the last ping: when false, the limiter decides
    /// locally at once instead of waiting on a timeout.
    pub fn is_healthy(&self) -> bool {
        self.conn.is_healthy()
    }

    /// Counts one request against `limit` per window, unless that would go over it.
    pub async fn check_and_count(&self, at: WindowAt<'_>, limit: u32) -> Result<Counted, StoreError> {
        let mut conn = self.conn.ready("rate_count")?;
        let key = |number: u64| self.conn.key("ratelimit", &format!("{{{}}}:{number}", at.counter));
        let mut invocation = self.check_and_count.key(key(at.number));
        invocation
            .key(key(at.number.saturating_sub(1)))
            .arg(limit)
            .arg(at.window_ms)
            .arg(at.elapsed_ms.min(at.window_ms))
            .arg(COUNT_TTL.as_millis() as u64);
        let (allowed, previous, current): (i64, i64, i64) = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Counted {
            allowed: allowed == 1,
            previous: u64::try_from(previous).unwrap_or(0),
            current: u64::try_from(current).unwrap_or(0),
        })
    }
}
