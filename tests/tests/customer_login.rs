//! Customer-login JWTs from the merchant's website (`[sites.customer_login]`) and the
//! merchant's own login page (`[sites.login]`), against the real gateway, IdP and
//! origin, with tokens minted here with a JWT library the way a merchant's site
//! would. Each attack a merchant link invites is tried: replay (same and other
//! replica), age, another key, `alg: none`, another store, a foreign redirect.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sso_tests::replicas::{ReplicaOptions, Replicas};
use sso_tests::{echo_of, GatewayConfig, Shop, Shopper};
use std::time::{SystemTime, UNIX_EPOCH};

const SECRET: &str = "merchant-website-secret-0123456789abcdef";

fn customer_login_section(extra: &str) -> String {
    format!(
        "\n[sites.customer_login]\nclient_id = \"merchant-site\"\nclient_secret = \"{SECRET}\"\nstore_hash = \"abc123\"\n{extra}\n"
    )
}

/// The customer-login section for a site that also has an IdP: IdP sign-ins go
/// through the demo origin's provisioning hook (required with both).
fn with_idp(extra: &str) -> String {
    customer_login_section(&format!(
        "[sites.provisioning]\nurl = \"http://{{origin}}/hooks/provision\"\n{extra}"
    ))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The claims a merchant's website puts in a customer-login JWT.
fn claims(customer_id: u64, redirect_to: &str) -> Value {
    json!({
        "iss": "merchant-site",
        "iat": now(),
        "jti": format!("jti-{}-{}", customer_id, rand_suffix()),
        "operation": "customer_login",
        "store_hash": "abc123",
        "customer_id": customer_id,
        "redirect_to": redirect_to,
    })
}

fn rand_suffix() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn sign(claims: &Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// What the origin sees at `path` for this shopper.
async fn origin_sees(shop: &Shop, shopper: &Shopper, path: &str) -> Value {
    let resp = shopper.api(&shop.url(path)).await.expect("request");
    assert_eq!(resp.status(), 200, "{path}");
    echo_of(&resp.text().await.expect("body")).expect("echo")
}

async fn authenticated(shop: &Shop, shopper: &Shopper) -> bool {
    shop.session_of(shopper).await.expect("session")["authenticated"] == json!(true)
}

#[tokio::test]
async fn a_merchant_token_signs_the_customer_in_exactly_once() {
    let section = with_idp("default_group = \"retail\"\n");
    let shop = Shop::start_with(GatewayConfig::default(), &section).expect("shop");
    shop.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let token = sign(&claims(42, "/account/orders?page=2"), SECRET);

    let resp = shopper
        .page(&shop.url(&format!("/login/token/{token}")))
        .await
        .expect("login");
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/account/orders?page=2");
    let echo = origin_sees(&shop, &shopper, "/account/orders?page=2").await;
    assert_eq!(echo["headers"]["x-customer-id"], "42");
    assert_eq!(echo["headers"]["x-customer-groups"], "retail", "default group");
    assert!(echo["headers"]["x-customer-email"].is_null());

    // The same link again, from another browser: refused, and nobody is signed in.
    let thief = Shopper::new(&["shop"]).expect("client");
    let resp = thief
        .page(&shop.url(&format!("/login/token/{token}")))
        .await
        .expect("replay");
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/_sso/login?sso_error=token_replayed");
    assert!(resp.headers().get("set-cookie").is_none(), "no session for a replay");
    assert!(!authenticated(&shop, &thief).await);
    let page = thief.page(&shop.url(&location(&resp))).await.expect("error page");
    assert_eq!(page.status(), 400);
    let body = page.text().await.expect("body");
    assert!(
        body.contains("already used") && body.contains("href=\"/_sso/login\""),
        "{body}"
    );

    // The token never reaches a log line.
    let metrics = shop.gateway.metrics().await;
    assert!(
        metrics.contains(r#"sso_gateway_logins_total{method="customer_login",outcome="success",site="shop"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"sso_gateway_logins_total{method="customer_login",outcome="token_replayed",site="shop"} 1"#)
    );
    let log = shop.gateway.log();
    assert!(log.contains("/login/token/[redacted]"), "access line redacted");
    assert!(
        !log.contains(&token) && !log.contains(token.split('.').nth(2).unwrap_or("-")),
        "token in the log"
    );
}

#[tokio::test]
async fn forged_stale_foreign_and_misdirected_tokens_sign_nobody_in() {
    let shop = Shop::start_with(GatewayConfig::default(), &with_idp("")).expect("shop");
    shop.ready().await.expect("ready");
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let with = |change: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut c = claims(7, "/account");
        if let Value::Object(m) = &mut c {
            change(m);
        }
        c
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "token_expired",
            sign(&with(&|m| drop(m.insert("iat".into(), json!(now() - 60)))), SECRET),
        ),
        (
            "token_signature",
            sign(&claims(7, "/account"), "another-secret-0123456789abcdef0123456"),
        ),
        (
            "token_signature",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&claims(7, "/account"))
            ),
        ),
        (
            "token_store",
            sign(&with(&|m| drop(m.insert("store_hash".into(), json!("other")))), SECRET),
        ),
        ("token_redirect", sign(&claims(7, "https://evil.example/steal"), SECRET)),
        ("token_redirect", sign(&claims(7, "//evil.example/steal"), SECRET)),
        ("token_redirect", sign(&claims(7, "/\\evil.example"), SECRET)),
        (
            "token_ip",
            sign(
                &with(&|m| drop(m.insert("request_ip".into(), json!("203.0.113.9")))),
                SECRET,
            ),
        ),
        (
            "token_issuer",
            sign(&with(&|m| drop(m.insert("iss".into(), json!("someone-else")))), SECRET),
        ),
        (
            "token_customer",
            sign(&with(&|m| drop(m.remove("customer_id"))), SECRET),
        ),
        ("token_malformed", "not-a-jwt".to_string()),
    ];
    for (code, token) in cases {
        let shopper = Shopper::new(&["shop"]).expect("client");
        let resp = shopper
            .page(&shop.url(&format!("/login/token/{token}")))
            .await
            .expect("login");
        assert_eq!(resp.status(), 303, "{code}");
        let to = location(&resp);
        assert_eq!(to, format!("/_sso/login?sso_error={code}"), "{code}");
        assert!(!to.contains("evil"), "never followed");
        assert!(resp.headers().get("set-cookie").is_none(), "{code}: no session");
        assert!(!authenticated(&shop, &shopper).await, "{code}");
    }
    // The client's own address in request_ip is accepted; only GET reads a token.
    let shopper = Shopper::new(&["shop"]).expect("client");
    let ok = sign(
        &with(&|m| drop(m.insert("request_ip".into(), json!("127.0.0.1")))),
        SECRET,
    );
    let post = shopper
        .http
        .post(shop.url(&format!("/login/token/{ok}")))
        .send()
        .await
        .expect("post");
    assert_eq!(post.status(), 405);
    let head = shopper
        .http
        .head(shop.url(&format!("/login/token/{ok}")))
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 405, "a HEAD does not spend the token");
    let fetch = shopper
        .api(&shop.url(&format!("/login/token/{ok}")))
        .await
        .expect("fetch");
    assert_eq!(fetch.status(), 400, "neither does a fetch");
    let resp = shopper
        .page(&shop.url(&format!("/login/token/{ok}")))
        .await
        .expect("login");
    assert_eq!(location(&resp), "/account");
    assert!(authenticated(&shop, &shopper).await);
    // An unknown sso_error shows a generic page, never the text it was given.
    let page = shopper
        .page(&shop.url("/_sso/login?sso_error=%3Cscript%3Ealert(1)"))
        .await
        .expect("page");
    let body = page.text().await.expect("body");
    assert!(
        body.contains("login_failed") && !body.contains("<script>alert"),
        "{body}"
    );
}

