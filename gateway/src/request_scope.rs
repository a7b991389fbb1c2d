//! The request id on the log lines a request's filters write, without a `tracing`
//! span per request.
//!
//! A span cost every proxied request about 2 500 instructions (made, its fields
//! formatted into a string, entered and left at each poll, closed), for lines that
//! almost no request writes: warnings and sign-in outcomes. Instead the id rides in a
//! task-local ([`within`]) that costs a thread-local swap per poll, and the line
//! formatter ([`WithRequestId`]) adds it to the lines written inside, exactly where
//! the span put it:
//! - human: `2026-12-07T03:04:05.678901Z  WARN request{request_id=…}: target: message`
//!   (after the level, also for records bridged from the `log` crate);
//! - JSON: a `"span":{"request_id":"…","name":"request"}` member.
//!
//! Lines written outside a request (start-up, housekeeping, tasks the request
//! spawned) have no id, as before. On a terminal, a request's lines are written
//! without colours (the formatter cannot hand its colour setting to a buffer).

use sso_filters::request_id::RequestId;
use std::fmt;
use std::future::Future;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

tokio::task_local! {
    static REQUEST_ID: RequestId;
}

/// Runs `work` with `id` as the request id of every line it logs.
pub(crate) async fn within<F: Future>(id: RequestId, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// A line formatter that adds the current request's id to what `inner` writes.
pub(crate) struct WithRequestId<F> {
    pub(crate) inner: F,
    pub(crate) json: bool,
}

impl<S, N, F> FormatEvent<S, N> for WithRequestId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let scoped = REQUEST_ID.try_with(|id| {
            let mut line = String::with_capacity(256);
            self.inner.format_event(ctx, Writer::new(&mut line), event)?;
            match with_id(&line, id.as_str(), self.json) {
                Some(spliced) => writer.write_str(&spliced),
                None => writer.write_str(&line),
            }
        });
        match scoped {
            Ok(written) => written,
            // Not inside a request.
            Err(_) => self.inner.format_event(ctx, writer, event),
        }
    }
}

/// `line` with the request id put where the request's span used to show it: after
/// the timestamp and level (human) or as a last member (JSON). `None` when `line` has
/// no such place. (Not found by the target: a record bridged from the `log` crate
/// has the event target `log` while its line shows the record's own.)
fn with_id(line: &str, id: &str, json: bool) -> Option<String> {
    let at = if json { line.rfind('}')? } else { after_level(line)? };
    let member = if json {
        let id = serde_json::to_string(id).ok()?;
        format!(",\"span\":{{\"request_id\":{id},\"name\":\"request\"}}")
    } else {
        format!("request{{request_id={id}}}: ")
    };
    let mut out = String::with_capacity(line.len() + member.len());
    out.push_str(&line[..at]);
    out.push_str(&member);
    out.push_str(&line[at..]);
    Some(out)
}

/// Where a human line's fields start: after `<timestamp> <LEVEL> ` (the level padded
/// to five characters, so one or two spaces before it).
fn after_level(line: &str) -> Option<usize> {
    let timestamp = line.find(' ')?;
    let rest = &line[timestamp..];
    let level = timestamp + (rest.len() - rest.trim_start().len());
    let word = line[level..].split(' ').next()?;
    matches!(word, "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR").then_some(level + word.len() + 1)
}

#[cfg(test)]
mod tests {
    use super::with_id;

    #[test]
    fn the_id_goes_where_the_span_put_it() {
        let human = "2026-12-07T03:04:05.678901Z  WARN sso_filters::features::oidc_login: login failed site=shop\n";
        assert_eq!(
            with_id(human, "abc", false).as_deref(),
            Some(
                "2026-12-07T03:04:05.678901Z  WARN request{request_id=abc}: \
                 sso_filters::features::oidc_login: login failed site=shop\n"
            )
        );
        let error = "2026-12-07T03:04:05.678901Z ERROR pingora_core::x: log: a message\n";
        assert_eq!(
            with_id(error, "abc", false).as_deref(),
            Some("2026-12-07T03:04:05.678901Z ERROR request{request_id=abc}: pingora_core::x: log: a message\n")
        );
        let json = "{\"timestamp\":\"t\",\"level\":\"WARN\",\"message\":\"m: x\",\"target\":\"t\"}\n";
        let spliced = with_id(json, "a/b", true).expect("json");
        let parsed: serde_json::Value = serde_json::from_str(&spliced).expect("still JSON");
        assert_eq!(parsed["span"]["request_id"], "a/b");
        assert_eq!(parsed["span"]["name"], "request");
        assert_eq!(parsed["message"], "m: x");
        assert!(spliced.ends_with("}\n"));
    }

    #[test]
    fn a_line_without_a_level_is_left_alone() {
        assert_eq!(with_id("no level here\n", "abc", false), None);
        assert_eq!(with_id("2026-12-07T03:04:05Z  NOTICE x: y\n", "abc", false), None);
        assert_eq!(with_id("not json", "abc", true), None);
    }
}
