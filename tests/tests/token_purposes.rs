//! The gateway's two tokens cannot stand in for one another, and both live and die
//! with the session they name; a customer's sessions per site are capped. Against
//! the real gateway binary, the real OpenID provider and the demo origin.

use sso_tests::{echo_of, GatewayConfig, Shop, Shopper};

fn header<'a>(echo: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    echo["headers"][name].as_str()
}

/// `GET /api/orders` from a client with no cookies, with `token` as the bearer.
async fn api_with_bearer(shop: &Shop, token: &str) -> reqwest::Response {
    let stranger = Shopper::new(&["shop"]).expect("client");
    stranger
        .http
        .get(shop.url("/api/orders"))
        .bearer_auth(token)
        .header("accept", "application/json")
        .send()
        .await
        .expect("api call")
}

/// The JOSE header of a JWT.
fn jose_header(jwt: &str) -> serde_json::Value {
    jsonwebtoken::decode_header(jwt)
        .map(|h| serde_json::to_value(h).expect("json"))
        .expect("a JWT")
}

#[tokio::test]
async fn each_token_serves_its_own_purpose_and_dies_with_the_session() {
    let shop = Shop::start().expect("shop");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let landing = shop.sign_in(&shopper, "/account", "hana").await.expect("login");
    assert_eq!(landing.status, 200, "{landing:?}");
    let echo = echo_of(&landing.body).expect("echo");
    let customer_token = header(&echo, "x-customer-token").expect("X-Customer-Token").to_string();
    assert_eq!(jose_header(&customer_token)["typ"], "customer+jwt");

    // (1) The origin's token is not a credential at the gateway.
    let resp = api_with_bearer(&shop, &customer_token).await;
    assert_eq!(resp.status(), 401, "an X-Customer-Token was accepted as a bearer");
    let metrics = shop.gateway.metrics().await;
    assert!(
        metrics.contains("sso_gateway_rejected_total{reason=\"bad_token\",site=\"shop\"} 1"),
        "{metrics}"
    );

    // (2) The API token, in the OAuth token response shape, works without cookies.
    let resp = shopper.api(&shop.url("/_sso/token")).await.expect("token");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("token").is_none(), "{body}");
    let expires_in = body["expires_in"].as_u64().expect("expires_in");
    assert!((1..=300).contains(&expires_in), "expires_in {expires_in}");
    let api_token = body["access_token"].as_str().expect("access_token").to_string();
    assert_eq!(jose_header(&api_token)["typ"], "at+jwt");

    let resp = api_with_bearer(&shop, &api_token).await;
    assert_eq!(resp.status(), 200);
    let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
    assert_eq!(header(&echo, "x-customer-id"), Some("hana"));
    assert_eq!(header(&echo, "x-customer-email"), Some("hana@example.com"));
    let to_origin = header(&echo, "x-customer-token").expect("X-Customer-Token");
    assert_ne!(to_origin, api_token, "the origin must never get the bearer token");
    assert_eq!(jose_header(to_origin)["typ"], "customer+jwt");
    assert!(echo["headers"].get("authorization").is_none(), "{echo}");

    // An API token cannot mint another (only the cookie can).
    let resp = Shopper::new(&["shop"])
        .expect("client")
        .http
        .get(shop.url("/_sso/token"))
        .bearer_auth(&api_token)
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 401);

    // (3) Logging out with the cookie ends the session: the API token stops at once.
    let resp = shopper.page(&shop.url("/_sso/logout")).await.expect("logout");
    assert_eq!(resp.status(), 303);
    let resp = api_with_bearer(&shop, &api_token).await;
    assert_eq!(resp.status(), 401, "an API token outlived its session");
}

#[tokio::test]
async fn signing_in_past_max_per_customer_ends_the_oldest_session() {
    let config = GatewayConfig {
        extra_sessions: "max_per_customer = 2".into(),
        ..GatewayConfig::default()
    };
    let shop = Shop::start_with(config, "").expect("shop");
    let browsers: Vec<Shopper> = (0..3).map(|_| Shopper::new(&["shop"]).expect("client")).collect();
    let mut api_tokens = Vec::new();
    for browser in &browsers {
        let landing = shop.sign_in(browser, "/account", "ivan").await.expect("login");
        assert_eq!(landing.status, 200, "{landing:?}");
        api_tokens.push(shop.api_token(browser).await.expect("api token"));
    }
    let session = |browser: &Shopper| {
        let url = shop.url("/_sso/session");
        let http = browser.http.clone();
        async move {
            let resp = http
                .get(url)
                .header("accept", "application/json")
                .send()
                .await
                .expect("session");
            resp.json::<serde_json::Value>().await.expect("json")
        }
    };
    assert_eq!(
        session(&browsers[0]).await["authenticated"],
        false,
        "the oldest of three sessions (max_per_customer = 2) still works"
    );
    for newer in &browsers[1..] {
        let s = session(newer).await;
        assert_eq!(s["authenticated"], true, "{s}");
        assert_eq!(s["customer"]["id"], "ivan");
    }
    assert_eq!(api_with_bearer(&shop, &api_tokens[0]).await.status(), 401);
    assert_eq!(api_with_bearer(&shop, &api_tokens[2]).await.status(), 200);
    let metrics = shop.gateway.metrics().await;
    assert!(metrics.contains("sso_gateway_sessions_active 2"), "{metrics}");
}
