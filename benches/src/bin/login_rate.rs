//! Logins per second through the whole code flow (gateway → real IdP sign-in and
//! consent forms → callback → code exchange → ID-token validation → session →
//! first proxied page), and the gateway's CPU per login read from /proc.
//! Usage: `login_rate <start-url> <concurrency> <logins> <gateway-pid>`; prints JSON.

use anyhow::{ensure, Context, Result};
use sso_tests::Shopper;
use std::time::Instant;

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat.rsplit_once(')').context("stat")?.1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    ensure!(
        args.len() == 4,
        "usage: login_rate <start-url> <concurrency> <logins> <gateway-pid>"
    );
    let (url, concurrency, logins, pid): (String, usize, usize, u32) =
        (args[0].clone(), args[1].parse()?, args[2].parse()?, args[3].parse()?);
    let cpu_before = cpu_seconds(pid)?;
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let url = url.clone();
        let share = logins / concurrency + usize::from(w < logins % concurrency);
        workers.push(tokio::spawn(async move {
            for i in 0..share {
                let shopper = Shopper::new(&["shop"])?;
                let landing = shopper
                    .walk(shopper.page(&url).await?, &format!("rate-{w}-{i}"))
                    .await?;
                ensure!(landing.status == 200, "login ended with {}", landing.status);
            }
            Ok::<usize, anyhow::Error>(share)
        }));
    }
    let mut done = 0;
    for w in workers {
        done += w.await??;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid)? - cpu_before;
    println!(
        "{}",
        serde_json::json!({
            "logins": done,
            "concurrency": concurrency,
            "seconds": wall,
            "logins_per_second": done as f64 / wall,
            "gateway_cpu_ms_per_login": cpu * 1000.0 / done as f64,
        })
    );
    Ok(())
}
