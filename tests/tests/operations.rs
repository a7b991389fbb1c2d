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

#[test]
fn a_taken_port_is_one_clear_line_and_exit_status_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let path = std::env::temp_dir().join(format!("sso-taken-{}.toml", addr.port()));
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = [\"{addr}\"]\n[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n\
             [[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\n\
             public_url = \"http://shop.localhost\"\n"
        ),
    )
    .expect("config");
    let started = Instant::now();
    let mut child = std::process::Command::new(sso_tests::gateway_bin())
        .args(["run", "--config"])
        .arg(&path)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("gateway");
    // Bounded: Pingora alone retried for 30 s and then panicked.
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("still running with its port taken");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("read");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("server.listen[0]: cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _ = std::fs::remove_file(&path);
}
