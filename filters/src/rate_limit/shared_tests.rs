//! The counts every replica shares, through a real Redis: two limiters (two
//! replicas) on one Redis allow a client what one would; with Redis stopped each
//! decides on its own, at once, from its own history; with it back, Redis decides again.

use super::local_tests::Decisions;
use super::*;
use crate::store::redis::{ErrorHook, RedisConn, RedisTarget};
use crate::store::test_redis::{unique_prefix, TestRedis};
use crate::store::test_redis_ha::TestCluster;
use std::time::Instant;

struct Replica {
    limiter: RateLimiter,
    conn: Arc<RedisConn>,
    decisions: Arc<Decisions>,
}

/// A limiter on its own connection to `url`, once that connection is healthy.
async fn replica(url: &str, prefix: &str, limits: &RateLimits) -> Replica {
    replica_at(&RedisTarget::Url(url.to_string()), prefix, limits).await
}

/// A limiter on its own connection to `target` (one server or a cluster).
async fn replica_at(target: &RedisTarget, prefix: &str, limits: &RateLimits) -> Replica {
    let hook: ErrorHook = Arc::new(|_, _| {});
    let conn = match RedisConn::new(target, prefix, hook) {
        Ok(c) => c,
        Err(e) => panic!("redis: {e}"),
    };
    let pinging = conn.clone();
    tokio::spawn(async move { pinging.run_health().await });
    let decisions = Arc::new(Decisions::default());
    let shared = Arc::new(RedisRateCounts::new(conn.clone()));
    let limiter = RateLimiter::new(limits, Scope::site("shop"), Some(shared), decisions.clone());
    wait_until(|| conn.is_healthy(), "Redis never became healthy").await;
    Replica {
        limiter,
        conn,
        decisions,
    }
}

async fn wait_until(done: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn login_limit(n: u32) -> RateLimits {
    RateLimits {
        login: Some(n),
        callback: None,
        token: None,
        logout: None,
        link: Some(n),
    }
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().expect("ip"))
}

impl Replica {
    fn decided(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.decisions.0.lock().expect("decisions"))
    }
}

/// Every rate-limit key under `prefix` with its count and TTL in ms.
async fn counters(url: &str, prefix: &str) -> Vec<(String, u64, i64)> {
    let client = redis::Client::open(url).expect("client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:ratelimit:*"))
        .query_async(&mut conn)
        .await
        .expect("keys");
    let mut found = Vec::new();
    for key in keys {
        let count: u64 = redis::cmd("GET").arg(&key).query_async(&mut conn).await.expect("get");
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.expect("pttl");
        found.push((key, count, ttl));
    }
    found
}

#[tokio::test]
async fn two_replicas_on_one_redis_allow_what_one_would() {
    let redis = TestRedis::shared();
    let prefix = unique_prefix();
    let a = replica(&redis.url, &prefix, &login_limit(10)).await;
    let b = replica(&redis.url, &prefix, &login_limit(10)).await;
    let client = ip("192.0.2.1");
    for i in 0..10 {
        let on = if i % 2 == 0 { &a } else { &b };
        assert_eq!(on.limiter.check(Endpoint::Login, client).await, Ok(()), "request {i}");
    }
    for on in [&a, &b] {
        for _ in 0..20 {
            let refused = on.limiter.check(Endpoint::Login, client).await.expect_err("over");
            assert!((1..=120).contains(&refused.retry_after_secs), "{refused:?}");
        }
    }
    // Another client, another endpoint, another site's budget are untouched.
    assert_eq!(a.limiter.check(Endpoint::Login, ip("192.0.2.2")).await, Ok(()));
    assert_eq!(b.limiter.check(Endpoint::Link, client).await, Ok(()));
    // An IPv6 client is one counter per /64, on both replicas.
    for addr in ["2001:db8:7:7::1", "2001:db8:7:7::2"] {
        for _ in 0..5 {
            assert_eq!(a.limiter.check(Endpoint::Login, ip(addr)).await, Ok(()));
        }
    }
    assert!(b.limiter.check(Endpoint::Login, ip("2001:db8:7:7::3")).await.is_err());
    assert!(a.decided().iter().chain(b.decided().iter()).all(|d| *d == "redis"));

    // Refused requests were not counted; every key expires by itself and names no
    // raw address.
    let found = counters(&redis.url, &prefix).await;
    let count_of = |part: &str| -> u64 {
        found
            .iter()
            .filter(|(k, _, _)| k.contains(part))
            .map(|(_, n, _)| n)
            .sum()
    };
    assert_eq!(count_of("{shop:login:4-c0000201}"), 10, "{found:?}");
    assert_eq!(count_of("{shop:login:6-20010db800070007}"), 10, "{found:?}");
    for (key, _, ttl) in &found {
        assert!((1..=COUNT_TTL_MS).contains(ttl), "{key} has TTL {ttl}");
        assert!(!key.contains("192.0.2") && !key.contains("2001:db8"), "{key}");
    }
}

