//! Forward-auth (`<sso_prefix>/auth`, docs/forward-auth.md): real nginx and real Caddy
//! running the configs `deploy/examples/forward-auth/` ships, in front of the demo
//! origin, asking the real gateway; the real IdP; a real Chromium signing in through
//! each. Then the endpoint itself, asked directly as a proxy would: who may ask, what
//! it refuses, what an anonymous visitor gets (and never starts), what a signed-in
//! one gets, that it answers for no other site, and a one-time-token sign-in and a
//! logout through the proxy.

use reqwest::header::HeaderMap;
use serde_json::Value;
use sso_tests::proxies::{EdgeProxy, ProxyPorts};
use sso_tests::{echo_of, free_port, repo_root, Gateway, GatewayConfig, Idp, Shopper, Storefront};
use sso_tests::{CLIENT_ID, CLIENT_SECRET};
use std::time::Duration;

/// Longer than the script's own 100 s deadline: a hung `node` is killed, not waited on.
const JOURNEY_TIMEOUT: Duration = Duration::from_secs(150);
/// The site's identity headers (the defaults).
const IDENTITY: [&str; 8] = [
    "x-customer-id",
    "x-customer-email",
    "x-customer-name",
    "x-customer-groups",
    "x-customer-token",
    "x-customer-auth-time",
    "x-customer-acr",
    "x-customer-login-method",
];

/// The origin, the IdP and the gateway, with the site `shop` whose public URL is
/// `public_port` (the proxy's, or the gateway's own when the test plays the proxy).
struct Stack {
    origin: Storefront,
    idp: Idp,
    gateway: Gateway,
}

/// The shop's `[[sites]]` body: `/account` login, `/api` api, forward-auth in `mode`.
fn shop_site(name: &str, public_port: u16, origin: &str, issuer: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\nhosts = [\"{name}.localhost\"]\nupstreams = [\"{origin}\"]\n\
         public_url = \"http://{name}.localhost:{public_port}\"\n\
         [sites.oidc]\nissuer = \"{issuer}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n\
         {extra}\n\
         [[sites.routes]]\nprefix = \"/account\"\naccess = \"login\"\n\
         [[sites.routes]]\nprefix = \"/api\"\naccess = \"api\"\n"
    )
}

fn forward_auth(mode: &str) -> String {
    format!("[sites.forward_auth]\nenabled = true\nmode = \"{mode}\"\n")
}

impl Stack {
    /// `shop` on `public_port` with forward-auth in `mode`, and `other` (a plain
    /// signed-in site on the gateway's own port). Only 127.0.0.1 is a trusted proxy.
    fn start(config: GatewayConfig, public_port: u16, mode: &str, extra_server: &str) -> Stack {
        let origin = Storefront::start().expect("origin");
        let gw = config.port;
        let callbacks = [
            format!("http://shop.localhost:{public_port}/login/sso/callback"),
            format!("http://other.localhost:{gw}/login/sso/callback"),
        ];
        let post_logout = [
            format!("http://shop.localhost:{public_port}/"),
            format!("http://other.localhost:{gw}/"),
        ];
        let idp = Idp::start(&callbacks, &post_logout).expect("idp");
        let gateway = config
            .server("trusted_proxies = [\"127.0.0.1/32\"]")
            .server(extra_server)
            .site(&shop_site(
                "shop",
                public_port,
                &origin.addr(),
                &idp.issuer(),
                &forward_auth(mode),
            ))
            .site(&shop_site("other", gw, &origin.addr(), &idp.issuer(), ""))
            .start()
            .expect("gateway");
        Stack { origin, idp, gateway }
    }

    fn proxy_ports(&self, port: u16) -> ProxyPorts {
        ProxyPorts {
            port,
            gateway: self.gateway.port,
            origin: self.origin.addr(),
        }
    }
}

