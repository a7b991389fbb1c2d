//! What the gateway writes to its log, read back as an operator would: JSON lines
//! that never hold a secret, a token, a cookie, a code or a state; and request ids
//! that tie the shopper's answer, the origin's request and the log lines together.

use serde_json::{json, Value};
use sso_tests::{echo_of, GatewayConfig, Idp, Shop, Shopper, Storefront, CLIENT_SECRET, COOKIE_SECRET};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MERCHANT_SECRET: &str = "merchant-website-secret-0123456789abcdef";
const HOOK_SECRET: &str = "provisioning-hook-secret-0123456789";
const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";

/// The shop of these tests: an IdP (with logout carrying the ID token, so the test
/// can see it), a route that forwards the IdP access token (so the test can see
/// it), the merchant's customer-login JWTs and a provisioning hook with a secret.
fn site_extra(origin: &str) -> String {
    format!(
        "logout_id_token_hint = true\n\
         [sites.customer_login]\nclient_id = \"merchant-site\"\nclient_secret = \"{MERCHANT_SECRET}\"\nstore_hash = \"abc123\"\n\
         [sites.provisioning]\nurl = \"http://{origin}/hooks/provision\"\nsecret = \"{HOOK_SECRET}\"\n\
         [[sites.routes]]\nprefix = \"/account/idp\"\naccess = \"login\"\nforward_idp_access_token = true\n"
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn customer_login_jwt(customer_id: u64) -> String {
    let claims = json!({
        "iss": "merchant-site",
        "iat": now(),
        "jti": format!("jti-log-{customer_id}-{}", now()),
        "operation": "customer_login",
        "store_hash": "abc123",
        "customer_id": customer_id,
        "redirect_to": "/account",
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(MERCHANT_SECRET.as_bytes()),
    )
    .expect("sign")
}

/// The values of the credential cookies the shopper holds for `url` (not the short
/// markers such as `off`).
fn cookie_values(shopper: &Shopper, url: &str) -> Vec<String> {
    let values: Vec<String> = shopper
        .cookies_for(url)
        .split(';')
        .filter_map(|c| c.split_once('=').map(|(_, v)| v.trim().to_string()))
        .filter(|v| v.len() >= 16)
        .collect();
    assert!(!values.is_empty(), "no session cookie for {url}");
    values
}

/// The `code` and `state` of a callback URL (its `iss` is the issuer, which is public).
fn code_and_state(url: &reqwest::Url) -> Vec<String> {
    url.query_pairs()
        .filter(|(k, _)| k == "code" || k == "state")
        .map(|(_, v)| v.into_owned())
        .collect()
}

async fn echo(shopper: &Shopper, url: &str) -> Value {
    let resp = shopper
        .http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200, "{url}");
    echo_of(&resp.text().await.expect("body")).expect("echo")
}

/// Parameter `name` of the URL a redirect points to.
fn redirect_param(resp: &reqwest::Response, name: &str) -> String {
    let location = resp.headers()["location"].to_str().expect("location");
    let url = reqwest::Url::parse(location).expect("an absolute redirect");
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// The gateway's log once `ready` says it holds what the test waits for (access
/// lines are written after the answer is sent), or after 5 s.
async fn log_once(gateway: &sso_tests::Gateway, ready: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut log = gateway.log();
    while !ready(&log) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        log = gateway.log();
    }
    log
}

fn bearer_of(echo: &Value) -> String {
    let auth = echo["headers"]["authorization"].as_str().expect("authorization");
    auth.strip_prefix("Bearer ").expect("bearer").to_string()
}

#[tokio::test]
async fn nothing_that_signs_anyone_in_is_ever_logged() {
    let origin = Storefront::start().expect("origin");
    let config = GatewayConfig::default()
        .server("log_format = \"json\"\nlog_level = \"debug,pingora=info,h2=info,hyper=info,reqwest=info\"")
        .server(&format!("admin_token = \"{ADMIN_TOKEN}\""));
    let callback = format!("http://shop.localhost:{}/login/sso/callback", config.port);
    // A 4 s access token: the shopper's next request after 3 s refreshes it.
    let env = [("ACCESS_TOKEN_TTL", "4")];
    let idp = Idp::start_with(sso_tests::free_port(), std::slice::from_ref(&callback), &[], &env).expect("idp");
    let site = Shop::site_toml(&origin.addr(), &idp.issuer(), &site_extra(&origin.addr()));
    let gateway = config.site(&site).start().expect("gateway");
    let shop = Shop { origin, idp, gateway };
    let mut used: Vec<(String, String)> = vec![
        ("client secret".into(), CLIENT_SECRET.into()),
        ("cookie secret".into(), COOKIE_SECRET.into()),
        ("merchant secret".into(), MERCHANT_SECRET.into()),
        ("hook secret".into(), HOOK_SECRET.into()),
        ("admin token".into(), ADMIN_TOKEN.into()),
    ];

    // 1. A full IdP login: the code and state of the callback, the session cookie.
    let shopper = Shopper::new(&["shop"]).expect("client");
    let landing = shop.sign_in(&shopper, "/account", "lena").await.expect("login");
    let callback_url = landing
        .visited
        .iter()
        .find(|u| u.path() == "/login/sso/callback")
        .expect("the callback was visited");
    let values = code_and_state(callback_url);
    assert_eq!(values.len(), 2, "{callback_url}");
    for value in values {
        used.push(("callback code or state".into(), value));
    }
    for value in cookie_values(&shopper, &shop.url("/")) {
        used.push(("session cookie".into(), value));
    }
    // The tokens the origin gets: the gateway's customer token and the IdP access token.
    let seen = echo(&shopper, &shop.url("/account/idp/profile")).await;
    let customer_token = seen["headers"]["x-customer-token"].as_str().expect("customer token");
    used.push(("X-Customer-Token".into(), customer_token.to_string()));
    let first_access_token = bearer_of(&seen);
    used.push(("IdP access token".into(), first_access_token.clone()));
    // The API token, used as a bearer.
    let api_token = shop.api_token(&shopper).await.expect("api token");
    let resp = shopper
        .http
        .get(shop.url("/api/orders"))
        .bearer_auth(&api_token)
        .send()
        .await
        .expect("api call");
    assert_eq!(resp.status(), 200);
    used.push(("API token".into(), api_token));

    // 2. A refresh: past three quarters of the access token's life.
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let refreshed = bearer_of(&echo(&shopper, &shop.url("/account/idp/profile")).await);
    assert_ne!(refreshed, first_access_token, "the access token was refreshed");
    used.push(("refreshed IdP access token".into(), refreshed));

    // 3. A customer-login JWT sign-in in another browser, and its session cookie.
    let merchant_customer = Shopper::new(&["shop"]).expect("client");
    let jwt = customer_login_jwt(42);
    let resp = merchant_customer
        .page(&shop.url(&format!("/login/token/{jwt}")))
        .await
        .expect("customer login");
    assert_eq!(resp.status(), 303);
    let seen = echo(&merchant_customer, &shop.url("/account")).await;
    assert_eq!(seen["headers"]["x-customer-id"], "42");
    used.push(("customer-login JWT".into(), jwt.clone()));
    // Its signature alone, so a log that cut the token elsewhere is caught too.
    used.push((
        "customer-login JWT signature".into(),
        jwt.rsplit('.').next().unwrap_or_default().to_string(),
    ));
    for value in cookie_values(&merchant_customer, &shop.url("/")) {
        used.push(("customer-login session cookie".into(), value));
    }

    // 4. Logout sends the ID token to the IdP as id_token_hint.
    let resp = shopper.page(&shop.url("/_sso/logout")).await.expect("logout");
    let id_token = redirect_param(&resp, "id_token_hint");
    used.push(("ID token".into(), id_token));

    // 5. Hostile input of the same kinds: a forged session cookie and a forged bearer.
    let forged = shopper
        .http
        .get(shop.url("/account"))
        .header("cookie", "sso_session=forged-session-value-0123456789")
        .bearer_auth("forged-bearer-value-0123456789")
        .send()
        .await
        .expect("forged");
    assert!(forged.status().is_redirection() || forged.status() == 401);
    used.push(("forged cookie".into(), "forged-session-value-0123456789".into()));
    used.push(("forged bearer".into(), "forged-bearer-value-0123456789".into()));

    // Wait for the last request's access line, so every line is in.
    let last_id = forged.headers()["x-request-id"].to_str().expect("ascii").to_string();
    let log = log_once(&shop.gateway, |log| log.contains(&last_id)).await;
    assert!(log.contains(&last_id), "the last request's access line:\n{log}");
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 20, "the log has the requests' lines:\n{log}");
    for (what, value) in &used {
        assert!(value.len() >= 8, "{what} is too short to grep for: {value:?}");
        if let Some(line) = lines.iter().find(|l| l.contains(value.as_str())) {
            panic!("the {what} is in the log:\n{line}");
        }
    }
    // JSON lines, each one, and the login outcomes carry the request's id.
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let login_lines: Vec<&Value> = parsed
        .iter()
        .filter(|v| {
            let message = v["message"].as_str().unwrap_or_default();
            message == "login succeeded" || message == "customer login succeeded"
        })
        .collect();
    assert_eq!(login_lines.len(), 2, "two login outcomes:\n{log}");
    for line in login_lines {
        let id = line["span"]["request_id"].as_str().unwrap_or_default();
        assert_eq!(id.len(), 32, "a login outcome without a request id: {line}");
        let access = parsed
            .iter()
            .find(|v| v["target"] == "access" && v["request_id"] == id)
            .unwrap_or_else(|| panic!("no access line for request {id}:\n{log}"));
        assert!(
            access["status"].as_u64().is_some_and(|s| (300..400).contains(&s)),
            "{access}"
        );
    }
}

#[tokio::test]
async fn request_ids_tie_the_answer_the_origin_and_the_log_together() {
    let origin = Storefront::start().expect("origin");
    // The gateway believes 127.0.0.1 as a proxy; the other gateway believes nobody.
    let trusting = GatewayConfig::default()
        .server("trusted_proxies = [\"127.0.0.1/32\"]")
        .plain_site("shop", &[origin.addr()])
        .start()
        .expect("gateway");
    let untrusting = GatewayConfig::default()
        .plain_site("shop", &[origin.addr()])
        .start()
        .expect("gateway");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let get = |gw: &sso_tests::Gateway, id: Option<&str>| {
        let mut req = shopper.http.get(gw.site_url("shop", "/products"));
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        req.send()
    };

    // The id the origin was sent.
    async fn origin_got(resp: reqwest::Response) -> String {
        let seen = echo_of(&resp.text().await.expect("body")).expect("echo");
        seen["headers"]["x-request-id"]
            .as_str()
            .expect("x-request-id")
            .to_string()
    }
    let generated = |id: &str| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    // From a trusted proxy, its id is kept end to end.
    let resp = get(&trusting, Some("lb-4f2a:77")).await.expect("request");
    assert_eq!(origin_got(resp).await, "lb-4f2a:77");
    // Not a plain token: replaced, so no log line can be forged through it.
    let resp = get(&trusting, Some("a b\" injected=1")).await.expect("request");
    let id = origin_got(resp).await;
    assert!(generated(&id), "{id}");

    // From anyone else, the client's id is replaced by the gateway's.
    let resp = get(&untrusting, Some("chosen-by-client")).await.expect("request");
    let id = origin_got(resp).await;
    assert!(generated(&id), "{id}");
    let other = origin_got(get(&untrusting, None).await.expect("request")).await;
    assert_ne!(other, id, "one id per request");

    // The gateway's own answer (here a 421 for an unknown host) tells the shopper its
    // id; the access lines name both.
    let resp = shopper
        .http
        .get(format!("http://127.0.0.1:{}/", untrusting.port))
        .header("host", "nobody.localhost")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 421);
    let refused = resp.headers()["x-request-id"].to_str().expect("ascii").to_string();
    // The access line is written once the answer is sent: wait for it.
    let has_access_line = |log: &str, id: &str| log.lines().any(|l| l.contains("access") && l.contains(id));
    let log = log_once(&untrusting, |log| {
        has_access_line(log, &id) && has_access_line(log, &refused)
    })
    .await;
    for wanted in [&id, &refused] {
        assert!(has_access_line(&log, wanted), "no access line with {wanted}:\n{log}");
    }
    assert!(!log.contains("chosen-by-client"), "{log}");
}

