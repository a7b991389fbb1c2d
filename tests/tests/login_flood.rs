//! Anonymous traffic cannot flood login state: only page loads start a login, a
//! flood of them stays within `sessions.max_pending_logins` (memory measured), each
//! client has rate limits, and a browser keeps at most three flow cookies — against
//! the real gateway binary and the real `oidc-provider`.

use reqwest::header::HeaderMap;
use reqwest::redirect::Policy;
use reqwest::{Client, Response};
use sso_tests::{echo_of, GatewayConfig, Shop, Shopper};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A cookie-less client that never follows redirects, reaching `shop.localhost` on
/// loopback from `from` (another loopback address is another client to the gateway).
fn anonymous(from: [u8; 4], connections: usize) -> Client {
    Client::builder()
        .redirect(Policy::none())
        .resolve("shop.localhost", SocketAddr::from(([127, 0, 0, 1], 0)))
        .local_address(IpAddr::from(from))
        .pool_max_idle_per_host(connections)
        .build()
        .expect("client")
}

/// A [`Shopper`] (cookie jar, forms) whose requests come from loopback address `from`.
fn shopper_from(from: [u8; 4]) -> Shopper {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let http = Client::builder()
        .redirect(Policy::none())
        .cookie_provider(jar.clone())
        .resolve("shop.localhost", SocketAddr::from(([127, 0, 0, 1], 0)))
        .local_address(IpAddr::from(from))
        .build()
        .expect("client");
    Shopper { http, jar }
}

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
}

