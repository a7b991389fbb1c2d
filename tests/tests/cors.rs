//! CORS (issue 20, section 5) against the real binary, the real `oidc-provider` and
//! the demo origin: a preflight on an `api` or `login` route reaches the origin and
//! the gateway sets nothing (no cookie, no login, no rate-limit budget);
//! `cors_preflight = "deny"` answers 403 and counts it; the gateway's own answers
//! to a cross-origin call carry `Vary: Origin`, and `Access-Control-Allow-Origin`
//! with credentials only for an origin in `cors_allow_origins`; hostile `Origin`
//! values never get one; `check` refuses bad values.

use sso_tests::gateway::check;
use sso_tests::raw_http::{send, RawResponse};
use sso_tests::{echo_of, GatewayConfig, Idp, Shop, Shopper, Storefront, COOKIE_SECRET};

const APP: &str = "http://app.shop.example";
const ACAO: &str = "access-control-allow-origin";
const ACAC: &str = "access-control-allow-credentials";

/// The usual shop (`/account` login, `/api` api), plus `/api/strict` that denies
/// preflights, `APP` allowed, and a login budget of two a minute.
async fn shop() -> Shop {
    let origin = Storefront::start().expect("origin");
    let config = GatewayConfig::default().server("rate_limits = { login = 2 }");
    let callback = format!("http://shop.localhost:{}/login/sso/callback", config.port);
    let idp = Idp::start(&[callback], &[]).expect("idp");
    let site = Shop::site_toml(&origin.addr(), &idp.issuer(), "").replacen(
        "[sites.oidc]",
        &format!("cors_allow_origins = [\"{APP}\"]\n[sites.oidc]"),
        1,
    );
    let site =
        format!("{site}[[sites.routes]]\nprefix = \"/api/strict\"\naccess = \"api\"\ncors_preflight = \"deny\"\n");
    let gateway = config.site(&site).start().expect("gateway");
    let shop = Shop { origin, idp, gateway };
    shop.ready().await.expect("ready");
    shop
}

/// A raw request to the shop: `head` is the request line's method and target, then
/// header lines.
fn raw(shop: &Shop, method_target: &str, headers: &str) -> RawResponse {
    let port = shop.gateway.port;
    let head = format!("{method_target} HTTP/1.1\r\nHost: shop.localhost:{port}\r\n{headers}");
    send(port, &head).unwrap_or_else(|e| panic!("{method_target}: {e}"))
}

fn preflight_headers(origin: &str) -> String {
    format!(
        "Origin: {origin}\r\nAccess-Control-Request-Method: DELETE\r\n\
         Access-Control-Request-Headers: content-type\r\nAccept: */*\r\n"
    )
}

#[tokio::test]
async fn a_preflight_reaches_the_origin_and_the_gateway_sets_nothing() {
    let shop = shop().await;
    let shopper = Shopper::new(&["shop"]).expect("client");
    for path in ["/api/orders", "/account/addresses", "/API/orders", "/"] {
        // Several, more than the login budget of two.
        for _ in 0..3 {
            let resp = shopper
                .http
                .request(reqwest::Method::OPTIONS, shop.url(path))
                .header("origin", "https://elsewhere.example")
                .header("access-control-request-method", "DELETE")
                .header("access-control-request-headers", "content-type")
                .send()
                .await
                .expect("preflight");
            assert_eq!(resp.status(), 200, "{path}: the origin answered");
            assert!(
                resp.headers().get("set-cookie").is_none(),
                "{path}: {:?}",
                resp.headers()
            );
            assert!(resp.headers().get("location").is_none(), "{path}");
            let echo = echo_of(&resp.text().await.expect("body")).expect("the origin's echo");
            assert_eq!(echo["method"], "OPTIONS", "{path}");
            assert_eq!(echo["headers"]["origin"], "https://elsewhere.example");
            assert_eq!(echo["headers"]["access-control-request-method"], "DELETE");
            assert!(echo["headers"].get("x-customer-id").is_none(), "{path}: no identity");
        }
    }
    assert_eq!(
        shopper.cookies_for(&shop.url("/")),
        "",
        "no flow cookie, no cookie at all"
    );
    // Nothing of the login budget went: a page load still starts a login.
    let start = shopper.page(&shop.url("/account")).await.expect("page load");
    let to = start
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or("");
    assert!(
        start.status().is_redirection() && to.starts_with(&shop.idp.issuer()),
        "the login starts, the preflights spent no budget: {} {to}",
        start.status()
    );
    let metrics = shop.gateway.metrics().await;
    assert!(!metrics.contains("sso_gateway_rate_limited_total{"), "{metrics}");

    // An OPTIONS that is no preflight is an ordinary request: 401 on an api route.
    for headers in [
        "Origin: https://elsewhere.example\r\nAccept: application/json\r\n",
        "Access-Control-Request-Method: DELETE\r\nAccept: application/json\r\n",
        "Accept: application/json\r\n",
    ] {
        let resp = raw(&shop, "OPTIONS /api/orders", headers);
        assert_eq!(resp.status, 401, "{headers:?}: {}", resp.body);
        assert!(resp.echo().is_none());
    }
}

