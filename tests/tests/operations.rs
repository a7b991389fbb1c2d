//! What an operator does to a running gateway: SIGHUP, zero-downtime binary upgrade,
//! graceful shutdown.

use sso_tests::Shopper;
use std::time::{Duration, Instant};

async fn status(shopper: &Shopper, url: &str) -> u16 {
    match shopper.api(url).await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

#[tokio::test]
async fn sighup_does_not_stop_the_gateway() {
    let (_origin, gw, shopper) = sso_tests::plain_shop().expect("shop");
    gw.signal("HUP").expect("SIGHUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(&shopper, &gw.site_url("shop", "/")).await, 200);
    assert!(gw.log().contains("SIGHUP received"), "{}", gw.log());
}

#[tokio::test]
async fn an_upgrade_hands_the_listener_over_without_refusing_requests() {
    let (_origin, mut gw, _) = sso_tests::plain_shop().expect("shop");
    let url = gw.site_url("shop", "/upgrade");
    let mut new = gw.start_upgrade().expect("new gateway");
    // The new process waits on the upgrade socket; give it a moment to connect.
    tokio::time::sleep(Duration::from_millis(500)).await;
    gw.signal("QUIT").expect("SIGQUIT");

    // Every request during and after the hand-over is served (fresh client each time,
    // so no connection to the old process is reused).
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut served = 0;
    while Instant::now() < deadline {
        let shopper = Shopper::new(&["shop"]).expect("client");
        assert_eq!(
            status(&shopper, &url).await,
            200,
            "a request failed during the upgrade:\n{}\n{}",
            gw.log(),
            new.log()
        );
        served += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served > 10);
    assert!(
        new.child.try_wait().expect("wait").is_none(),
        "the new gateway exited:\n{}",
        new.log()
    );
    // The old process finishes its graceful shutdown and exits by itself.
    let deadline = Instant::now() + Duration::from_secs(20);
    while gw.proc.child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the old gateway did not exit:\n{}", gw.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
