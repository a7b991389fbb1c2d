//! Rate limits shared by replicas (issue 21, section 5), against two real gateway
//! processes on one real Redis: one client alternating between the replicas is
//! refused at the configured count, not at twice it; with Redis stopped, each replica
//! limits on its own at once, and nothing answers 5xx.

use sso_tests::replicas::{ReplicaOptions, Replicas};
use sso_tests::{Gateway, Shopper};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A cookie jar whose requests come from loopback address `from` (another client).
fn client_from(from: [u8; 4]) -> Shopper {
    Shopper::from_address(&["shop"], Some(IpAddr::from(from))).expect("client")
}

/// The value of `series` in a Prometheus scrape, 0 when absent.
fn metric(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn decided(scrape: &str, by: &str) -> f64 {
    metric(
        scrape,
        &format!("sso_gateway_rate_limit_decisions_total{{decided_by=\"{by}\",site=\"shop\"}}"),
    )
}

/// `GET url` as an API call: the status, which must never be a 5xx.
async fn api_status(client: &Shopper, url: &str) -> u16 {
    let status = client.api(url).await.expect("request").status().as_u16();
    assert!(status < 500, "{url}: {status}");
    status
}

async fn wait_not_ready(gateway: &Gateway) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = reqwest::get(gateway.admin_url("/readyz"))
            .await
            .map_or(0, |r| r.status().as_u16());
        if status == 503 {
            return;
        }
        assert!(Instant::now() < deadline, "/readyz still {status} with Redis stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn one_client_alternating_between_two_replicas_trips_at_the_limit_not_twice_it() {
    let r = Replicas::start(ReplicaOptions {
        server: "rate_limits = { login = 10, token = 6 }",
        ..ReplicaOptions::default()
    })
    .expect("replicas");
    r.ready().await.expect("ready");
    let shopper = client_from([127, 0, 0, 21]);
    for i in 0..10 {
        let url = if i % 2 == 0 {
            r.url_a("/account")
        } else {
            r.url_b("/account")
        };
        let resp = shopper.page(&url).await.expect("login start");
        assert_eq!(resp.status(), 302, "login start {i} is within the limit");
    }
    for url in [r.url_a("/account"), r.url_b("/account"), r.url_b("/_sso/login")] {
        let resp = shopper.page(&url).await.expect("login start");
        assert_eq!(resp.status(), 429, "{url}: the 11th login start, whichever replica");
        let retry: u64 = resp.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("secs");
        assert!((1..=120).contains(&retry), "{retry}");
    }
    // Another client, and another endpoint of this one, have budgets of their own.
    let other = client_from([127, 0, 0, 22]);
    assert_eq!(other.page(&r.url_b("/account")).await.expect("page").status(), 302);
    for i in 0..6 {
        let url = if i % 2 == 0 {
            r.url_a("/_sso/token")
        } else {
            r.url_b("/_sso/token")
        };
        assert_ne!(api_status(&shopper, &url).await, 429, "token request {i}");
    }
    assert_eq!(api_status(&shopper, &r.url_a("/_sso/token")).await, 429);
    assert_eq!(api_status(&shopper, &r.url_b("/_sso/token")).await, 429);

    for gateway in [&r.a, &r.b] {
        let scrape = gateway.metrics().await;
        assert!(decided(&scrape, "redis") >= 9.0, "{scrape}");
        assert_eq!(decided(&scrape, "fallback"), 0.0, "{scrape}");
        assert_eq!(decided(&scrape, "local"), 0.0, "{scrape}");
    }
}

#[tokio::test]
async fn with_redis_stopped_each_replica_limits_on_its_own_and_nothing_fails() {
    let mut r = Replicas::start(ReplicaOptions {
        server: "rate_limits = { token = 4, logout = 3 }",
        own_redis: true,
        ..ReplicaOptions::default()
    })
    .expect("replicas");
    r.ready().await.expect("ready");
    let client = client_from([127, 0, 0, 23]);
    // Shared while Redis answers: 2 + 2 of 4.
    for url in [
        r.url_a("/_sso/token"),
        r.url_b("/_sso/token"),
        r.url_a("/_sso/token"),
        r.url_b("/_sso/token"),
    ] {
        assert_ne!(api_status(&client, &url).await, 429, "{url}");
    }
    assert_eq!(api_status(&client, &r.url_a("/_sso/token")).await, 429);

    r.redis.stop();
    wait_not_ready(&r.a).await;
    wait_not_ready(&r.b).await;
    // Each replica counted the 2 it let in: 2 more each, then 429, on its own.
    for gateway in [&r.a, &r.b] {
        let url = gateway.site_url("shop", "/_sso/token");
        assert_ne!(api_status(&client, &url).await, 429, "{url}");
        assert_ne!(api_status(&client, &url).await, 429, "{url}");
        assert_eq!(api_status(&client, &url).await, 429, "{url}");
    }
    // A client this replica never saw gets the whole limit here alone.
    let fresh = client_from([127, 0, 0, 24]);
    for i in 0..3 {
        let status = api_status(&fresh, &r.url_b("/_sso/logout")).await;
        assert_ne!(status, 429, "logout {i}");
    }
    assert_eq!(api_status(&fresh, &r.url_b("/_sso/logout")).await, 429);
    assert_ne!(
        api_status(&fresh, &r.url_a("/_sso/logout")).await,
        429,
        "A counts apart"
    );

    for (gateway, at_least) in [(&r.a, 4.0), (&r.b, 7.0)] {
        let scrape = gateway.metrics().await;
        assert!(decided(&scrape, "fallback") >= at_least, "{scrape}");
    }
}
