//! Heap allocations per authenticated request in the gateway's own filters (the
//! request phases of an authenticated `login`-route request: identify from the
//! cookie, route access, strip scan, identity headers with the cached token, the
//! Cache-Control decision), counted with dhat. Pingora's own per-request
//! allocations are not included. Run:
//! `cargo run --release -p sso-benches --bin allocations`.

use sso_benches::{config, identify_now, populated_store, site_auth};
use sso_filters::cache_control::private_cache_control;
use sso_filters::identity_headers::IdentityHeaderStrip;
use sso_filters::route_access::RouteTable;
use sso_filters::sessions::cookie::CookieCodec;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const REQUESTS: u64 = 10_000;

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let cfg = config();
    let site = &cfg.sites[0];
    let (store, ids) = populated_store(1_000);
    let codec = CookieCodec::from_config(&cfg.sessions, site);
    let auth = site_auth(&cfg, store);
    let strip = IdentityHeaderStrip::from_config(&site.identity_headers);
    let routes = RouteTable::from_config(
        &[sso_config::RouteConfig {
            prefix: "/account".into(),
            access: sso_config::Access::Login,
            forward_idp_access_token: false,
            policy: Default::default(),
            cors_preflight: sso_config::CorsPreflight::Origin,
        }],
        sso_config::PathPolicy::default(),
    );
    let mut headers = http::HeaderMap::new();
    let cookie = format!("_ga=GA1.2.3; sso_session={}; theme=dark", codec.encode(&ids[0]));
    headers.insert("cookie", cookie.parse().expect("value"));
    headers.insert("accept", "text/html".parse().expect("value"));
    // Warm the token cache, as a live session would be.
    let _ = identify_now(&auth, &headers).map(|i| auth.identity_headers(&i));

    let before = dhat::HeapStats::get();
    for _ in 0..REQUESTS {
        let identity = identify_now(&auth, &headers).expect("identity");
        let _access = routes.access("/account/orders");
        let spoofed = strip.spoofed(&headers);
        let injected = auth.identity_headers(&identity);
        let cc = private_cache_control(None);
        std::hint::black_box((spoofed, injected, cc));
    }
    let after = dhat::HeapStats::get();
    let blocks = (after.total_blocks - before.total_blocks) as f64 / REQUESTS as f64;
    let bytes = (after.total_bytes - before.total_bytes) as f64 / REQUESTS as f64;
    println!(
        "{}",
        serde_json::json!({ "allocations_per_request": blocks, "bytes_per_request": bytes.round() })
    );
}
