//! Raw HTTP/1.1 over a socket, for requests a normal client would normalise or refuse
//! to send: odd request-targets, duplicated or oddly-cased headers, huge cookies.

use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A response as read off the socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The origin's JSON echo, when the request was proxied.
    pub fn echo(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body)
            .ok()
            .filter(|v: &serde_json::Value| v.get("rawHeaders").is_some())
    }
}

/// Sends `head` (request line and headers, each ending `\r\n`, without the blank line)
/// with `Connection: close`, and reads the whole response.
pub fn send(port: u16, head: &str) -> Result<RawResponse> {
    send_bytes(port, format!("{head}Connection: close\r\n\r\n").as_bytes())
}

/// Sends exactly `bytes` and reads until the server closes the connection.
pub fn send_bytes(port: u16, bytes: &[u8]) -> Result<RawResponse> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.write_all(bytes)?;
    let mut raw = Vec::new();
    // A server may close before reading everything we sent; what it answered counts.
    let _ = stream.read_to_end(&mut raw);
    parse(&raw)
}

fn parse(raw: &[u8]) -> Result<RawResponse> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").context("no complete response head")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().context("empty response")?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_string() };
    Ok(RawResponse { status, headers, body })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}
