//! `check --online` against the real `oidc-provider`, a real Redis with a password
//! and the demo origin: every broken IdP, Redis and upstream is one line naming its
//! key path and what is wrong; a refused Redis password also stops `run` at once.

use sso_tests::{free_port, Idp, Storefront};
use std::process::Command;
use std::time::{Duration, Instant};

fn site(i: usize, issuer: &str, upstream: &str) -> String {
    format!(
        "[[sites]]\nname = \"s{i}\"\nhosts = [\"s{i}.localhost\"]\nupstreams = [\"{upstream}\"]\n\
         public_url = \"http://s{i}.localhost\"\n\
         [sites.oidc]\nissuer = \"{issuer}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n",
        sso_tests::CLIENT_ID,
        sso_tests::CLIENT_SECRET
    )
}

fn config(sessions: &str, sites: &[String]) -> String {
    format!(
        "[server]\nlisten = [\"127.0.0.1:{}\"]\n[sessions]\ncookie_secret = \"{}\"\n{sessions}\n{}",
        free_port(),
        sso_tests::COOKIE_SECRET,
        sites.join("\n")
    )
}

/// `sso-gateway ARGS --config <text>`: (exit code, stdout + stderr).
fn gateway(args: &[&str], text: &str) -> (Option<i32>, String) {
    let path = std::env::temp_dir().join(format!("sso-online-{}.toml", free_port()));
    std::fs::write(&path, text).expect("config");
    let out = Command::new(sso_tests::gateway_bin())
        .args(args)
        .arg("--config")
        .arg(&path)
        .output()
        .expect("gateway");
    let _ = std::fs::remove_file(&path);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn each_broken_idp_and_upstream_is_named_by_its_key_path() {
    let idp = Idp::start(&[], &[]).expect("idp");
    let origin = Storefront::start().expect("origin");
    let good = idp.issuer();
    let port = idp.port;
    let closed = format!("127.0.0.1:{}", free_port());
    let sites = [
        site(0, &good, &origin.addr()),
        site(1, &format!("http://localhost:{port}"), &origin.addr()),
        site(2, &format!("{good}/realms/shop"), &origin.addr()),
        site(3, &format!("http://{closed}"), &origin.addr()),
        site(4, &format!("https://127.0.0.1:{port}"), &closed),
    ];

    let (code, all_good) = gateway(&["check", "--online"], &config("", &sites[..1]));
    assert_eq!(code, Some(0), "{all_good}");
    assert!(all_good.contains("ok online (1 site(s))"), "{all_good}");

    let (code, out) = gateway(&["check", "--online"], &config("", &sites));
    assert_eq!(code, Some(1), "{out}");
    for expected in [
        format!("sites[1].oidc.issuer: the provider calls itself {good}, not http://localhost:{port}"),
        format!(
            "sites[2].oidc.issuer: discovery answered 404 at {good}/realms/shop/.well-known/openid-configuration \
             — the issuer must be the provider's exact issuer URL: for Keycloak https://HOST/realms/REALM"
        ),
        format!(
            "sites[3].oidc.issuer: the connection was refused (nothing listens there), at \
             http://{closed}/.well-known/openid-configuration"
        ),
        "sites[4].oidc.issuer: TLS failed: the other side does not speak TLS there".to_string(),
        format!("sites[4].upstreams[0]: cannot connect to {closed}"),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in:\n{out}");
    }
    assert!(!out.contains("sites[0]."), "the good site has no problem:\n{out}");
    assert!(out.contains("5 problem(s) online"), "{out}");
    // The offline check does not reach anything: the same file passes it.
    let (code, offline) = gateway(&["check"], &config("", &sites));
    assert_eq!(code, Some(0), "{offline}");
}

#[test]
fn a_redis_that_refuses_the_password_is_a_clear_error_for_check_and_run() {
    let port = free_port();
    let _redis = sso_tests::Proc::spawn(
        "redis",
        Command::new("redis-server").args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--requirepass",
            "right-password",
            "--save",
            "",
            "--appendonly",
            "no",
        ]),
    )
    .expect("redis-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let origin = Storefront::start().expect("origin");
    let plain = format!(
        "[[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"{}\"]\npublic_url = \"http://shop.localhost\"\n",
        origin.addr()
    );
    let sessions =
        |password: &str| format!("store = \"redis\"\nredis_url = \"redis://:{password}@127.0.0.1:{port}/0\"");

    let (code, out) = gateway(
        &["check", "--online"],
        &config(&sessions("wrong-password"), std::slice::from_ref(&plain)),
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("sessions.redis_url: Redis refused the credentials"),
        "{out}"
    );
    assert!(!out.contains("wrong-password"), "the password is never printed:\n{out}");

    let started = Instant::now();
    let (code, out) = gateway(
        &["run"],
        &config(&sessions("wrong-password"), std::slice::from_ref(&plain)),
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    assert!(
        out.contains("sessions.redis_url: Redis refused the credentials"),
        "{out}"
    );
    assert!(!out.contains("panicked") && !out.contains("wrong-password"), "{out}");

    let (code, out) = gateway(&["check", "--online"], &config(&sessions("right-password"), &[plain]));
    assert_eq!(code, Some(0), "{out}");
}