const COUNT_TTL_MS: i64 = crate::store::redis::rate_counts::COUNT_TTL.as_millis() as i64;

#[tokio::test]
async fn racing_replicas_never_let_more_than_the_limit_through() {
    let redis = TestRedis::shared();
    let prefix = unique_prefix();
    let a = Arc::new(replica(&redis.url, &prefix, &login_limit(25)).await);
    let b = Arc::new(replica(&redis.url, &prefix, &login_limit(25)).await);
    let mut tasks = Vec::new();
    for i in 0..100 {
        let on = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            on.limiter.check(Endpoint::Login, ip("198.51.100.4")).await.is_ok()
        }));
    }
    let mut allowed = 0;
    for t in tasks {
        allowed += usize::from(t.await.expect("task"));
    }
    assert_eq!(allowed, 25, "one budget, whatever the interleaving");
}

#[tokio::test]
async fn with_redis_down_each_replica_limits_on_its_own_history() {
    let mut redis = TestRedis::own();
    let prefix = unique_prefix();
    let a = replica(&redis.url, &prefix, &login_limit(4)).await;
    let b = replica(&redis.url, &prefix, &login_limit(4)).await;
    let client = ip("203.0.113.8");
    for on in [&a, &b, &a, &b] {
        assert_eq!(on.limiter.check(Endpoint::Login, client).await, Ok(()));
    }
    assert!(
        a.limiter.check(Endpoint::Login, client).await.is_err(),
        "one budget of 4"
    );
    assert!(a.decided().iter().chain(b.decided().iter()).all(|d| *d == "redis"));

    redis.stop();
    wait_until(
        || !a.conn.is_healthy() && !b.conn.is_healthy(),
        "Redis still looks healthy",
    )
    .await;
    // Each replica let 2 in: its own counts allow 2 more, then refuse.
    for on in [&a, &b] {
        assert_eq!(on.limiter.check(Endpoint::Login, client).await, Ok(()));
        assert_eq!(on.limiter.check(Endpoint::Login, client).await, Ok(()));
        assert!(on.limiter.check(Endpoint::Login, client).await.is_err());
        assert_eq!(on.decided(), vec!["fallback"; 3]);
    }
    // A client new to this replica gets a full budget here alone.
    for _ in 0..4 {
        assert_eq!(a.limiter.check(Endpoint::Login, ip("203.0.113.9")).await, Ok(()));
    }
    assert!(a.limiter.check(Endpoint::Login, ip("203.0.113.9")).await.is_err());

    // Redis back (empty: it keeps nothing on disk): it decides again.
    redis.start();
    wait_until(|| a.conn.is_healthy(), "Redis never came back").await;
    a.decided();
    assert_eq!(a.limiter.check(Endpoint::Login, client).await, Ok(()));
    assert_eq!(a.decided(), vec!["redis"]);
}

/// On a Redis Cluster too: both minutes of a client share a hash tag, so the script
/// runs on one node, and two replicas allow what one would.
#[tokio::test]
async fn two_replicas_on_a_redis_cluster_allow_what_one_would() {
    let cluster = TestCluster::start();
    let target = RedisTarget::Cluster(cluster.urls());
    let prefix = unique_prefix();
    let a = replica_at(&target, &prefix, &login_limit(6)).await;
    let b = replica_at(&target, &prefix, &login_limit(6)).await;
    // Clients whose keys land on different nodes, each with its own budget.
    for n in 1..=5 {
        let client = ip(&format!("198.51.100.{n}"));
        for i in 0..6 {
            let on = if i % 2 == 0 { &a } else { &b };
            assert_eq!(
                on.limiter.check(Endpoint::Login, client).await,
                Ok(()),
                "client {n} request {i}"
            );
        }
        assert!(
            a.limiter.check(Endpoint::Login, client).await.is_err(),
            "client {n} on A"
        );
        assert!(
            b.limiter.check(Endpoint::Login, client).await.is_err(),
            "client {n} on B"
        );
    }
    assert!(a.decided().iter().chain(b.decided().iter()).all(|d| *d == "redis"));
}
