//! Validation of `[sessions]`: where sessions are stored (memory or Redis), the
//! session cookie and its secret, the timeouts and the bounds on what is held.

use crate::model::{SessionStoreKind, SessionsConfig};
use crate::raw::RawSessions;
use crate::redis_sentinel::{is_sentinel_url, parse_sentinel_url};
use crate::validator::Validator;
use crate::values::{parse_duration, Secret};
use std::time::Duration;

/// Shortest accepted `sessions.cookie_secret`, in bytes.
pub const MIN_COOKIE_SECRET_LEN: usize = 32;

pub(crate) fn sessions(v: &mut Validator<'_>, raw: &RawSessions) -> SessionsConfig {
    let store = match raw.store.as_deref() {
        None | Some("memory") => SessionStoreKind::Memory,
        Some("redis") => SessionStoreKind::Redis,
        Some(other) => {
            v.errors
                .push("sessions.store", format!("{other:?} is not \"memory\" or \"redis\""));
            SessionStoreKind::Memory
        }
    };
    let redis_url = v.opt_text("sessions.redis_url", raw.redis_url.as_ref());
    let redis_cluster = redis_cluster(v, raw);
    redis_address(v, store, redis_url.as_deref(), &redis_cluster);
    let redis_key_prefix = raw.redis_key_prefix.clone().unwrap_or_else(|| "sso".into());
    if redis_key_prefix.is_empty()
        || redis_key_prefix.len() > 64
        || !redis_key_prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        v.errors.push(
            "sessions.redis_key_prefix",
            format!("{redis_key_prefix:?} is not 1-64 letters, digits, '.', '-' or '_'"),
        );
    }
    let cookie_secret = match v.opt_text("sessions.cookie_secret", raw.cookie_secret.as_ref()) {
        Some(s) if s.len() >= MIN_COOKIE_SECRET_LEN => Secret::new(s),
        Some(s) => {
            v.errors.push(
                "sessions.cookie_secret",
                format!(
                    "is {} bytes; at least {MIN_COOKIE_SECRET_LEN} random bytes are required (openssl rand -hex 32)",
                    s.len()
                ),
            );
            Secret::new(String::new())
        }
        None => {
            if raw.cookie_secret.is_none() {
                v.errors.push(
                    "sessions.cookie_secret",
                    "is required (write it as \"${SSO_COOKIE_SECRET}\")",
                );
            }
            Secret::new(String::new())
        }
    };
    let previous_cookie_secrets = previous_cookie_secrets(v, raw, &cookie_secret);
    let cookie_name = raw.cookie_name.clone().unwrap_or_else(|| "sso_session".into());
    if cookie_name.is_empty()
        || !cookie_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        v.errors.push(
            "sessions.cookie_name",
            format!("{cookie_name:?} is not a cookie name (letters, digits, - and _)"),
        );
    }
    let e = &mut v.errors;
    let idle_timeout = parse_duration(
        e,
        "sessions.idle_timeout",
        raw.idle_timeout.as_deref(),
        Duration::from_secs(30 * 60),
    );
    let absolute_timeout = parse_duration(
        e,
        "sessions.absolute_timeout",
        raw.absolute_timeout.as_deref(),
        Duration::from_secs(12 * 3600),
    );
    if idle_timeout > absolute_timeout {
        e.push(
            "sessions.idle_timeout",
            "must not be longer than sessions.absolute_timeout",
        );
    }
    let max_entries = match raw.max_entries {
        None => 1_000_000,
        Some(n) if n >= 1 => n as usize,
        Some(n) => {
            e.push("sessions.max_entries", format!("{n} must be at least 1"));
            1
        }
    };
    let max_per_customer = match raw.max_per_customer {
        None => 10,
        Some(n) if (1..=10_000).contains(&n) => n as usize,
        Some(n) => {
            e.push("sessions.max_per_customer", format!("{n} is not between 1 and 10000"));
            10
        }
    };
    let max_pending_logins = match raw.max_pending_logins {
        None => 100_000,
        Some(n) if (1..=100_000_000).contains(&n) => n as usize,
        Some(n) => {
            e.push(
                "sessions.max_pending_logins",
                format!("{n} is not between 1 and 100000000"),
            );
            100_000
        }
    };
    let l1_ttl = parse_duration(e, "sessions.l1_ttl", raw.l1_ttl.as_deref(), Duration::from_secs(5));
    if l1_ttl > Duration::from_secs(60) {
        e.push(
            "sessions.l1_ttl",
            "is longer than 60s: a revoked session could be served that long while Redis is down",
        );
    }
    SessionsConfig {
        max_per_customer,
        max_pending_logins,
        store,
        redis_url,
        redis_cluster,
        redis_key_prefix,
        l1_ttl,
        fail_closed: raw.fail_closed.unwrap_or(false),
        cookie_secret,
        previous_cookie_secrets,
        cookie_name,
        idle_timeout,
        absolute_timeout,
        max_entries,
    }
}

