//! Validation of `[server]`: the listeners, the admin listener and its token (off
//! loopback it must have one), the trusted proxies, threads, logging, the upstream
//! pool and the timeouts. The TLS
//! keys and the rate limits have their own files ([`crate::tls`],
//! [`crate::request_safety`]).

use crate::errors::Errors;
use crate::model::{LogFormat, ServerConfig};
use crate::raw::RawServer;
use crate::validator::Validator;
use crate::values::{check_listen, parse_duration, Secret};
use crate::{request_safety, tls};
use std::time::Duration;

/// Shortest accepted `server.admin_token`, in bytes.
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

pub(crate) fn server(v: &mut Validator<'_>, raw: &RawServer) -> ServerConfig {
    let listen = raw.listen.clone().unwrap_or_else(|| vec!["127.0.0.1:8080".into()]);
    if listen.is_empty() && raw.tls.is_empty() {
        v.errors.push(
            "server.listen",
            "needs at least one address (or a [[server.tls]] listener)",
        );
    }
    let listen: Vec<String> = listen
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let path = format!("server.listen[{i}]");
            let l = v.text(&path, l)?;
            check_listen(&l).map_err(|m| v.errors.push(&path, m)).ok()?;
            Some(l)
        })
        .collect();
    let admin_listen = v.opt_text("server.admin_listen", raw.admin_listen.as_ref());
    if let Some(admin) = &admin_listen {
        if let Err(m) = check_listen(admin) {
            v.errors.push("server.admin_listen", m);
        } else if listen.contains(admin) {
            v.errors
                .push("server.admin_listen", "must differ from every server.listen address");
        }
    }
    let admin_token = admin_token(v, raw.admin_token.as_ref());
    if let (Some(admin), None) = (&admin_listen, &raw.admin_token) {
        if check_listen(admin).is_ok() && !is_loopback_listen(admin) {
            // The admin listener lists and ends any customer's sessions and reloads
            // the configuration: off loopback it needs a token, never only a warning.
            v.errors.push(
                "server.admin_listen",
                format!(
                    "{admin:?} is not a loopback address and server.admin_token is not set: anyone who \
                     reaches it could list and end any customer's sessions and reload the configuration \
                     (set server.admin_token, or listen on 127.0.0.1)"
                ),
            );
        }
    }
    let trusted_proxies = raw
        .trusted_proxies
        .iter()
        .enumerate()
        .filter_map(|(i, cidr)| {
            let path = format!("server.trusted_proxies[{i}]");
            let parsed = cidr
                .parse::<ipnet::IpNet>()
                .or_else(|_| cidr.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            parsed
                .map_err(|_| {
                    v.errors
                        .push(path, format!("{cidr:?} is not a CIDR (10.0.0.0/8) or IP"))
                })
                .ok()
        })
        .collect();
    let threads = match raw.threads {
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Some(n) if (1..=1024).contains(&n) => n as usize,
        Some(n) => {
            v.errors
                .push("server.threads", format!("{n} is not between 1 and 1024"));
            1
        }
    };
    let log_format = match raw.log_format.as_deref() {
        None | Some("human") => LogFormat::Human,
        Some("json") => LogFormat::Json,
        Some(other) => {
            v.errors
                .push("server.log_format", format!("{other:?} is not \"human\" or \"json\""));
            LogFormat::Human
        }
    };
    let upstream_keepalive_pool_size = match raw.upstream_keepalive_pool_size {
        None => 1024,
        Some(n) if (1..=1_000_000).contains(&n) => n as usize,
        Some(n) => {
            v.errors.push(
                "server.upstream_keepalive_pool_size",
                format!("{n} is not between 1 and 1000000"),
            );
            1024
        }
    };
    let log_buffer_lines = match raw.log_buffer_lines {
        None => 65_536,
        Some(n) if (1..=16_777_216).contains(&n) => n as usize,
        Some(n) => {
            v.errors
                .push("server.log_buffer_lines", format!("{n} is not between 1 and 16777216"));
            65_536
        }
    };
    let tls = tls::tls_listeners(v, raw);
    let (redirect_listen, acme_upstream) = tls::redirect_listeners(v, raw);
    let upstream_ca_file = tls::upstream_ca_file(v, raw);
    let rate_limits = request_safety::rate_limits(v, &raw.rate_limits);
    let e = &mut v.errors;
    ServerConfig {
        rate_limits,
        tls,
        redirect_listen,
        acme_upstream,
        upstream_ca_file,
        listen,
        admin_listen,
        admin_token,
        trusted_proxies,
        threads,
        h2c: raw.h2c.unwrap_or(false),
        work_stealing: raw.work_stealing.unwrap_or(false),
        upstream_keepalive_pool_size,
        log_format,
        log_level: raw.log_level.clone().unwrap_or_else(|| "info".into()),
        log_buffer_lines,
        connect_timeout: dur(e, "connect_timeout", &raw.connect_timeout, 3),
        read_timeout: dur(e, "read_timeout", &raw.read_timeout, 60),
        write_timeout: dur(e, "write_timeout", &raw.write_timeout, 60),
        upstream_idle_timeout: dur(e, "upstream_idle_timeout", &raw.upstream_idle_timeout, 60),
        upstream_failure_cooldown: dur(e, "upstream_failure_cooldown", &raw.upstream_failure_cooldown, 10),
        grace_period: dur(e, "grace_period", &raw.grace_period, 1),
        graceful_shutdown_timeout: dur(e, "graceful_shutdown_timeout", &raw.graceful_shutdown_timeout, 10),
        upgrade_sock: raw
            .upgrade_sock
            .clone()
            .unwrap_or_else(|| "/tmp/sso-gateway-upgrade.sock".into()),
        pid_file: raw.pid_file.clone().unwrap_or_else(|| "/tmp/sso-gateway.pid".into()),
    }
}

/// True when a listen address (`host:port`) answers on loopback only (`127.0.0.0/8`,
/// `[::1]`, `localhost`).
pub(crate) fn is_loopback_listen(addr: &str) -> bool {
    if let Ok(sock) = addr.parse::<std::net::SocketAddr>() {
        return sock.ip().is_loopback();
    }
    addr.rsplit_once(':')
        .is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost"))
}

/// `server.admin_token`: a secret (`${ENV}` expands); empty or shorter than
/// [`MIN_ADMIN_TOKEN_LEN`] bytes is refused rather than taken as "no token".
fn admin_token(v: &mut Validator<'_>, raw: Option<&String>) -> Option<Secret> {
    let token = v.opt_text("server.admin_token", raw)?;
    if token.len() < MIN_ADMIN_TOKEN_LEN {
        v.errors.push(
            "server.admin_token",
            format!("must be at least {MIN_ADMIN_TOKEN_LEN} bytes (remove the key for no token)"),
        );
        return None;
    }
    if token.bytes().any(|b| !b.is_ascii_graphic()) {
        v.errors
            .push("server.admin_token", "must be printable ASCII without spaces");
        return None;
    }
    Some(Secret::new(token))
}

/// A `[server]` duration with its default in seconds.
fn dur(errors: &mut Errors, key: &str, raw: &Option<String>, default_secs: u64) -> Duration {
    parse_duration(
        errors,
        &format!("server.{key}"),
        raw.as_deref(),
        Duration::from_secs(default_secs),
    )
}
