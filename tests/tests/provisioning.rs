//! Just-in-time customers (`[sites.provisioning]`) and the platform hand-off
//! (`[sites.platform_login]`), with the real IdP and the demo origin playing the
//! shop's back office (its provisioning hook can be told to fail, answer garbage,
//! stall or drop the connection) and a platform that accepts customer-login JWTs.

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use sso_tests::{echo_of, GatewayConfig, Idp, Shopper, Storefront};

const HOOK_SECRET: &str = "hook-secret-0123456789";
const PLATFORM_SECRET: &str = "platform-secret-0123456789abcdef0123";

/// A shop whose site is `site_extra` on top of the usual one, with the IdP allowed to
/// return to the callback and to `post_logout`.
struct Back {
    origin: Storefront,
    idp: Idp,
    gateway: sso_tests::Gateway,
}

impl Back {
    fn start(site_extra: &str, post_logout: &str) -> Back {
        let origin = Storefront::start_with(&[
            ("PROVISIONING_SECRET", HOOK_SECRET),
            ("PLATFORM_LOGIN_SECRET", PLATFORM_SECRET),
        ])
        .expect("origin");
        let config = GatewayConfig::default();
        let port = config.port;
        let idp = Idp::start(
            &[format!("http://shop.localhost:{port}/login/sso/callback")],
            &[format!("http://shop.localhost:{port}{post_logout}")],
        )
        .expect("idp");
        let hook = format!("http://{}/hooks/provision", origin.addr());
        let extra = site_extra.replace("{hook}", &hook);
        let site = sso_tests::Shop::site_toml(&origin.addr(), &idp.issuer(), &extra);
        let gateway = config.site(&site).start().expect("gateway");
        Back { origin, idp, gateway }
    }

    fn url(&self, path: &str) -> String {
        self.gateway.site_url("shop", path)
    }

    /// Signs `login` in from `/account` in a new browser; where it landed.
    async fn sign_in(&self, login: &str) -> (Shopper, sso_tests::client::Landing) {
        self.gateway.ready().await.expect("ready");
        let shopper = Shopper::new(&["shop"]).expect("client");
        let start = shopper.page(&self.url("/account")).await.expect("start");
        let landing = shopper.walk(start, login).await.expect("walk");
        (shopper, landing)
    }

    async fn origin_sees(&self, shopper: &Shopper) -> Value {
        let resp = shopper.api(&self.url("/account")).await.expect("request");
        echo_of(&resp.text().await.expect("body")).expect("echo")
    }
}

fn provisioning(extra: &str) -> String {
    format!(
        "\n[sites.provisioning]\nurl = \"{{hook}}\"\nsecret = \"{HOOK_SECRET}\"\ndefault_group = \"retail\"\ntimeout = \"1s\"\n{extra}\n"
    )
}

#[tokio::test]
async fn a_sign_in_provisions_the_customer_once_and_the_origin_sees_the_shops_id() {
    let back = Back::start(&provisioning(""), "/");
    let (ann, landing) = back.sign_in("ann").await;
    assert_eq!(landing.status, 200, "{:?}", landing.visited);
    let echo = back.origin_sees(&ann).await;
    assert_eq!(echo["headers"]["x-customer-id"], "1001", "the hook's customer id");
    assert_eq!(echo["headers"]["x-customer-groups"], "retail", "default group");
    assert_eq!(echo["headers"]["x-customer-email"], "ann@example.com");
    assert_eq!(back.origin.hook_calls().await.expect("calls"), 1);
    // Support still sees the IdP subject beside the shop's id.
    let session: Value = ann
        .api(&back.url("/_sso/session"))
        .await
        .expect("s")
        .json()
        .await
        .expect("json");
    assert_eq!(session["customer"]["id"], "1001");

    // Ann again, from another browser: the same customer, from the cache.
    let (ann2, _) = back.sign_in("ann").await;
    assert_eq!(back.origin_sees(&ann2).await["headers"]["x-customer-id"], "1001");
    assert_eq!(back.origin.hook_calls().await.expect("calls"), 1, "cached");
}

