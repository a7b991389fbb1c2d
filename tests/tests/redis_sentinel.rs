//! Sessions on a real Sentinel deployment (a primary, a replica and three Debian
//! `redis-sentinel`s on loopback) under two gateway replicas, through a failover:
//! while the primary is down and not yet replaced the documented Redis-down rules hold
//! (replica A serves its L1, replica B with `fail_closed` refuses, new sign-ins get a
//! clear 503, `/readyz` says not ready); once the sentinels promote the replica, both
//! gateways move to it by themselves: every shopper is still signed in, new sign-ins
//! work, logouts reach both replicas, and `/readyz` and the metrics name the new
//! primary and count the change.

use sso_tests::client::{anonymous_within, customer_with_cookie};
use sso_tests::replicas::{ReplicaOptions, Replicas, TestSentinel};
use sso_tests::Shopper;
use std::time::{Duration, Instant};

use sso_tests::client::status_and_customer;

/// `/readyz`'s status and body.
async fn readyz(gateway: &sso_tests::Gateway) -> (u16, String) {
    match reqwest::get(gateway.admin_url("/readyz")).await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}

/// Polls `/readyz` for up to `limit` until its status is `want` and its body holds
/// `needle`.
async fn wait_readyz(gateway: &sso_tests::Gateway, want: u16, needle: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let (status, body) = readyz(gateway).await;
        if status == want && body.contains(needle) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn sign_in(r: &Replicas, name: &str) -> Shopper {
    let shopper = Shopper::new(&["shop"]).expect("client");
    let start = shopper.page(&r.url_a("/account")).await.expect("start");
    let landing = shopper.walk(start, name).await.expect("walk");
    assert_eq!(landing.status, 200, "{name}: {landing:?}\n{}", r.a.log());
    shopper
}

#[tokio::test]
async fn a_sentinel_failover_keeps_shoppers_signed_in_and_both_replicas_follow_the_new_primary() {
    let mut sentinel = TestSentinel::start();
    let r = Replicas::start(ReplicaOptions {
        redis_address: Some(format!("redis_url = \"{}\"", sentinel.url())),
        sessions: "l1_ttl = \"30s\"",
        b_sessions: "fail_closed = true",
        ..ReplicaOptions::default()
    })
    .expect("replicas");
    r.ready().await.expect("ready");
    let old = sentinel.primary_port().expect("a primary");
    let old_address = format!("127.0.0.1:{old}");
    for g in [&r.a, &r.b] {
        let (status, body) = readyz(g).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains(&old_address) && body.contains("\"mode\":\"sentinel\""),
            "{body}"
        );
    }
    let uma = sign_in(&r, "uma").await;
    let vic = sign_in(&r, "vic").await;
    for (shopper, name) in [(&uma, "uma"), (&vic, "vic")] {
        assert_eq!(
            status_and_customer(shopper, &r.url_b("/account")).await,
            (200, Some(name.to_string())),
            "{}",
            r.b.log()
        );
    }

    // The primary crashes, and the failover is held back (no quorum) while we look.
    sentinel.set_quorum(4);
    sentinel.wait_replicated(old);
    sentinel.kill_server(old);
    for g in [&r.a, &r.b] {
        assert!(
            wait_readyz(g, 503, "\"redis\":false", Duration::from_secs(10)).await,
            "{}",
            g.log()
        );
    }
    assert_eq!(
        status_and_customer(&uma, &r.url_a("/account")).await,
        (200, Some("uma".into())),
        "A serves its L1 while Redis is down:\n{}",
        r.a.log()
    );
    assert_eq!(
        status_and_customer(&uma, &r.url_b("/account")).await,
        (503, None),
        "B, fail_closed, refuses what it cannot check"
    );
    let newcomer = Shopper::new(&["shop"]).expect("client");
    let resp = newcomer.page(&r.url_a("/account")).await.expect("login start");
    assert_eq!(resp.status(), 503, "a new sign-in gets a clear 503 meanwhile");

    // The sentinels may fail over now: both gateways find the new primary.
    sentinel.set_quorum(2);
    let new = sentinel.wait_failover(old, Duration::from_secs(30));
    let new_address = format!("127.0.0.1:{new}");
    for g in [&r.a, &r.b] {
        assert!(
            wait_readyz(g, 200, &new_address, Duration::from_secs(30)).await,
            "{:?}\n{}",
            readyz(g).await,
            g.log()
        );
        let (_, body) = readyz(g).await;
        assert!(body.contains("\"primary_changes\":1"), "{body}");
        let metrics = g.metrics().await;
        let info = format!("sso_gateway_redis_primary_info{{address=\"{new_address}\",mode=\"sentinel\"}} 1");
        assert!(metrics.contains(&info), "{metrics}");
        assert!(!metrics.contains(&old_address), "{metrics}");
        assert!(
            metrics.contains("sso_gateway_redis_primary_changes_total 1"),
            "{metrics}"
        );
    }

    // Everyone signed in before is still signed in, on both replicas.
    for (shopper, name) in [(&uma, "uma"), (&vic, "vic")] {
        for url in [r.url_a("/account"), r.url_b("/account")] {
            assert_eq!(
                status_and_customer(shopper, &url).await,
                (200, Some(name.to_string())),
                "{url}:\n{}\n{}",
                r.a.log(),
                r.b.log()
            );
        }
    }
    // New sign-ins work.
    let start = newcomer.page(&r.url_a("/account")).await.expect("start");
    let landing = newcomer.walk(start, "wil").await.expect("login");
    assert_eq!(landing.status, 200, "{}", r.a.log());
    assert_eq!(
        status_and_customer(&newcomer, &r.url_b("/account")).await,
        (200, Some("wil".into()))
    );

    // Logouts reach the other replica, whose L1 holds the session (l1_ttl 30 s): the
    // eviction subscription moved to the new primary too.
    let uma_cookie = uma.cookies_for(&r.url_a("/"));
    assert_eq!(
        customer_with_cookie(&uma_cookie, &r.url_b("/account")).await.as_deref(),
        Some("uma")
    );
    assert_eq!(
        customer_with_cookie(&uma_cookie, &r.url_a("/account")).await.as_deref(),
        Some("uma")
    );
    let resp = uma.page(&r.url_a("/_sso/logout")).await.expect("logout");
    assert_eq!(resp.status(), 303);
    assert!(
        anonymous_within(&uma_cookie, &r.url_b("/account"), Duration::from_secs(2)).await,
        "{}",
        r.b.log()
    );
    let vic_cookie = vic.cookies_for(&r.url_a("/"));
    assert_eq!(
        customer_with_cookie(&vic_cookie, &r.url_a("/account")).await.as_deref(),
        Some("vic")
    );
    let resp = vic.page(&r.url_b("/_sso/logout")).await.expect("logout");
    assert_eq!(resp.status(), 303);
    assert!(
        anonymous_within(&vic_cookie, &r.url_a("/account"), Duration::from_secs(2)).await,
        "{}",
        r.a.log()
    );

    for log in [r.a.log(), r.b.log()] {
        assert!(!log.contains("panicked"), "{log}");
    }
    assert!(r.a.log().contains("Redis primary changed"), "{}", r.a.log());
}