/// The guide shows the proxy configs the tests run: every line of each file (but
/// its header comments) is in docs/forward-auth.md, in a file's order.
#[test]
fn the_guide_shows_the_configs_the_tests_run() {
    let guide = std::fs::read_to_string(repo_root().join("docs/forward-auth.md")).expect("guide");
    for file in ["nginx.conf", "Caddyfile", "traefik.yml"] {
        let text = std::fs::read_to_string(repo_root().join("deploy/examples/forward-auth").join(file)).expect("file");
        let body = text.lines().skip_while(|l| l.starts_with('#') || l.is_empty());
        let mut from = 0;
        for line in body.filter(|l| !l.trim().is_empty()) {
            let at = guide[from..]
                .find(line)
                .unwrap_or_else(|| panic!("docs/forward-auth.md lacks (or misorders) this line of {file}: {line:?}"));
            from += at + line.len();
        }
    }
}

/// Runs the browser journey through `proxy` and returns what it saw.
async fn journey(proxy: &EdgeProxy, stack: &Stack, name: &str) -> Value {
    let screenshot = std::env::temp_dir().join(format!("sso-forward-auth-{name}-{}.png", proxy.port));
    let mut node = tokio::process::Command::new("node");
    node.arg(repo_root().join("tests/browser/forward_auth_journey.mjs"))
        .arg(proxy.url("shop", ""))
        .arg("judy")
        .arg(&screenshot)
        .kill_on_drop(true);
    let out = tokio::time::timeout(JOURNEY_TIMEOUT, node.output())
        .await
        .unwrap_or_else(|_| panic!("the journey did not end in {JOURNEY_TIMEOUT:?}"))
        .expect("node runs");
    let seen = sso_tests::script_result("journey", &out);
    assert!(
        seen.get("error").is_none() && seen["step"] == "done",
        "{name} journey failed: {seen}\nproxy log:\n{}\ngateway log:\n{}",
        proxy.log(),
        stack.gateway.log()
    );
    seen
}

/// What the browser journey must show, whichever proxy ran it.
fn judge_journey(seen: &Value, stack: &Stack, proxy: &EdgeProxy) {
    // Every forged value the browser sent says "forged".
    let no_forgery = |what: &str, echo: &Value| {
        let text = echo.to_string().to_ascii_lowercase();
        assert!(
            !text.contains("forged"),
            "{what}: the origin received a forged value: {echo}"
        );
    };
    // 1. The guest page: no identity at all.
    assert_eq!(seen["guest"]["greeting"], "Hello, guest.", "{seen}");
    no_forgery("guest page", &seen["guest"]["echo"]);
    for h in IDENTITY {
        let v = &seen["guest"]["echo"]["headers"][h];
        assert!(v.is_null() || v == "", "guest page: {h} = {v}");
    }
    // 2. The auth endpoint is not the browser's.
    assert_eq!(seen["authEndpoint"]["status"], 404, "{seen}");
    assert!(seen["authEndpoint"]["headers"]["x-customer-token"].is_null(), "{seen}");
    // 3. Signed in through the IdP, back on the page asked for, with the real identity.
    assert!(
        seen["idpPage"]
            .as_str()
            .is_some_and(|u| u.starts_with(&stack.idp.issuer())),
        "{seen}"
    );
    assert_eq!(
        seen["signedIn"]["finalUrl"],
        proxy.url("shop", "/account/orders?page=2"),
        "{seen}"
    );
    assert!(
        seen["signedIn"]["greeting"]
            .as_str()
            .is_some_and(|g| g.contains("Welcome back, Judy")),
        "{seen}"
    );
    let echo = &seen["signedIn"]["echo"];
    no_forgery("signed-in page", echo);
    let id = echo["headers"]["x-customer-id"].as_str().unwrap_or_default();
    assert!(!id.is_empty(), "no customer id at the origin: {echo}");
    let token = echo["headers"]["x-customer-token"].as_str().unwrap_or_default();
    assert_eq!(
        token.split('.').count(),
        3,
        "X-Customer-Token is not the gateway's JWT: {echo}"
    );
    assert_eq!(echo["headers"]["x-customer-login-method"], "oidc", "{echo}");
    let auth_time = echo["headers"]["x-customer-auth-time"].as_str().unwrap_or_default();
    assert!(auth_time.parse::<u64>().is_ok_and(|t| t > 0), "{echo}");
    assert!(
        seen["cookies"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["name"] == "sso_session" && c["httpOnly"] == true)),
        "{seen}"
    );
    // 4. Signed out: a guest again, and the login-only page asks to sign in.
    assert_eq!(seen["afterLogout"]["greeting"], "Hello, guest.", "{seen}");
    assert!(
        seen["afterLogout"]["loginOnlyPage"]
            .as_str()
            .is_some_and(|u| u.starts_with(&stack.idp.issuer())),
        "{seen}"
    );
}

