//! Idle and absolute timeouts per site, and the one rule both session stores follow
//! to write a session's last use back.
//!
//! - **Per site.** Each site's `[sites.session]` (else `[sessions]`) gives its
//!   sessions an idle and an absolute timeout. The stores are built once and outlive
//!   reloads, so they read the table ([`SessionTimeouts`]) the gateway sets from each
//!   configuration it swaps in; a session of a site no longer configured gets
//!   `[sessions]`'s values.
//! - **The idle deadline is the store's.** A session ends at its idle deadline: the
//!   moment the store holds as "idle timeout after the last write-back" (the Redis
//!   key's TTL; the memory entry's expiry). Nothing ends it earlier, and no replica
//!   serves it later.
//! - **Write-back.** A use moves the deadline only when that moves it by a window or
//!   more ([`write_back`]): at most once per `idle_timeout / 10` per session, however
//!   many requests and replicas use it. So a session ends between
//!   `idle_timeout - idle_timeout / 10` and `idle_timeout` after its last use.
//! - **Absolute.** A session ends at the expiry sealed in it at sign-in (the site's
//!   absolute timeout then), and never later than its creation plus the site's
//!   absolute timeout now: a reload that shortens `absolute_timeout` ends older
//!   sessions at once, one that lengthens it does not lengthen sessions already made.

use crate::sessions::SessionData;
use arc_swap::ArcSwap;
use sso_config::Config;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The timeouts of one site's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteTimeouts {
    pub idle: Duration,
    pub absolute: Duration,
}

impl SiteTimeouts {
    /// How rarely a session's last use is written back: a tenth of the idle timeout.
    pub fn window(&self) -> Duration {
        self.idle / 10
    }

    /// The Unix second `data` ends at regardless of use: its sealed expiry, or its
    /// creation plus this absolute timeout when that is sooner.
    pub fn ends_at(&self, data: &SessionData) -> u64 {
        data.created_at
            .saturating_add(self.absolute.as_secs())
            .min(data.expires_at)
    }

    /// True while `data` is before its absolute end at `now` (Unix seconds).
    pub fn is_live(&self, data: &SessionData, now: u64) -> bool {
        now < self.ends_at(data)
    }
}

/// What a store should do with a session just used, whose stored idle deadline is
/// `left` away, of a site with `timeouts`, `to_end` before its absolute end: write a
/// new deadline `Some(d)` from now, or leave it (`None`).
///
/// It writes when that moves the deadline later by at least a window (nothing moves
/// it past the absolute end), or earlier by at least one (a reload shortened the idle
/// timeout: the first use after it brings the session under the new value). Between
/// two writes the deadline stands, so every use within a window of the last write
/// costs nothing, anywhere.
pub fn write_back(left: Duration, timeouts: SiteTimeouts, to_end: Duration) -> Option<Duration> {
    let want = timeouts.idle.min(to_end);
    let window = timeouts.window();
    let later = want > left && want - left >= window;
    let earlier = left > timeouts.idle && left - timeouts.idle >= window;
    (later || earlier).then_some(want)
}

/// The Unix second `left` from now falls on (rounded down; saturating).
pub fn unix_after(left: Duration) -> u64 {
    std::time::SystemTime::now()
        .checked_add(left)
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(u64::MAX, |d| d.as_secs())
}

/// Every site's timeouts, swapped whole when a configuration is applied.
pub struct SessionTimeouts {
    table: ArcSwap<Table>,
}

struct Table {
    sites: HashMap<Box<str>, SiteTimeouts>,
    /// `[sessions]`: for a site the table does not name.
    default: SiteTimeouts,
}

impl Table {
    fn of(config: &Config) -> Table {
        let s = &config.sessions;
        Table {
            sites: config
                .sites
                .iter()
                .map(|site| {
                    let t = SiteTimeouts {
                        idle: site.session.idle_timeout(s),
                        absolute: site.session.absolute_timeout(s),
                    };
                    (site.name.as_str().into(), t)
                })
                .collect(),
            default: SiteTimeouts {
                idle: s.idle_timeout,
                absolute: s.absolute_timeout,
            },
        }
    }
}

impl SessionTimeouts {
    /// The timeouts of `config`'s sites.
    pub fn from_config(config: &Config) -> Arc<Self> {
        Arc::new(SessionTimeouts {
            table: ArcSwap::from_pointee(Table::of(config)),
        })
    }

