//! The IdP going away: the gateway keeps serving, says so in /readyz, and recovers.

use sso_tests::{echo_of, free_port, GatewayConfig, Idp, Shop, Shopper, Storefront};
use std::time::{Duration, Instant};

#[tokio::test]
async fn an_unreachable_idp_at_start_gives_503_logins_until_it_appears() {
    let origin = Storefront::start().expect("origin");
    let idp_port = free_port();
    let config = GatewayConfig::default();
    let port = config.port;
    let issuer = format!("http://127.0.0.1:{idp_port}");
    let gateway = config
        .site(&Shop::site_toml(&origin.addr(), &issuer, ""))
        .start()
        .expect("gateway");
    let shopper = Shopper::new(&["shop"]).expect("client");

    let ready = reqwest::get(gateway.admin_url("/readyz")).await.expect("readyz");
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<serde_json::Value>().await.expect("json")["checks"]["oidc:shop"],
        false
    );
    let resp = shopper
        .page(&gateway.site_url("shop", "/account"))
        .await
        .expect("login route");
    assert_eq!(resp.status(), 503);
    assert!(resp.text().await.expect("body").contains("idp_unavailable"));
    let resp = shopper
        .page(&gateway.site_url("shop", "/catalog"))
        .await
        .expect("public route");
    assert_eq!(resp.status(), 200, "public pages keep being served");

    // The IdP comes up: the gateway notices by itself and logins work.
    let callback = format!("http://shop.localhost:{port}/login/sso/callback");
    let _idp = Idp::start_on(idp_port, &[callback], &[]).expect("idp");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = reqwest::get(gateway.admin_url("/readyz"))
            .await
            .expect("readyz")
            .status();
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "never became ready:\n{}", gateway.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let start = shopper
        .page(&gateway.site_url("shop", "/account"))
        .await
        .expect("login route");
    let landing = shopper.walk(start, "heidi").await.expect("walk");
    assert_eq!(landing.status, 200);
    assert_eq!(
        echo_of(&landing.body).expect("echo")["headers"]["x-customer-id"],
        "heidi"
    );
}

#[tokio::test]
async fn existing_sessions_keep_working_while_the_idp_is_down() {
    let shop = Shop::start().expect("shop");
    let shopper = Shopper::new(&["shop"]).expect("client");
    shop.sign_in(&shopper, "/account", "ivan").await.expect("login");
    let Shop {
        origin: _origin,
        idp,
        gateway,
    } = shop;
    drop(idp);

    for _ in 0..3 {
        let resp = shopper
            .api(&gateway.site_url("shop", "/account/orders"))
            .await
            .expect("request");
        assert_eq!(resp.status(), 200);
        let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
        assert_eq!(echo["headers"]["x-customer-id"], "ivan");
    }
}
