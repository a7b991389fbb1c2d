//! Step-up authentication (`max_auth_age`, `acr_values`): with the real
//! `oidc-provider` (it honours `max_age` and asks for the password again) and with the
//! project's misbehaving IdP, which answers a step-up with a forged old `auth_time`,
//! another `acr` or another subject.

use sso_tests::misbehaving_idp::MisbehavingIdp;
use sso_tests::{echo_of, GatewayConfig, Shop, Shopper, Storefront};
use std::time::Duration;

const STEP_UP_ROUTES: &str = r#"[[sites.routes]]
prefix = "/checkout"
access = "login"
max_auth_age = "1s"
[[sites.routes]]
prefix = "/api/payment"
access = "api"
max_auth_age = "1s"
[[sites.routes]]
prefix = "/mfa"
access = "login"
acr_values = ["mfa"]
"#;

/// Longer than `max_auth_age` and its leeway (1 s + 2 s).
const AGED: Duration = Duration::from_secs(4);

fn customer_id(body: &str) -> String {
    echo_of(body).expect("echo")["headers"]["x-customer-id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn auth_time(body: &str) -> u64 {
    echo_of(body).expect("echo")["headers"]["x-customer-auth-time"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("X-Customer-Auth-Time")
}

#[tokio::test]
async fn an_old_sign_in_goes_back_to_the_real_idp_and_returns_fresh() {
    let shop = Shop::start_with(GatewayConfig::default(), STEP_UP_ROUTES).expect("shop");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let landing = shop.sign_in(&shopper, "/account", "ann").await.expect("sign in");
    assert_eq!(landing.status, 200);
    let first = auth_time(&landing.body);
    tokio::time::sleep(AGED).await;

    // An XHR gets the RFC 9470 challenge, and starts nothing.
    let resp = shopper.api(&shop.url("/api/payment/methods")).await.expect("xhr");
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"].to_str().expect("ascii").to_string();
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_user_authentication\"") && challenge.contains("max_age=1"),
        "{challenge}"
    );
    assert!(resp.headers().get("set-cookie").is_none());

    // A page load goes to the IdP with max_age, signs in again, and returns here.
    let start = shopper.page(&shop.url("/checkout/payment?step=2")).await.expect("page");
    assert_eq!(start.status(), 302);
    let to_idp = start.headers()["location"].to_str().expect("ascii").to_string();
    assert!(to_idp.contains("max_age=1"), "{to_idp}");
    let landing = shopper.walk(start, "ann").await.expect("step-up");
    assert_eq!(landing.status, 200, "{:?}", landing.visited);
    assert_eq!(landing.url.path(), "/checkout/payment");
    assert_eq!(landing.url.query(), Some("step=2"));
    assert!(
        landing.visited.iter().any(|u| u.path().starts_with("/interaction")),
        "the IdP asked for the password again: {:?}",
        landing.visited
    );
    assert_eq!(customer_id(&landing.body), "ann");
    assert!(auth_time(&landing.body) > first, "a fresh auth_time");
    let resp = shopper.api(&shop.url("/api/payment/methods")).await.expect("xhr");
    assert_eq!(resp.status(), 200, "fresh enough now");
}

/// The demo origin behind the gateway, signing in with the misbehaving IdP.
async fn hostile_shop() -> (Storefront, MisbehavingIdp, sso_tests::Gateway) {
    let origin = Storefront::start().expect("origin");
    let idp = MisbehavingIdp::start(&["rsa"]).expect("idp");
    let extra = format!("request_timeout = \"2s\"\n{STEP_UP_ROUTES}");
    let gateway = GatewayConfig::default()
        .site(&Shop::site_toml(&origin.addr(), &idp.issuer(), &extra))
        .start()
        .expect("gateway");
    gateway.ready().await.expect("ready");
    (origin, idp, gateway)
}