    /// The same timeouts for every site (tests, tools).
    pub fn uniform(idle: Duration, absolute: Duration) -> Arc<Self> {
        Arc::new(SessionTimeouts {
            table: ArcSwap::from_pointee(Table {
                sites: HashMap::new(),
                default: SiteTimeouts { idle, absolute },
            }),
        })
    }

    /// Applies `config`'s timeouts from now on (a reload was swapped in).
    pub fn apply(&self, config: &Config) {
        self.table.store(Arc::new(Table::of(config)));
    }

    /// Sets one site's timeouts (tests).
    pub fn set_site(&self, site: &str, timeouts: SiteTimeouts) {
        self.table.rcu(|table| {
            let mut sites = table.sites.clone();
            sites.insert(site.into(), timeouts);
            Table {
                sites,
                default: table.default,
            }
        });
    }

    /// The timeouts of `site`'s sessions.
    pub fn of(&self, site: &str) -> SiteTimeouts {
        let table = self.table.load();
        table.sites.get(site).copied().unwrap_or(table.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn t(idle: u64, absolute: u64) -> SiteTimeouts {
        SiteTimeouts {
            idle: S(idle),
            absolute: S(absolute),
        }
    }

    #[test]
    fn a_use_writes_back_only_once_a_window_has_passed() {
        let thirty = t(1800, 43_200);
        let far = S(40_000);
        assert_eq!(thirty.window(), S(180));
        assert_eq!(write_back(S(1800), thirty, far), None, "just written");
        assert_eq!(write_back(S(1621), thirty, far), None, "179 s later: within the window");
        assert_eq!(write_back(S(1620), thirty, far), Some(S(1800)), "a window later");
        assert_eq!(write_back(S(1), thirty, far), Some(S(1800)));
    }

    #[test]
    fn nothing_is_written_past_the_absolute_end() {
        let thirty = t(1800, 43_200);
        assert_eq!(write_back(S(600), thirty, S(700)), None, "100 s more is not a window");
        assert_eq!(write_back(S(600), thirty, S(780)), Some(S(780)), "capped at the end");
        assert_eq!(write_back(S(780), thirty, S(780)), None, "then never again");
        assert_eq!(write_back(S(10), thirty, S(10)), None);
    }

    #[test]
    fn a_shortened_idle_timeout_is_written_at_the_next_use() {
        let five = t(300, 43_200);
        assert_eq!(
            write_back(S(1700), five, S(40_000)),
            Some(S(300)),
            "from a 30 min deadline"
        );
        assert_eq!(write_back(S(320), five, S(40_000)), None, "within a window of it");
        assert_eq!(write_back(S(330), five, S(40_000)), Some(S(300)));
    }

    #[test]
    fn tiny_and_huge_timeouts_neither_panic_nor_write_every_time() {
        let zero = t(0, 0);
        assert_eq!(write_back(Duration::ZERO, zero, Duration::ZERO), None);
        let huge = SiteTimeouts {
            idle: Duration::MAX,
            absolute: Duration::MAX,
        };
        assert_eq!(write_back(Duration::MAX, huge, Duration::MAX), None);
        assert_eq!(write_back(Duration::ZERO, huge, Duration::MAX), Some(Duration::MAX));
    }

    #[test]
    fn each_site_has_its_own_and_a_reload_replaces_them() {
        let table = SessionTimeouts::uniform(S(1800), S(43_200));
        assert_eq!(table.of("shop"), t(1800, 43_200));
        table.set_site("kiosk", t(60, 3600));
        assert_eq!(table.of("kiosk"), t(60, 3600));
        assert_eq!(table.of("shop"), t(1800, 43_200), "the others keep [sessions]'s");
    }

    #[test]
    fn a_shorter_absolute_timeout_ends_older_sessions_a_longer_one_extends_none() {
        let mut data = crate::store::suite::session("shop", "alice", 3600);
        data.created_at = 1_000;
        data.expires_at = 1_000 + 3600;
        assert_eq!(t(60, 600).ends_at(&data), 1_600);
        assert!(!t(60, 600).is_live(&data, 1_600));
        assert!(t(60, 600).is_live(&data, 1_599));
        assert_eq!(t(60, 86_400).ends_at(&data), 4_600, "the sealed expiry stands");
    }
}
