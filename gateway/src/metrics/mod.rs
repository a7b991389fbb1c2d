//! Prometheus metrics, served on the admin listener. Every name starts with
//! `sso_gateway_`; labels take values from bounded sets only (site names, endpoint
//! names, reason codes, status codes): never a customer, a path or a token.
//! `docs/operations.md` lists them with their labels.

mod site;

pub use site::{AccessLabel, SiteMetrics};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Buckets of the request and origin latency histograms, in seconds.
const REQUEST_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of calls the gateway makes (IdP, provisioning hook), in seconds.
const CALL_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The gateway's metrics, in their own registry.
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
    pub upstream_duration: HistogramVec,
    pub upstream_errors: IntCounterVec,
    pub spoofed_headers: IntCounterVec,
    pub rejected: IntCounterVec,
    pub logins: IntCounterVec,
    pub sessions_active: IntGauge,
    pub session_lookups: IntCounterVec,
    pub idp_request_duration: HistogramVec,
    pub idp_errors: IntCounterVec,
    pub jwks_refreshes: IntCounterVec,
    pub provisioning_duration: HistogramVec,
    pub provisioning_errors: IntCounterVec,
    pub one_time_tokens: IntCounterVec,
    pub idp_revocations: IntCounterVec,
    pub rate_limited: IntCounterVec,
    pub rate_limit_decisions: IntCounterVec,
    pub access_denied: IntCounterVec,
    pub handoffs: IntCounterVec,
    pub store_errors: IntCounterVec,
    /// Configuration reloads by `result`: `ok` or `refused`.
    pub config_reloads: IntCounterVec,
    /// When each served certificate expires (Unix seconds), set at scrape time.
    pub certificate_expiry: IntGaugeVec,
    /// 1 for the Redis server or primary in use, by `mode` and `address`.
    pub redis_primary: IntGaugeVec,
    /// Times the Redis primary in use changed (Sentinel failovers followed).
    pub redis_primary_changes: IntCounter,
    /// When the Redis server in use was set (first connection or last change).
    pub redis_primary_since: IntGauge,
    /// Log lines the writer dropped, brought up to date at scrape time (under the
    /// lock, so two scrapes at once do not both add the difference).
    log_lines_dropped: std::sync::Mutex<IntCounter>,
}

/// Registers what it makes, so no metric is made and forgotten.
struct Maker<'a>(&'a Registry);

