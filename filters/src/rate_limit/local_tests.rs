//! The local counts: what one process decides (a memory store, or a Redis fallback).

use super::local::retry_after_ms;
use super::*;
use crate::events::AuthEvents;

/// Counts every decision by who made it.
#[derive(Default)]
pub(super) struct Decisions(pub std::sync::Mutex<Vec<&'static str>>);

impl AuthEvents for Decisions {
    fn login(&self, _: &str, _: &'static str, _: &str) {}
    fn rejected(&self, _: &str, _: &str) {}
    fn session_lookup(&self, _: &'static str) {}
    fn idp_call(&self, _: &str, _: &str, _: f64, _: bool) {}
    fn rate_limit_decision(&self, _site: &str, decided_by: &'static str) {
        if let Ok(mut seen) = self.0.lock() {
            seen.push(decided_by);
        }
    }
}

fn limiter(login: Option<u32>) -> RateLimiter {
    let limits = RateLimits {
        login,
        callback: Some(2),
        token: None,
        logout: Some(1),
        link: Some(3),
    };
    RateLimiter::new(&limits, Scope::site("shop"), None, Arc::new(Decisions::default()))
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().expect("ip"))
}

const SEC: Duration = Duration::from_secs(1);

#[test]
fn a_client_gets_its_limit_then_429_with_retry_after() {
    let l = limiter(Some(3));
    for _ in 0..3 {
        assert_eq!(l.check_local_at(Endpoint::Login, ip("192.0.2.1"), SEC), Ok(()));
    }
    let refused = l
        .check_local_at(Endpoint::Login, ip("192.0.2.1"), SEC)
        .expect_err("over");
    // The sliding estimate lets one more in once a third of the previous
    // minute's three has slid out: 59 s to the next minute + 20 s.
    assert_eq!(refused.retry_after_secs, 79);
    // Other clients, endpoints and addresses-less requests are not affected.
    assert_eq!(l.check_local_at(Endpoint::Login, ip("192.0.2.2"), SEC), Ok(()));
    assert_eq!(l.check_local_at(Endpoint::Callback, ip("192.0.2.1"), SEC), Ok(()));
    for _ in 0..10 {
        assert_eq!(l.check_local_at(Endpoint::Login, None, SEC), Ok(()));
        assert_eq!(
            l.check_local_at(Endpoint::Token, ip("192.0.2.1"), SEC),
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
        assert_eq!(l.check_local_at(Endpoint::Login, ip("198.51.100.7"), t0), Ok(()));
    }
    let refused = l
        .check_local_at(Endpoint::Login, ip("198.51.100.7"), t0)
        .expect_err("over");
    let just_before = t0 + Duration::from_secs(refused.retry_after_secs) - Duration::from_millis(1500);
    assert!(l
        .check_local_at(Endpoint::Login, ip("198.51.100.7"), just_before)
        .is_err());
    let after = t0 + Duration::from_secs(refused.retry_after_secs);
    assert_eq!(l.check_local_at(Endpoint::Login, ip("198.51.100.7"), after), Ok(()));
}

#[test]
fn a_burst_across_the_minute_boundary_does_not_get_double() {
    let l = limiter(Some(10));
    let late = Duration::from_millis(59_500);
    for _ in 0..10 {
        assert_eq!(l.check_local_at(Endpoint::Login, ip("203.0.113.9"), late), Ok(()));
    }
    let early = Duration::from_millis(60_500);
    assert!(l.check_local_at(Endpoint::Login, ip("203.0.113.9"), early).is_err());
    // Two minutes of silence clear everything.
    assert_eq!(
        l.check_local_at(Endpoint::Login, ip("203.0.113.9"), Duration::from_secs(200)),
        Ok(())
    );
}

#[test]
fn refused_requests_are_not_counted() {
    let l = limiter(Some(1));
    assert_eq!(l.check_local_at(Endpoint::Logout, ip("192.0.2.5"), SEC), Ok(()));
    for _ in 0..1000 {
        assert!(l.check_local_at(Endpoint::Logout, ip("192.0.2.5"), SEC).is_err());
    }
    // 1 request in the previous window, half of it overlapping: 0.5 + 1 > 1 ...
    assert!(l
        .check_local_at(Endpoint::Logout, ip("192.0.2.5"), Duration::from_secs(90))
        .is_err());
    // ... but once the previous window has slid past, the client is back.
    assert_eq!(
        l.check_local_at(Endpoint::Logout, ip("192.0.2.5"), Duration::from_secs(120)),
        Ok(())
    );
}

#[test]
fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
    let l = limiter(Some(2));
    for a in ["2001:db8:1:2::1", "2001:db8:1:2::2"] {
        assert_eq!(l.check_local_at(Endpoint::Login, ip(a), SEC), Ok(()));
    }
    assert!(l
        .check_local_at(Endpoint::Login, ip("2001:db8:1:2:ffff::9"), SEC)
        .is_err());
    assert_eq!(l.check_local_at(Endpoint::Login, ip("2001:db8:1:3::1"), SEC), Ok(()));
    assert_eq!(
        Counter::of_client("::ffff:192.0.2.1".parse().expect("ip")),
        Counter::of_client("192.0.2.1".parse().expect("ip"))
    );
    assert_ne!(
        Counter::of_client("::".parse().expect("ip")),
        Counter::of_client("0.0.0.0".parse().expect("ip"))
    );
}

#[tokio::test]
async fn a_session_is_counted_apart_from_its_addresses() {
    let decisions = Arc::new(Decisions::default());
    let limits = RateLimits {
        login: None,
        callback: None,
        token: None,
        logout: None,
        link: Some(3),
    };
    let l = RateLimiter::new(&limits, Scope::site("shop"), None, decisions.clone());
    for _ in 0..3 {
        assert_eq!(l.check_session(Endpoint::Link, "handle-1").await, Ok(()));
    }
    assert!(
        l.check_session(Endpoint::Link, "handle-1").await.is_err(),
        "one session, many addresses"
    );
    assert_eq!(
        l.check_session(Endpoint::Link, "handle-2").await,
        Ok(()),
        "another session"
    );
    assert_eq!(
        l.check(Endpoint::Link, ip("192.0.2.1")).await,
        Ok(()),
        "addresses count apart"
    );
    let seen = decisions.0.lock().expect("decisions").clone();
    assert_eq!(seen, vec!["local"; 6], "a memory store decides locally");
}

#[tokio::test]
async fn all_limits_off_allocates_nothing() {
    let off = RateLimits {
        login: None,
        callback: None,
        token: None,
        logout: None,
        link: None,
    };
    let decisions = Arc::new(Decisions::default());
    let l = RateLimiter::new(&off, Scope::site("shop"), None, decisions.clone());
    assert!(l.local.is_none());
    for _ in 0..10_000 {
        assert_eq!(l.check(Endpoint::Login, ip("192.0.2.1")).await, Ok(()));
    }
    assert!(decisions.0.lock().expect("decisions").is_empty(), "nothing decided");
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

#[test]
fn counters_are_bounded_and_distinct_in_redis_keys() {
    let parts = [
        Counter::of_client("255.255.255.255".parse().expect("ip")).key_part(),
        Counter::of_client("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().expect("ip")).key_part(),
        Counter::of_session(&"x".repeat(10_000)).key_part(),
    ];
    for part in &parts {
        assert!(part.len() <= 18, "{part}");
        assert!(part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'), "{part}");
    }
    assert_eq!(parts[0], "4-ffffffff");
    assert_eq!(parts[1], "6-ffffffffffffffff");
    assert_ne!(
        Counter::of_client("2001:db8::1".parse().expect("ip")).key_part(),
        Counter::of_client("2001:db8:0:1::1".parse().expect("ip")).key_part()
    );
}
