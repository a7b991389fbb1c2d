//! Shared set-up for the benchmarks: a site configuration and a populated session
//! store, built the way the gateway builds them.

use sso_config::Config;
use sso_filters::auth::AuthEvents;
use sso_filters::auth::{Identity, SiteAuth};
use sso_filters::identity::Customer;
use sso_filters::secret::SessionId;
use sso_filters::sessions::SessionData;
use sso_filters::store::memory_sessions::MemorySessionStore;
use sso_filters::store::Stores;
use std::sync::Arc;
use std::time::Duration;

pub const SECRET: &str = "bench-cookie-secret-0123456789abcdef";

/// One shop with login, as in the quickstart.
pub fn config() -> Config {
    let text = format!(
        "[sessions]\ncookie_secret = \"{SECRET}\"\n[[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\n\
         upstreams = [\"127.0.0.1:3000\"]\npublic_url = \"http://shop.localhost:8080\"\n"
    );
    match sso_config::parse(&text, &|_| None) {
        Ok(c) => c,
        Err(e) => panic!("bench config: {e}"),
    }
}

/// A customer as an IdP would describe one.
pub fn customer(i: usize) -> Customer {
    Customer {
        id: format!("customer-{i:08}"),
        email: Some(format!("customer{i}@example.com")),
        name: Some(format!("Customer {i}")),
        groups: vec!["retail".into()],
    }
}

/// A store holding `n` live sessions shaped like the gateway's by default (customer
/// claims and a refresh token; no ID token, as `oidc.logout_id_token_hint = false`);
/// returns it and every id.
pub fn populated_store(n: usize) -> (MemorySessionStore, Vec<SessionId>) {
    let store = MemorySessionStore::new(Duration::from_secs(3600), n + 1);
    let site: Arc<str> = "shop".into();
    let ids = (0..n)
        .map(|i| {
            let refresh = sso_filters::sessions::RefreshState::new(
                Some(sso_config::Secret::new(format!(
                    "refresh-{i:08}-0123456789abcdefghijklmnopqrstuvwxyz"
                ))),
                Some(300),
                Duration::from_secs(300),
            );
            store.insert(SessionData::new(site.clone(), customer(i), None, refresh, 43_200))
        })
        .collect();
    (store, ids)
}

/// The shop's auth over the memory stores with `store` as the sessions.
pub fn site_auth(cfg: &Config, store: MemorySessionStore) -> SiteAuth {
    let stores = Stores {
        sessions: Arc::new(store),
        ..Stores::memory(MemorySessionStore::new(Duration::from_secs(1), 1), 1_000)
    };
    match SiteAuth::from_config(cfg, &cfg.sites[0], &stores, None, Arc::new(NoEvents)) {
        Ok(a) => a,
        Err(e) => panic!("auth: {e}"),
    }
}

/// Identify from headers, for a request whose session is in memory: that path never
/// waits, so the future is ready at its first poll.
pub fn identify_now(auth: &SiteAuth, headers: &http::HeaderMap) -> Option<Identity> {
    use futures_util::FutureExt;
    auth.identify(headers).now_or_never().and_then(Result::ok).flatten()
}

/// Resident set size of this process in bytes (Linux).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Auth events that go nowhere: the benchmarks measure the filters, not Prometheus.
pub struct NoEvents;

impl AuthEvents for NoEvents {
    fn login(&self, _: &str, _: &str, _: &str) {}
    fn rejected(&self, _: &str, _: &str) {}
    fn session_lookup(&self, _: &'static str) {}
    fn idp_call(&self, _: &str, _: &str, _: f64, _: bool) {}
}