#[tokio::test]
async fn with_the_hook_down_slow_or_babbling_the_sign_in_fails_cleanly_and_works_once_it_is_back() {
    let back = Back::start(&provisioning(""), "/");
    for (mode, code) in [
        ("fail", "provisioning_unavailable"),
        ("down", "provisioning_unavailable"),
        ("slow", "provisioning_unavailable"),
        ("garbage", "provisioning_invalid"),
    ] {
        back.origin.hook_mode(mode).await.expect("mode");
        let (bob, landing) = back.sign_in("bob").await;
        assert_eq!(landing.status, 502, "{mode}");
        assert!(landing.body.contains(code), "{mode}: {}", landing.body);
        assert!(landing.body.contains("could not be set up"), "{mode}");
        let session: Value = bob
            .api(&back.url("/_sso/session"))
            .await
            .expect("s")
            .json()
            .await
            .expect("json");
        assert_eq!(session["authenticated"], json!(false), "{mode}: no session");
    }
    let metrics = back.gateway.metrics().await;
    assert!(
        metrics.contains(r#"sso_gateway_logins_total{method="oidc",outcome="provisioning_unavailable",site="shop"} 3"#),
        "{metrics}"
    );
    back.origin.hook_mode("ok").await.expect("mode");
    let (bob, landing) = back.sign_in("bob").await;
    assert_eq!(landing.status, 200);
    assert_eq!(back.origin_sees(&bob).await["headers"]["x-customer-id"], "1001");
}

#[tokio::test]
async fn a_hook_with_the_wrong_secret_provisions_nobody() {
    let wrong = provisioning("").replace(HOOK_SECRET, "not-the-hook-secret-123");
    let back = Back::start(&wrong, "/");
    let (_, landing) = back.sign_in("eve").await;
    assert_eq!(landing.status, 502);
}

#[tokio::test]
async fn after_an_idp_sign_in_the_browser_signs_in_at_the_platform_with_a_fresh_token() {
    let platform = format!(
        "{}\n[sites.platform_login]\nclient_id = \"gateway\"\nclient_secret = \"{PLATFORM_SECRET}\"\nstore_hash = \"abc123\"\nchannel_id = 1\n",
        provisioning("")
    );
    let back = Back::start(&platform, "/login.php?action=logout");
    let (shopper, landing) = back.sign_in("ann").await;
    assert_eq!(landing.status, 200, "{:?}", landing.visited);
    assert_eq!(landing.url.path(), "/account", "landed on the return path");
    let handoff = landing
        .visited
        .iter()
        .find(|u| u.path().starts_with("/login/token/"))
        .expect("passed through the platform's customer-login endpoint");
    assert_eq!(handoff.host_str(), Some("shop.localhost"), "through the gateway");
    let jwt = handoff.path().trim_start_matches("/login/token/");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = decode::<Value>(jwt, &DecodingKey::from_secret(PLATFORM_SECRET.as_bytes()), &validation)
        .expect("the platform's secret verifies it")
        .claims;
    assert_eq!(claims["iss"], "gateway");
    assert_eq!(claims["operation"], "customer_login");
    assert_eq!(claims["store_hash"], "abc123");
    assert_eq!(claims["customer_id"], json!(1001), "the provisioned id, as a number");
    assert_eq!(claims["channel_id"], json!(1));
    assert_eq!(claims["redirect_to"], "/account");
    assert_eq!(claims["request_ip"], "127.0.0.1");
    let age = sso_filters::sessions::now_secs().abs_diff(claims["iat"].as_u64().expect("iat"));
    assert!(age <= 30, "iat is now");
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 20));
    // The platform's session exists too (its cookie came back through the gateway).
    let echo = back.origin_sees(&shopper).await;
    assert!(
        echo["headers"]["cookie"]
            .as_str()
            .unwrap_or_default()
            .contains("platform_customer=1001"),
        "{echo}"
    );
    assert!(!back.gateway.log().contains(jwt), "the minted token is never logged");

    // A second sign-in mints another token.
    let (_, again) = back.sign_in("ann").await;
    let second = again
        .visited
        .iter()
        .find(|u| u.path().starts_with("/login/token/"))
        .expect("again");
    assert_ne!(second.path(), handoff.path());

    // Logout ends on the platform's logout page (after the IdP's end-session).
    let resp = shopper.page(&back.url("/_sso/logout")).await.expect("logout");
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(location.starts_with(&back.idp.issuer()), "{location}");
    assert!(
        location.contains("post_logout_redirect_uri=http%3A%2F%2Fshop.localhost%3A")
            && location.contains("%2Flogin.php%3Faction%3Dlogout"),
        "{location}"
    );
}