#[tokio::test]
async fn anonymous_input_cannot_write_a_line_of_its_own_into_a_text_log() {
    let config = GatewayConfig::default().server("log_level = \"debug,pingora=info\"");
    let shop = Shop::start_with(config, "").expect("shop");
    shop.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");
    // A login started for real, so the callback gets as far as the IdP's `error`.
    let start = shopper.page(&shop.url("/_sso/login")).await.expect("login");
    let state = redirect_param(&start, "state");
    let forged = "x%0A2020-01-01T00:00:00.000000Z%20ERROR%20forged_line%20customer%3Dadmin%0D%1B[31m";
    let resp = shopper
        .page(&shop.url(&format!("/login/sso/callback?state={state}&error={forged}")))
        .await
        .expect("callback");
    assert!(resp.status().is_client_error() || resp.status().is_server_error());
    let id = resp.headers()["x-request-id"].to_str().expect("ascii").to_string();
    log_once(&shop.gateway, |log| log.contains(&format!("request_id={id}"))).await;
    // A bearer token whose header names a forged line as its `alg`, and a path with
    // characters some log viewers break lines at.
    let header = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        "{\"alg\":\"HS256\\n2020-01-01T00:00:00Z INFO forged_line\\u001b[2J\",\"typ\":\"JWT\"}",
    );
    let resp = shopper
        .http
        .get(shop.url("/api/orders"))
        .header("accept", "application/json")
        .bearer_auth(format!("{header}.e30.c2ln"))
        .send()
        .await
        .expect("bearer");
    assert_eq!(resp.status(), 401);
    // Sent as raw bytes: a client library would percent-encode them.
    let head = "GET /x\u{85}FAKE\u{2028}LINE\u{202e}evil HTTP/1.1\r\nHost: shop.localhost\r\nConnection: close\r\n\r\n";
    let raw = sso_tests::raw_http::send_bytes(shop.gateway.port, head.as_bytes()).expect("raw request");
    assert!(raw.status > 0, "answered");
    let log = log_once(&shop.gateway, |log| log.contains("/x%C2%85FAKE")).await;
    assert!(
        log.contains("/x%C2%85FAKE%E2%80%A8LINE%E2%80%AEevil"),
        "the path, escaped:\n{log}"
    );
    assert!(
        !log.contains('\u{85}') && !log.contains('\u{2028}'),
        "a line separator reached the log:\n{log}"
    );
    assert!(!log.contains('\u{1b}'), "an escape sequence reached the log:\n{log}");
    let failed = log
        .lines()
        .find(|l| l.contains("login failed"))
        .unwrap_or_else(|| panic!("no login failed line:\n{log}"));
    assert!(
        failed.contains("code=\"idp_refused\""),
        "the line names the code: {failed}"
    );
    assert!(
        !log.lines().any(|l| l.starts_with("2020-01-01")),
        "a forged line:\n{log}"
    );
    assert!(!log.contains("\u{1b}[31m"), "an escape sequence reached the log");
}

