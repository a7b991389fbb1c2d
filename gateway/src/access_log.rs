//! The access line: one per request, target `access`, written off the request path.
//!
//! It carries the fields the documentation lists (request id, site, method, path,
//! status, duration, upstream, client, customer) in the layout of the other log lines
//! (`server.log_format`: `key=value` text or one JSON object), but is formatted here
//! rather than by `tracing`'s formatter: at one line per request that formatter (a
//! visitor per field, `Debug` and `Display` for every value, the clock formatted
//! every time) cost about a fifth of a proxied request. This writes the numbers and
//! addresses directly into a per-thread buffer and formats the clock once a second.
//!
//! The finished line goes on the log writer thread's queue (`crate::logging`): a
//! request never waits for stderr, and when the writer falls behind the line is
//! dropped and counted.
//! Whether access lines are written at all is still `server.log_level` / `RUST_LOG`
//! (`access=info`).

use crate::log_fields::PrintablePath;
use sso_config::LogFormat;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where access lines go, set once by [`crate::logging::init`].
pub(crate) struct Sink {
    pub format: LogFormat,
    pub out: Output,
}

pub(crate) enum Output {
    /// The writer thread's queue (drops and counts when full).
    Queue(crate::logging::LineQueue),
    /// stderr, written by the request (a daemon: see `crate::logging`).
    Stderr,
}

static SINK: OnceLock<Sink> = OnceLock::new();

pub(crate) fn install(sink: Sink) {
    let _ = SINK.set(sink);
}

/// What one access line says.
pub struct AccessLine<'a> {
    pub request_id: &'a str,
    pub site: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub duration: Duration,
    pub upstream: Option<SocketAddr>,
    pub client: Option<IpAddr>,
    pub customer: Option<&'a str>,
}

thread_local! {
    /// The line being written, and the clock text of the last second seen.
    static LINE: RefCell<(Vec<u8>, String, Clock)> = RefCell::new((Vec::with_capacity(512), String::new(), Clock::default()));
}

/// True when access lines are wanted (`access=info` or finer): ask before making
/// an [`AccessLine`], whose fields cost something to gather.
pub fn enabled() -> bool {
    SINK.get().is_some() && tracing::enabled!(target: "access", tracing::Level::INFO)
}

/// Writes `line` (when [`enabled`]).
pub fn write(line: &AccessLine<'_>) {
    let Some(sink) = SINK.get() else { return };
    LINE.with(|cell| {
        let Ok(mut guard) = cell.try_borrow_mut() else { return };
        let (buf, scratch, clock) = &mut *guard;
        buf.clear();
        let now = clock.now();
        match sink.format {
            LogFormat::Human => human(buf, scratch, now, line),
            LogFormat::Json => json(buf, scratch, now, line),
        }
        // A line that cannot be written is dropped: never an error for the request.
        let _ = match &sink.out {
            Output::Queue(queue) => {
                queue.send(buf);
                Ok(())
            }
            Output::Stderr => std::io::stderr().write_all(buf),
        };
    });
}

/// `2026-12-06T23:48:03.123456Z  INFO access: request_id=… site="shop" …`
fn human(buf: &mut Vec<u8>, scratch: &mut String, now: &str, l: &AccessLine<'_>) {
    buf.extend_from_slice(now.as_bytes());
    buf.extend_from_slice(b"  INFO access: request_id=");
    buf.extend_from_slice(l.request_id.as_bytes());
    scratch.clear();
    let _ = write!(scratch, " site={:?} method={} path=", l.site, method_text(l.method));
    buf.extend_from_slice(scratch.as_bytes());
    printable(buf, scratch, l.path, false);
    buf.extend_from_slice(b" status=");
    number(buf, u64::from(l.status));
    buf.extend_from_slice(b" duration_ms=");
    millis(buf, l.duration);
    buf.extend_from_slice(b" upstream=");
    socket_or_dash(buf, l.upstream);
    buf.extend_from_slice(b" client=");
    address_or_dash(buf, l.client);
    if let Some(customer) = l.customer {
        scratch.clear();
        let _ = write!(scratch, " customer={:?}", customer_text(customer));
        buf.extend_from_slice(scratch.as_bytes());
    }
    buf.push(b'\n');
}

