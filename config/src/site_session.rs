//! `[sites.session]`: a site's own idle and absolute session timeouts, each
//! overriding the key of the same name in `[sessions]` for the sessions of that site
//! (whatever signed them in: the IdP, a customer-login JWT, a one-time token).
//!
//! The checks are the global keys' checks, on what the site ends up with: each value
//! a duration longer than zero, and the idle timeout no longer than the absolute one,
//! whichever of the two the site sets itself. No relation to `sessions.l1_ttl` is
//! needed, with Redis either: a replica re-reads a session from Redis before it would
//! serve it past its next write-back point (`idle_timeout / 10` after the last one),
//! so a copy in its L1 never outlives what Redis knows (see `docs/security.md`).

use crate::model::{SessionsConfig, SiteConfig, SiteSessionConfig};
use crate::raw::RawSiteSession;
use crate::validator::Validator;
use crate::values::parse_duration;
use std::time::Duration;

/// The site's `[sites.session]` as written (absent keys stay `None`).
pub(crate) fn site_session(v: &mut Validator<'_>, p: &str, raw: Option<&RawSiteSession>) -> SiteSessionConfig {
    let Some(raw) = raw else {
        return SiteSessionConfig::default();
    };
    let mut key = |name: &str, value: Option<&String>| {
        let path = format!("{p}.session.{name}");
        value.map(|text| parse_duration(&mut v.errors, &path, Some(text), Duration::ZERO))
    };
    SiteSessionConfig {
        idle_timeout: key("idle_timeout", raw.idle_timeout.as_ref()).filter(|d| !d.is_zero()),
        absolute_timeout: key("absolute_timeout", raw.absolute_timeout.as_ref()).filter(|d| !d.is_zero()),
    }
}

impl SiteSessionConfig {
    /// The idle timeout of the site's sessions: its own, else `sessions.idle_timeout`.
    pub fn idle_timeout(&self, sessions: &SessionsConfig) -> Duration {
        self.idle_timeout.unwrap_or(sessions.idle_timeout)
    }

    /// The absolute timeout of the site's sessions: its own, else
    /// `sessions.absolute_timeout`.
    pub fn absolute_timeout(&self, sessions: &SessionsConfig) -> Duration {
        self.absolute_timeout.unwrap_or(sessions.absolute_timeout)
    }
}

/// What needs `[sessions]` too: every site's idle timeout is at most its absolute
/// timeout, the error on the key the site set (when it set only one, the other comes
/// from `[sessions]`, and the message says so).
pub(crate) fn site_session_checks(v: &mut Validator<'_>, sessions: &SessionsConfig, sites: &[SiteConfig]) {
    for (i, site) in sites.iter().enumerate() {
        let own = site.session;
        let (idle, absolute) = (own.idle_timeout(sessions), own.absolute_timeout(sessions));
        if idle <= absolute || (own.idle_timeout.is_none() && own.absolute_timeout.is_none()) {
            continue;
        }
        let show = |d: Duration| humantime::format_duration(d).to_string();
        let (key, message) = match (own.idle_timeout, own.absolute_timeout) {
            (Some(_), Some(_)) => ("idle_timeout", "must not be longer than absolute_timeout".to_string()),
            (Some(_), None) => (
                "idle_timeout",
                format!(
                    "must not be longer than the absolute timeout the site gets from sessions.absolute_timeout ({}): set sites[{i}].session.absolute_timeout too",
                    show(absolute)
                ),
            ),
            _ => (
                "absolute_timeout",
                format!(
                    "must not be shorter than the idle timeout the site gets from sessions.idle_timeout ({}): set sites[{i}].session.idle_timeout too",
                    show(idle)
                ),
            ),
        };
        v.errors.push(format!("sites[{i}].session.{key}"), message);
    }
}

#[cfg(test)]
#[path = "site_session_tests.rs"]
mod tests;