/// The human lines docs/troubleshooting.md quotes: `login succeeded` names the IdP
/// (`oidc` for a site's single `[sites.oidc]`, never empty), `login failed` the
/// code of the page the shopper saw.
#[tokio::test]
async fn the_login_lines_name_the_idp_and_the_page_code() {
    let shop = Shop::start().expect("shop");
    let shopper = Shopper::new(&["shop"]).expect("client");
    shop.sign_in(&shopper, "/account", "alice").await.expect("sign in");
    let gateway = &shop.gateway;
    assert!(
        gateway
            .log_shows(
                "}: sso_filters::features::oidc_login: login succeeded site=shop idp=oidc subject=alice customer=alice"
            )
            .await,
        "{}",
        gateway.log()
    );
    let stranger = Shopper::new(&["shop"]).expect("client");
    let resp = stranger
        .page(&shop.url("/login/sso/callback?state=nope&code=c"))
        .await
        .expect("callback");
    assert_eq!(resp.status(), 400);
    assert!(
        gateway
            .log_shows(
                "}: sso_filters::features::oidc_login: login failed site=shop code=\"state_unknown\" \
                 error=the sign-in link is unknown, expired or already used"
            )
            .await,
        "{}",
        gateway.log()
    );
    // Each in the request's span, as docs/troubleshooting.md shows them.
    let log = gateway.log();
    for (level, message) in [("INFO", "login succeeded"), ("WARN", "login failed")] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("  {level} request{{request_id=")) && l.contains(message)),
            "{log}"
        );
    }
}
