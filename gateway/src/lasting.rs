//! What outlives a configuration reload. Built once in
//! [`Gateway::build`](crate::server::Gateway::build); every snapshot build borrows
//! it, so sessions, metric series and IdP metadata survive a swap.

use crate::metrics::Metrics;
use sso_filters::oidc::ProviderRegistry;
use sso_filters::store::Stores;
use std::sync::Arc;

pub struct Lasting {
    /// The stores (sessions, pending logins, locks): outside every snapshot, so a
    /// reload signs no one out and a login at the IdP during it can finish.
    pub stores: Stores,
    pub metrics: Arc<Metrics>,
    /// The IdP providers of the running configuration, reused by key.
    pub providers: ProviderRegistry,
}