#[tokio::test]
async fn a_token_redirecting_to_the_logout_path_signs_the_customer_out() {
    let shop = Shop::start_with(GatewayConfig::default(), &with_idp("")).expect("shop");
    shop.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let login = sign(&claims(42, "/account"), SECRET);
    shopper
        .page(&shop.url(&format!("/login/token/{login}")))
        .await
        .expect("login");
    assert!(authenticated(&shop, &shopper).await);
    let old_cookie = shopper.cookies_for(&shop.url("/"));

    let logout = sign(&claims(42, "/login.php?action=logout"), SECRET);
    let resp = shopper
        .page(&shop.url(&format!("/login/token/{logout}")))
        .await
        .expect("logout");
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/", "not to the IdP: it did not sign this customer in");
    let cleared = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(cleared.contains("Max-Age=0"), "cookie cleared: {cleared}");
    assert!(!authenticated(&shop, &shopper).await);
    // A copy of the old cookie is dead too: the session ended, not just the cookie.
    let replayed = reqwest::Client::builder()
        .resolve("shop.localhost", std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .build()
        .expect("client")
        .get(shop.url("/_sso/session"))
        .header("cookie", old_cookie)
        .send()
        .await
        .expect("session");
    let v: Value = replayed.json().await.expect("json");
    assert_eq!(v["authenticated"], json!(false));
}

#[tokio::test]
async fn the_merchant_login_page_is_the_sign_in_entry_and_via_idp_still_reaches_the_idp() {
    let section = format!(
        "{}\n[sites.login]\nurl = \"https://merchant.example/login?return_to={{return_to}}&shop=1\"\n",
        with_idp("")
    );
    let shop = Shop::start_with(GatewayConfig::default(), &section).expect("shop");
    shop.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let resp = shopper
        .page(&shop.url("/account/orders?page=2"))
        .await
        .expect("login route");
    assert_eq!(resp.status(), 302);
    assert_eq!(
        location(&resp),
        "https://merchant.example/login?return_to=%2Faccount%2Forders%3Fpage%3D2&shop=1"
    );
    let resp = shopper
        .page(&shop.url("/_sso/login?return_to=/cart"))
        .await
        .expect("login");
    assert_eq!(
        location(&resp),
        "https://merchant.example/login?return_to=%2Fcart&shop=1"
    );
    // A foreign return_to is not passed on.
    let resp = shopper
        .page(&shop.url("/_sso/login?return_to=https://evil.example/"))
        .await
        .expect("login");
    assert_eq!(location(&resp), "https://merchant.example/login?return_to=%2F&shop=1");
    // API calls are never redirected.
    assert_eq!(shopper.api(&shop.url("/account")).await.expect("api").status(), 401);
    let resp = shopper
        .page(&shop.url("/_sso/login?via=idp&return_to=/cart"))
        .await
        .expect("via idp");
    assert!(location(&resp).starts_with(&shop.idp.issuer()), "{}", location(&resp));

    // The merchant's site sends the customer back with a token for the return path.
    let token = sign(&claims(9, "/account/orders?page=2"), SECRET);
    let resp = shopper
        .page(&shop.url(&format!("/login/token/{token}")))
        .await
        .expect("back");
    assert_eq!(location(&resp), "/account/orders?page=2");
    let echo = origin_sees(&shop, &shopper, "/account/orders?page=2").await;
    assert_eq!(echo["headers"]["x-customer-id"], "9");
}

#[tokio::test]
async fn a_token_spent_on_one_replica_is_refused_on_the_other_even_when_raced() {
    spent_on_one_replica(None).await;
}

/// The same on a real three-primary Redis Cluster (a `jti` is one key).
#[tokio::test]
async fn on_a_redis_cluster_a_token_is_spent_once_too() {
    let cluster = sso_tests::replicas::TestCluster::start();
    spent_on_one_replica(Some(cluster.sessions_toml())).await;
}

async fn spent_on_one_replica(redis_address: Option<String>) {
    let section = with_idp("");
    let replicas = Replicas::start(ReplicaOptions {
        oidc: &section,
        redis_address,
        ..ReplicaOptions::default()
    })
    .expect("replicas");
    replicas.ready().await.expect("ready");
    let token = sign(&claims(42, "/account"), SECRET);
    let on_a = Shopper::new(&["shop"]).expect("client");
    let resp = on_a
        .page(&replicas.url_a(&format!("/login/token/{token}")))
        .await
        .expect("a");
    assert_eq!(location(&resp), "/account");
    let on_b = Shopper::new(&["shop"]).expect("client");
    let resp = on_b
        .page(&replicas.url_b(&format!("/login/token/{token}")))
        .await
        .expect("b");
    assert_eq!(location(&resp), "/_sso/login?sso_error=token_replayed");

    // Ten rounds of one fresh token sent to both replicas at once: one session each time.
    for round in 0..10 {
        let token = sign(&claims(100 + round, "/account"), SECRET);
        let (a, b) = (Shopper::new(&["shop"]).expect("a"), Shopper::new(&["shop"]).expect("b"));
        let (url_a, url_b) = (
            replicas.url_a(&format!("/login/token/{token}")),
            replicas.url_b(&format!("/login/token/{token}")),
        );
        let (ra, rb) = tokio::join!(a.page(&url_a), b.page(&url_b));
        let won = [ra.expect("a"), rb.expect("b")]
            .iter()
            .filter(|r| location(r) == "/account")
            .count();
        assert_eq!(won, 1, "round {round}: exactly one replica accepts");
    }
}

#[tokio::test]
async fn the_demo_merchant_website_signs_a_customer_in_without_any_idp() {
    let origin = sso_tests::Storefront::start_with(&[("MERCHANT_LOGIN_SECRET", SECRET), ("STORE_HASH", "abc123")])
        .expect("origin");
    let site = format!(
        "name = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"{}\"]\npublic_url = \"http://shop.localhost:{{port}}\"\n{}\
         [sites.login]\nurl = \"http://shop.localhost:{{port}}/merchant?return_to={{return_to}}\"\n\
         [[sites.routes]]\nprefix = \"/account\"\naccess = \"login\"\n",
        origin.addr(),
        customer_login_section("")
    );
    let gateway = GatewayConfig::default().site(&site).start().expect("gateway");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let resp = shopper
        .page(&gateway.site_url("shop", "/account/orders"))
        .await
        .expect("account");
    let to = location(&resp);
    assert!(to.ends_with("/merchant?return_to=%2Faccount%2Forders"), "{to}");
    let form = shopper
        .page(&to)
        .await
        .expect("merchant page")
        .text()
        .await
        .expect("body");
    assert!(form.contains("name=\"customer_id\""), "{form}");
    let signed = shopper
        .http
        .post(gateway.site_url("shop", "/merchant/sign-in"))
        .form(&[("customer_id", "77"), ("return_to", "/account/orders")])
        .send()
        .await
        .expect("sign in");
    let landing = shopper.walk(signed, "-").await.expect("walk");
    assert_eq!(landing.url.path(), "/account/orders", "{:?}", landing.visited);
    let echo = echo_of(&landing.body).expect("echo");
    assert_eq!(echo["headers"]["x-customer-id"], "77");
}

#[tokio::test]
async fn a_rotated_merchant_secret_applies_on_reload_and_spent_tokens_stay_spent() {
    let origin = sso_tests::Storefront::start().expect("origin");
    let site = format!(
        "name = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"{}\"]\npublic_url = \"http://shop.localhost:{{port}}\"\n{}\
         [[sites.routes]]\nprefix = \"/account\"\naccess = \"login\"\n",
        origin.addr(),
        customer_login_section("")
    );
    let config = GatewayConfig::default().site(&site);
    let text = config.render();
    let gateway = config.start().expect("gateway");
    let url = |t: &str| gateway.site_url("shop", &format!("/login/token/{t}"));
    let spent = sign(&claims(1, "/account"), SECRET);
    let shopper = Shopper::new(&["shop"]).expect("client");
    assert_eq!(location(&shopper.page(&url(&spent)).await.expect("login")), "/account");

    const NEW_SECRET: &str = "rotated-merchant-secret-0123456789abcdef";
    gateway
        .rewrite_config(&text.replace(SECRET, NEW_SECRET))
        .expect("rewrite");
    let (status, answer) = gateway.reload(None).await.expect("reload");
    assert_eq!(status, 200, "{answer}");
    let old = sign(&claims(2, "/account"), SECRET);
    let resp = shopper.page(&url(&old)).await.expect("old secret");
    assert_eq!(location(&resp), "/_sso/login?sso_error=token_signature");
    let new = sign(&claims(3, "/account"), NEW_SECRET);
    assert_eq!(
        location(&shopper.page(&url(&new)).await.expect("new secret")),
        "/account"
    );
    // A token spent before the reload is still spent after it.
    gateway.rewrite_config(&text).expect("rewrite back");
    assert_eq!(gateway.reload(None).await.expect("reload").0, 200);
    let resp = shopper.page(&url(&spent)).await.expect("replay");
    assert_eq!(location(&resp), "/_sso/login?sso_error=token_replayed");
}

#[tokio::test]
async fn sites_sharing_one_merchant_app_accept_a_token_once_between_them() {
    let origin = sso_tests::Storefront::start().expect("origin");
    let site = |name: &str| {
        format!(
            "name = \"{name}\"\nhosts = [\"{name}.localhost\"]\nupstreams = [\"{}\"]\npublic_url = \"http://{name}.localhost:{{port}}\"\n{}",
            origin.addr(),
            customer_login_section("")
        )
    };
    let gateway = GatewayConfig::default()
        .site(&site("shop"))
        .site(&site("outlet"))
        .start()
        .expect("gateway");
    let token = sign(&claims(5, "/account"), SECRET);
    let shopper = Shopper::new(&["shop", "outlet"]).expect("client");
    let first = shopper
        .page(&gateway.site_url("shop", &format!("/login/token/{token}")))
        .await
        .expect("shop");
    assert_eq!(location(&first), "/account");
    let second = shopper
        .page(&gateway.site_url("outlet", &format!("/login/token/{token}")))
        .await
        .expect("outlet");
    assert_eq!(location(&second), "/_sso/login?sso_error=token_replayed");
}