impl Maker<'_> {
    fn counter(&self, name: &str, help: &str, labels: &[&str]) -> Result<IntCounterVec, prometheus::Error> {
        let c = IntCounterVec::new(Opts::new(name, help), labels)?;
        self.0.register(Box::new(c.clone()))?;
        Ok(c)
    }

    fn histogram(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> Result<HistogramVec, prometheus::Error> {
        let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets.to_vec()), labels)?;
        self.0.register(Box::new(h.clone()))?;
        Ok(h)
    }

    fn gauges(&self, name: &str, help: &str, labels: &[&str]) -> Result<IntGaugeVec, prometheus::Error> {
        let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
        self.0.register(Box::new(g.clone()))?;
        Ok(g)
    }
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let m = Maker(&registry);
        let sessions_active = IntGauge::new("sso_gateway_sessions_active", "Sessions held in the session store")?;
        registry.register(Box::new(sessions_active.clone()))?;
        let build_info = m.gauges(
            "sso_gateway_build_info",
            "Version of the running gateway (always 1)",
            &["version"],
        )?;
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let config_reloads = m.counter(
            "sso_gateway_config_reloads_total",
            "Configuration reloads (SIGHUP, POST /reload) by result: ok or refused",
            &["result"],
        )?;
        for result in ["ok", "refused"] {
            config_reloads.with_label_values(&[result]);
        }
        Ok(Metrics {
            requests: m.counter(
                "sso_gateway_requests_total",
                "Storefront requests answered, by site, the access rule that applied (public, login, api; gateway for the gateway's own endpoints; - when no route was reached) and status",
                &["site", "access", "status"],
            )?,
            request_duration: m.histogram(
                "sso_gateway_request_duration_seconds",
                "Time from request to the end of the response",
                &["site"],
                &REQUEST_BUCKETS,
            )?,
            upstream_duration: m.histogram(
                "sso_gateway_upstream_duration_seconds",
                "Time from choosing an origin to its response headers (connecting included)",
                &["site"],
                &REQUEST_BUCKETS,
            )?,
            upstream_errors: m.counter(
                "sso_gateway_upstream_errors_total",
                "Failures to reach or read from an origin",
                &["site"],
            )?,
            spoofed_headers: m.counter(
                "sso_gateway_spoofed_identity_headers_total",
                "Incoming identity headers removed before proxying",
                &["site"],
            )?,
            rejected: m.counter(
                "sso_gateway_rejected_total",
                "Bad input rejected (tampered cookie, bad state, open redirect, ...), by reason",
                &["site", "reason"],
            )?,
            logins: m.counter(
                "sso_gateway_logins_total",
                "Sign-ins by method (oidc, customer_login, ott, bearer) and outcome (success or a failure reason)",
                &["site", "method", "outcome"],
            )?,
            sessions_active,
            session_lookups: m.counter(
                "sso_gateway_session_lookups_total",
                "Session store lookups by result: hit, miss, invalid (a cookie that does not verify) or error (store unavailable)",
                &["result"],
            )?,
            idp_request_duration: m.histogram(
                "sso_gateway_idp_request_duration_seconds",
                "Calls to the identity provider, by endpoint (discovery, token, jwks, userinfo, refresh)",
                &["site", "endpoint"],
                &CALL_BUCKETS,
            )?,
            idp_errors: m.counter(
                "sso_gateway_idp_errors_total",
                "Calls to the identity provider that failed: unreachable, timed out, or not a protocol answer",
                &["site", "endpoint"],
            )?,
            jwks_refreshes: m.counter(
                "sso_gateway_jwks_refreshes_total",
                "Fetches of an identity provider's signing keys (with discovery, or for an unknown key id), by result: ok or error",
                &["site", "result"],
            )?,
            provisioning_duration: m.histogram(
                "sso_gateway_provisioning_hook_duration_seconds",
                "Calls to the provisioning hook (cached answers are not calls)",
                &["site"],
                &CALL_BUCKETS,
            )?,
            provisioning_errors: m.counter(
                "sso_gateway_provisioning_hook_errors_total",
                "Provisioning hook calls that failed, by reason: provisioning_unavailable or provisioning_invalid",
                &["site", "reason"],
            )?,
            one_time_tokens: m.counter(
                "sso_gateway_one_time_tokens_total",
                "Cross-site one-time tokens by event: minted (auth host), redeemed or refused (site)",
                &["site", "event"],
            )?,
            idp_revocations: m.counter(
                "sso_gateway_idp_revocations_total",
                "Token revocations at the identity provider made by logouts, by IdP (empty for [sites.oidc]) and outcome: revoked, refused or unreachable",
                &["site", "idp", "outcome"],
            )?,
            rate_limited: m.counter(
                "sso_gateway_rate_limited_total",
                "Requests refused with 429 because a client went over its limit, by endpoint",
                &["site", "endpoint"],
            )?,
            rate_limit_decisions: m.counter(
                "sso_gateway_rate_limit_decisions_total",
                "Rate-limited requests by who decided them: redis (counts shared by every replica), fallback (this replica alone, Redis unreachable) or local (memory store)",
                &["site", "decided_by"],
            )?,
            access_denied: m.counter(
                "sso_gateway_access_denied_total",
                "Requests of signed-in customers refused with 403 by a route's policy, by the requirement that failed",
                &["site", "reason"],
            )?,
            handoffs: m.counter(
                "sso_gateway_handoffs_total",
                "Signed-in shoppers handed to a platform (platform_login, multipass), by outcome: handed_off, no_verified_email (no hand-off, a page instead) or not_minted",
                &["site", "platform", "outcome"],
            )?,
            store_errors: m.counter(
                "sso_gateway_store_errors_total",
                "Session store operations that failed (Redis unreachable or refusing), by store and operation",
                &["store", "op"],
            )?,
            config_reloads,
            certificate_expiry: m.gauges(
                "sso_gateway_certificate_expiry_timestamp_seconds",
                "When each certificate the gateway serves expires, in Unix seconds, by its place in the configuration",
                &["certificate"],
            )?,
            redis_primary: m.gauges(
                "sso_gateway_redis_primary_info",
                "1 for the Redis server the session store uses (with Sentinel the primary, with a cluster the node of the eviction subscription), by mode and host:port",
                &["mode", "address"],
            )?,
            redis_primary_changes: {
                let c = IntCounter::new(
                    "sso_gateway_redis_primary_changes_total",
                    "Times the session store moved to another Redis primary (Sentinel failovers followed)",
                )?;
                registry.register(Box::new(c.clone()))?;
                c
            },
            redis_primary_since: {
                let g = IntGauge::new(
                    "sso_gateway_redis_primary_since_timestamp_seconds",
                    "When the session store started using its current Redis server or primary, in Unix seconds",
                )?;
                registry.register(Box::new(g.clone()))?;
                g
            },
            log_lines_dropped: {
                let c = IntCounter::new(
                    "sso_gateway_log_lines_dropped_total",
                    "Access lines dropped because the log output could not keep up (requests never wait for their access line; other lines are written at once)",
                )?;
                registry.register(Box::new(c.clone()))?;
                std::sync::Mutex::new(c)
            },
            registry,
        })
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        if let Ok(counter) = self.log_lines_dropped.lock() {
            counter.inc_by(crate::logging::dropped_lines().saturating_sub(counter.get()));
        }
        let mut out = Vec::with_capacity(8192);
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }

    /// Replaces the certificate expiry series with `certificates` (name, Unix seconds
    /// of `notAfter`): a certificate no longer served leaves no series behind.
    pub fn set_certificates(&self, certificates: impl IntoIterator<Item = (String, i64)>) {
        self.certificate_expiry.reset();
        for (name, not_after) in certificates {
            self.certificate_expiry.with_label_values(&[&name]).set(not_after);
        }
    }

    /// A fetch of an IdP's keys ended.
    pub fn jwks_refreshed(&self, site: &str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.jwks_refreshes.with_label_values(&[site, result]).inc();
    }
}

