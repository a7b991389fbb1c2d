//! `sso-gateway reload [--admin ADDR] [--config FILE] [--token TOKEN]`: asks a
//! running gateway to re-read its configuration with `POST /reload` on its admin
//! listener (plain HTTP/1.1 over a TCP stream) and says what it answered, one line
//! per refusal or restart-only key.
//!
//! Exit status: 0 applied; 1 refused, or the listener not reached; 2 applied, but
//! some changed keys keep their running values until a restart.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// A reload that discovers a new IdP may take a few seconds; nothing takes this long
/// (the whole answer, not each read).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest answer read: the gateway's is a few hundred bytes.
const MAX_ANSWER: u64 = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Exit status of a reload that applied, with keys that wait for a restart.
const RESTART_REQUIRED: u8 = 2;

/// Where to send the reload: `--admin`, or the configuration's `server.admin_listen`;
/// the token from `--token`, the configuration's `server.admin_token`, or
/// `$SSO_ADMIN_TOKEN`.
pub fn run(admin: Option<&str>, config: Option<&Path>, token: Option<String>) -> ExitCode {
    let (admin, token) = match target(admin, config, token) {
        Ok(target) => target,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match post_reload(&admin, token.as_deref()) {
        Ok((status, body)) => report(status, &body),
        Err(e) => {
            eprintln!("cannot reach the admin listener at {admin}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The admin address (`host:port`) and token to use.
fn target(
    admin: Option<&str>,
    config: Option<&Path>,
    token: Option<String>,
) -> Result<(String, Option<String>), String> {
    let from_file = config.map(admin_of_config).transpose()?;
    let admin = match (admin, &from_file) {
        // `http://127.0.0.1:9100/` is accepted for `127.0.0.1:9100`.
        (Some(admin), _) => admin
            .strip_prefix("http://")
            .unwrap_or(admin)
            .trim_end_matches('/')
            .to_string(),
        (None, Some((listen, _))) => listen.clone(),
        (None, None) => return Err("give --admin HOST:PORT or --config FILE".into()),
    };
    let token = match (token, from_file) {
        (Some(token), _) => Some(token),
        (None, Some((_, Some(token)))) => Some(token),
        _ => std::env::var("SSO_ADMIN_TOKEN").ok(),
    };
    Ok((admin, token.filter(|t| !t.is_empty())))
}

/// `server.admin_listen` (an address to connect to) and `server.admin_token` (with
/// `${VARS}` expanded) of a configuration file. Only these two keys are read: the
/// rest may need variables this shell does not have, and a file with other problems
/// is what a reload reports.
fn admin_of_config(path: &Path) -> Result<(String, Option<String>), String> {
    let at = path.display();
    let text = sso_config::read_file(path).map_err(|e| e.to_string())?;
    let reading = sso_config::reading::read(&text);
    let unreadable = |key: &str| {
        let why = reading
            .problems
            .iter()
            .find(|p| p.path == key || p.path.starts_with("line "));
        why.map_or(String::new(), |p| format!(" ({})", p.to_error()))
    };
    let server = reading.raw.as_ref().map(|raw| &raw.server);
    let Some(listen) = server.and_then(|s| s.admin_listen.as_deref()) else {
        return Err(format!(
            "{at}: server.admin_listen is not set{}: this gateway has no admin listener \
             (give --admin, or reload it with SIGHUP)",
            unreadable("server.admin_listen")
        ));
    };
    let connect =
        connect_address(listen).ok_or_else(|| format!("{at}: server.admin_listen: {listen:?} is not host:port"))?;
    let token = match server.and_then(|s| s.admin_token.as_deref()) {
        Some(raw) => Some(
            sso_config::env::expand(raw, |name| std::env::var(name).ok())
                .map_err(|e| format!("{at}: server.admin_token {e}; give --token"))?,
        ),
        None => None,
    };
    Ok((connect, token))
}

/// Where to connect for a listen address: an unspecified one (`0.0.0.0`, `[::]`)
/// listens on loopback too.
fn connect_address(listen: &str) -> Option<String> {
    let Ok(addr) = listen.parse::<SocketAddr>() else {
        // A host name: connect to it as written.
        return listen
            .rsplit_once(':')
            .filter(|(_, port)| port.parse::<u16>().is_ok())
            .map(|_| listen.to_string());
    };
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    Some(SocketAddr::new(ip, addr.port()).to_string())
}

/// Prints the answer, one line per refusal or restart-only key; the exit status.
fn report(status: u16, body: &str) -> ExitCode {
    let answer: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let strings = |key: &str| -> Vec<String> {
        answer[key]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| printable(i.as_str().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default()
    };
    if status == 200 && answer["result"] == "ok" {
        println!("configuration reloaded: {} site(s)", answer["sites"]);
        let restart = strings("restart_required");
        if restart.is_empty() {
            return ExitCode::SUCCESS;
        }
        eprintln!("these changed keys keep their running values until a restart (`run --upgrade`):");
        for key in restart {
            eprintln!("  {key}");
        }
        return ExitCode::from(RESTART_REQUIRED);
    }
    if answer["result"] == "refused" {
        let errors = strings("errors");
        eprintln!(
            "reload refused (HTTP {status}), the running configuration keeps serving; {} problem(s):",
            errors.len()
        );
        for error in errors {
            eprintln!("  {error}");
        }
    } else if let Some(message) = answer["message"].as_str() {
        eprintln!("reload refused (HTTP {status}): {}", printable(message));
    } else {
        eprintln!("reload refused (HTTP {status}): {}", printable(body));
    }
    ExitCode::FAILURE
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

/// Text without control characters (a hostile listener cannot drive the terminal,
/// and each refusal stays on its line).
fn printable(text: &str) -> String {
    text.trim_end()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
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

    #[test]
    fn an_unspecified_listen_address_is_reached_on_loopback() {
        assert_eq!(connect_address("0.0.0.0:9100").as_deref(), Some("127.0.0.1:9100"));
        assert_eq!(connect_address("[::]:9100").as_deref(), Some("[::1]:9100"));
        assert_eq!(connect_address("10.0.0.5:9100").as_deref(), Some("10.0.0.5:9100"));
        assert_eq!(
            connect_address("admin.internal:9100").as_deref(),
            Some("admin.internal:9100")
        );
        assert_eq!(connect_address("9100"), None);
    }
}
