//! A clock for the session store's hot path: milliseconds on a monotonic scale and
//! Unix seconds, each one relaxed atomic load.
//!
//! Why a thread: `Instant::now()` and `SystemTime::now()` cost ~25 ns each, and on
//! x86 the vDSO orders its `rdtsc` after earlier loads, so a clock read per lookup
//! also serialises the cache misses of consecutive lookups. One thread per process
//! (shared by every store) publishes both values every millisecond instead: ~1 000
//! wake-ups a second, a few microseconds of CPU each. A reading lags the true time
//! by about a tick (more only if the machine starves the thread): a session may
//! outlive its deadline by that much, never end earlier. Only readings of this
//! clock are compared with each other, so the lag never mixes with other clocks.
//! Without the thread (it could not be spawned) every reading asks the OS.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TICK: Duration = Duration::from_millis(1);

/// The published time (see the module doc).
pub struct CoarseClock {
    epoch: Instant,
    millis: AtomicU64,
    unix: AtomicU64,
    ticking: AtomicBool,
}

impl CoarseClock {
    /// The process's clock, its thread started on first use.
    pub fn shared() -> Arc<CoarseClock> {
        static CLOCK: OnceLock<Arc<CoarseClock>> = OnceLock::new();
        CLOCK
            .get_or_init(|| {
                let clock = Arc::new(CoarseClock {
                    epoch: Instant::now(),
                    millis: AtomicU64::new(0),
                    unix: AtomicU64::new(os_unix()),
                    ticking: AtomicBool::new(false),
                });
                let ticker = clock.clone();
                let spawned = std::thread::Builder::new()
                    .name("session-clock".into())
                    .spawn(move || loop {
                        ticker.tick();
                        std::thread::sleep(TICK);
                    });
                clock.ticking.store(spawned.is_ok(), Ordering::Release);
                clock
            })
            .clone()
    }

    fn tick(&self) {
        self.millis.store(self.os_millis(), Ordering::Relaxed);
        self.unix.store(os_unix(), Ordering::Relaxed);
    }

    fn os_millis(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Milliseconds since the clock started (monotonic).
    #[inline]
    pub fn millis(&self) -> u64 {
        if self.ticking.load(Ordering::Relaxed) {
            self.millis.load(Ordering::Relaxed)
        } else {
            self.os_millis()
        }
    }

    /// Seconds since the Unix epoch.
    #[inline]
    pub fn unix(&self) -> u64 {
        if self.ticking.load(Ordering::Relaxed) {
            self.unix.load(Ordering::Relaxed)
        } else {
            os_unix()
        }
    }
}

fn os_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_follows_the_os_within_a_few_ticks() {
        let clock = CoarseClock::shared();
        let start = clock.millis();
        std::thread::sleep(Duration::from_millis(50));
        let moved = clock.millis() - start;
        assert!((40..200).contains(&moved), "{moved} ms");
        assert!(clock.unix().abs_diff(os_unix()) <= 1);
    }
}
