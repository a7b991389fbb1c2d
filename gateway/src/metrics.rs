//! Prometheus metrics, served on the admin listener. Every name starts with `sso_gateway_`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::sync::OnceLock;

/// The gateway's metrics, in their own registry.
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
    pub upstream_errors: IntCounterVec,
    pub spoofed_headers: IntCounterVec,
    pub rejected: IntCounterVec,
    pub logins: IntCounterVec,
    pub sessions_active: IntGauge,
    pub session_lookups: IntCounterVec,
    pub idp_request_duration: HistogramVec,
    pub rate_limited: IntCounterVec,
    pub store_errors: IntCounterVec,
    /// Configuration reloads by `result`: `ok` or `refused`.
    pub config_reloads: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "sso_gateway_requests_total",
                "Storefront requests answered, by site and status",
            ),
            &["site", "status"],
        )?;
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "sso_gateway_request_duration_seconds",
                "Time from request to the end of the response",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["site"],
        )?;
        let upstream_errors = IntCounterVec::new(
            Opts::new(
                "sso_gateway_upstream_errors_total",
                "Failures to reach or read from an origin",
            ),
            &["site"],
        )?;
        let spoofed_headers = IntCounterVec::new(
            Opts::new(
                "sso_gateway_spoofed_identity_headers_total",
                "Incoming identity headers removed before proxying",
            ),
            &["site"],
        )?;
        let rejected = IntCounterVec::new(
            Opts::new(
                "sso_gateway_rejected_total",
                "Bad input rejected (tampered cookie, bad state, open redirect, ...)",
            ),
            &["site", "reason"],
        )?;
        let logins = IntCounterVec::new(
            Opts::new("sso_gateway_logins_total", "Completed or failed logins"),
            &["site", "method", "outcome"],
        )?;
        let sessions_active = IntGauge::new("sso_gateway_sessions_active", "Sessions held in the session store")?;
        let session_lookups = IntCounterVec::new(
            Opts::new("sso_gateway_session_lookups_total", "Session cookie lookups by result"),
            &["result"],
        )?;
        let idp_request_duration = HistogramVec::new(
            HistogramOpts::new(
                "sso_gateway_idp_request_duration_seconds",
                "Calls to the identity provider",
            )
            .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["site", "endpoint"],
        )?;
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "sso_gateway_rate_limited_total",
                "Requests refused with 429 because a client went over its limit, by endpoint",
            ),
            &["site", "endpoint"],
        )?;
        let config_reloads = IntCounterVec::new(
            Opts::new(
                "sso_gateway_config_reloads_total",
                "Configuration reloads (SIGHUP, POST /reload) by result: ok or refused",
            ),
            &["result"],
        )?;
        for result in ["ok", "refused"] {
            config_reloads.with_label_values(&[result]);
        }
        let build_info = IntGaugeVec::new(
            Opts::new("sso_gateway_build_info", "Version of the running gateway"),
            &["version"],
        )?;
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let store_errors = IntCounterVec::new(
            Opts::new(
                "sso_gateway_store_errors_total",
                "Session store operations that failed (Redis unreachable or refusing), by store and operation",
            ),
            &["store", "op"],
        )?;
        for c in [
            &requests,
            &upstream_errors,
            &spoofed_headers,
            &rejected,
            &logins,
            &session_lookups,
            &rate_limited,
            &store_errors,
            &config_reloads,
        ] {
            registry.register(Box::new(c.clone()))?;
        }
        registry.register(Box::new(request_duration.clone()))?;
        registry.register(Box::new(idp_request_duration.clone()))?;
        registry.register(Box::new(sessions_active.clone()))?;
        registry.register(Box::new(build_info))?;
        Ok(Metrics {
            registry,
            requests,
            request_duration,
            upstream_errors,
            spoofed_headers,
            rejected,
            logins,
            sessions_active,
            session_lookups,
            idp_request_duration,
            rate_limited,
            store_errors,
            config_reloads,
        })
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4096);
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

impl sso_filters::auth::AuthEvents for Metrics {
    fn login(&self, site: &str, method: &'static str, outcome: &str) {
        self.logins.with_label_values(&[site, method, outcome]).inc();
    }
    fn rejected(&self, site: &str, reason: &str) {
        self.rejected.with_label_values(&[site, reason]).inc();
    }
    fn session_lookup(&self, result: &'static str) {
        self.session_lookups.with_label_values(&[result]).inc();
    }
    fn idp_call(&self, site: &str, endpoint: &str, seconds: f64) {
        self.idp_request_duration
            .with_label_values(&[site, endpoint])
            .observe(seconds);
    }
    fn rate_limited(&self, site: &str, endpoint: &str) {
        self.rate_limited.with_label_values(&[site, endpoint]).inc();
    }
}

/// Request metrics of one site, with label lookups done once, each on its first use
/// (no zero series).
pub struct SiteMetrics {
    site: String,
    requests: IntCounterVec,
    durations: HistogramVec,
    duration: OnceLock<Histogram>,
    by_status: Vec<OnceLock<IntCounter>>,
}

impl SiteMetrics {
    /// Handles only: no series exists until the site answers its first request, so a
    /// site of a refused reload leaves nothing in `/metrics`.
    pub fn new(metrics: &Metrics, site: &str) -> Self {
        SiteMetrics {
            site: site.to_string(),
            requests: metrics.requests.clone(),
            durations: metrics.request_duration.clone(),
            duration: OnceLock::new(),
            by_status: (0..STATUS_LABELS.len()).map(|_| OnceLock::new()).collect(),
        }
    }

    pub fn observe(&self, status: u16, seconds: f64) {
        let slot = status_slot(status);
        if let Some(counter) = self.by_status.get(slot) {
            counter
                .get_or_init(|| self.requests.with_label_values(&[&self.site, STATUS_LABELS[slot]]))
                .inc();
        }
        self.duration
            .get_or_init(|| self.durations.with_label_values(&[&self.site]))
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
}