/// One JSON object, the keys of the other JSON lines (`timestamp`, `level`, the
/// fields, `target`).
fn json(buf: &mut Vec<u8>, scratch: &mut String, now: &str, l: &AccessLine<'_>) {
    buf.extend_from_slice(b"{\"timestamp\":\"");
    buf.extend_from_slice(now.as_bytes());
    buf.extend_from_slice(b"\",\"level\":\"INFO\",\"request_id\":");
    json_string(buf, l.request_id);
    buf.extend_from_slice(b",\"site\":");
    json_string(buf, l.site);
    buf.extend_from_slice(b",\"method\":");
    json_string(buf, &method_text(l.method));
    buf.extend_from_slice(b",\"path\":\"");
    printable(buf, scratch, l.path, true);
    buf.extend_from_slice(b"\",\"status\":");
    number(buf, u64::from(l.status));
    buf.extend_from_slice(b",\"duration_ms\":");
    millis(buf, l.duration);
    buf.extend_from_slice(b",\"upstream\":\"");
    socket_or_dash(buf, l.upstream);
    buf.extend_from_slice(b"\",\"client\":\"");
    address_or_dash(buf, l.client);
    buf.push(b'"');
    if let Some(customer) = l.customer {
        buf.extend_from_slice(b",\"customer\":");
        json_string(buf, &customer_text(customer));
    }
    buf.extend_from_slice(b",\"target\":\"access\"}\n");
}

/// At most this many bytes of a path are logged, and of a customer id: a line waits
/// in memory while the writer is behind, and a request-target may be up to a megabyte.
const MAX_PATH: usize = 512;
const MAX_CUSTOMER: usize = 256;
/// And of a method: a client may send any token as its method, a megabyte long.
const MAX_METHOD: usize = 32;
/// What ends a value that was cut.
const CUT: &str = "...[truncated]";

/// The path as [`PrintablePath`] writes it (printable ASCII only), cut after
/// [`MAX_PATH`] bytes; in JSON `"` and `\` escaped too.
fn printable(buf: &mut Vec<u8>, scratch: &mut String, path: &str, json: bool) {
    scratch.clear();
    let _ = write!(scratch, "{}", PrintablePath(cut(path, MAX_PATH)));
    let mut was_cut = path.len() > MAX_PATH;
    if scratch.len() > MAX_PATH {
        // Percent-encoding made it longer; it is ASCII, so any byte is a boundary.
        scratch.truncate(MAX_PATH);
        was_cut = true;
    }
    if was_cut {
        scratch.push_str(CUT);
    }
    for &b in scratch.as_bytes() {
        if json && (b == b'"' || b == b'\\') {
            buf.push(b'\\');
        }
        buf.push(b);
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A customer id as logged: cut after [`MAX_CUSTOMER`] bytes, marked when cut.
fn customer_text(id: &str) -> std::borrow::Cow<'_, str> {
    cut_marked(id, MAX_CUSTOMER)
}

/// A method as logged: cut after [`MAX_METHOD`] bytes, marked when cut.
fn method_text(method: &str) -> std::borrow::Cow<'_, str> {
    cut_marked(method, MAX_METHOD)
}

fn cut_marked(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(format!("{}{CUT}", cut(s, max)))
}

