//! What the request filters report, for metrics: the gateway implements
//! [`AuthEvents`] with its Prometheus counters; tests and benches with their own.

/// What the auth filters report, for metrics. The gateway implements it.
pub trait AuthEvents: Send + Sync {
    /// A login ended: `method` is how (`oidc`, `customer_login`, see
    /// [`LoginMethod::as_str`](crate::sessions::LoginMethod::as_str)), `outcome` is
    /// `success` or an error code (`state_unknown`, ...); both from a bounded set.
    fn login(&self, site: &str, method: &'static str, outcome: &str);
    /// Bad input was rejected (`bad_cookie`, `open_redirect`, `bad_token`, ...).
    fn rejected(&self, site: &str, reason: &str);
    /// A session lookup, by cookie or API token: `hit`, `miss` (no such live
    /// session on this site), `invalid` (a cookie that does not verify).
    fn session_lookup(&self, result: &'static str);
    /// A call to the IdP took `seconds`; `answered` is false when the IdP could not
    /// be reached or did not answer in its protocol (see [`IdpTimer`](crate::oidc::flow::IdpTimer)).
    fn idp_call(&self, site: &str, endpoint: &str, seconds: f64, answered: bool);
    /// A logout's token revocation at the IdP ended: `idp` is the `[[sites.idps]]`
    /// name (empty for `[sites.oidc]`), `outcome` `revoked`, `refused` or `unreachable`.
    fn idp_revocation(&self, _site: &str, _idp: &str, _outcome: &'static str) {}
    /// A client went over its rate limit on `endpoint` (`login`, `callback`, `token`, `logout`).
    fn rate_limited(&self, _site: &str, _endpoint: &str) {}
    /// A rate-limited request was decided (allowed or refused) by `decided_by`: `redis`
    /// (the counts every replica shares), `fallback` (this replica's own counts,
    /// Redis being unreachable) or `local` (a memory store: there is nothing to share).
    fn rate_limit_decision(&self, _site: &str, _decided_by: &'static str) {}
    /// The provisioning hook was called (a cached answer is not a call): `outcome` is
    /// `ok` or a [`ProvisionError::code`](crate::connectors::provisioning::ProvisionError::code).
    fn provisioning_hook(&self, _site: &str, _seconds: f64, _outcome: &'static str) {}
    /// A cross-site one-time token for `site` was `minted`, `redeemed` or `refused`.
    fn one_time_token(&self, _site: &str, _event: &'static str) {}
    /// A signed-in shopper was handed to `platform` (`platform_login`, `multipass`):
    /// `outcome` is `handed_off`, `no_verified_email` (Multipass: no hand-off, the
    /// shopper got a page) or `not_minted` (no token could be made).
    fn handoff(&self, _site: &str, _platform: &'static str, _outcome: &'static str) {}
    /// A request was refused with 403 by a route's policy: `reason` is the
    /// requirement that failed (`group`, `email_domain`, `idp`, `method`, `claim`,
    /// `cors_preflight`, ...), from a bounded set.
    fn access_denied(&self, _site: &str, _reason: &'static str) {}
}