/// Most entries of `sessions.previous_cookie_secrets`: every one is tried on a cookie
/// or record the current secret did not make.
pub const MAX_PREVIOUS_COOKIE_SECRETS: usize = 4;

/// `sessions.previous_cookie_secrets`: each expanded like `cookie_secret`, as long,
/// none equal to the current one or to another.
fn previous_cookie_secrets(v: &mut Validator<'_>, raw: &RawSessions, current: &Secret) -> Vec<Secret> {
    let list = raw.previous_cookie_secrets.as_deref().unwrap_or_default();
    if list.len() > MAX_PREVIOUS_COOKIE_SECRETS {
        v.errors.push(
            "sessions.previous_cookie_secrets",
            format!(
                "has {} entries; at most {MAX_PREVIOUS_COOKIE_SECRETS} (remove the ones older than absolute_timeout)",
                list.len()
            ),
        );
    }
    let mut kept: Vec<Secret> = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let path = format!("sessions.previous_cookie_secrets[{i}]");
        let Some(s) = v.text(&path, entry) else { continue };
        if s.len() < MIN_COOKIE_SECRET_LEN {
            v.errors.push(
                &path,
                format!("is {} bytes; at least {MIN_COOKIE_SECRET_LEN} are required", s.len()),
            );
        } else if s == current.expose() {
            v.errors.push(
                &path,
                "is the current sessions.cookie_secret (a previous secret is one the current replaced)",
            );
        } else if kept.iter().any(|k| k.expose() == s) {
            v.errors.push(&path, "appears twice");
        } else {
            kept.push(Secret::new(s));
        }
    }
    kept
}

/// `sessions.redis_cluster`: each seed node a `redis://` or `rediss://` URL (all of one
/// scheme), at most 64.
fn redis_cluster(v: &mut Validator<'_>, raw: &RawSessions) -> Vec<String> {
    let Some(list) = raw.redis_cluster.as_ref() else {
        return Vec::new();
    };
    let mut nodes = Vec::new();
    for (i, node) in list.iter().enumerate() {
        let path = format!("sessions.redis_cluster[{i}]");
        let Some(url) = v.text(&path, node) else { continue };
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            v.errors
                .push(&path, "must start with redis:// or rediss:// (one node of the cluster)");
        } else if url::Url::parse(&url).map_or(true, |u| u.host_str().is_none()) {
            v.errors.push(&path, "is not a URL with a host (redis://node1:7000)");
        }
        nodes.push(url);
    }
    if list.is_empty() {
        v.errors
            .push("sessions.redis_cluster", "lists no node (redis://node1:7000, …)");
    } else if list.len() > 64 {
        v.errors.push(
            "sessions.redis_cluster",
            "lists more than 64 nodes (a few seeds are enough)",
        );
    }
    let tls = nodes.iter().filter(|n| n.starts_with("rediss://")).count();
    if tls != 0 && tls != nodes.len() {
        v.errors
            .push("sessions.redis_cluster", "mixes redis:// and rediss:// nodes");
    }
    nodes
}

/// Exactly one of `redis_url` (one server, or Sentinel) and `redis_cluster` with the
/// Redis store.
fn redis_address(v: &mut Validator<'_>, store: SessionStoreKind, url: Option<&str>, cluster: &[String]) {
    match (url, cluster.is_empty(), store) {
        (Some(_), false, _) => v.errors.push(
            "sessions.redis_cluster",
            "and sessions.redis_url are both set: give one (redis_cluster for a Redis Cluster)",
        ),
        (None, true, SessionStoreKind::Redis) => v.errors.push(
            "sessions.redis_url",
            "is required with store = \"redis\" (redis://host:6379/0, rediss:// for TLS, \
             redis+sentinel://host1:26379,host2:26379/mymaster/0), or sessions.redis_cluster",
        ),
        (Some(url), _, _) if is_sentinel_url(url) => {
            if let Err(e) = parse_sentinel_url(url) {
                v.errors
                    .push("sessions.redis_url", format!("is not a Sentinel URL: {e}"));
            }
        }
        (Some(url), _, _) if !(url.starts_with("redis://") || url.starts_with("rediss://")) => v.errors.push(
            "sessions.redis_url",
            "must start with redis://, rediss://, redis+sentinel:// or rediss+sentinel:// \
             (a Redis Cluster goes in sessions.redis_cluster)",
        ),
        _ => {}
    }
}
