//! The log never holds a request up. With stderr a pipe nobody reads (a stalled
//! journal, a full disk behind a pipe), the gateway goes on answering, drops the lines
//! the writer cannot take and counts them; once the output moves again, so do the
//! lines. With a writer that blocked, the requests here would stall after a few
//! hundred lines and the test would fail at its deadline.

use anyhow::{ensure, Context, Result};
use sso_tests::{gateway_bin, GatewayConfig, Storefront};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// More lines than the queue (100), the pipe (64 KiB) and the writer's own buffer
/// (64 KiB) hold together: about 700 lines of some 230 bytes.
const REQUESTS: usize = 1_500;

/// The status of `GET path` on the shop (0: no answer).
async fn get(client: &reqwest::Client, port: u16, path: &str) -> u16 {
    client
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("host", "shop.localhost")
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_stalled_log_output_drops_and_counts_lines_and_requests_go_on() -> Result<()> {
    let origin = Storefront::start()?;
    let config = GatewayConfig::default()
        .server("log_level = \"warn,access=info\"\nlog_buffer_lines = 100")
        .plain_site("shop", &[origin.addr()]);
    let (port, admin) = (config.port, config.admin_port);
    let path = std::env::temp_dir().join(format!("sso-gw-{port}.toml"));
    std::fs::write(&path, config.render())?;
    let mut child = Command::new(gateway_bin())
        .args(["run", "--config"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    // Held and not read: the pipe fills after about 64 KiB.
    let mut stderr = child.stderr.take().context("stderr")?;
    let result = async {
        let client = reqwest::Client::new();
        let ready = Instant::now() + Duration::from_secs(20);
        while !client
            .get(format!("http://127.0.0.1:{admin}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            ensure!(Instant::now() < ready, "the gateway did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // 16 clients at once. A deadline for liveness, not a speed: behind a blocking
        // writer they never finish.
        let mut workers = tokio::task::JoinSet::new();
        for w in 0..16 {
            workers.spawn_blocking(move || {
                let mut ok = 0;
                for i in (w..REQUESTS).step_by(16) {
                    let head = format!("GET /flood/{i} HTTP/1.1\r\nHost: shop.localhost\r\n");
                    ok += usize::from(sso_tests::raw_http::send(port, &head).is_ok_and(|r| r.status == 200));
                }
                ok
            });
        }
        // Generous: a debug build on a busy CI machine is slow, a stalled one never ends.
        let answered: usize = tokio::time::timeout(Duration::from_secs(300), workers.join_all())
            .await
            .context("requests stalled behind a log output nobody reads")?
            .into_iter()
            .sum();
        ensure!(answered == REQUESTS, "{answered} of {REQUESTS} requests answered 200");

        let metrics = client
            .get(format!("http://127.0.0.1:{admin}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let dropped: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("sso_gateway_log_lines_dropped_total "))
            .and_then(|v| v.trim().parse().ok())
            .context("no sso_gateway_log_lines_dropped_total")?;
        ensure!(
            dropped >= 300.0,
            "{dropped} lines counted as dropped of {REQUESTS} that could not be written"
        );

        // The output moves again: lines flow again, whole.
        let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 || lines_tx.send(String::from_utf8_lossy(&buf[..n]).into_owned()).is_err() {
                    break;
                }
            }
        });
        let mut seen = String::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !seen.contains("/after-the-stall") {
            ensure!(Instant::now() < deadline, "no access line after the output moved again");
            ensure!(
                get(&client, port, "/after-the-stall").await == 200,
                "not answered after the stall"
            );
            while let Ok(chunk) = lines_rx.recv_timeout(Duration::from_millis(200)) {
                seen.push_str(&chunk);
            }
        }
        let line = seen
            .lines()
            .find(|l| l.contains("/after-the-stall"))
            .context("the line")?;
        ensure!(
            line.contains("status=200") && line.contains("request_id="),
            "an access line comes whole: {line}"
        );
        Ok(())
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}
