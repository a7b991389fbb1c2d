//! `sso-gateway reload --admin ADDR [--token TOKEN]`: asks a running gateway to
//! re-read its configuration with `POST /reload` on its admin listener (plain
//! HTTP/1.1 over a TCP stream) and prints what it answered.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

/// A reload that discovers a new IdP may take a few seconds; nothing takes this long
/// (the whole answer, not each read).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest answer read: the gateway's is a few hundred bytes.
const MAX_ANSWER: u64 = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends the request; exit 0 when the reload was applied, 1 otherwise.
pub fn run(admin: &str, token: Option<&str>) -> ExitCode {
    // `http://127.0.0.1:9100/` is accepted for `127.0.0.1:9100`.
    let admin = admin.strip_prefix("http://").unwrap_or(admin).trim_end_matches('/');
    match post_reload(admin, token) {
        Ok((200, body)) if applied(&body) => {
            println!("{}", printable(&body));
            ExitCode::SUCCESS
        }
        Ok((status, body)) => {
            eprintln!("reload refused (HTTP {status}): {}", printable(&body));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cannot reach the admin listener at {admin}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The status and body of `POST http://{admin}/reload`.
fn post_reload(admin: &str, token: Option<&str>) -> std::io::Result<(u16, String)> {
    let addr = admin
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("the address does not resolve"))?;
    let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
    stream.set_write_timeout(Some(CONNECT_TIMEOUT))?;
    let mut request = format!(
        "POST /reload HTTP/1.1\r\nHost: {admin}\r\nContent-Length: 0\r\nConnection: close\r\nAccept: application/json\r\n"
    );
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let deadline = std::time::Instant::now() + ANSWER_TIMEOUT;
    let mut raw = Vec::new();
    let mut limited = stream.take(MAX_ANSWER);
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::other("no complete answer in time"));
        }
        limited.get_ref().set_read_timeout(Some(left))?;
        match limited.read(&mut chunk)? {
            0 => break,
            n => raw.extend_from_slice(&chunk[..n]),
        }
    }
    parse_response(&raw).ok_or_else(|| std::io::Error::other("not an HTTP response"))
}

/// True when the answer says the reload was applied (`"result":"ok"`), not just 200.
fn applied(body: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(body).is_ok_and(|v| v["result"] == "ok")
}

/// The answer without control characters (a hostile listener cannot drive the terminal).
fn printable(body: &str) -> String {
    body.trim_end()
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect()
}

/// Status code and body of an HTTP/1.1 response (`Content-Length` or read to the end).
fn parse_response(raw: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.lines().next()?.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding: chunked"))
    {
        unchunk(body)?
    } else {
        body.to_string()
    };
    Some((status, body))
}

/// The payload of a chunked body.
fn unchunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size..)?.strip_prefix("\r\n")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_and_chunked_answers() {
        let plain = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 21\r\n\r\n{\"result\":\"refused\"}\n";
        assert_eq!(parse_response(plain), Some((400, "{\"result\":\"refused\"}\n".into())));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Some((200, "hello world".into())));
        assert_eq!(parse_response(b"garbage"), None);
    }
}