impl sso_filters::events::AuthEvents for Metrics {
    fn login(&self, site: &str, method: &'static str, outcome: &str) {
        self.logins.with_label_values(&[site, method, outcome]).inc();
    }
    fn rejected(&self, site: &str, reason: &str) {
        self.rejected.with_label_values(&[site, reason]).inc();
    }
    fn session_lookup(&self, result: &'static str) {
        self.session_lookups.with_label_values(&[result]).inc();
    }
    fn idp_call(&self, site: &str, endpoint: &str, seconds: f64, answered: bool) {
        self.idp_request_duration
            .with_label_values(&[site, endpoint])
            .observe(seconds);
        if !answered {
            self.idp_errors.with_label_values(&[site, endpoint]).inc();
        }
        if endpoint == "jwks" {
            self.jwks_refreshed(site, answered);
        }
    }
    fn idp_revocation(&self, site: &str, idp: &str, outcome: &'static str) {
        self.idp_revocations.with_label_values(&[site, idp, outcome]).inc();
    }
    fn rate_limited(&self, site: &str, endpoint: &str) {
        self.rate_limited.with_label_values(&[site, endpoint]).inc();
    }
    fn rate_limit_decision(&self, site: &str, decided_by: &'static str) {
        self.rate_limit_decisions.with_label_values(&[site, decided_by]).inc();
    }
    fn provisioning_hook(&self, site: &str, seconds: f64, outcome: &'static str) {
        self.provisioning_duration.with_label_values(&[site]).observe(seconds);
        if outcome != "ok" {
            self.provisioning_errors.with_label_values(&[site, outcome]).inc();
        }
    }
    fn one_time_token(&self, site: &str, event: &'static str) {
        self.one_time_tokens.with_label_values(&[site, event]).inc();
    }
    fn access_denied(&self, site: &str, reason: &'static str) {
        self.access_denied.with_label_values(&[site, reason]).inc();
    }
    fn handoff(&self, site: &str, platform: &'static str, outcome: &'static str) {
        self.handoffs.with_label_values(&[site, platform, outcome]).inc();
    }
}
