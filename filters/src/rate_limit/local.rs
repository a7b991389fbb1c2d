//! Per-client rate limits on the login endpoints (`[server.rate_limits]`).
//!
//! Each site counts requests per client address and endpoint (login start, IdP
//! callback, `/_sso/token`, `/_sso/logout`) in a sliding one-minute window. The counts
//! live in two fixed-size count–min sketches (`pingora_limits::estimator::Estimator`,
//! the one inside Pingora's own `Rate`): memory is the same for ten clients or ten
//! million, and each check is O(1). A sketch never under-counts a client; when very
//! many addresses are active at once its estimates grow by about
//! `requests in the window / SLOTS`, so a distributed flood of a few hundred
//! thousand requests a minute can make honest clients share the limit too.
//!
//! IPv4 clients are counted per address, IPv6 clients per `/64` (one subscriber's
//! network, whose addresses are free to rotate). Requests without a known address
//! are not limited.
//!
//! The window is Cloudflare's sliding estimate — the previous minute's count, weighed
//! by how much of it still overlaps the last 60 s, plus the current minute's — so a
//! burst across a minute boundary does not get twice the limit. Refused requests are
//! not counted, so a client that waits `Retry-After` seconds is let in again.

use crate::reply::Reply;
use pingora_limits::estimator::Estimator;
use sso_config::RateLimits;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Rows of each sketch (independent hashes; the estimate is their minimum).
const HASHES: usize = 4;
/// Counters per row. Two sketches of 4 × 8192 counters are 512 KiB per site.
const SLOTS: usize = 8192;
/// The limits in the configuration are per minute.
const WINDOW: Duration = Duration::from_secs(60);

