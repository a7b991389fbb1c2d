//! `tracing` set-up: human or JSON lines, level from config or `RUST_LOG`, and
//! Pingora's noise turned down ([`crate::log_noise`]).

use sso_config::LogFormat;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub fn init(format: LogFormat, level: &str) {
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
    }
}
