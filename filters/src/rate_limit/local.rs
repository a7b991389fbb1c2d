//! The counts one process keeps: two fixed-size count–min sketches
//! (`pingora_limits::estimator::Estimator`, the one inside Pingora's own `Rate`), the
//! current minute and the one before it. Memory is the same for ten clients or ten
//! million, and each check is O(1). A sketch never under-counts a client; when very
//! many addresses are active at once its estimates grow by about
//! `requests in the window / SLOTS`, so a distributed flood of a few hundred thousand
//! requests a minute can make honest clients share the limit too.
//!
//! With a memory store these counts decide. With a Redis store they are the fallback
//! while Redis cannot be reached, and they keep counting what this replica let in
//! meanwhile ([`LocalCounts::record`]) so that the fallback starts with this
//! replica's history instead of a fresh budget.

use super::{Counter, Limited, WINDOW};
use pingora_limits::estimator::Estimator;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Rows of each sketch (independent hashes; the estimate is their minimum).
const HASHES: usize = 4;
/// Counters per row. Two sketches of 4 × 8192 counters are 512 KiB per site.
const SLOTS: usize = 8192;

/// Two sketches: the current window and the one before it.
pub struct LocalCounts {
    sketches: [Estimator; 2],
    /// Number of the window (`elapsed / WINDOW`) that `sketches[number % 2]` counts.
    current: AtomicU64,
}

impl Default for LocalCounts {
    fn default() -> Self {
        LocalCounts {
            sketches: [Estimator::new(HASHES, SLOTS), Estimator::new(HASHES, SLOTS)],
            current: AtomicU64::new(0),
        }
    }
}

impl LocalCounts {
    /// Counts one request of `counter` on endpoint number `endpoint` at `now` (time
    /// since the limiter was built) unless it would go over `limit`.
    pub fn check(&self, endpoint: u8, counter: Counter, limit: u32, now: Duration) -> Result<(), Limited> {
        let key = (endpoint, counter.sketch_key());
        let (current, previous, elapsed_ms) = self.at(now);
        let window_ms = WINDOW.as_millis() as u64;
        let prev = previous.get(key).max(0) as u64;
        let curr = current.incr(key, 1).max(0) as u64;
        // prev * (1 - elapsed / window) + curr, scaled by the window in ms.
        let weighted = prev
            .saturating_mul(window_ms - elapsed_ms)
            .saturating_add(curr.saturating_mul(window_ms));
        if weighted <= u64::from(limit) * window_ms {
            return Ok(());
        }
        current.decr(key, 1);
        Err(Limited::after_ms(retry_after_ms(
            prev,
            curr.saturating_sub(1),
            u64::from(limit),
            window_ms,
            elapsed_ms,
        )))
    }

    /// Counts one request another authority (Redis) allowed, without a check.
    pub fn record(&self, endpoint: u8, counter: Counter, now: Duration) {
        let (current, _, _) = self.at(now);
        current.incr((endpoint, counter.sketch_key()), 1);
    }

    /// The sketches of the current and previous windows at `now`, and the ms into the current.
    fn at(&self, now: Duration) -> (&Estimator, &Estimator, u64) {
        let now_ms = now.as_millis() as u64;
        let window_ms = WINDOW.as_millis() as u64;
        let number = self.rotate(now_ms / window_ms);
        (
            &self.sketches[(number % 2) as usize],
            &self.sketches[((number + 1) % 2) as usize],
            now_ms % window_ms,
        )
    }

    /// Moves the counting to window `number` if it is newer; returns the window in use.
    fn rotate(&self, number: u64) -> u64 {
        let seen = self.current.load(Ordering::Acquire);
        if number <= seen {
            return seen;
        }
        if self
            .current
            .compare_exchange(seen, number, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // The sketch that held window `number - 2` (or older) starts empty; when
            // more than one window passed, the previous one is stale too. Requests
            // counted in between by racing threads are lost: the limit is approximate
            // at the minute boundary, never stricter than configured.
            self.sketches[(number % 2) as usize].reset();
            if number > seen + 1 {
                self.sketches[((number + 1) % 2) as usize].reset();
            }
        }
        number.max(self.current.load(Ordering::Acquire))
    }
}

/// How long until a client with `prev` requests in the previous window and `curr` in
/// the current one (`elapsed_ms` into it) may make one more request.
pub fn retry_after_ms(prev: u64, curr: u64, limit: u64, window_ms: u64, elapsed_ms: u64) -> u64 {
    let elapsed_ms = elapsed_ms.min(window_ms);
    // Allowed again when prev * (window - t) + (curr + 1) * window <= limit * window.
    let room = limit.saturating_sub(1);
    if curr <= room && prev > 0 {
        // Still in this window: t >= window - (room - curr) * window / prev.
        let t = window_ms.saturating_sub((room - curr).saturating_mul(window_ms) / prev);
        if t < window_ms {
            return t.saturating_sub(elapsed_ms).max(1);
        }
    }
    // In the next window, where `curr` becomes the previous count.
    let t = if curr > room {
        window_ms - room.saturating_mul(window_ms) / curr
    } else {
        0
    };
    window_ms - elapsed_ms + t
}
