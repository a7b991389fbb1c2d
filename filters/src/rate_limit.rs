//! Per-client rate limits on the login endpoints (`[server.rate_limits]`).
//!
//! Each site counts requests per client and endpoint (login start, IdP callback and
//! customer-login link, `/_sso/token` and the platform hand-off, `/_sso/logout`; the
//! auth host its one-time-token mints) in a sliding one-minute window.
//!
//! - **Who is a client.** IPv4 clients are counted per address, IPv6 clients per `/64`
//!   (one subscriber's network, whose addresses are free to rotate); the auth host also
//!   counts per SSO session. Requests without a known address are not limited.
//! - **The window** is Cloudflare's sliding estimate — the previous minute's count,
//!   weighed by how much of it still overlaps the last 60 s, plus the current
//!   minute's — so a burst across a minute boundary does not get twice the limit.
//!   Refused requests are not counted, so a client that waits `Retry-After` seconds is
//!   let in again.
//! - **Where the counts live.** With a Redis store, in Redis
//!   ([`RedisRateCounts`]): every replica counts into the same keys, so N replicas
//!   allow what one would. With a memory store, or while Redis cannot be reached (its
//!   last ping failed, or the command failed), in this process ([`local`]): each
//!   replica then limits on its own, up to N times the limit in all. The local counts
//!   always count what this replica let in, so a fallback starts from this replica's
//!   share of the last minute rather than from zero. While Redis is known down the
//!   fallback is immediate; a Redis that stops answering costs a request at most the
//!   store's response timeout (1 s), until the next failed ping (within a second).
//! - Which of them decided is counted in `sso_gateway_rate_limit_decisions_total`
//!   (`redis`, `fallback`, `local`).

pub mod local;
#[cfg(test)]
mod local_tests;
#[cfg(test)]
mod shared_tests;

use crate::events::AuthEvents;
use crate::reply::Reply;
use crate::store::redis::rate_counts::{RedisRateCounts, WindowAt};
use local::{retry_after_ms, LocalCounts};
use sso_config::RateLimits;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The limits in the configuration are per minute.
const WINDOW: Duration = Duration::from_secs(60);

