//! Keeping IdP tokens fresh: one refresh per session when it is due, however many
//! requests arrive at once; a refresh the IdP refuses ends the session.

use sso_tests::{echo_of, GatewayConfig, Idp, Shop, Shopper, Storefront};
use std::time::Duration;

#[tokio::test]
async fn tokens_are_refreshed_once_and_a_refused_refresh_ends_the_session() {
    let origin = Storefront::start().expect("origin");
    let config = GatewayConfig::default();
    let callback = format!("http://shop.localhost:{}/login/sso/callback", config.port);
    let env = [("ACCESS_TOKEN_TTL", "4")];
    let idp = Idp::start_with(sso_tests::free_port(), std::slice::from_ref(&callback), &[], &env).expect("idp");
    let idp_port = idp.port;
    let gateway = config
        .site(&Shop::site_toml(&origin.addr(), &idp.issuer(), ""))
        .start()
        .expect("gateway");
    let shop = Shop { origin, idp, gateway };
    let shopper = Shopper::new(&["shop"]).expect("client");
    shop.sign_in(&shopper, "/account", "lena").await.expect("login");

    // Three quarters of the 4 s access token: the next requests are due to refresh.
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let url = shop.url("/account/orders");
    let mut parallel = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (http, url) = (shopper.http.clone(), url.clone());
        parallel.spawn(async move { http.get(url).header("accept", "application/json").send().await });
    }
    while let Some(resp) = parallel.join_next().await {
        let resp = resp.expect("join").expect("request");
        assert_eq!(resp.status(), 200);
        let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
        assert_eq!(echo["headers"]["x-customer-id"], "lena");
    }
    let metrics = shop.gateway.metrics().await;
    assert!(
        metrics.contains("sso_gateway_logins_total{method=\"oidc\",outcome=\"refreshed\",site=\"shop\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sso_gateway_idp_request_duration_seconds_count{endpoint=\"refresh\",site=\"shop\"} 1"),
        "six parallel requests made more than one refresh:\n{metrics}"
    );

    // The IdP restarts and forgets its refresh tokens: the next refresh is refused
    // (invalid_grant) and the shopper is signed out.
    let Shop {
        idp,
        gateway,
        origin: _origin,
    } = shop;
    drop(idp);
    let _idp = Idp::start_with(idp_port, &[callback], &[], &env).expect("idp again");
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let resp = shopper
        .page(&gateway.site_url("shop", "/account"))
        .await
        .expect("request");
    assert_eq!(
        resp.status(),
        302,
        "a refused refresh must end the session:\n{}",
        gateway.log()
    );
    let metrics = gateway.metrics().await;
    assert!(
        metrics.contains("sso_gateway_logins_total{method=\"oidc\",outcome=\"refresh_refused\",site=\"shop\"} 1"),
        "{metrics}"
    );
}
