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
    let admin_port = sso_tests::free_port();
    let admin = format!("127.0.0.1:{admin_port}");
    let path = std::env::temp_dir().join(format!("sso-taken-{}.toml", addr.port()));
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = [\"{addr}\"]\nadmin_listen = \"{admin}\"\n\
             [sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n\
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
        // Never ready, however briefly the process lives.
        let answer = sso_tests::raw_http::send(admin_port, "GET /readyz HTTP/1.1\r\nHost: admin\r\n");
        assert_ne!(
            answer.ok().map(|r| r.status),
            Some(200),
            "/readyz was ready with a listener not bound"
        );
        std::thread::sleep(Duration::from_millis(20));
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

/// Starts a shop with the real IdP, signs a shopper in, proxies a few requests, starts
/// one that the origin holds for `in_flight_ms`, sends `signal`, and returns how long
/// the gateway took to exit and what the held request got.
async fn exit_after(signal: &str, in_flight_ms: u64) -> (Duration, Option<u16>, String) {
    let mut shop = sso_tests::Shop::start_with(
        sso_tests::GatewayConfig::default().server("grace_period = \"1s\"\ngraceful_shutdown_timeout = \"5s\""),
        "",
    )
    .expect("shop");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let landing = shop.sign_in(&shopper, "/account", "alice").await.expect("sign in");
    assert_eq!(landing.status, 200);
    for _ in 0..3 {
        assert_eq!(status(&shopper, &shop.url("/account")).await, 200);
    }
    let held = shop.url(&format!("/account/slow?delay_ms={in_flight_ms}"));
    let in_flight = tokio::spawn(async move {
        let answer = shopper.api(&held).await;
        answer.ok().map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    shop.gateway.signal(signal).expect("signal");
    if signal == "TERM" {
        // Draining: still answering, but no longer ready (the load balancer stops sending).
        tokio::time::sleep(Duration::from_millis(100)).await;
        let readyz = reqwest::get(shop.gateway.admin_url("/readyz")).await.expect("readyz");
        assert_eq!(readyz.status(), 503);
        let report: serde_json::Value = readyz.json().await.expect("json");
        assert_eq!(report["checks"]["serving"], false, "{report}");
    }
    while shop.gateway.proc.child.try_wait().expect("wait").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still running 30 s after SIG{signal}:\n{}",
            shop.gateway.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    let held_status = in_flight.await.expect("request task");
    (took, held_status, shop.gateway.log())
}

#[tokio::test]
async fn sigint_ends_a_gateway_that_served_a_login_at_once() {
    let (took, _, log) = exit_after("INT", 3000).await;
    assert!(took < Duration::from_secs(2), "SIGINT took {took:?}:\n{log}");
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_and_exits_within_the_grace_period() {
    let (took, held, log) = exit_after("TERM", 2000).await;
    assert_eq!(held, Some(200), "the request in flight was not finished:\n{log}");
    // grace_period (1 s) + graceful_shutdown_timeout (5 s), as documented.
    assert!(
        took < Duration::from_secs(6) + Duration::from_millis(500),
        "SIGTERM took {took:?}:\n{log}"
    );
}

#[test]
fn unreadable_certificate_key_and_signing_key_files_stop_run_with_their_keys() {
    let dir = std::env::temp_dir().join(format!("sso-unreadable-{}", sso_tests::free_port()));
    std::fs::create_dir_all(&dir).expect("dir");
    let missing = |name: &str| dir.join(name).display().to_string();
    let path = dir.join("gateway.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = [\"127.0.0.1:{}\"]\n[[server.tls]]\nlisten = \"127.0.0.1:{}\"\ncert = \"{}\"\nkey = \"{}\"\n\
             [sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n\
             [[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\n\
             public_url = \"http://shop.localhost\"\n[sites.token]\nsigning_key_file = \"{}\"\n",
            sso_tests::free_port(),
            sso_tests::free_port(),
            missing("cert.pem"),
            missing("key.pem"),
            missing("signing.pem"),
        ),
    )
    .expect("config");
    let started = Instant::now();
    let out = std::process::Command::new(sso_tests::gateway_bin())
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .expect("gateway");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        stderr.contains(&format!(
            "sites[0].token.signing_key_file: cannot read {}",
            missing("signing.pem")
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "server.tls[0]: the certificate file {} cannot be read",
            missing("cert.pem")
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Redis of its own that wants `password`, on a free port.
fn redis_with_password(password: &str) -> (sso_tests::Proc, u16) {
    let port = sso_tests::free_port();
    let mut redis = sso_tests::Proc::spawn(
        "redis",
        std::process::Command::new("redis-server").args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--requirepass",
            password,
            "--save",
            "",
            "--appendonly",
            "no",
        ]),
    )
    .expect("redis-server");
    sso_tests::wait_for_port(port, &mut redis).expect("redis answers");
    (redis, port)
}

#[tokio::test]
async fn an_upgrade_whose_redis_refuses_the_password_still_leaves_a_gateway_serving() {
    let (_redis, port) = redis_with_password("right-password");
    let origin = sso_tests::Storefront::start().expect("origin");
    let gw = sso_tests::GatewayConfig::default()
        .sessions(&format!(
            "store = \"redis\"\nredis_url = \"redis://:right-password@127.0.0.1:{port}/0\""
        ))
        .plain_site("shop", &[origin.addr()])
        .start()
        .expect("gateway");
    let url = gw.site_url("shop", "/");
    // The password rotated in the file before Redis knows it; then `systemctl reload`.
    let text = std::fs::read_to_string(&gw.config_path).expect("config");
    gw.rewrite_config(&text.replace(":right-password@", ":wrong-password@"))
        .expect("rewrite");
    let mut new = gw.start_upgrade().expect("new gateway");
    tokio::time::sleep(Duration::from_millis(500)).await;
    gw.signal("QUIT").expect("SIGQUIT");
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        let shopper = Shopper::new(&["shop"]).expect("client");
        assert_eq!(
            status(&shopper, &url).await,
            200,
            "nothing served during the upgrade:\n{}\n{}",
            gw.log(),
            new.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(new.child.try_wait().expect("wait").is_none(), "{}", new.log());
    assert!(new.log().contains("Redis refused the credentials"), "{}", new.log());
    assert!(!new.log().contains("wrong-password"), "{}", new.log());
}