/// A rate-limited gateway endpoint; `as_str` is its metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// Starting a login: `<sso_prefix>/login`, or an anonymous visit to a `login` route.
    Login,
    /// The IdP callback (`oidc.callback_path`), a customer-login link, a one-time token
    /// redeemed on a linked site.
    Callback,
    /// `<sso_prefix>/token` and `<sso_prefix>/handoff`.
    Token,
    /// `<sso_prefix>/logout`.
    Logout,
    /// The auth host's `/_sso/link` minting a one-time token (per client, and per
    /// SSO session through [`RateLimiter::check_session`]).
    Link,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Login => "login",
            Endpoint::Callback => "callback",
            Endpoint::Token => "token",
            Endpoint::Logout => "logout",
            Endpoint::Link => "link",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A request over its limit: the client may try again after `retry_after_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after_secs: u64,
}

impl Limited {
    fn after_ms(wait_ms: u64) -> Self {
        Limited {
            retry_after_secs: wait_ms.div_ceil(1000).max(1),
        }
    }

    /// The 429 page (HTML or JSON) with `Retry-After`.
    pub fn reply(self, json: bool) -> Reply {
        Reply::error(
            429,
            "rate_limited",
            "Too many attempts from your network. Please wait a moment and try again.",
            json,
        )
        .header("retry-after", self.retry_after_secs.to_string())
    }
}

/// What one client is counted as: never raw request input, always a bounded value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// An IPv4 address (an IPv4-mapped IPv6 address is one too).
    V4(u32),
    /// The `/64` of an IPv6 address.
    V6Net(u64),
    /// 64 bits of SHA-256 over a session handle.
    Session(u64),
}

impl Counter {
    /// What a client is counted as: its IPv4 address, or its IPv6 `/64`.
    pub fn of_client(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Counter::V4(u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(a) => Counter::V4(u32::from(a)),
                None => Counter::V6Net((u128::from(a) >> 64) as u64),
            },
        }
    }

    /// What a session is counted as: 64 bits of SHA-256 over its handle.
    pub fn of_session(session: &str) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(session.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Counter::Session(u64::from_be_bytes(first))
    }

    fn sketch_key(self) -> (u8, u64) {
        match self {
            Counter::V4(a) => (4, u64::from(a)),
            Counter::V6Net(n) => (6, n),
            Counter::Session(h) => (7, h),
        }
    }

    /// The counter's part of a Redis key: at most 18 characters.
    fn key_part(self) -> String {
        match self {
            Counter::V4(a) => format!("4-{a:08x}"),
            Counter::V6Net(n) => format!("6-{n:016x}"),
            Counter::Session(h) => format!("s-{h:016x}"),
        }
    }
}

/// Where a limiter counts: its metric label and the scope of its Redis keys.
#[derive(Clone)]
pub struct Scope {
    /// The site name, or `auth-host`.
    pub label: Arc<str>,
    /// The site name, or `.auth-host` (a site name has no dot: never one of theirs).
    pub key: Arc<str>,
}

impl Scope {
    pub fn site(name: &str) -> Self {
        Scope {
            label: name.into(),
            key: name.into(),
        }
    }

    pub fn auth_host(label: &str) -> Self {
        Scope {
            label: label.into(),
            key: format!(".{label}").into(),
        }
    }
}

/// The counters of one site (or the auth host), built once from `server.rate_limits`.
pub struct RateLimiter {
    /// Requests per client per minute, by [`Endpoint::index`]; `None` = unlimited.
    limits: [Option<u32>; 5],
    /// `None` when every limit is off (nothing is allocated then).
    local: Option<LocalCounts>,
    /// The counts every replica shares (a Redis store).
    shared: Option<Arc<RedisRateCounts>>,
    scope: Scope,
    events: Arc<dyn AuthEvents>,
    started: Instant,
}

impl RateLimiter {
    pub fn new(
        limits: &RateLimits,
        scope: Scope,
        shared: Option<Arc<RedisRateCounts>>,
        events: Arc<dyn AuthEvents>,
    ) -> Self {
        let limits = [limits.login, limits.callback, limits.token, limits.logout, limits.link];
        let local = limits.iter().any(Option::is_some).then(LocalCounts::default);
        RateLimiter {
            limits,
            local,
            shared,
            scope,
            events,
            started: Instant::now(),
        }
    }

    /// Counts one request from `client` on `endpoint`; `Err` when it is over the limit.
    pub async fn check(&self, endpoint: Endpoint, client: Option<IpAddr>) -> Result<(), Limited> {
        self.check_counter(endpoint, client.map(Counter::of_client)).await
    }

    /// Counts one request made with the session `session` (any stable handle of it:
    /// a signed-in shopper rotating addresses is still one shopper) on `endpoint`.
    pub async fn check_session(&self, endpoint: Endpoint, session: &str) -> Result<(), Limited> {
        self.check_counter(endpoint, Some(Counter::of_session(session))).await
    }

    async fn check_counter(&self, endpoint: Endpoint, counter: Option<Counter>) -> Result<(), Limited> {
        let (Some(limit), Some(local), Some(counter)) = (self.limits[endpoint.index()], &self.local, counter) else {
            return Ok(());
        };
        let index = endpoint.index() as u8;
        let Some(shared) = &self.shared else {
            self.events.rate_limit_decision(&self.scope.label, "local");
            return local.check(index, counter, limit, self.started.elapsed());
        };
        if shared.is_healthy() {
            match self.check_shared(shared, endpoint, counter, limit).await {
                Ok(decision) => {
                    self.events.rate_limit_decision(&self.scope.label, "redis");
                    if decision.is_ok() {
                        local.record(index, counter, self.started.elapsed());
                    }
                    return decision;
                }
                // Counted as a fallback below; the store's own errors are logged there.
                Err(e) => tracing::debug!(error = %e, "rate limit decided locally: Redis failed"),
            }
        }
        self.events.rate_limit_decision(&self.scope.label, "fallback");
        local.check(index, counter, limit, self.started.elapsed())
    }

    /// Asks Redis (the wall clock's minute, the same on every replica).
    async fn check_shared(
        &self,
        shared: &RedisRateCounts,
        endpoint: Endpoint,
        counter: Counter,
        limit: u32,
    ) -> Result<Result<(), Limited>, crate::store::StoreError> {
        let window_ms = WINDOW.as_millis() as u64;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let id = format!("{}:{}:{}", self.scope.key, endpoint.as_str(), counter.key_part());
        let at = WindowAt {
            counter: &id,
            number: now_ms / window_ms,
            window_ms,
            elapsed_ms: now_ms % window_ms,
        };
        let counted = shared.check_and_count(at, limit).await?;
        if counted.allowed {
            return Ok(Ok(()));
        }
        Ok(Err(Limited::after_ms(retry_after_ms(
            counted.previous,
            counted.current,
            u64::from(limit),
            window_ms,
            at.elapsed_ms,
        ))))
    }

    /// [`Self::check`] against the local counts only, at `now` (time since the
    /// limiter was built): what a replica decides without Redis.
    #[cfg(test)]
    fn check_local_at(&self, endpoint: Endpoint, client: Option<IpAddr>, now: Duration) -> Result<(), Limited> {
        let (Some(limit), Some(local), Some(client)) = (self.limits[endpoint.index()], &self.local, client) else {
            return Ok(());
        };
        local.check(endpoint.index() as u8, Counter::of_client(client), limit, now)
    }
}
