//! Sessions in Redis through faults and upgrades: Redis stopped under two replicas
//! (one failing open from its L1, one failing closed), Redis back without a restart,
//! and a binary upgrade (`run --upgrade`) that keeps every shopper signed in.

use sso_tests::replicas::{ReplicaOptions, Replicas};
use sso_tests::{echo_of, Shopper};
use std::time::{Duration, Instant};

use sso_tests::client::status_and_customer;

async fn readyz(gateway: &sso_tests::Gateway) -> u16 {
    match reqwest::get(gateway.admin_url("/readyz")).await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

async fn wait_readyz(gateway: &sso_tests::Gateway, want: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if readyz(gateway).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn redis_down_serves_l1_or_fails_closed_refuses_logins_and_recovers_by_itself() {
    let mut r = Replicas::start(ReplicaOptions {
        sessions: "l1_ttl = \"30s\"",
        b_sessions: "fail_closed = true",
        own_redis: true,
        ..ReplicaOptions::default()
    })
    .expect("replicas");
    r.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let start = shopper.page(&r.url_a("/account")).await.expect("start");
    assert_eq!(shopper.walk(start, "uma").await.expect("login").status, 200);
    assert_eq!(
        status_and_customer(&shopper, &r.url_b("/account")).await.1.as_deref(),
        Some("uma")
    );

    r.redis.stop();
    assert!(
        wait_readyz(&r.a, 503).await,
        "/readyz says not ready while Redis is down"
    );
    assert!(
        wait_readyz(&r.b, 503).await,
        "/readyz says not ready while Redis is down"
    );
    let report = reqwest::get(r.a.admin_url("/readyz"))
        .await
        .expect("readyz")
        .text()
        .await
        .expect("body");
    assert!(report.contains("\"redis\":false"), "{report}");

    // A (fail open) serves the shopper from its L1; B (fail_closed) refuses with 503.
    assert_eq!(
        status_and_customer(&shopper, &r.url_a("/account")).await,
        (200, Some("uma".into())),
        "{}",
        r.a.log()
    );
    let (status, who) = status_and_customer(&shopper, &r.url_b("/account")).await;
    assert_eq!((status, who), (503, None), "fail_closed refuses what it cannot check");
    // Public pages still work, anonymous on B.
    assert_eq!(status_and_customer(&shopper, &r.url_b("/")).await.0, 200);

    // A new login gets a clear 503 page, not an IdP round trip that cannot end well.
    let newcomer = Shopper::new(&["shop"]).expect("client");
    let resp = newcomer.page(&r.url_a("/account")).await.expect("login start");
    assert_eq!(resp.status(), 503);
    let page = resp.text().await.expect("page");
    assert!(page.contains("temporarily unavailable"), "{page}");
    let resp = newcomer.api(&r.url_a("/_sso/session")).await.expect("session");
    assert_eq!(resp.status(), 200, "no cookie: anonymous needs no store");
    let metrics = r.a.metrics().await;
    assert!(
        metrics.contains("sso_gateway_store_errors_total{op=\"put\",store=\"redis\"}"),
        "{metrics}"
    );

    // Redis back (empty: it kept nothing on disk): new logins work, no restart.
    r.redis.start();
    assert!(wait_readyz(&r.a, 200).await, "{}", r.a.log());
    assert!(wait_readyz(&r.b, 200).await, "{}", r.b.log());
    let start = newcomer.page(&r.url_a("/account")).await.expect("start");
    let landing = newcomer.walk(start, "vera").await.expect("login");
    assert_eq!(landing.status, 200, "{}", r.a.log());
    assert_eq!(
        status_and_customer(&newcomer, &r.url_b("/account")).await,
        (200, Some("vera".into())),
        "{}",
        r.b.log()
    );
    for log in [r.a.log(), r.b.log()] {
        assert!(!log.contains("panicked"), "{log}");
    }
}

#[tokio::test]
async fn a_binary_upgrade_with_redis_keeps_every_shopper_signed_in() {
    let r = Replicas::start(ReplicaOptions::default()).expect("replicas");
    r.ready().await.expect("ready");
    let mut shoppers = Vec::new();
    for name in ["wes", "xia", "yann"] {
        let shopper = Shopper::new(&["shop"]).expect("client");
        let start = shopper.page(&r.url_a("/account")).await.expect("start");
        assert_eq!(shopper.walk(start, name).await.expect("login").status, 200);
        shoppers.push((name, shopper));
    }
    let Replicas { mut a, .. } = r;
    let mut new = a.start_upgrade().expect("new gateway");
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.signal("QUIT").expect("SIGQUIT");
    let deadline = Instant::now() + Duration::from_secs(20);
    while a.proc.child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the old gateway did not exit:\n{}", a.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Only the new process is left: it never saw these sessions in memory.
    for (name, shopper) in &shoppers {
        let fresh = Shopper::new(&["shop"]).expect("client");
        let cookie = shopper.cookies_for(&a.site_url("shop", "/"));
        let resp = fresh
            .http
            .get(a.site_url("shop", "/account"))
            .header("accept", "application/json")
            .header("cookie", cookie)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 200, "{name}:\n{}", new.log());
        let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
        assert_eq!(echo["headers"]["x-customer-id"], *name);
    }
    assert!(new.child.try_wait().expect("wait").is_none(), "{}", new.log());
}
