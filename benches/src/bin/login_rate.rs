//! Logins per second through the whole code flow (gateway → real IdP sign-in and
//! consent forms → callback → code exchange → ID-token validation → session →
//! first proxied page), and the gateway's CPU per login read from /proc.
//! Usage: `login_rate <start-url> <concurrency> <logins> <gateway-pid> [warm-up]`;
//! prints JSON.
//!
//! The CPU is the sum of every gateway thread's run time in nanoseconds
//! (`/proc/PID/task/*/schedstat`), not `utime + stime` in clock ticks (10 ms each: 200
//! logins were only 140–180 ticks). A warm-up of `warm-up` logins (default `logins / 10`,
//! at most 50) is not counted, so the IdP's discovery and key set fetched at the first login, and the
//! first connections, are not part of the figure.

use anyhow::{ensure, Context, Result};
use sso_tests::Shopper;
use std::time::Instant;

/// The run time of every thread of a process, in seconds (nanosecond resolution).
/// A thread that ends between two readings takes its time with it: the gateway's
/// threads (Pingora's workers, the log writer, the background services) live as long
/// as the process, so nothing is lost there.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let mut nanos: u64 = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("schedstat");
        // A thread may end between the listing and the read: it then counts nothing.
        let Ok(stat) = std::fs::read_to_string(&path) else {
            continue;
        };
        let first = stat.split_whitespace().next().context("schedstat")?;
        nanos += first.parse::<u64>().with_context(|| format!("{}", path.display()))?;
    }
    Ok(nanos as f64 / 1e9)
}

/// `count` logins through `url`, `concurrency` at a time.
async fn sign_in(url: &str, concurrency: usize, count: usize, tag: &str) -> Result<usize> {
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (url, tag) = (url.to_owned(), tag.to_owned());
        let share = count / concurrency + usize::from(w < count % concurrency);
        workers.push(tokio::spawn(async move {
            for i in 0..share {
                let shopper = Shopper::new(&["shop"])?;
                let landing = shopper
                    .walk(shopper.page(&url).await?, &format!("{tag}-{w}-{i}"))
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
    Ok(done)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    ensure!(
        args.len() == 4 || args.len() == 5,
        "usage: login_rate <start-url> <concurrency> <logins> <gateway-pid> [warm-up]"
    );
    let (url, concurrency, logins, pid): (String, usize, usize, u32) =
        (args[0].clone(), args[1].parse()?, args[2].parse()?, args[3].parse()?);
    ensure!(concurrency > 0, "concurrency must be at least 1");
    let warm_up = match args.get(4) {
        Some(n) => n.parse()?,
        None => (logins / 10).clamp(1, 50),
    };
    if warm_up > 0 {
        sign_in(&url, concurrency, warm_up, "warm").await?;
    }
    let cpu_before = cpu_seconds(pid)?;
    let started = Instant::now();
    let done = sign_in(&url, concurrency, logins, "rate").await?;
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
