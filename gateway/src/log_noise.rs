//! Pingora log lines that are not errors of this gateway, turned down to `debug`.
//!
//! `ERROR pingora_core::connectors: failed to acquire reusable stream` appeared
//! several times in a healthy demo. Its cause (pingora-core 0.9, `connectors/mod.rs`,
//! `reused_stream`): an idle upstream connection sits in the pool as an `Arc` whose
//! clone is held by the task that watches it while idle. A request takes it from the
//! pool, waits for the watcher to release its lock, and unwraps the `Arc`; when the
//! watcher task has released the lock but not yet dropped its clone, the unwrap
//! fails. Pingora then logs that line, drops the idle connection and opens a new
//! one: the request is served, only one pooled connection is not reused. Nothing an
//! operator can do about it, so it is not an `ERROR` in the log: it is left out,
//! unless debug logging is on (`log_level = "debug"` or `RUST_LOG` naming `debug`
//! anywhere), when it shows as Pingora wrote it. (A line cannot be re-logged at
//! another level from here: `tracing` does not dispatch an event raised inside its
//! own dispatch.)

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// `(target, message)` of each line demoted (see the module documentation).
const DEMOTED: &[(&str, &str)] = &[("pingora_core::connectors", "failed to acquire reusable stream")];

/// The `message` of an event and the `log` crate's target of one bridged from it.
#[derive(Default)]
struct Fields {
    message: String,
    log_target: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "log.target" {
            self.log_target = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }
}

/// Leaves the events of [`DEMOTED`] out unless debug logging is on.
pub struct DemoteNoise;

impl DemoteNoise {
    /// Whether `event` is one of [`DEMOTED`] (logged by `tracing` or bridged from `log`).
    fn demoted(event: &Event<'_>) -> Option<()> {
        let target = event.metadata().target();
        if !DEMOTED.iter().any(|(t, _)| *t == target) && target != "log" {
            return None;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let target = fields.log_target.as_deref().unwrap_or(target);
        DEMOTED
            .iter()
            .any(|(t, m)| *t == target && fields.message == *m)
            .then_some(())
    }
}

impl<S: Subscriber> Layer<S> for DemoteNoise {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        Self::demoted(event).is_none() || LevelFilter::current() >= LevelFilter::DEBUG
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_reusable_stream_error_is_left_out_and_other_errors_stay() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::registry()
            .with(LevelFilter::INFO)
            .with(DemoteNoise)
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || writer.clone()),
            );
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(target: "pingora_core::connectors", "failed to acquire reusable stream");
            tracing::error!(target: "pingora_core::connectors", "connect refused");
            tracing::error!(target: "other", "failed to acquire reusable stream");
        });
        let text = String::from_utf8_lossy(&out.0.lock().expect("lock")).into_owned();
        assert!(!text.contains("pingora_core::connectors: failed to acquire"), "{text}");
        assert!(
            text.contains("ERROR pingora_core::connectors: connect refused"),
            "{text}"
        );
        assert!(
            text.contains("ERROR other: failed to acquire reusable stream"),
            "{text}"
        );
    }
}
