//! `tracing` set-up: human or JSON lines, level from config or `RUST_LOG`, and
//! Pingora's noise turned down ([`crate::log_noise`]).
//!
//! **Access lines leave the request path.** A request formats its access line
//! ([`crate::access_log`]) and puts the bytes on a bounded queue, and that is all it
//! does: no lock, no system call, no thread woken. One writer thread
//! (`sso-log-writer`) wakes every 20 ms, takes what waits and writes it to stderr
//! through a 64 KiB buffer. (A writer that sleeps until a line arrives must be woken
//! for each line, a system call and a context switch per request on a busy core.)
//! When the output cannot keep up (a stalled pipe, a slow journal) and
//! `server.log_buffer_lines` lines wait (65 536 by default: typically 15 MiB, at most
//! about 80 MiB since a line holds at most 512 bytes of path, 256 of customer id and
//! 32 of method), new lines are dropped,
//! not waited for, and counted: `sso_gateway_log_lines_dropped_total`
//! ([`dropped_lines`]).
//!
//! Every other line (warnings, errors, sign-in outcomes: a few per sign-in, none per
//! proxied request) is written by the thread that logs it, at once, so a line is in
//! the log when the event that caused it is over. So while stderr is stalled, a
//! request that logs such a line waits for it (as every request did before access
//! lines had their own thread); requests that log only their access line do not.

use crate::access_log::{Output, Sink};
use crate::request_scope::WithRequestId;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use sso_config::LogFormat;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How often the writer thread looks for lines.
const WRITE_EVERY: Duration = Duration::from_millis(20);

/// Access lines dropped since start.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// The writer thread and its stop flag (taken by [`flush`]).
static WRITER: Mutex<Option<(JoinHandle<()>, Arc<AtomicBool>)>> = Mutex::new(None);

/// The request threads' end of the queue to the writer thread.
pub(crate) struct LineQueue(Sender<Vec<u8>>);

impl LineQueue {
    /// Queues `line`, or drops and counts it when the queue is full.
    pub(crate) fn send(&self, line: &[u8]) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.0.try_send(line.to_vec()) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

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
        LogFormat::Json => lines
            .fmt_fields(JsonFields::new())
            .event_format(WithRequestId {
                inner: tracing_subscriber::fmt::format()
                    .json()
                    .flatten_event(true)
                    .with_span_list(false),
                json: true,
            })
            .boxed(),
        LogFormat::Human => lines
            .event_format(WithRequestId {
                inner: tracing_subscriber::fmt::format(),
                json: false,
            })
            .boxed(),
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
    let out = match threaded.then(|| start_writer(buffer_lines)).flatten() {
        Some(queue) => Output::Queue(queue),
        None => Output::Stderr,
    };
    crate::access_log::install(Sink { format, out });
}

/// Starts the writer thread; `None` (lines are then written by the requests) when
/// the thread cannot be made.
fn start_writer(buffer_lines: usize) -> Option<LineQueue> {
    let (tx, rx) = crossbeam_channel::bounded(buffer_lines);
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let handle = std::thread::Builder::new()
        .name("sso-log-writer".into())
        .spawn(move || write_lines(&rx, &stopping))
        .map_err(|e| eprintln!("cannot start the log writer thread: {e}"))
        .ok()?;
    if let Ok(mut slot) = WRITER.lock() {
        *slot = Some((handle, stop));
    }
    Some(LineQueue(tx))
}

/// The writer thread: every [`WRITE_EVERY`] (or when told to stop), everything that
/// waits goes to stderr. A write that fails is not retried (the lines are lost, as
/// with a full queue); a stderr that blocks holds up only this thread.
fn write_lines(rx: &Receiver<Vec<u8>>, stop: &AtomicBool) {
    let mut out = BufWriter::with_capacity(64 * 1024, std::io::stderr());
    loop {
        let last = stop.load(Ordering::Acquire);
        while let Ok(line) = rx.try_recv() {
            let _ = out.write_all(&line);
        }
        let _ = out.flush();
        if last {
            return;
        }
        std::thread::park_timeout(WRITE_EVERY);
    }
}

/// Access lines dropped because the output could not keep up, since start.
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Writes out the access lines that wait before the process exits: the writer thread
/// drains the queue and ends, waited for at most a second (a stderr nobody reads
/// must not keep the process from exiting; what is left is lost). Lines logged
/// afterwards are lost; call it last.
pub fn flush() {
    let writer = WRITER.lock().ok().and_then(|mut slot| slot.take());
    if let Some((handle, stop)) = writer {
        stop.store(true, Ordering::Release);
        handle.thread().unpark();
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while !handle.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if handle.is_finished() {
            let _ = handle.join();
        }
    }
}