fn json_string(buf: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

fn number(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Milliseconds with three decimals (microseconds).
fn millis(buf: &mut Vec<u8>, d: Duration) {
    let micros = d.as_micros();
    number(buf, u64::try_from(micros / 1000).unwrap_or(u64::MAX));
    let frac = (micros % 1000) as u16;
    buf.push(b'.');
    buf.push(b'0' + (frac / 100) as u8);
    buf.push(b'0' + (frac / 10 % 10) as u8);
    buf.push(b'0' + (frac % 10) as u8);
}

fn address_or_dash(buf: &mut Vec<u8>, ip: Option<IpAddr>) {
    match ip {
        Some(ip) => buf.extend_from_slice(sso_filters::forwarded::address_text(ip).as_bytes()),
        None => buf.push(b'-'),
    }
}

fn socket_or_dash(buf: &mut Vec<u8>, addr: Option<SocketAddr>) {
    match addr {
        Some(SocketAddr::V4(a)) => {
            address_or_dash(buf, Some(IpAddr::V4(*a.ip())));
            buf.push(b':');
            number(buf, u64::from(a.port()));
        }
        Some(a @ SocketAddr::V6(_)) => {
            let _ = write!(buf, "{a}");
        }
        None => buf.push(b'-'),
    }
}

/// RFC 3339 UTC with microseconds, as the other log lines: the date and time text is
/// made once a second.
#[derive(Default)]
struct Clock {
    second: u64,
    /// `2026-12-06T23:48:03.` for `second`.
    prefix: String,
    text: String,
}

impl Clock {
    fn now(&mut self) -> &str {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let second = since.as_secs();
        if second != self.second || self.prefix.is_empty() {
            self.second = second;
            let t = i64::try_from(second)
                .ok()
                .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            self.prefix.clear();
            let _ = write!(
                self.prefix,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
        }
        self.text.clear();
        self.text.push_str(&self.prefix);
        let _ = write!(self.text, "{:06}Z", since.subsec_micros());
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(customer: Option<&str>) -> AccessLine<'_> {
        AccessLine {
            request_id: "0123456789abcdef0123456789abcdef",
            site: "shop",
            method: "GET",
            path: "/a\"b\\c/\u{1b}x",
            status: 200,
            duration: Duration::from_micros(12_345),
            upstream: Some("127.0.0.1:18080".parse().expect("addr")),
            client: Some("10.0.0.7".parse().expect("addr")),
            customer,
        }
    }

    #[test]
    fn a_json_line_is_one_object_with_every_field() {
        let (mut buf, mut scratch) = (Vec::new(), String::new());
        json(
            &mut buf,
            &mut scratch,
            "2026-12-06T23:48:03.123456Z",
            &line(Some("al\"ice\n")),
        );
        let text = String::from_utf8(buf).expect("utf-8");
        assert_eq!(text.matches('\n').count(), 1, "one line: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(v["timestamp"], "2026-12-06T23:48:03.123456Z");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["target"], "access");
        assert_eq!(v["request_id"], "0123456789abcdef0123456789abcdef");
        assert_eq!(v["site"], "shop");
        assert_eq!(v["method"], "GET");
        assert_eq!(v["path"], "/a\"b\\c/%1Bx");
        assert_eq!(v["status"], 200);
        assert_eq!(v["duration_ms"], 12.345);
        assert_eq!(v["upstream"], "127.0.0.1:18080");
        assert_eq!(v["client"], "10.0.0.7");
        assert_eq!(v["customer"], "al\"ice\n");
    }

    #[test]
    fn a_text_line_reads_as_the_other_lines_do() {
        let (mut buf, mut scratch) = (Vec::new(), String::new());
        human(&mut buf, &mut scratch, "2026-12-06T23:48:03.000001Z", &line(None));
        assert_eq!(
            String::from_utf8(buf).expect("utf-8"),
            "2026-12-06T23:48:03.000001Z  INFO access: request_id=0123456789abcdef0123456789abcdef \
             site=\"shop\" method=GET path=/a\"b\\c/%1Bx status=200 duration_ms=12.345 \
             upstream=127.0.0.1:18080 client=10.0.0.7\n"
        );
        let (mut buf, mut scratch) = (Vec::new(), String::new());
        let mut l = line(Some("a\nb"));
        (l.upstream, l.client, l.duration) = (None, None, Duration::from_micros(7));
        human(&mut buf, &mut scratch, "t", &l);
        let text = String::from_utf8(buf).expect("utf-8");
        assert!(
            text.ends_with("duration_ms=0.007 upstream=- client=- customer=\"a\\nb\"\n"),
            "{text}"
        );
    }

    #[test]
    fn long_paths_and_customer_ids_are_cut_and_marked() {
        let long_path = format!("/{}", "\u{e9}".repeat(2000));
        let long_customer = "c".repeat(1000);
        let long_method = "M".repeat(1_000_000);
        let mut l = line(Some(&long_customer));
        l.path = &long_path;
        l.method = &long_method;
        let (mut buf, mut scratch) = (Vec::new(), String::new());
        json(&mut buf, &mut scratch, "t", &l);
        assert!(buf.len() < 1200, "{} bytes", buf.len());
        let v: serde_json::Value = serde_json::from_slice(&buf).expect("JSON");
        let path = v["path"].as_str().expect("path");
        assert!(
            path.starts_with("/%C3%A9") && path.ends_with("...[truncated]"),
            "{path}"
        );
        assert_eq!(path.len(), MAX_PATH + CUT.len());
        let customer = v["customer"].as_str().expect("customer");
        assert_eq!(customer, format!("{}{CUT}", "c".repeat(MAX_CUSTOMER)));
        assert_eq!(v["method"], format!("{}{CUT}", "M".repeat(MAX_METHOD)));
        let (mut buf, mut scratch) = (Vec::new(), String::new());
        human(&mut buf, &mut scratch, "t", &l);
        assert!(buf.len() < 1200, "{} bytes", buf.len());
        // A path at the limit is whole.
        let exact = format!("/{}", "a".repeat(MAX_PATH - 1));
        let (mut out, mut scratch) = (Vec::new(), String::new());
        printable(&mut out, &mut scratch, &exact, false);
        assert_eq!(out, exact.as_bytes());
    }

    #[test]
    fn the_clock_reads_as_rfc_3339_with_microseconds() {
        let mut clock = Clock::default();
        let first = clock.now().to_string();
        assert_eq!(first.len(), "2026-12-06T23:48:03.123456Z".len(), "{first}");
        assert!(first.ends_with('Z') && first.as_bytes()[10] == b'T', "{first}");
        let second = clock.now().to_string();
        assert_eq!(second.len(), first.len(), "{second}");
    }
}