fn header(resp: &Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Resident memory of a process, from `/proc/<pid>/status`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// The value of `name{labels}` in Prometheus text, 0 when absent.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Requests that may not start a login: sub-resources, scripts, XHR, frames,
/// prefetches. Each must get 401 JSON and no cookie.
const NOT_PAGE_LOADS: &[&[(&str, &str)]] = &[
    &[
        (
            "accept",
            "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
        ),
        ("sec-fetch-mode", "no-cors"),
        ("sec-fetch-dest", "image"),
    ],
    &[("accept", "image/*")],
    &[
        ("accept", "*/*"),
        ("sec-fetch-mode", "no-cors"),
        ("sec-fetch-dest", "script"),
    ],
    &[("accept", "text/css,*/*;q=0.1"), ("sec-fetch-dest", "style")],
    &[
        ("accept", "*/*"),
        ("sec-fetch-mode", "cors"),
        ("sec-fetch-dest", "empty"),
    ],
    &[("accept", "*/*"), ("x-requested-with", "XMLHttpRequest")],
    &[("accept", "application/json")],
    &[
        ("accept", "text/html"),
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-dest", "iframe"),
    ],
];

#[tokio::test]
async fn sub_resources_and_xhr_get_401_json_and_start_no_login() {
    // One pending login at most: any request that created one would evict the
    // shopper's, whose callback would then fail.
    let config = GatewayConfig::default()
        .server("rate_limits = { login = 0 }")
        .sessions("max_pending_logins = 1");
    let shop = Shop::start_with(config, "").expect("shop");
    shop.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let started = shopper.page(&shop.url("/account/orders")).await.expect("page");
    assert_eq!(started.status(), 302, "a page load starts the login");

    let other = anonymous([127, 0, 0, 1], 4);
    for round in 0..40 {
        for case in NOT_PAGE_LOADS {
            let path = if round % 2 == 0 {
                "/account"
            } else {
                "/_sso/login?return_to=/account"
            };
            let mut req = other.get(shop.url(path));
            for (k, v) in *case {
                req = req.header(*k, *v);
            }
            let resp = req.send().await.expect("request");
            assert_eq!(resp.status(), 401, "{path} {case:?}");
            assert!(set_cookies(resp.headers()).is_empty(), "{case:?} set a cookie");
            assert!(header(&resp, "www-authenticate").starts_with("Bearer"), "{case:?}");
            assert!(
                header(&resp, "content-type").starts_with("application/json"),
                "{case:?}"
            );
            let body: serde_json::Value = resp.json().await.expect("json");
            assert_eq!(body["error"], "login_required", "{case:?}");
        }
    }
    // HEAD and a speculative prefetch of a page never start a login either; a
    // form post is a page request, so its 401 is a page.
    let head = other.head(shop.url("/account")).send().await.expect("head");
    assert_eq!(head.status(), 401);
    assert!(set_cookies(head.headers()).is_empty());
    let prefetch = other
        .get(shop.url("/account"))
        .header("accept", "text/html")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document")
        .header("sec-purpose", "prefetch")
        .send()
        .await
        .expect("prefetch");
    assert_eq!(prefetch.status(), 401);
    assert!(set_cookies(prefetch.headers()).is_empty());
    let post = other
        .post(shop.url("/account/address"))
        .header("accept", "text/html")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document")
        .form(&[("street", "x")])
        .send()
        .await
        .expect("post");
    assert_eq!(post.status(), 401);
    assert!(header(&post, "content-type").starts_with("text/html"));
    assert!(set_cookies(post.headers()).is_empty());

    // After all of these (over 300) the shopper's login is still there.
    let landing = shopper.walk(started, "alice").await.expect("walk");
    assert_eq!(landing.status, 200, "{landing:?}");
    assert_eq!(
        echo_of(&landing.body).expect("echo")["headers"]["x-customer-id"],
        "alice"
    );

    // Control: page loads do create pending logins, and with room for one the
    // next shopper's is evicted by a hundred of them.
    let second = Shopper::new(&["shop"]).expect("client");
    let started = second.page(&shop.url("/account")).await.expect("page");
    assert_eq!(started.status(), 302);
    for _ in 0..100 {
        let resp = other
            .get(shop.url("/account"))
            .header("accept", "text/html")
            .send()
            .await
            .expect("page");
        assert_eq!(resp.status(), 302);
    }
    let landing = second.walk(started, "bob").await.expect("walk");
    assert_eq!(landing.status, 400, "{landing:?}");
    assert!(landing.body.contains("state_unknown"), "{}", landing.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_anonymous_page_loads_leaves_memory_bounded_and_logins_working() {
    const FLOOD: usize = 100_000;
    const WARM_UP: usize = 10_000;
    const CONNECTIONS: usize = 32;
    let config = GatewayConfig::default()
        .server("rate_limits = { login = 0, callback = 0, token = 0, logout = 0 }")
        .sessions("max_pending_logins = 5000");
    let shop = Shop::start_with(config, "").expect("shop");
    shop.ready().await.expect("ready");
    let pid = shop.gateway.proc.pid();

    // A shopper who starts a login before the flood and finishes it after.
    let early = Shopper::new(&["shop"]).expect("client");
    let early_start = early.page(&shop.url("/account")).await.expect("page");
    assert_eq!(early_start.status(), 302);

    // Each login remembers where to return: a 1.5 KB query makes an unbounded store
    // grow by ~150 MB over the flood, a bounded one by at most ~8 MB.
    let url = shop.url(&format!("/account/search?q={}", "x".repeat(1500)));
    let client = anonymous([127, 0, 0, 1], CONNECTIONS);
    let flood = |count: usize| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let next = Arc::new(AtomicUsize::new(0));
            let deadline = Instant::now() + Duration::from_secs(240);
            let mut workers = Vec::new();
            for _ in 0..CONNECTIONS {
                let (client, url, next) = (client.clone(), url.clone(), next.clone());
                workers.push(tokio::spawn(async move {
                    let mut redirects = 0usize;
                    while next.fetch_add(1, Ordering::Relaxed) < count && Instant::now() < deadline {
                        let resp = client
                            .get(&url)
                            .header("accept", "text/html")
                            .send()
                            .await
                            .expect("flood request");
                        let status = resp.status();
                        let _ = resp.bytes().await;
                        assert_eq!(status, 302, "every anonymous page load is sent to the IdP");
                        redirects += 1;
                    }
                    redirects
                }));
            }
            let mut done = 0;
            for w in workers {
                done += w.await.expect("worker");
            }
            assert_eq!(done, count, "the flood did not finish in time");
        }
    };
    flood(WARM_UP).await;
    let before = rss_kib(pid);
    let started = Instant::now();
    flood(FLOOD).await;
    let after = rss_kib(pid);
    eprintln!(
        "gateway VmRSS: {before} KiB after {WARM_UP} warm-up logins, {after} KiB after {FLOOD} more \
         ({:+} KiB; flood took {:.1?})",
        after as i64 - before as i64,
        started.elapsed()
    );
    assert!(
        after < before + 64 * 1024,
        "RSS grew from {before} KiB to {after} KiB over {FLOOD} anonymous logins"
    );

    // The bound is real: the early shopper's pending login was evicted ...
    let landing = early.walk(early_start, "early").await.expect("walk");
    assert_eq!(landing.status, 400, "{landing:?}");
    assert!(landing.body.contains("state_unknown"), "{}", landing.body);
    // ... and a shopper arriving now signs in end to end.
    let shopper = Shopper::new(&["shop"]).expect("client");
    let landing = shop.sign_in(&shopper, "/account", "carol").await.expect("login");
    assert_eq!(landing.status, 200, "{landing:?}");
    assert_eq!(
        echo_of(&landing.body).expect("echo")["headers"]["x-customer-id"],
        "carol"
    );
}

#[tokio::test]
async fn a_burst_from_one_client_is_rate_limited_until_its_window_passes() {
    // Default limits: 60 login starts, 60 callbacks, 120 token and 60 logout
    // requests per client per minute.
    let shop = Shop::start().expect("shop");
    shop.ready().await.expect("ready");
    let burster = shopper_from([127, 0, 0, 2]);
    for i in 0..60 {
        let resp = burster.page(&shop.url(&format!("/account?i={i}"))).await.expect("page");
        assert_eq!(resp.status(), 302, "login start {i} is within the limit");
    }
    let refused = burster.page(&shop.url("/account")).await.expect("page");
    assert_eq!(refused.status(), 429);
    assert!(header(&refused, "content-type").starts_with("text/html"));
    assert!(set_cookies(refused.headers()).is_empty());
    let retry_after: u64 = header(&refused, "retry-after").parse().expect("Retry-After in seconds");
    assert!((1..=120).contains(&retry_after), "{retry_after}");
    assert!(refused.text().await.expect("body").contains("rate_limited"));
    let also = burster
        .page(&shop.url("/_sso/login?return_to=/account"))
        .await
        .expect("page");
    assert_eq!(also.status(), 429, "/_sso/login shares the login limit");

    // Another client is not affected.
    let other = Shopper::new(&["shop"]).expect("client");
    assert_eq!(other.page(&shop.url("/account")).await.expect("page").status(), 302);

    // Callback, token and logout have limits of their own (from a third address).
    let third = anonymous([127, 0, 0, 3], 4);
    for (endpoint, path, limit) in [
        ("callback", "/login/sso/callback?state=nope&code=nope", 60),
        ("token", "/_sso/token", 120),
        ("logout", "/_sso/logout", 60),
    ] {
        for i in 0..limit {
            let resp = third.get(shop.url(path)).send().await.expect("request");
            assert_ne!(resp.status(), 429, "{endpoint} request {i} is within the limit");
        }
        let resp = third
            .get(shop.url(path))
            .header("accept", "application/json")
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 429, "{endpoint}");
        assert!(header(&resp, "retry-after").parse::<u64>().is_ok(), "{endpoint}");
        let body: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(body["error"], "rate_limited", "{endpoint}");
    }
    let metrics = shop.gateway.metrics().await;
    for (endpoint, at_least) in [("login", 2.0), ("callback", 1.0), ("token", 1.0), ("logout", 1.0)] {
        let series = format!("sso_gateway_rate_limited_total{{endpoint=\"{endpoint}\",site=\"shop\"}}");
        assert!(metric(&metrics, &series) >= at_least, "{series} in\n{metrics}");
    }

    // Once its window has slid past, the client signs in again.
    let deadline = Instant::now() + Duration::from_secs(retry_after + 15);
    let landing = loop {
        let resp = burster.page(&shop.url("/account/orders")).await.expect("page");
        if resp.status() == 302 {
            break burster.walk(resp, "dave").await.expect("walk");
        }
        assert_eq!(resp.status(), 429);
        assert!(Instant::now() < deadline, "still limited {retry_after} s + 15 s later");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(landing.status, 200, "{landing:?}");
    assert_eq!(landing.url.as_str(), shop.url("/account/orders"));
}

#[tokio::test]
async fn a_browser_holds_at_most_three_flow_cookies_and_its_newest_login_completes() {
    let shop = Shop::start().expect("shop");
    shop.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let flow_cookies = || {
        shopper
            .cookies_for(&shop.url("/"))
            .split("; ")
            .filter(|c| c.starts_with("sso_session_flow_"))
            .count()
    };
    let mut starts = Vec::new();
    let mut names = Vec::new();
    let mut deleted = Vec::new();
    for i in 0..5 {
        let resp = shopper
            .page(&shop.url(&format!("/account?tab={i}")))
            .await
            .expect("page");
        assert_eq!(resp.status(), 302);
        let cookies = set_cookies(resp.headers());
        let name = |c: &String| c.split('=').next().unwrap_or("").to_string();
        names.push(name(&cookies[0]));
        for gone in &cookies[1..] {
            assert!(gone.contains("Max-Age=0"), "{gone}");
            deleted.push(name(gone));
        }
        assert!(
            flow_cookies() <= 3,
            "after login {i}: {}",
            shopper.cookies_for(&shop.url("/"))
        );
        starts.push(resp);
    }
    assert_eq!(flow_cookies(), 3, "{}", shopper.cookies_for(&shop.url("/")));
    assert_eq!(deleted.len(), 2, "{deleted:?}");
    assert!(!deleted.contains(&names[4]));

    // The newest login completes.
    let newest = starts.pop().expect("fifth");
    let landing = shopper.walk(newest, "erin").await.expect("walk");
    assert_eq!(landing.status, 200, "{landing:?}");
    assert_eq!(landing.url.as_str(), shop.url("/account?tab=4"));

    // A login whose cookie was replaced can no longer complete in this browser.
    let replaced = names.iter().position(|n| *n == deleted[0]).expect("a started login");
    let landing = shopper.walk(starts.swap_remove(replaced), "erin").await.expect("walk");
    assert_eq!(landing.status, 400, "{landing:?}");
    assert!(landing.body.contains("browser_mismatch"), "{}", landing.body);
}
