//! `tracing` set-up: human or JSON lines, level from config or `RUST_LOG`, and
//! Pingora's noise turned down ([`crate::log_noise`]).
//!
//! **Access lines leave the request path.** A request formats its access line
//! ([`crate::access_log`]) and hands the bytes to a channel; one writer thread
//! (`sso-log-writer`) writes them to stderr through a 64 KiB buffer, flushed whenever
//! the channel is empty. No request waits on stderr or on a lock around it. When the
//! output cannot keep up (a stalled pipe, a slow journal) and `server.log_buffer_lines`
//! lines wait (65 536 by default: typically 15 MiB, at most 64 MiB since a line
//! holds at most 512 bytes of path; a few seconds of a saturated gateway), new lines
//! are dropped, not waited for, and counted:
//! `sso_gateway_log_lines_dropped_total` ([`dropped_lines`]).
//!
//! Every other line (warnings, errors, sign-in outcomes: a few per sign-in, none per
//! proxied request) is written by the thread that logs it, at once, so a line is in
//! the log when the event that caused it is over.

use crate::access_log::{Output, Sink};
use sso_config::LogFormat;
use std::io::{BufWriter, Stderr};
use std::sync::{Mutex, OnceLock};
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// What the writer dropped, and the guard that flushes it (taken by [`flush`]).
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();
static WRITER: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// `threaded`: access lines go through the writer thread (see the module
/// documentation). Not with `--daemon`: Pingora forks after this, and a thread does
/// not survive a fork, so a daemon writes its access lines itself.
pub fn init(format: LogFormat, level: &str, threaded: bool, buffer_lines: usize) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let lines = match format {
        LogFormat::Json => lines.json().flatten_event(true).with_span_list(false).boxed(),
        LogFormat::Human => lines.boxed(),
    };
    let result = tracing_subscriber::registry()
        .with(filter)
        .with(crate::log_noise::DemoteNoise)
        .with(lines)
        .try_init();
    if let Err(e) = result {
        eprintln!("logging was already initialised: {e}");
        return;
    }
    let out = if threaded {
        let output: BufWriter<Stderr> = BufWriter::with_capacity(64 * 1024, std::io::stderr());
        let (writer, guard) = NonBlockingBuilder::default()
            .lossy(true)
            .buffered_lines_limit(buffer_lines)
            .thread_name("sso-log-writer")
            .finish(output);
        let _ = DROPPED.set(writer.error_counter());
        if let Ok(mut slot) = WRITER.lock() {
            *slot = Some(guard);
        }
        Output::Channel(writer)
    } else {
        Output::Stderr
    };
    crate::access_log::install(Sink { format, out });
}

/// Access lines dropped because the output could not keep up, since start.
pub fn dropped_lines() -> u64 {
    DROPPED
        .get()
        .map_or(0, |c| u64::try_from(c.dropped_lines()).unwrap_or(u64::MAX))
}

/// Writes out the access lines that wait in the channel (for at most a second)
/// before the process exits. Lines logged afterwards are lost; call it last.
pub fn flush() {
    let guard = WRITER.lock().ok().and_then(|mut slot| slot.take());
    drop(guard);
}