#[tokio::test]
async fn deny_answers_403_counts_it_and_holds_only_preflights() {
    let shop = shop().await;
    let series = "sso_gateway_access_denied_total{reason=\"cors_preflight\",site=\"shop\"}";
    assert_eq!(shop.gateway.metric(series).await, 0.0);
    let resp = raw(&shop, "OPTIONS /api/strict/orders", &preflight_headers(APP));
    assert_eq!(resp.status, 403, "{}", resp.body);
    assert!(resp.echo().is_none(), "the origin never saw it");
    assert!(resp.header("set-cookie").is_none());
    let body: serde_json::Value = serde_json::from_str(&resp.body).expect("JSON");
    assert_eq!(body["error"], "access_denied");
    assert_eq!(body["reason"], "cors_preflight");
    assert!(resp
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json")));
    assert_eq!(shop.gateway.metric(series).await, 1.0);
    // Other requests on the route are the api rule's, as before.
    let resp = raw(&shop, "GET /api/strict/orders", "Accept: application/json\r\n");
    assert_eq!(resp.status, 401);
    // A preflight next door, on a route that lets them pass, reaches the origin.
    let resp = raw(
        &shop,
        "OPTIONS /api/orders",
        &format!(
            "{}Accept: application/json\r\n",
            preflight_headers(APP).replace("Accept: */*\r\n", "")
        ),
    );
    assert_eq!(resp.echo().expect("proxied")["method"], "OPTIONS");
    assert_eq!(shop.gateway.metric(series).await, 1.0);
}

#[tokio::test]
async fn the_gateways_answers_allow_only_a_listed_origin() {
    let shop = shop().await;
    let own = shop.url("");
    let call = |origin: Option<&str>| {
        let extra = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
        raw(
            &shop,
            "GET /api/orders",
            &format!("Accept: application/json\r\n{extra}"),
        )
    };
    // A listed origin: it may read the 401, its challenge included.
    let listed = call(Some(APP));
    assert_eq!(listed.status, 401);
    assert_eq!(listed.header(ACAO), Some(APP));
    assert_eq!(listed.header(ACAC), Some("true"));
    assert_eq!(listed.header("vary"), Some("Origin"));
    assert_eq!(listed.header("access-control-expose-headers"), Some("www-authenticate"));
    assert!(listed.header("www-authenticate").is_some());
    let body: serde_json::Value = serde_json::from_str(&listed.body).expect("JSON");
    assert_eq!(body["error"], "login_required");
    // Any other origin: only Vary.
    let other = call(Some("https://evil.example"));
    assert_eq!(other.status, 401);
    assert_eq!(other.header("vary"), Some("Origin"));
    assert_eq!(other.header(ACAO), None);
    assert_eq!(other.header(ACAC), None);
    // The site's own origin, and no Origin at all: as before.
    for origin in [Some(own.as_str()), None] {
        let resp = call(origin);
        assert_eq!(resp.status, 401);
        for name in ["vary", ACAO, ACAC, "access-control-expose-headers"] {
            assert_eq!(resp.header(name), None, "{origin:?}: {name}");
        }
    }

    // A headless storefront on the listed origin reads the session and gets an API
    // token with the shopper's cookie; another origin's script cannot read either.
    let shopper = Shopper::new(&["shop"]).expect("client");
    shop.sign_in(&shopper, "/account", "nora").await.expect("sign in");
    for path in ["/_sso/session", "/_sso/token"] {
        let read = |origin: &'static str| {
            shopper
                .http
                .get(shop.url(path))
                .header("accept", "application/json")
                .header("origin", origin)
                .send()
        };
        let resp = read(APP).await.expect("listed");
        assert_eq!(resp.status(), 200, "{path}");
        let h = resp.headers();
        assert_eq!(h.get(ACAO).and_then(|v| v.to_str().ok()), Some(APP), "{path}");
        assert_eq!(h.get(ACAC).and_then(|v| v.to_str().ok()), Some("true"), "{path}");
        let resp = read("https://evil.example").await.expect("other");
        assert!(resp.headers().get(ACAO).is_none(), "{path}");
        assert_eq!(resp.headers().get("vary").and_then(|v| v.to_str().ok()), Some("Origin"));
    }
    // A signed-in API call through the gateway's own gate is not touched: the
    // origin's answer is the origin's.
    let resp = shopper
        .http
        .get(shop.url("/api/orders"))
        .header("accept", "application/json")
        .header("origin", APP)
        .send()
        .await
        .expect("proxied");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers().get(ACAO).is_none(),
        "the gateway adds nothing to the origin's answer"
    );
}