#[tokio::test]
async fn nginx_auth_request_protects_the_origin_in_a_browser() {
    let proxy_port = free_port();
    let stack = Stack::start(GatewayConfig::default(), proxy_port, "status", "");
    let nginx = EdgeProxy::nginx(&stack.proxy_ports(proxy_port)).expect("nginx");
    stack.gateway.ready().await.expect("ready");
    let seen = journey(&nginx, &stack, "nginx").await;
    judge_journey(&seen, &stack, &nginx);
}

#[tokio::test]
async fn caddy_forward_auth_protects_the_origin_in_a_browser() {
    let proxy_port = free_port();
    let stack = Stack::start(GatewayConfig::default(), proxy_port, "redirect", "");
    let caddy = EdgeProxy::caddy(&stack.proxy_ports(proxy_port)).expect("caddy");
    stack.gateway.ready().await.expect("ready");
    let seen = journey(&caddy, &stack, "caddy").await;
    judge_journey(&seen, &stack, &caddy);
}

/// Through each proxy with a scripted client: a sign-in, what the origin gets for a
/// `POST`, for an API call, for spoofed headers in every spelling; the 401 of an
/// anonymous API call; a logout.
#[tokio::test]
async fn both_proxies_pass_the_identity_and_only_it() {
    for (name, mode) in [("nginx", "status"), ("caddy", "redirect")] {
        let proxy_port = free_port();
        let stack = Stack::start(GatewayConfig::default(), proxy_port, mode, "");
        let ports = stack.proxy_ports(proxy_port);
        let proxy = match name {
            "nginx" => EdgeProxy::nginx(&ports),
            _ => EdgeProxy::caddy(&ports),
        }
        .expect("proxy");
        stack.gateway.ready().await.expect("ready");
        let shopper = Shopper::new(&["shop"]).expect("shopper");
        // Anonymous: an API call is 401 and reaches nothing; a POST to a public page
        // reaches the origin as a POST, with no identity.
        let api = shopper.api(&proxy.url("shop", "/api/orders")).await.expect("api");
        assert_eq!(api.status(), 401, "{name}");
        let posted = shopper
            .http
            .post(proxy.url("shop", "/contact"))
            .header("accept", "application/json")
            .header("x-customer-id", "forged")
            .header("X_Customer_Id", "forged-underscore")
            .header("x-customer-token", "forged")
            .body("message=hello")
            .send()
            .await
            .expect("post");
        assert_eq!(posted.status(), 200, "{name}: {}", proxy.log());
        let echo = echo_of(&posted.text().await.expect("body")).expect("echo");
        assert_eq!(echo["method"], "POST", "{name}: {echo}");
        assert!(!echo.to_string().contains("forged"), "{name}: {echo}");
        // Sign in through the proxy.
        let start = shopper
            .page(&proxy.url("shop", "/account?x=1&y=2"))
            .await
            .expect("page");
        let landed = shopper.walk(start, "judy").await.expect("walk");
        assert_eq!(
            landed.status,
            200,
            "{name}: {:?}\n{}",
            landed.visited,
            stack.gateway.log()
        );
        assert_eq!(landed.url.as_str(), proxy.url("shop", "/account?x=1&y=2"), "{name}");
        let echo = echo_of(&landed.body).expect("echo");
        let id = echo["headers"]["x-customer-id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(!id.is_empty(), "{name}: {echo}");
        // Signed in: spoofed headers in every spelling still never reach the origin,
        // and an API call gets the identity.
        let api = shopper
            .http
            .get(proxy.url("shop", "/api/orders"))
            .header("accept", "application/json")
            .header("X-Customer-Id", "forged")
            .header("x_customer_id", "forged-underscore")
            .header("X-CUSTOMER-GROUPS", "forged-admins")
            .send()
            .await
            .expect("api");
        assert_eq!(api.status(), 200, "{name}");
        let echo = echo_of(&api.text().await.expect("body")).expect("echo");
        assert_eq!(echo["headers"]["x-customer-id"], id.as_str(), "{name}: {echo}");
        assert!(!echo.to_string().contains("forged"), "{name}: {echo}");
        // The browser cannot ask the auth endpoint itself.
        let own = shopper.api(&proxy.url("shop", "/_sso/auth")).await.expect("auth");
        assert_eq!(own.status(), 404, "{name}");
        assert!(own.headers().get("x-customer-token").is_none(), "{name}");
        // Logout through the proxy ends it: the login-only page asks to sign in again.
        let out = shopper.page(&proxy.url("shop", "/_sso/logout")).await.expect("logout");
        assert!(out.status().is_redirection(), "{name}: {}", out.status());
        let again = shopper.page(&proxy.url("shop", "/account")).await.expect("page");
        assert_eq!(again.status(), 302, "{name}");
        let to = again.headers()["location"].to_str().unwrap_or_default().to_string();
        assert!(to.contains("/_sso/login?return_to=%2Faccount"), "{name}: {to}");
    }
}

/// The forwarding headers of a proxy asking about `uri` on `host` (Traefik's and
/// Caddy's spelling).
fn asking(method: &str, host: &str, uri: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-forwarded-method", method.to_string()),
        ("x-forwarded-proto", "http".to_string()),
        ("x-forwarded-host", host.to_string()),
        ("x-forwarded-uri", uri.to_string()),
    ]
}

