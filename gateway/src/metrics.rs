//! Prometheus metrics, served on the admin listener. Every name starts with `sso_gateway_`.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

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
            &["site", "outcome"],
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
        let build_info = IntGaugeVec::new(
            Opts::new("sso_gateway_build_info", "Version of the running gateway"),
            &["version"],
        )?;
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        for c in [
            &requests,
            &upstream_errors,
            &spoofed_headers,
            &rejected,
            &logins,
            &session_lookups,
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
    fn login(&self, site: &str, outcome: &str) {
        self.logins.with_label_values(&[site, outcome]).inc();
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
}