#[tokio::test]
async fn an_idp_that_does_not_comply_is_refused_and_the_session_is_kept() {
    let (_origin, idp, gateway) = hostile_shop().await;
    let url = |p: &str| gateway.site_url("shop", p);
    let shopper = Shopper::new(&["shop"]).expect("client");
    idp.set_mode("good_rs256", "ann").await.expect("mode");
    let landing = shopper
        .walk(shopper.page(&url("/account")).await.expect("page"), "")
        .await
        .expect("sign in");
    assert_eq!(landing.status, 200);
    tokio::time::sleep(AGED).await;

    let refused = |mode: &'static str, sub: &'static str, path: &'static str, code: &'static str| {
        let (idp, shopper, url) = (&idp, &shopper, &url);
        async move {
            idp.set_mode(mode, sub).await.expect("mode");
            let start = shopper.page(&url(path)).await.expect("page");
            let landing = shopper.walk(start, "").await.expect("step-up");
            assert_eq!(landing.status, 403, "{mode}: {:?}", landing.visited);
            assert!(landing.body.contains(code), "{mode}: {}", landing.body);
            let resp = shopper.page(&url("/account")).await.expect("page");
            assert_eq!(resp.status(), 200);
            assert_eq!(
                customer_id(&resp.text().await.expect("body")),
                "ann",
                "{mode}: session kept"
            );
        }
    };
    // A forged, old auth_time; another customer (the old session is kept: refused
    // before anything is ended); an acr that was not asked for.
    refused("stale_auth_time", "ann", "/checkout", "step_up_stale").await;
    let asked = idp.last_authorize().await.expect("stats");
    assert_eq!(asked["max_age"], "1");
    refused("good_rs256", "mallory", "/checkout", "step_up_other_customer").await;
    refused("acr_pwd", "ann", "/mfa", "step_up_acr").await;
    assert_eq!(idp.last_authorize().await.expect("stats")["acr_values"], "mfa");

    // A compliant answer passes, and the next page load does not loop.
    idp.set_mode("acr_mfa", "ann").await.expect("mode");
    let landing = shopper
        .walk(shopper.page(&url("/mfa/settings")).await.expect("page"), "")
        .await
        .expect("step-up");
    assert_eq!(landing.status, 200, "{:?}", landing.visited);
    let echo = echo_of(&landing.body).expect("echo");
    assert_eq!(echo["headers"]["x-customer-acr"], "mfa");
    let again = shopper.page(&url("/mfa/settings")).await.expect("page");
    assert_eq!(again.status(), 200, "no loop");
    let logins = gateway
        .metric("sso_gateway_logins_total{method=\"oidc\",outcome=\"step_up_stale\",site=\"shop\"} ")
        .await;
    assert_eq!(logins, 1.0);
}

#[tokio::test]
async fn a_customer_login_session_is_not_sent_round_a_step_up_it_could_never_pass() {
    let section = format!("{STEP_UP_ROUTES}{}", sso_tests::merchant_login::sections());
    let shop = Shop::start_with(GatewayConfig::default(), &section).expect("shop");
    shop.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");
    // Signed in by the merchant's website well before the route's 1 s.
    sso_tests::merchant_login::sign_in(&shop, &shopper, 42, 10)
        .await
        .expect("customer login");
    let resp = shopper.page(&shop.url("/checkout")).await.expect("page");
    assert_eq!(
        resp.status(),
        403,
        "no round trip to an IdP that cannot give customer 42"
    );
    assert!(resp.headers().get("location").is_none());
    assert!(resp.text().await.expect("body").contains("access_denied"));
    let resp = shopper.api(&shop.url("/api/payment/x")).await.expect("xhr");
    assert_eq!(resp.status(), 401, "an XHR still gets the challenge");
    let denied = shop
        .gateway
        .metric("sso_gateway_access_denied_total{reason=\"step_up_idp\",site=\"shop\"} ")
        .await;
    assert_eq!(denied, 1.0);
}
