//! Idle timeout and maximum session length per site (`[sites.session]`), as a
//! shopper and the stores see them, against the real binary, the real IdP and, for
//! the replicas, two gateways on one real Redis whose own `MONITOR` shows every
//! write-back: a session unused for its site's idle timeout is over on every replica
//! and the next page load starts a sign-in; a session in use is not ended; its last
//! use reaches the store at most once per `idle_timeout / 10`.
//!
//! The timeouts are a few seconds; every wait is bounded, and nothing asserts how
//! fast anything is.

use sso_tests::group::{Group, GroupOptions, HOSTS};
use sso_tests::replicas::{ReplicaOptions, Replicas};
use sso_tests::{echo_of, GatewayConfig, Idp, Shop, Shopper, Storefront};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Every host of these tests: the replicas' and the memory shop's, and the group's.
const ALL_HOSTS: [&str; 6] = ["shop", "shop-a", "shop-b", "shop-c", "shop-d", "auth"];

/// `/_sso/session` at `url` for a request showing this `Cookie` header.
async fn session_with_cookie(cookie: &str, url: &str) -> serde_json::Value {
    let client = Shopper::new(&ALL_HOSTS).expect("client");
    let resp = client
        .http
        .get(url)
        .header("accept", "application/json")
        .header("cookie", cookie)
        .send()
        .await
        .expect("session");
    resp.json().await.expect("json")
}

/// The customer the origin was told about for a request to `url` showing this
/// `Cookie` header (an API call: no redirect), or `None` when it was anonymous.
async fn customer_with_cookie(cookie: &str, url: &str) -> Option<String> {
    sso_tests::client::customer_as(&ALL_HOSTS, url, ("cookie", cookie)).await
}

/// Where a page load of `url` with this `Cookie` header is sent (`None`: answered).
async fn page_load_goes_to(cookie: &str, url: &str) -> Option<String> {
    let client = Shopper::new(&ALL_HOSTS).ok()?;
    let resp = client
        .http
        .get(url)
        .header("accept", "text/html")
        .header("cookie", cookie)
        .send()
        .await
        .ok()?;
    if !resp.status().is_redirection() {
        return None;
    }
    resp.headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_string)
}

/// Waits up to `limit` until `url` is anonymous for this cookie.
async fn anonymous_within(cookie: &str, url: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if customer_with_cookie(cookie, url).await.is_none() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The handle (`sid`) of `customer`'s only session on `shop`, from the admin listing.
async fn only_sid(gateway: &sso_tests::Gateway, customer: &str) -> String {
    let list: serde_json::Value = reqwest::get(gateway.admin_url(&format!("/sessions?site=shop&customer={customer}")))
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    list["sessions"][0]["sid"].as_str().expect("one session").to_string()
}

/// What Redis prints on a `MONITOR` connection, as it arrives.
struct Monitor(Arc<Mutex<Vec<String>>>);

impl Monitor {
    async fn start(port: u16) -> Monitor {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("redis");
        stream.write_all(b"MONITOR\r\n").await.expect("MONITOR");
        let mut reader = BufReader::new(stream).lines();
        assert_eq!(reader.next_line().await.expect("answer").as_deref(), Some("+OK"));
        let sink = lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = reader.next_line().await {
                sink.lock().expect("lines").push(line);
            }
        });
        Monitor(lines)
    }

    /// Redis's times (seconds, its own clock) of the commands that moved `key`'s TTL.
    fn ttl_writes(&self, key: &str) -> Vec<f64> {
        let wanted = format!("\"PEXPIRE\" \"{key}\"");
        let lines = self.0.lock().expect("lines").clone();
        lines
            .iter()
            .filter(|l| l.contains(&wanted))
            .filter_map(|l| l.trim_start_matches('+').split(' ').next()?.parse().ok())
            .collect()
    }

    /// The commands that read or moved `key`'s TTL, for a failure message (not the
    /// record: it holds the refresh token).
    fn about(&self, key: &str) -> String {
        let lines = self.0.lock().expect("lines").clone();
        let ttl = [format!("\"PEXPIRE\" \"{key}\""), format!("\"PTTL\" \"{key}\"")];
        let shown: Vec<String> = lines
            .into_iter()
            .filter(|l| ttl.iter().any(|t| l.contains(t)))
            .collect();
        shown.join("\n")
    }
}

