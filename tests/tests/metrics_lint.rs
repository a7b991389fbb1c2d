//! The admin listener's `/metrics`, scraped after a real sign-in (IdP code flow on one
//! shop, a one-time-token sign-in on another), passes `promtool check metrics`
//! (Debian's `prometheus` package; `scripts/setup.sh` installs it).

use anyhow::{Context, Result};
use sso_tests::group::{Group, GroupOptions};
use std::io::Write;
use std::process::{Command, Stdio};

#[tokio::test]
async fn a_scrape_after_a_full_login_passes_promtool() -> Result<()> {
    let group = Group::start(GroupOptions::default())?;
    group.ready().await?;
    group.sign_in_traffic().await?;
    // Every feature the sign-ins went through is there, with bounded labels. A request
    // is counted in Pingora's logging phase, after its answer went out: the scrape is
    // polled until the last request of the traffic shows (or a deadline).
    let expected = [
        "sso_gateway_logins_total{method=\"oidc\",outcome=\"success\",site=\"shop-a\"}",
        "sso_gateway_logins_total{method=\"ott\",outcome=\"success\",site=\"shop-b\"}",
        "sso_gateway_logins_total{method=\"bearer\",outcome=\"bad_token\",site=\"shop-a\"}",
        "sso_gateway_requests_total{access=\"-\",site=\"auth-host\"",
        "sso_gateway_requests_total{access=\"gateway\",site=\"shop-a\",status=\"303\"}",
        "sso_gateway_requests_total{access=\"api\",site=\"shop-a\",status=\"401\"}",
        "sso_gateway_one_time_tokens_total{event=\"minted\",site=\"shop-b\"}",
        "sso_gateway_one_time_tokens_total{event=\"redeemed\",site=\"shop-b\"}",
        "sso_gateway_upstream_duration_seconds_count{site=\"shop-a\"}",
        "sso_gateway_idp_request_duration_seconds_count{endpoint=\"token\",site=\"shop-a\"}",
        "sso_gateway_jwks_refreshes_total{result=\"ok\",site=\"shop-a\"}",
        "sso_gateway_session_lookups_total{result=\"hit\"}",
        "sso_gateway_config_reloads_total{result=\"ok\"}",
        "sso_gateway_build_info{version=",
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let scrape = loop {
        let scrape = group.a.metrics().await;
        if expected.iter().all(|s| scrape.contains(s)) || std::time::Instant::now() > deadline {
            break scrape;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    for series in expected {
        assert!(scrape.contains(series), "{series} missing from\n{scrape}");
    }
    assert!(!scrape.contains("olga"), "a customer in a label:\n{scrape}");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("promtool (Debian package prometheus; scripts/setup.sh installs it)")?;
    promtool
        .stdin
        .take()
        .context("promtool stdin")?
        .write_all(scrape.as_bytes())?;
    let out = promtool.wait_with_output()?;
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