/// `GET <gateway>/_sso/auth` on the site `shop` from `client`, with these headers.
async fn ask(client: &Shopper, gateway: &Gateway, headers: &[(&str, String)]) -> reqwest::Response {
    let mut req = client.http.get(gateway.site_url("shop", "/_sso/auth"));
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    req.send().await.expect("ask")
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A refusal: the status, the error word, no-store, and no identity in it.
async fn refused(resp: reqwest::Response, status: u16, error: &str) {
    assert_eq!(resp.status(), status, "{error}");
    assert_eq!(header(resp.headers(), "cache-control"), Some("no-store"), "{error}");
    for h in IDENTITY {
        assert!(resp.headers().get(h).is_none(), "{error}: {h} in a refusal");
    }
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], error, "{body}");
}

#[tokio::test]
async fn only_the_proxy_may_ask_and_only_about_this_site() {
    let config = GatewayConfig::default();
    let gw = config.port;
    let stack = Stack::start(config, gw, "status", "");
    stack.gateway.ready().await.expect("ready");
    let host = format!("shop.localhost:{gw}");
    let proxy = Shopper::new(&["shop"]).expect("client");
    let json = || ("accept", "application/json".to_string());
    // A peer outside server.trusted_proxies, with a perfect request.
    let stranger = Shopper::from_address(&["shop"], Some("127.0.0.2".parse().expect("ip"))).expect("client");
    let mut h = asking("GET", &host, "/");
    h.push(json());
    refused(ask(&stranger, &stack.gateway, &h).await, 403, "forward_auth_untrusted").await;
    // The trusted proxy, with nothing to ask about, or two answers to the question.
    refused(
        ask(&proxy, &stack.gateway, &[json()]).await,
        400,
        "forwarded_url_missing",
    )
    .await;
    let mut h = asking("GET", &host, "/");
    h.extend([json(), ("x-original-url", format!("http://{host}/account"))]);
    refused(ask(&proxy, &stack.gateway, &h).await, 400, "forwarded_url_conflicting").await;
    // Another site's host, by either spelling.
    let mut h = asking("GET", &format!("other.localhost:{gw}"), "/");
    h.push(json());
    refused(ask(&proxy, &stack.gateway, &h).await, 403, "forward_auth_foreign_host").await;
    let h = [
        ("x-forwarded-method", "GET".to_string()),
        ("x-original-url", format!("http://other.localhost:{gw}/account")),
        json(),
    ];
    refused(ask(&proxy, &stack.gateway, &h).await, 403, "forward_auth_foreign_host").await;
    // Paths the gateway would not read as one path.
    for (uri, error) in [
        ("/public/..;/account", "ambiguous_dot_segment"),
        ("/account%2fx", "encoded_slash"),
        ("/account%zz", "bad_escape"),
    ] {
        let mut h = asking("GET", &host, uri);
        h.push(json());
        refused(ask(&proxy, &stack.gateway, &h).await, 400, error).await;
    }
    // The gateway's own paths, in any spelling, are never the origin's.
    for uri in [
        "/_sso/login",
        "/_SSO/ott?token=x",
        "/login/sso/callback?code=x",
        "/Login/SSO/callback",
    ] {
        let mut h = asking("GET", &host, uri);
        h.push(json());
        refused(ask(&proxy, &stack.gateway, &h).await, 404, "forward_auth_gateway_path").await;
    }
    // Only GET and HEAD.
    let post = proxy
        .http
        .post(stack.gateway.site_url("shop", "/_sso/auth"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("post");
    assert_eq!(post.status(), 405);
    // nginx's spelling from the trusted proxy is read (it survives the gateway's
    // removal of path overrides on requests it proxies).
    let h = [
        ("x-forwarded-method", "GET".to_string()),
        ("x-original-url", format!("http://{host}/")),
    ];
    let ok = ask(&proxy, &stack.gateway, &h).await;
    assert_eq!(ok.status(), 200, "{}", stack.gateway.log());
    // Counted by reason.
    let metrics = stack.gateway.metrics().await;
    assert!(
        metrics.contains("reason=\"forward_auth_foreign_host\""),
        "no rejected metric for the foreign host"
    );
}

#[tokio::test]
async fn an_anonymous_visitor_is_sent_to_sign_in_and_nothing_is_started() {
    let config = GatewayConfig::default();
    let gw = config.port;
    // Three logins a minute per client: forward-auth must spend none of them.
    let stack = Stack::start(config, gw, "status", "[server.rate_limits]\nlogin = 3");
    stack.gateway.ready().await.expect("ready");
    let host = format!("shop.localhost:{gw}");
    let proxy = Shopper::new(&["shop"]).expect("client");
    let page = || ("accept", "text/html,application/xhtml+xml".to_string());
    // A public page: 200 with every identity header, empty.
    let mut h = asking("GET", &host, "/");
    h.push(page());
    let public = ask(&proxy, &stack.gateway, &h).await;
    assert_eq!(public.status(), 200);
    assert_eq!(header(public.headers(), "cache-control"), Some("no-store"));
    for name in IDENTITY {
        assert_eq!(header(public.headers(), name), Some(""), "{name}");
    }
    // HEAD too.
    let head = proxy
        .http
        .head(stack.gateway.site_url("shop", "/_sso/auth"))
        .headers(reqwest_headers(&h))
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 200);
    // A page load of a login route, many times over: 401 with the sign-in address,
    // no cookie, no 429.
    let mut h = asking("GET", &host, "/account/orders?x=1&y=a%20b");
    h.push(page());
    let mut redirect = String::new();
    for _ in 0..10 {
        let resp = ask(&proxy, &stack.gateway, &h).await;
        assert_eq!(resp.status(), 401);
        assert!(resp.headers().get("set-cookie").is_none());
        assert_eq!(header(resp.headers(), "cache-control"), Some("no-store"));
        redirect = header(resp.headers(), "x-sso-redirect").unwrap_or_default().to_string();
    }
    assert_eq!(
        redirect,
        "/_sso/login?return_to=%2Faccount%2Forders%3Fx%3D1%26y%3Da%2520b"
    );
    // The sign-in address works, within a budget forward-auth did not touch, and
    // lands on the page asked for.
    let browser = Shopper::new(&["shop"]).expect("browser");
    let start = browser
        .page(&stack.gateway.site_url("shop", &redirect))
        .await
        .expect("login");
    assert!(start.status().is_redirection(), "{}", start.status());
    let landed = browser
        .walk_until(start, "judy", |u| u.path() == "/account/orders")
        .await
        .expect("walk");
    assert_eq!(
        landed.url.as_str(),
        stack.gateway.site_url("shop", "/account/orders?x=1&y=a%20b")
    );
    // A script's call on a login route: 401, no sign-in address.
    let mut h = asking("GET", &host, "/account/orders");
    h.push(("accept", "application/json".to_string()));
    let xhr = ask(&proxy, &stack.gateway, &h).await;
    assert_eq!(xhr.status(), 401);
    assert!(xhr.headers().get("x-sso-redirect").is_none());
    // An API route, even as a page load: 401 JSON.
    let mut h = asking("GET", &host, "/api/orders");
    h.push(page());
    let api = ask(&proxy, &stack.gateway, &h).await;
    assert_eq!(api.status(), 401);
    assert!(api.headers().get("x-sso-redirect").is_none());
    let body: Value = api.json().await.expect("json");
    assert_eq!(body["error"], "login_required");
}

fn reqwest_headers(pairs: &[(&str, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let (Ok(n), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(name.as_bytes()),
            reqwest::header::HeaderValue::from_str(value),
        ) {
            map.insert(n, v);
        }
    }
    map
}

#[tokio::test]
async fn redirect_mode_answers_the_redirect_itself() {
    let config = GatewayConfig::default();
    let gw = config.port;
    let stack = Stack::start(config, gw, "redirect", "");
    stack.gateway.ready().await.expect("ready");
    let host = format!("shop.localhost:{gw}");
    let proxy = Shopper::new(&["shop"]).expect("client");
    let mut h = asking("GET", &host, "/account");
    h.push(("accept", "text/html".to_string()));
    let resp = ask(&proxy, &stack.gateway, &h).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(
        header(resp.headers(), "location"),
        Some("/_sso/login?return_to=%2Faccount")
    );
    assert_eq!(header(resp.headers(), "cache-control"), Some("no-store"));
    assert!(resp.headers().get("set-cookie").is_none());
    // Not for a script, nor on an API route.
    for (uri, accept) in [("/account", "application/json"), ("/api/x", "text/html")] {
        let mut h = asking("GET", &host, uri);
        h.push(("accept", accept.to_string()));
        let resp = ask(&proxy, &stack.gateway, &h).await;
        assert_eq!(resp.status(), 401, "{uri}");
        assert!(resp.headers().get("location").is_none(), "{uri}");
    }
}

/// CORS through forward-auth (Traefik and Caddy hand non-2xx answers to the
/// browser): a preflight of an API route passes (200, no sign-in), and an allowed
/// origin's anonymous call gets its 401 with each CORS header once.
#[tokio::test]
async fn a_cross_origin_call_gets_the_cors_answer_once() {
    let config = GatewayConfig::default();
    let gw = config.port;
    let app = "http://app.localhost:5173";
    let stack = Stack::start(config, gw, "redirect", "");
    let text = std::fs::read_to_string(&stack.gateway.config_path).expect("config");
    let with_cors = text.replacen(
        "name = \"shop\"\n",
        &format!("name = \"shop\"\ncors_allow_origins = [\"{app}\"]\n"),
        1,
    );
    stack.gateway.rewrite_config(&with_cors).expect("rewrite");
    let (status, answer) = stack.gateway.reload(None).await.expect("reload");
    assert_eq!(status, 200, "{answer}");
    stack.gateway.ready().await.expect("ready");
    let host = format!("shop.localhost:{gw}");
    let proxy = Shopper::new(&["shop"]).expect("client");
    let mut h = asking("OPTIONS", &host, "/api/orders");
    h.extend([
        ("origin", app.to_string()),
        ("access-control-request-method", "POST".to_string()),
    ]);
    let preflight = ask(&proxy, &stack.gateway, &h).await;
    assert_eq!(preflight.status(), 200, "{}", stack.gateway.log());
    assert_eq!(header(preflight.headers(), "x-customer-id"), Some(""));
    let mut h = asking("GET", &host, "/api/orders");
    h.extend([
        ("origin", app.to_string()),
        ("accept", "application/json".to_string()),
        ("sec-fetch-mode", "cors".to_string()),
    ]);
    let call = ask(&proxy, &stack.gateway, &h).await;
    assert_eq!(call.status(), 401);
    let all = |name: &str| call.headers().get_all(name).iter().count();
    assert_eq!(all("access-control-allow-origin"), 1, "{:?}", call.headers());
    assert_eq!(header(call.headers(), "access-control-allow-origin"), Some(app));
    assert_eq!(all("access-control-allow-credentials"), 1, "{:?}", call.headers());
    assert_eq!(all("vary"), 1, "{:?}", call.headers());
}

#[tokio::test]
async fn a_signed_in_shopper_gets_the_identity_of_this_site_only() {
    let config = GatewayConfig::default();
    let gw = config.port;
    let stack = Stack::start(config, gw, "status", "");
    stack.gateway.ready().await.expect("ready");
    let host = format!("shop.localhost:{gw}");
    let shopper = Shopper::new(&["shop", "other"]).expect("shopper");
    // Signed in on `shop` through the gateway itself.
    let start = shopper
        .page(&stack.gateway.site_url("shop", "/account"))
        .await
        .expect("page");
    let landed = shopper.walk(start, "judy").await.expect("walk");
    assert_eq!(landed.status, 200);
    let direct = echo_of(&landed.body).expect("echo");
    // The proxy asks with the browser's headers (its cookie), forged identity too.
    for uri in ["/account", "/api/orders", "/"] {
        let mut h = asking("GET", &host, uri);
        h.push(("x-customer-id", "forged".to_string()));
        let resp = ask(&shopper, &stack.gateway, &h).await;
        assert_eq!(resp.status(), 200, "{uri}");
        let got = |n: &str| header(resp.headers(), n).unwrap_or_default().to_string();
        let origin_saw = |n: &str| direct["headers"][n].as_str().unwrap_or_default().to_string();
        assert!(!origin_saw("x-customer-id").is_empty(), "{direct}");
        for name in [
            "x-customer-id",
            "x-customer-email",
            "x-customer-name",
            "x-customer-groups",
        ] {
            assert_eq!(got(name), origin_saw(name), "{uri}: {name}");
        }
        assert_eq!(got("x-customer-token").split('.').count(), 3, "{uri}");
        assert_eq!(got("cache-control"), "no-store");
    }
    // Another site's session, shown to this site's auth endpoint, is nobody here.
    let other = Shopper::new(&["other"]).expect("other");
    let start = other
        .page(&stack.gateway.site_url("other", "/account"))
        .await
        .expect("page");
    assert_eq!(other.walk(start, "mallory").await.expect("walk").status, 200);
    let their_cookie = other.cookies_for(&stack.gateway.site_url("other", "/"));
    assert!(their_cookie.contains("sso_session="), "{their_cookie}");
    let fresh = Shopper::new(&["shop"]).expect("fresh");
    let mut h = asking("GET", &host, "/");
    h.push(("cookie", their_cookie));
    let resp = ask(&fresh, &stack.gateway, &h).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(resp.headers(), "x-customer-id"), Some(""));
    // After a logout, the same cookie is nobody.
    let out = shopper
        .page(&stack.gateway.site_url("shop", "/_sso/logout"))
        .await
        .expect("logout");
    assert!(out.status().is_redirection());
    let mut h = asking("GET", &host, "/account");
    h.push(("accept", "text/html".to_string()));
    assert_eq!(ask(&shopper, &stack.gateway, &h).await.status(), 401);
}

/// Cross-site sign-on through nginx: signed in on a site the gateway serves itself,
/// the shopper opens the proxied site and is signed in there by a one-time token (no
/// IdP page), which the origin behind nginx sees as the same customer. On an `opt_in`
/// site through a login route (401 → `/_sso/login` → the auth host); on an `auto`
/// site through a public page, whose automatic trip to the auth host `/auth` answers
/// as 401 + `X-Sso-Redirect` with the trip's state cookie (nginx takes no 3xx).
#[tokio::test]
async fn a_one_time_token_signs_in_through_the_proxy() {
    for (mode, page) in [("opt_in", "/account"), ("auto", "/")] {
        let origin = Storefront::start().expect("origin");
        let config = GatewayConfig::default();
        let gw = config.port;
        let proxy_port = free_port();
        let callbacks = [
            format!("http://shop.localhost:{proxy_port}/login/sso/callback"),
            format!("http://other.localhost:{gw}/login/sso/callback"),
        ];
        let idp = Idp::start(&callbacks, &[]).expect("idp");
        let linked = format!("[sites.sso]\nmode = \"{mode}\"\n");
        let gateway = config
            .server("trusted_proxies = [\"127.0.0.1/32\"]")
            .site(&shop_site(
                "shop",
                proxy_port,
                &origin.addr(),
                &idp.issuer(),
                &format!("{}{linked}", forward_auth("status")),
            ))
            .site(&shop_site(
                "other",
                gw,
                &origin.addr(),
                &idp.issuer(),
                "[sites.sso]\nmode = \"opt_in\"\n",
            ))
            .top("[sso]\nauth_host = \"http://auth.localhost:{port}\"")
            .start()
            .expect("gateway");
        let nginx = EdgeProxy::nginx(&ProxyPorts {
            port: proxy_port,
            gateway: gw,
            origin: origin.addr(),
        })
        .expect("nginx");
        gateway.ready().await.expect("ready");
        let shopper = Shopper::new(&["shop", "other", "auth"]).expect("shopper");
        let start = shopper
            .page(&gateway.site_url("other", "/account"))
            .await
            .expect("page");
        let first = shopper.walk(start, "olga").await.expect("walk");
        assert_eq!(first.status, 200, "{mode}: {:?}", first.visited);
        let id = echo_of(&first.body).expect("echo")["headers"]["x-customer-id"].clone();
        assert!(id.as_str().is_some_and(|i| !i.is_empty()), "{mode}: {id}");
        // The proxied site: no IdP page on the way, a one-time token through nginx.
        let start = shopper.page(&nginx.url("shop", page)).await.expect("page");
        let second = shopper.walk(start, "nobody").await.expect("walk");
        assert_eq!(second.status, 200, "{mode}: {:?}\n{}", second.visited, gateway.log());
        assert_eq!(second.url.path(), page, "{mode}");
        let idp_host = format!("127.0.0.1:{}", idp.port);
        assert!(
            second.visited.iter().all(|u| !u.as_str().contains(&idp_host)),
            "{mode}: {:?}",
            second.visited
        );
        assert!(
            second
                .visited
                .iter()
                .any(|u| u.as_str().starts_with(&nginx.url("shop", "/_sso/ott?"))),
            "{mode}: {:?}",
            second.visited
        );
        assert_eq!(
            echo_of(&second.body).expect("echo")["headers"]["x-customer-id"],
            id,
            "{mode}"
        );
    }
}