#[tokio::test]
async fn on_two_replicas_an_idle_session_ends_on_both_one_in_use_lives_and_redis_sees_one_write_back_per_window() {
    let idle = Duration::from_secs(4);
    let window = idle / 10;
    let r = Replicas::start(ReplicaOptions {
        own_redis: true,
        // L1 copies may live longer than a write-back window: they must not be
        // trusted past it.
        sessions: "l1_ttl = \"10s\"",
        site: "[sites.session]\nidle_timeout = \"4s\"\nabsolute_timeout = \"1h\"",
        ..ReplicaOptions::default()
    })
    .expect("replicas");
    r.ready().await.expect("ready");
    let monitor = Monitor::start(r.redis.port).await;
    let shopper = Shopper::new(&["shop"]).expect("client");
    let before_sign_in = Instant::now();
    let landing = shopper
        .walk(shopper.page(&r.url_a("/account")).await.expect("start"), "nina")
        .await
        .expect("walk");
    assert_eq!(landing.status, 200, "{landing:?}");
    let cookie = shopper.cookies_for(&r.url_a("/"));
    let key = format!("{}:session:{}", r.prefix, only_sid(&r.b, "nina").await);

    // In use, alternately on A and B, for two and a half idle timeouts, far more
    // often than once a window: never ended.
    let mut on_a = false;
    while before_sign_in.elapsed() < idle * 5 / 2 {
        on_a = !on_a;
        let url = if on_a { r.url_a("/account") } else { r.url_b("/account") };
        assert_eq!(
            customer_with_cookie(&cookie, &url).await.as_deref(),
            Some("nina"),
            "in use, yet ended (on {}):\n{}",
            if on_a { "A" } else { "B" },
            monitor.about(&key)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let in_use_for = before_sign_in.elapsed();

    // Redis saw the uses written back, and never twice within a window.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let writes = monitor.ttl_writes(&key);
    assert!(
        !writes.is_empty(),
        "uses over {in_use_for:?} were written back:\n{}",
        monitor.about(&key)
    );
    let most = in_use_for.as_millis() / window.as_millis();
    assert!(
        writes.len() as u128 <= most,
        "{} write-backs in {in_use_for:?}:\n{}",
        writes.len(),
        monitor.about(&key)
    );
    for pair in writes.windows(2) {
        assert!(
            pair[1] - pair[0] >= window.as_secs_f64() - 0.002,
            "two write-backs {} s apart:\n{}",
            pair[1] - pair[0],
            monitor.about(&key)
        );
    }

    // Unused for its idle timeout: anonymous on both replicas, and a page load starts
    // a sign-in. (Asking is a use: it would keep a live session alive, so this can
    // only pass when the session is really over.)
    tokio::time::sleep(idle).await;
    assert!(anonymous_within(&cookie, &r.url_a("/account"), Duration::from_secs(2)).await);
    assert!(anonymous_within(&cookie, &r.url_b("/account"), Duration::from_secs(2)).await);
    let login = page_load_goes_to(&cookie, &r.url_b("/account"))
        .await
        .expect("a redirect");
    assert!(login.contains("/auth") || login.contains("/_sso/login"), "{login}");
    let session = session_with_cookie(&cookie, &r.url_a("/_sso/session")).await;
    assert_eq!(session["authenticated"], false, "{session}");
    assert_eq!(session["idle_expires_at"], serde_json::Value::Null, "{session}");
}

/// One shop on the memory store whose site has `[sites.session]` `session`.
fn shop_with(session: &str) -> (Shop, GatewayConfig) {
    let origin = Storefront::start().expect("origin");
    let config = GatewayConfig::default();
    let port = config.port;
    let idp = Idp::start(
        &[format!("http://shop.localhost:{port}/login/sso/callback")],
        &[format!("http://shop.localhost:{port}/")],
    )
    .expect("idp");
    let site = format!(
        "{}[sites.session]\n{session}\n",
        Shop::site_toml(&origin.addr(), &idp.issuer(), "")
    );
    let config = config.site(&site);
    let gateway = config.clone().start().expect("gateway");
    (Shop { origin, idp, gateway }, config)
}

#[tokio::test]
async fn in_memory_an_idle_session_ends_api_calls_count_as_use_and_the_session_endpoint_tells_both_ends() {
    let idle = Duration::from_secs(3);
    let (shop, _) = shop_with("idle_timeout = \"3s\"\nabsolute_timeout = \"1h\"");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let landing = shop.sign_in(&shopper, "/account", "olga").await.expect("sign in");
    assert_eq!(landing.status, 200, "{landing:?}");

    // Both ends, in the format of the endpoint's other times: the idle deadline at
    // most the idle timeout after this request (itself a use), the absolute end the
    // site's absolute timeout after the sign-in.
    let unix = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    let before = unix();
    let s = session_with_cookie(&shopper.cookies_for(&shop.url("/")), &shop.url("/_sso/session")).await;
    let after = unix();
    let at = |key: &str| {
        let text = s[key].as_str().unwrap_or_else(|| panic!("{key} in {s}"));
        assert!(text.ends_with('Z'), "{key}: {text}");
        unix_of(text)
    };
    let (auth_time, idle_ends, ends) = (at("auth_time"), at("idle_expires_at"), at("expires_at"));
    assert!(idle_ends <= ends, "{s}");
    assert!(idle_ends + 1 >= before && idle_ends <= after + 3, "{s}");
    assert!(ends <= after + 3600 && ends >= auth_time + 3600, "{s}");

    // API calls with a token from /_sso/token are uses: only they, for two idle
    // timeouts, and the session lives on (the token came from a cookie request).
    let token = shop.api_token(&shopper).await.expect("token");
    let bearer = Shopper::new(&["shop"]).expect("client");
    let started = Instant::now();
    while started.elapsed() < idle * 2 {
        let resp = bearer
            .http
            .get(shop.url("/api/orders"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("api");
        assert_eq!(resp.status(), 200, "API calls keep the session in use");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let cookie = shopper.cookies_for(&shop.url("/"));
    assert_eq!(
        customer_with_cookie(&cookie, &shop.url("/account")).await.as_deref(),
        Some("olga")
    );

    // Unused: over, for the cookie and for the API token alike.
    tokio::time::sleep(idle).await;
    assert!(anonymous_within(&cookie, &shop.url("/account"), Duration::from_secs(2)).await);
    let login = page_load_goes_to(&cookie, &shop.url("/account"))
        .await
        .expect("a redirect");
    assert!(login.contains("/auth") || login.contains("/_sso/login"), "{login}");
    let resp = bearer
        .http
        .get(shop.url("/api/orders"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("api");
    assert_eq!(resp.status(), 401, "the token of an ended session is refused");
}

/// Unix seconds of an RFC 3339 time the gateway wrote (`2024-01-02T03:04:05Z`).
fn unix_of(text: &str) -> u64 {
    let t = std::time::SystemTime::UNIX_EPOCH;
    let parsed = parse_rfc3339(text).unwrap_or_else(|| panic!("not RFC 3339: {text}"));
    parsed.duration_since(t).map(|d| d.as_secs()).unwrap_or(0)
}

fn parse_rfc3339(text: &str) -> Option<std::time::SystemTime> {
    // YYYY-MM-DDTHH:MM:SSZ, UTC (the gateway writes whole seconds).
    let b = text.as_bytes();
    if b.len() != 20 || b[19] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, s) = (n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?, n(17..19)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + mi * 60 + s).ok()?;
    std::time::SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

#[tokio::test]
async fn a_reload_that_lengthens_the_idle_timeout_reaches_sessions_already_signed_in() {
    let (shop, config) = shop_with("idle_timeout = \"4s\"");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let landing = shop.sign_in(&shopper, "/account", "pia").await.expect("sign in");
    assert_eq!(landing.status, 200, "{landing:?}");
    let cookie = shopper.cookies_for(&shop.url("/"));
    let longer = config
        .render()
        .replace("idle_timeout = \"4s\"", "idle_timeout = \"20s\"");
    shop.gateway.rewrite_config(&longer).expect("rewrite");
    let (status, answer) = shop.gateway.reload(None).await.expect("reload");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["restart_required"], serde_json::json!([]), "{answer}");
    // The first use after the reload writes the longer deadline back; then the
    // session outlives the old timeout unused.
    assert_eq!(
        customer_with_cookie(&cookie, &shop.url("/account")).await.as_deref(),
        Some("pia")
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        customer_with_cookie(&cookie, &shop.url("/account")).await.as_deref(),
        Some("pia"),
        "the reload's idle timeout applies:\n{}",
        shop.gateway.log()
    );
}

/// A session signed in by a one-time token follows its site's idle timeout; once it
/// is over, the group signs the shopper back in by its own rules (a new session, no
/// IdP page). The site where the shopper signed in at the IdP holds the grant: when
/// its session idles out, the SSO session signs nobody in any more.
#[tokio::test]
async fn idle_timeouts_in_a_cross_site_group() {
    let group = Group::start(GroupOptions {
        site_extra: &[
            (
                "shop-b",
                "[sites.session]\nidle_timeout = \"3s\"\nabsolute_timeout = \"2h\"",
            ),
            ("shop-a", "[sites.session]\nidle_timeout = \"6s\""),
        ],
        ..GroupOptions::default()
    })
    .expect("group");
    group.ready().await.expect("ready");
    let went_through_idp = |landing: &sso_tests::client::Landing| {
        let idp = group.idp_authority();
        landing
            .visited
            .iter()
            .any(|u| format!("{}:{}", u.host_str().unwrap_or(""), u.port().unwrap_or(80)) == idp)
    };
    let shopper = Shopper::new(&HOSTS).expect("client");
    let a = shopper
        .walk(shopper.page(&group.url("shop-a", "/account")).await.expect("a"), "rita")
        .await
        .expect("sign in on a");
    assert_eq!(a.status, 200, "{a:?}");
    let b = shopper
        .walk(
            shopper.page(&group.url("shop-b", "/account")).await.expect("b"),
            "nobody",
        )
        .await
        .expect("b");
    assert!(!went_through_idp(&b), "{:?}", b.visited);
    assert_eq!(echo_of(&b.body).expect("echo")["headers"]["x-customer-id"], "rita");
    let first_b = shopper.cookies_for(&group.url("shop-b", "/"));
    // Made by a one-time token, it has shop-b's absolute timeout.
    let (before, s, after) = timed_session(&first_b, &group.url("shop-b", "/_sso/session")).await;
    assert_eq!(s["method"], "ott", "{s}");
    assert_ends_after(&s, before, after, 2 * 3600);

    // shop-b's session idles out (shop-a's is used meanwhile and lives on).
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(4) {
        assert_eq!(
            customer_with_cookie(
                &shopper.cookies_for(&group.url("shop-a", "/")),
                &group.url("shop-a", "/account")
            )
            .await
            .as_deref(),
            Some("rita")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(anonymous_within(&first_b, &group.url("shop-b", "/account"), Duration::from_secs(2)).await);
    // The next page load starts a sign-in, and the group signs the shopper back in
    // with a new session: the idled-out one is not revived.
    let again = shopper
        .walk(
            shopper.page(&group.url("shop-b", "/account")).await.expect("b again"),
            "nobody",
        )
        .await
        .expect("b again");
    assert!(!went_through_idp(&again), "{:?}", again.visited);
    assert!(
        again.visited.iter().any(|u| u.path() == "/_sso/ott"),
        "{:?}",
        again.visited
    );
    assert_eq!(echo_of(&again.body).expect("echo")["headers"]["x-customer-id"], "rita");
    assert!(customer_with_cookie(&first_b, &group.url("shop-b", "/account"))
        .await
        .is_none());

    // shop-a's session (the IdP grant's holder) idles out: its own next page load
    // goes back to the IdP; the SSO session does not stand in for the grant.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let a_cookie = shopper.cookies_for(&group.url("shop-a", "/"));
    assert!(anonymous_within(&a_cookie, &group.url("shop-a", "/account"), Duration::from_secs(2)).await);
    let back = shopper
        .walk(
            shopper.page(&group.url("shop-a", "/account")).await.expect("a again"),
            "rita",
        )
        .await
        .expect("a again");
    assert!(went_through_idp(&back), "{:?}", back.visited);
    assert_eq!(echo_of(&back.body).expect("echo")["headers"]["x-customer-id"], "rita");
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `/_sso/session` for this cookie, with the Unix seconds just before and after.
async fn timed_session(cookie: &str, url: &str) -> (u64, serde_json::Value, u64) {
    let before = unix_now();
    let s = session_with_cookie(cookie, url).await;
    (before, s, unix_now())
}

/// `expires_at` is `absolute` seconds after the session was made, which was at most
/// a minute before `before`.
fn assert_ends_after(s: &serde_json::Value, before: u64, after: u64, absolute: u64) {
    let ends = unix_of(s["expires_at"].as_str().unwrap_or_else(|| panic!("expires_at in {s}")));
    assert!(ends <= after + absolute && ends + 60 >= before + absolute, "{s}");
}

/// The site's `absolute_timeout` is sealed in every session made on it, whatever
/// signed the shopper in: the IdP, a customer-login JWT (a one-time token: above).
#[tokio::test]
async fn the_sites_absolute_timeout_applies_to_every_sign_in_method() {
    const SECRET: &str = "merchant-website-secret-0123456789abcdef";
    let extra = format!(
        "\n[sites.customer_login]\nclient_id = \"merchant-site\"\nclient_secret = \"{SECRET}\"\nstore_hash = \"abc123\"\n\
         [sites.provisioning]\nurl = \"http://{{origin}}/hooks/provision\"\n\
         [sites.session]\nabsolute_timeout = \"90m\"\n"
    );
    let shop = Shop::start_with(GatewayConfig::default(), &extra).expect("shop");
    shop.ready().await.expect("ready");

    let by_idp = Shopper::new(&["shop"]).expect("client");
    let landing = shop.sign_in(&by_idp, "/account", "uma").await.expect("sign in");
    assert_eq!(landing.status, 200, "{landing:?}");
    let (before, s, after) = timed_session(&by_idp.cookies_for(&shop.url("/")), &shop.url("/_sso/session")).await;
    assert_eq!(s["method"], "oidc", "{s}");
    assert_ends_after(&s, before, after, 90 * 60);

    let claims = serde_json::json!({
        "iss": "merchant-site",
        "iat": unix_now(),
        "jti": format!("jti-idle-{}", unix_now()),
        "operation": "customer_login",
        "store_hash": "abc123",
        "customer_id": 77,
        "redirect_to": "/account",
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign");
    let by_jwt = Shopper::new(&["shop"]).expect("client");
    let resp = by_jwt
        .page(&shop.url(&format!("/login/token/{token}")))
        .await
        .expect("login");
    assert_eq!(resp.status(), 303);
    let (before, s, after) = timed_session(&by_jwt.cookies_for(&shop.url("/")), &shop.url("/_sso/session")).await;
    assert_eq!(s["method"], "customer_login", "{s}");
    assert_ends_after(&s, before, after, 90 * 60);
}