#[tokio::test]
async fn hostile_origins_are_never_reflected_and_never_pass_as_preflights() {
    let shop = shop().await;
    let huge = format!("http://{}.example", "a".repeat(6000));
    let cases: Vec<(String, &str)> = vec![
        // Two Origin lines, both the listed one, or the listed one and another.
        (format!("Origin: {APP}\r\nOrigin: {APP}\r\n"), "two"),
        (
            format!("Origin: https://evil.example\r\nOrigin: {APP}\r\n"),
            "two, one listed",
        ),
        (format!("Origin: {APP}, https://evil.example\r\n"), "a list"),
        ("Origin: null\r\n".into(), "null"),
        (format!("Origin: {huge}\r\n"), "huge"),
        (format!("Origin: {APP}\x0b\r\n"), "a control character"),
        (format!("Origin: {}\r\n", APP.to_uppercase()), "upper case"),
        (format!("Origin: {APP}/\r\n"), "a trailing slash"),
        (format!("Origin: {APP}:80\r\n"), "the default port"),
        (format!("Origin: {APP}.evil.example\r\n"), "a longer host"),
        ("Origin: *\r\n".into(), "a star"),
    ];
    for (origin, what) in &cases {
        // An API call: never an Access-Control-Allow-Origin.
        let resp = raw(
            &shop,
            "GET /api/orders",
            &format!("Accept: application/json\r\n{origin}"),
        );
        assert!(
            matches!(resp.status, 400 | 401 | 431),
            "{what}: {} {}",
            resp.status,
            resp.body
        );
        assert_eq!(resp.header(ACAO), None, "{what}");
        assert_eq!(resp.header(ACAC), None, "{what}");
        // As a preflight: passes only when it is one well-formed origin (`null` is
        // one, a browser sends it from a sandboxed frame): the origin decides on it.
        let resp = raw(
            &shop,
            "OPTIONS /api/orders",
            &format!("{origin}Access-Control-Request-Method: PUT\r\nAccept: application/json\r\n"),
        );
        let proxied = resp.echo().is_some();
        let well_formed = matches!(*what, "null" | "upper case" | "the default port" | "a longer host");
        assert_eq!(proxied, well_formed, "{what}: {} {}", resp.status, resp.body);
        if !proxied {
            assert!(matches!(resp.status, 400 | 401 | 431), "{what}: {}", resp.status);
        }
        assert_eq!(resp.header(ACAO), None, "{what}");
    }
    // The gateway keeps serving.
    let resp = raw(
        &shop,
        "GET /api/orders",
        &format!("Accept: application/json\r\nOrigin: {APP}\r\n"),
    );
    assert_eq!(resp.header(ACAO), Some(APP));
}

#[test]
fn check_refuses_what_is_not_one_exact_origin() {
    let config = |site_keys: &str, route_keys: &str, public_url: &str| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:8080\"]\n[sessions]\ncookie_secret = \"{COOKIE_SECRET}\"\n\
             [[sites]]\nname = \"shop\"\nhosts = [\"shop.example\"]\nupstreams = [\"127.0.0.1:3000\"]\n\
             public_url = \"{public_url}\"\n{site_keys}\n\
             [sites.oidc]\nissuer = \"https://idp.example\"\nclient_id = \"c\"\nclient_secret = \"s\"\n\
             [[sites.routes]]\nprefix = \"/api\"\n{route_keys}\n"
        )
    };
    let http = "http://shop.example";
    let (ok, out) = check(
        &config(
            "cors_allow_origins = [\"https://App.Shop.Example:443\"]",
            "access = \"api\"\ncors_preflight = \"deny\"",
            http,
        ),
        &[],
    )
    .expect("check runs");
    assert!(ok, "{out}");
    for (site_keys, route_keys, public_url, says) in [
        (
            "",
            "access = \"api\"\ncors_preflight = \"maybe\"",
            http,
            "sites[0].routes[0].cors_preflight: \"maybe\" is not",
        ),
        (
            "",
            "cors_preflight = \"deny\"",
            http,
            "sites[0].routes[0].cors_preflight: only on a \"login\" or \"api\" route",
        ),
        (
            "cors_allow_origins = [\"*\"]",
            "",
            http,
            "sites[0].cors_allow_origins[0]: \"*\": no wildcards",
        ),
        (
            "cors_allow_origins = [\"null\"]",
            "",
            http,
            "cors_allow_origins[0]: \"null\" is never allowed",
        ),
        (
            "cors_allow_origins = [\"https://app.shop.example/\"]",
            "",
            http,
            "write \"https://app.shop.example\"",
        ),
        (
            "cors_allow_origins = [\"https://app.shop.example/cart\"]",
            "",
            http,
            "no path",
        ),
        (
            "cors_allow_origins = [\"app.shop.example\"]",
            "",
            http,
            "must be one origin",
        ),
        (
            "cors_allow_origins = [\"capacitor://localhost\"]",
            "",
            http,
            "only http and https",
        ),
        (
            "cors_allow_origins = [\"http://shop.example\"]",
            "",
            http,
            "this site's own public_url",
        ),
        (
            "cors_allow_origins = [\"https://a.example\", \"https://A.example:443\"]",
            "",
            http,
            "cors_allow_origins[1]: \"https://A.example:443\" is listed twice",
        ),
        (
            "cors_allow_origins = [\"http://app.shop.example\"]",
            "",
            "https://shop.example",
            "plain http on an https site",
        ),
    ] {
        let (ok, out) = check(&config(site_keys, route_keys, public_url), &[]).expect("check runs");
        assert!(!ok && out.contains(says), "{site_keys} {route_keys}: {out}");
    }
}