/// A rate-limited gateway endpoint; `as_str` is its metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// Starting a login: `<sso_prefix>/login`, or an anonymous visit to a `login` route.
    Login,
    /// The IdP callback (`oidc.callback_path`).
    Callback,
    /// `<sso_prefix>/token`.
    Token,
    /// `<sso_prefix>/logout`.
    Logout,
    /// The auth host's `/_sso/link` minting a one-time token (per client, and per
    /// SSO session through [`RateLimiter::check_session`]).
    Link,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Login => "login",
            Endpoint::Callback => "callback",
            Endpoint::Token => "token",
            Endpoint::Logout => "logout",
            Endpoint::Link => "link",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A request over its limit: the client may try again after `retry_after_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after_secs: u64,
}

impl Limited {
    /// The 429 page (HTML or JSON) with `Retry-After`.
    pub fn reply(self, json: bool) -> Reply {
        Reply::error(
            429,
            "rate_limited",
            "Too many attempts from your network. Please wait a moment and try again.",
            json,
        )
        .header("retry-after", self.retry_after_secs.to_string())
    }
}

/// The counters of one site, built once from `server.rate_limits`.
pub struct RateLimiter {
    /// Requests per client per minute, by [`Endpoint::index`]; `None` = unlimited.
    limits: [Option<u32>; 5],
    /// `None` when every limit is off (nothing is allocated then).
    counts: Option<Windows>,
    started: Instant,
}

/// Two sketches: the current window and the one before it.
struct Windows {
    sketches: [Estimator; 2],
    /// Number of the window (`elapsed / WINDOW`) that `sketches[number % 2]` counts.
    current: AtomicU64,
}

impl RateLimiter {
    pub fn from_config(limits: &RateLimits) -> Self {
        let limits = [limits.login, limits.callback, limits.token, limits.logout, limits.link];
        let counts = limits.iter().any(Option::is_some).then(|| Windows {
            sketches: [Estimator::new(HASHES, SLOTS), Estimator::new(HASHES, SLOTS)],
            current: AtomicU64::new(0),
        });
        RateLimiter {
            limits,
            counts,
            started: Instant::now(),
        }
    }

    /// Counts one request from `client` on `endpoint`; `Err` when it is over the limit.
    pub fn check(&self, endpoint: Endpoint, client: Option<IpAddr>) -> Result<(), Limited> {
        self.check_at(endpoint, client, self.started.elapsed())
    }

    /// Counts one request made with the session `session` (any stable handle of it:
    /// a signed-in shopper rotating addresses is still one shopper) on `endpoint`.
    pub fn check_session(&self, endpoint: Endpoint, session: &str) -> Result<(), Limited> {
        self.check_counted(endpoint, Some((7, session_key(session))), self.started.elapsed())
    }

    /// [`Self::check`] at `now` (time since the limiter was built).
    pub fn check_at(&self, endpoint: Endpoint, client: Option<IpAddr>, now: Duration) -> Result<(), Limited> {
        self.check_counted(endpoint, client.map(client_key), now)
    }

    fn check_counted(&self, endpoint: Endpoint, counted: Option<(u8, u64)>, now: Duration) -> Result<(), Limited> {
        let (Some(limit), Some(counts), Some(counted)) = (self.limits[endpoint.index()], &self.counts, counted) else {
            return Ok(());
        };
        let key = (endpoint.index() as u8, counted);
        let now_ms = now.as_millis() as u64;
        let window_ms = WINDOW.as_millis() as u64;
        let number = counts.rotate(now_ms / window_ms);
        let elapsed_ms = now_ms % window_ms;
        let current = &counts.sketches[(number % 2) as usize];
        let previous = &counts.sketches[((number + 1) % 2) as usize];
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
        let wait_ms = retry_after_ms(prev, curr.saturating_sub(1), u64::from(limit), window_ms, elapsed_ms);
        Err(Limited {
            retry_after_secs: wait_ms.div_ceil(1000).max(1),
        })
    }
}

impl Windows {
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
fn retry_after_ms(prev: u64, curr: u64, limit: u64, window_ms: u64, elapsed_ms: u64) -> u64 {
    // Allowed again when prev * (window - t) + (curr + 1) * window <= limit * window.
    let room = limit.saturating_sub(1);
    if curr <= room && prev > 0 {
        // Still in this window: t >= window - (room - curr) * window / prev.
        let t = window_ms.saturating_sub((room - curr) * window_ms / prev);
        if t < window_ms {
            return t.saturating_sub(elapsed_ms).max(1);
        }
    }
    // In the next window, where `curr` becomes the previous count.
    let t = if curr > room {
        window_ms - room * window_ms / curr
    } else {
        0
    };
    window_ms - elapsed_ms + t
}

/// What a session is counted as: 64 bits of SHA-256 over its handle.
fn session_key(session: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(session.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// What a client is counted as: its IPv4 address, or its IPv6 `/64`.
fn client_key(ip: IpAddr) -> (u8, u64) {
    let v4 = |a: std::net::Ipv4Addr| (4, u64::from(u32::from(a)));
    match ip {
        IpAddr::V4(a) => v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(a) => v4(a),
            None => (6, (u128::from(a) >> 64) as u64),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(login: Option<u32>) -> RateLimiter {
        RateLimiter::from_config(&RateLimits {
            login,
            callback: Some(2),
            token: None,
            logout: Some(1),
            link: Some(3),
        })
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("ip"))
    }

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn a_client_gets_its_limit_then_429_with_retry_after() {
        let l = limiter(Some(3));
        for _ in 0..3 {
            assert_eq!(l.check_at(Endpoint::Login, ip("192.0.2.1"), SEC), Ok(()));
        }
        let refused = l.check_at(Endpoint::Login, ip("192.0.2.1"), SEC).expect_err("over");
        // The sliding estimate lets one more in once a third of the previous
        // minute's three has slid out: 59 s to the next minute + 20 s.
        assert_eq!(refused.retry_after_secs, 79);
        // Other clients, endpoints and addresses-less requests are not affected.
        assert_eq!(l.check_at(Endpoint::Login, ip("192.0.2.2"), SEC), Ok(()));
        assert_eq!(l.check_at(Endpoint::Callback, ip("192.0.2.1"), SEC), Ok(()));
        for _ in 0..10 {
            assert_eq!(l.check_at(Endpoint::Login, None, SEC), Ok(()));
            assert_eq!(
                l.check_at(Endpoint::Token, ip("192.0.2.1"), SEC),
                Ok(()),
                "token is off"
            );
        }
        let reply = refused.reply(true);
        assert_eq!(reply.status, 429);
        assert!(reply
            .headers
            .iter()
            .any(|(k, v)| *k == "retry-after" && v == &refused.retry_after_secs.to_string()));
        assert!(reply.body.contains("rate_limited"));
    }

    #[test]
    fn waiting_retry_after_lets_the_client_in_again() {
        let l = limiter(Some(60));
        let t0 = Duration::from_secs(30);
        for _ in 0..60 {
            assert_eq!(l.check_at(Endpoint::Login, ip("198.51.100.7"), t0), Ok(()));
        }
        let refused = l.check_at(Endpoint::Login, ip("198.51.100.7"), t0).expect_err("over");
        let just_before = t0 + Duration::from_secs(refused.retry_after_secs) - Duration::from_millis(1500);
        assert!(l.check_at(Endpoint::Login, ip("198.51.100.7"), just_before).is_err());
        let after = t0 + Duration::from_secs(refused.retry_after_secs);
        assert_eq!(l.check_at(Endpoint::Login, ip("198.51.100.7"), after), Ok(()));
    }

    #[test]
    fn a_burst_across_the_minute_boundary_does_not_get_double() {
        let l = limiter(Some(10));
        let late = Duration::from_millis(59_500);
        for _ in 0..10 {
            assert_eq!(l.check_at(Endpoint::Login, ip("203.0.113.9"), late), Ok(()));
        }
        let early = Duration::from_millis(60_500);
        assert!(l.check_at(Endpoint::Login, ip("203.0.113.9"), early).is_err());
        // Two minutes of silence clear everything.
        assert_eq!(
            l.check_at(Endpoint::Login, ip("203.0.113.9"), Duration::from_secs(200)),
            Ok(())
        );
    }

    #[test]
    fn refused_requests_are_not_counted() {
        let l = limiter(Some(1));
        assert_eq!(l.check_at(Endpoint::Logout, ip("192.0.2.5"), SEC), Ok(()));
        for _ in 0..1000 {
            assert!(l.check_at(Endpoint::Logout, ip("192.0.2.5"), SEC).is_err());
        }
        // 1 request in the previous window, half of it overlapping: 0.5 + 1 > 1 ...
        assert!(l
            .check_at(Endpoint::Logout, ip("192.0.2.5"), Duration::from_secs(90))
            .is_err());
        // ... but once the previous window has slid past, the client is back.
        assert_eq!(
            l.check_at(Endpoint::Logout, ip("192.0.2.5"), Duration::from_secs(120)),
            Ok(())
        );
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
        let l = limiter(Some(2));
        for a in ["2001:db8:1:2::1", "2001:db8:1:2::2"] {
            assert_eq!(l.check_at(Endpoint::Login, ip(a), SEC), Ok(()));
        }
        assert!(l.check_at(Endpoint::Login, ip("2001:db8:1:2:ffff::9"), SEC).is_err());
        assert_eq!(l.check_at(Endpoint::Login, ip("2001:db8:1:3::1"), SEC), Ok(()));
        assert_eq!(
            client_key("::ffff:192.0.2.1".parse().expect("ip")),
            client_key("192.0.2.1".parse().expect("ip"))
        );
        assert_ne!(
            client_key("::".parse().expect("ip")),
            client_key("0.0.0.0".parse().expect("ip"))
        );
    }

    #[test]
    fn a_session_is_counted_apart_from_its_addresses() {
        let l = limiter(None);
        for _ in 0..3 {
            assert_eq!(l.check_session(Endpoint::Link, "handle-1"), Ok(()));
        }
        assert!(
            l.check_session(Endpoint::Link, "handle-1").is_err(),
            "one session, many addresses"
        );
        assert_eq!(l.check_session(Endpoint::Link, "handle-2"), Ok(()), "another session");
        assert_eq!(
            l.check(Endpoint::Link, ip("192.0.2.1")),
            Ok(()),
            "addresses count apart"
        );
    }

    #[test]
    fn all_limits_off_allocates_nothing() {
        let l = RateLimiter::from_config(&RateLimits {
            login: None,
            callback: None,
            token: None,
            logout: None,
            link: None,
        });
        assert!(l.counts.is_none());
        for _ in 0..10_000 {
            assert_eq!(l.check(Endpoint::Login, ip("192.0.2.1")), Ok(()));
        }
    }

    #[test]
    fn retry_after_is_never_zero_and_never_past_two_windows() {
        for prev in [0, 1, 5, 60, 1000] {
            for curr in [0, 1, 59, 60, 1000] {
                for elapsed in [0, 1, 30_000, 59_999] {
                    let t = retry_after_ms(prev, curr, 60, 60_000, elapsed);
                    assert!((1..=120_000).contains(&t), "{prev} {curr} {elapsed}: {t}");
                }
            }
        }
    }
}
