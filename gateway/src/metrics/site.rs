//! Request metrics of one site, with label lookups done once, each on its first use
//! (no zero series).

use super::Metrics;
use prometheus::{Histogram, HistogramVec, IntCounter, IntCounterVec};
use std::sync::OnceLock;

/// The `access` label of a request: the access rule of the route it reached, the
/// gateway's own endpoints, or none (refused before routing, unknown host, auth host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessLabel {
    #[default]
    None,
    Gateway,
    Public,
    Login,
    Api,
}

impl AccessLabel {
    const ALL: [&'static str; 5] = ["-", "gateway", "public", "login", "api"];

    fn slot(self) -> usize {
        self as usize
    }
}

impl From<sso_config::Access> for AccessLabel {
    fn from(access: sso_config::Access) -> Self {
        match access {
            sso_config::Access::Public => AccessLabel::Public,
            sso_config::Access::Login => AccessLabel::Login,
            sso_config::Access::Api => AccessLabel::Api,
        }
    }
}

pub struct SiteMetrics {
    site: String,
    requests: IntCounterVec,
    durations: HistogramVec,
    upstream_durations: HistogramVec,
    duration: OnceLock<Histogram>,
    upstream_duration: OnceLock<Histogram>,
    /// One slot per (access, status) pair.
    by_access_status: Vec<OnceLock<IntCounter>>,
}

impl SiteMetrics {
    /// Handles only: no series exists until the site answers its first request, so a
    /// site of a refused reload leaves nothing in `/metrics`.
    pub fn new(metrics: &Metrics, site: &str) -> Self {
        let slots = AccessLabel::ALL.len() * STATUS_LABELS.len();
        SiteMetrics {
            site: site.to_string(),
            requests: metrics.requests.clone(),
            durations: metrics.request_duration.clone(),
            upstream_durations: metrics.upstream_duration.clone(),
            duration: OnceLock::new(),
            upstream_duration: OnceLock::new(),
            by_access_status: (0..slots).map(|_| OnceLock::new()).collect(),
        }
    }

    pub fn observe(&self, access: AccessLabel, status: u16, seconds: f64) {
        let status_slot = status_slot(status);
        let slot = access.slot() * STATUS_LABELS.len() + status_slot;
        if let Some(counter) = self.by_access_status.get(slot) {
            counter
                .get_or_init(|| {
                    let labels = [
                        self.site.as_str(),
                        AccessLabel::ALL[access.slot()],
                        STATUS_LABELS[status_slot],
                    ];
                    self.requests.with_label_values(&labels)
                })
                .inc();
        }
        self.duration
            .get_or_init(|| self.durations.with_label_values(&[&self.site]))
            .observe(seconds);
    }

    /// An origin's response headers arrived `seconds` after it was chosen.
    pub fn observe_upstream(&self, seconds: f64) {
        self.upstream_duration
            .get_or_init(|| self.upstream_durations.with_label_values(&[&self.site]))
            .observe(seconds);
    }
}

/// Status label values: the common codes exactly, others by class.
const STATUS_LABELS: [&str; 27] = [
    "0", "200", "201", "204", "301", "302", "303", "304", "307", "308", "400", "401", "403", "404", "405", "421",
    "429", "500", "502", "503", "504", "1xx", "2xx", "3xx", "4xx", "5xx", "other",
];

fn status_slot(status: u16) -> usize {
    let exact = match status {
        0 => 0,
        200 => 1,
        201 => 2,
        204 => 3,
        301 => 4,
        302 => 5,
        303 => 6,
        304 => 7,
        307 => 8,
        308 => 9,
        400 => 10,
        401 => 11,
        403 => 12,
        404 => 13,
        405 => 14,
        421 => 15,
        429 => 16,
        500 => 17,
        502 => 18,
        503 => 19,
        504 => 20,
        _ => usize::MAX,
    };
    if exact != usize::MAX {
        return exact;
    }
    match status / 100 {
        1 => 21,
        2 => 22,
        3 => 23,
        4 => 24,
        5 => 25,
        _ => 26,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_their_labels() {
        for (status, label) in [
            (200, "200"),
            (421, "421"),
            (418, "4xx"),
            (0, "0"),
            (999, "other"),
            (101, "1xx"),
        ] {
            assert_eq!(STATUS_LABELS[status_slot(status)], label);
        }
        for (slot, label) in STATUS_LABELS.iter().enumerate().take(21) {
            let status: u16 = label.parse().expect("numeric label");
            assert_eq!(status_slot(status), slot, "{label}");
        }
    }

    #[test]
    fn access_labels_follow_their_slots() {
        for (access, label) in [
            (AccessLabel::None, "-"),
            (AccessLabel::Gateway, "gateway"),
            (AccessLabel::Public, "public"),
            (AccessLabel::Login, "login"),
            (AccessLabel::Api, "api"),
        ] {
            assert_eq!(AccessLabel::ALL[access.slot()], label);
        }
    }
}
