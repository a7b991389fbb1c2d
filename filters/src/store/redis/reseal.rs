//! A session record read under a previous secret of the key ring (or in the earlier
//! HMAC layout) is encrypted again with the current key at once, not only at its next
//! write: an active shopper's record follows a rotation on their next request, so
//! removing the previous secret later signs out only sessions nobody used since.
//!
//! Compare-and-set: the new bytes replace the record only if it still holds the bytes
//! that were read. A replica that saved the session meanwhile (a refresh rotating the
//! refresh token) keeps its write; this one then has nothing to do.

use super::RedisConn;
use crate::secret::Sid;
use crate::sessions::SessionData;
use crate::store::record;

/// `KEYS[1]`: the session key; `ARGV[1]`: the record as read; `ARGV[2]`: the same
/// session encrypted with the current key. The TTL is kept. 1 when replaced.
pub(super) const RESEAL: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'XX', 'KEEPTTL')
  return 1
end
return 0
";

/// Writes `data` (read as `read`) back under `key` encrypted with the current key.
/// Best effort: on failure the record stays readable as it was, and the next write
/// or read tries again.
pub(super) async fn reseal(
    conn: &RedisConn,
    script: &redis::Script,
    seal: &record::Seal,
    key: &str,
    sid: &Sid,
    data: &SessionData,
    read: Vec<u8>,
) {
    let sealed = match record::seal(seal, sid, data) {
        Ok(sealed) => sealed,
        Err(e) => {
            tracing::warn!(error = %e, "session record not encrypted again");
            return;
        }
    };
    let mut invocation = script.key(key);
    invocation.arg(read).arg(sealed);
    // An error is logged and counted by the connection.
    let _ = conn.script::<i64>("reseal", &invocation).await;
}
