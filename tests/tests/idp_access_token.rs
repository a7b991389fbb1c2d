//! `forward_idp_access_token`: on the routes that ask for it (and only there) the
//! origin gets the IdP's own access token as `Authorization: Bearer`, whether the
//! shopper came with the cookie or the gateway's API token; the token is the IdP's
//! (it works at the IdP's userinfo endpoint); a refresh hands the origin the new
//! one; an expired token is never forwarded; a client's own `Authorization` never
//! passes for the IdP's; and no token appears in the gateway's log.

use sso_tests::{echo_of, GatewayConfig, Idp, Shop, Shopper, Storefront};
use std::time::Duration;

/// The routes added to the usual shop: `/account/idp` (login) and `/api/idp` (api)
/// forward the IdP token; `/account` and `/api` do not.
const FORWARDING_ROUTES: &str =
    "[[sites.routes]]\nprefix = \"/account/idp\"\naccess = \"login\"\nforward_idp_access_token = true\n\
     [[sites.routes]]\nprefix = \"/api/idp\"\naccess = \"api\"\nforward_idp_access_token = true\n";

fn authorization(body: &str) -> Option<String> {
    let echo = echo_of(body).expect("echo");
    echo["headers"]["authorization"].as_str().map(str::to_string)
}

async fn get(shopper: &Shopper, url: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut req = shopper.http.get(url).header("accept", "application/json");
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("request")
}

/// What the IdP's userinfo endpoint says of `token`: (status, `sub`).
async fn userinfo(issuer: &str, token: &str) -> (u16, Option<String>) {
    let http = reqwest::Client::new();
    let meta: serde_json::Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    let endpoint = meta["userinfo_endpoint"].as_str().expect("userinfo_endpoint");
    let resp = http.get(endpoint).bearer_auth(token).send().await.expect("userinfo");
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    (status, body["sub"].as_str().map(str::to_string))
}

#[tokio::test]
async fn the_origin_gets_the_live_idp_token_on_forwarding_routes_only() {
    let origin = Storefront::start().expect("origin");
    let config = GatewayConfig::default();
    let callback = format!("http://shop.localhost:{}/login/sso/callback", config.port);
    let env = [("ACCESS_TOKEN_TTL", "4")];
    let idp = Idp::start_with(sso_tests::free_port(), std::slice::from_ref(&callback), &[], &env).expect("idp");
    let issuer = idp.issuer();
    let site = format!("{}{FORWARDING_ROUTES}", Shop::site_toml(&origin.addr(), &issuer, ""));
    let gateway = config.site(&site).start().expect("gateway");
    let shop = Shop { origin, idp, gateway };
    let shopper = Shopper::new(&["shop"]).expect("client");
    shop.sign_in(&shopper, "/account", "nora").await.expect("login");

    // A forwarding route: the IdP's token, not what the client sent as Authorization.
    let resp = get(
        &shopper,
        &shop.url("/account/idp/profile"),
        Some("forged-by-the-client"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let first = authorization(&resp.text().await.expect("body")).expect("Authorization forwarded");
    let first = first.strip_prefix("Bearer ").expect("a bearer").to_string();
    assert_ne!(first, "forged-by-the-client");
    assert_eq!(
        userinfo(&issuer, &first).await,
        (200, Some("nora".into())),
        "it is the IdP's token"
    );

    // The other routes: no IdP token.
    for path in ["/account/orders", "/", "/api/orders"] {
        let resp = get(&shopper, &shop.url(path), None).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(authorization(&resp.text().await.expect("body")), None, "{path}");
    }

    // An SPA with the gateway's API token and no cookie: the origin gets the IdP token,
    // never the gateway's.
    let api = shop.api_token(&shopper).await.expect("api token");
    let spa = Shopper::new(&["shop"]).expect("client");
    let resp = get(&spa, &shop.url("/api/idp/cart"), Some(&api)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        authorization(&resp.text().await.expect("body")),
        Some(format!("Bearer {first}"))
    );
    // Anonymous with a token of its own making: refused, nothing reaches the origin.
    let resp = get(&spa, &shop.url("/api/idp/cart"), Some("forged-by-the-client")).await;
    assert_eq!(resp.status(), 401);

    // Three quarters of the 4 s lifetime later, the request refreshes first, and the
    // origin gets the new token, which works at the IdP too.
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let resp = get(&shopper, &shop.url("/account/idp/profile"), None).await;
    assert_eq!(resp.status(), 200);
    let second = authorization(&resp.text().await.expect("body")).expect("forwarded");
    let second = second.strip_prefix("Bearer ").expect("a bearer").to_string();
    assert_ne!(second, first, "a refresh hands the origin the new token");
    assert_eq!(userinfo(&issuer, &second).await, (200, Some("nora".into())));
    let metrics = shop.gateway.metrics().await;
    assert!(
        metrics.contains("sso_gateway_logins_total{method=\"oidc\",outcome=\"refreshed\",site=\"shop\"} 1"),
        "{metrics}"
    );

    // The IdP goes away: once the token has expired without a refresh, it is not
    // forwarded (503, try again) while the routes that do not need it keep working.
    let Shop {
        idp,
        gateway,
        origin: _origin,
    } = shop;
    drop(idp);
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let resp = get(&shopper, &gateway.site_url("shop", "/account/idp/profile"), None).await;
    assert_eq!(resp.status(), 503, "an expired IdP token was forwarded");
    assert!(resp.headers().contains_key("retry-after"));
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "idp_unavailable");
    let resp = get(&shopper, &gateway.site_url("shop", "/account/orders"), None).await;
    assert_eq!(resp.status(), 200, "the session itself lives on");

    let log = gateway.log();
    for token in [&first, &second, &api] {
        assert!(!log.contains(token.as_str()), "a token in the gateway log:\n{log}");
    }
}

#[tokio::test]
async fn forward_gateway_credentials_does_not_let_a_client_authorization_pass_for_the_idps() {
    let origin = Storefront::start().expect("origin");
    let config = GatewayConfig::default();
    let callback = format!("http://shop.localhost:{}/login/sso/callback", config.port);
    let idp = Idp::start(std::slice::from_ref(&callback), &[]).expect("idp");
    let site = format!(
        "forward_gateway_credentials = true\n{}{FORWARDING_ROUTES}",
        Shop::site_toml(&origin.addr(), &idp.issuer(), "")
    );
    let gateway = config.site(&site).start().expect("gateway");
    let shop = Shop { origin, idp, gateway };
    let shopper = Shopper::new(&["shop"]).expect("client");
    shop.sign_in(&shopper, "/account", "ida").await.expect("login");
    let api = shop.api_token(&shopper).await.expect("api token");

    // With the cookie and the API token together: the origin gets the IdP token.
    let resp = get(&shopper, &shop.url("/api/idp/cart"), Some(&api)).await;
    let body = resp.text().await.expect("body");
    let sent = authorization(&body).expect("forwarded");
    assert_ne!(sent, format!("Bearer {api}"));
    assert_eq!(
        userinfo(&shop.idp.issuer(), sent.trim_start_matches("Bearer "))
            .await
            .1
            .as_deref(),
        Some("ida")
    );
    // The cookie still goes through, as the site asked.
    let echo = echo_of(&body).expect("echo");
    assert!(
        echo["headers"]["cookie"]
            .as_str()
            .is_some_and(|c| c.contains("sso_session")),
        "{echo}"
    );
    // Elsewhere the API token is forwarded as the site asked, and no IdP token.
    let resp = get(&shopper, &shop.url("/api/orders"), Some(&api)).await;
    assert_eq!(
        authorization(&resp.text().await.expect("body")),
        Some(format!("Bearer {api}"))
    );
}

#[test]
fn forwarding_is_refused_where_there_is_no_token_to_forward() {
    let base = "[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n[[sites]]\nname = \"shop\"\n\
                hosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:3000\"]\npublic_url = \"http://shop.localhost\"\n";
    let oidc = "[sites.oidc]\nissuer = \"http://127.0.0.1:9000\"\nclient_id = \"c\"\nclient_secret = \"s\"\n";
    let route = |access: &str| {
        format!("[[sites.routes]]\nprefix = \"/x\"\naccess = \"{access}\"\nforward_idp_access_token = true\n")
    };
    let run = |text: String| sso_tests::gateway::check(&text, &[]).expect("check");

    let (ok, out) = run(format!("{base}{oidc}{}", route("public")));
    assert!(
        !ok && out.contains("sites[0].routes[0].forward_idp_access_token"),
        "{out}"
    );
    let (ok, out) = run(format!("{base}{}", route("public")));
    assert!(!ok && out.contains("add [sites.oidc]"), "{out}");
    let (ok, out) = run(format!("{base}{oidc}{}", route("api")));
    assert!(ok, "{out}");
}

#[tokio::test]
async fn a_session_from_before_the_route_forwarded_gets_401_not_a_stale_or_foreign_token() {
    let origin = Storefront::start().expect("origin");
    let config = GatewayConfig::default();
    let callback = format!("http://shop.localhost:{}/login/sso/callback", config.port);
    let idp = Idp::start(std::slice::from_ref(&callback), &[]).expect("idp");
    let plain = Shop::site_toml(&origin.addr(), &idp.issuer(), "");
    let config = config.site(&plain);
    let before = config.render();
    let gateway = config.start().expect("gateway");
    let shop = Shop { origin, idp, gateway };
    let shopper = Shopper::new(&["shop"]).expect("client");
    shop.sign_in(&shopper, "/account", "olga").await.expect("login");

    // The site did not forward when olga signed in: her session kept no IdP token.
    let after = format!("{before}{FORWARDING_ROUTES}");
    shop.gateway.rewrite_config(&after).expect("rewrite");
    let (status, answer) = shop.gateway.reload(None).await.expect("reload");
    assert_eq!(status, 200, "{answer}");

    let resp = get(
        &shopper,
        &shop.url("/account/idp/profile"),
        Some("forged-by-the-client"),
    )
    .await;
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "idp_token_unavailable");
    assert_eq!(
        shop.gateway
            .metric("sso_gateway_rejected_total{reason=\"idp_token_unavailable\",site=\"shop\"}")
            .await,
        1.0
    );
    // Signing in again gives her a session that holds one.
    let out = shopper.page(&shop.url("/_sso/logout")).await.expect("logout");
    assert!(out.status().is_redirection());
    let shopper = Shopper::new(&["shop"]).expect("client");
    shop.sign_in(&shopper, "/account", "olga").await.expect("login");
    let resp = get(&shopper, &shop.url("/account/idp/profile"), None).await;
    assert_eq!(resp.status(), 200);
    let sent = authorization(&resp.text().await.expect("body")).expect("forwarded");
    assert_eq!(
        userinfo(&shop.idp.issuer(), sent.trim_start_matches("Bearer "))
            .await
            .1
            .as_deref(),
        Some("olga")
    );
}

/// Two replicas on one real Redis: the access token travels with the session record,
/// so the replica that did not see the login forwards it, and a refresh done by one
/// replica reaches the origin through the other.
#[tokio::test]
async fn the_idp_token_is_kept_in_the_shared_session_record() {
    use sso_tests::replicas::{ReplicaOptions, Replicas};
    let env = [("ACCESS_TOKEN_TTL", "4")];
    let r = Replicas::start(ReplicaOptions {
        oidc: FORWARDING_ROUTES,
        idp_env: &env,
        ..ReplicaOptions::default()
    })
    .expect("replicas");
    r.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let start = shopper.page(&r.url_a("/account")).await.expect("start");
    let landing = shopper.walk(start, "pia").await.expect("walk");
    assert_eq!(landing.status, 200, "{landing:?}");

    let forwarded = |body: String| {
        authorization(&body)
            .and_then(|a| a.strip_prefix("Bearer ").map(str::to_string))
            .expect("forwarded")
    };
    let on_b = get(&shopper, &r.url_b("/account/idp/x"), None).await;
    assert_eq!(on_b.status(), 200);
    let first = forwarded(on_b.text().await.expect("body"));
    assert_eq!(userinfo(&r.idp.issuer(), &first).await, (200, Some("pia".into())));

    // B refreshes; A, whose copy is older, forwards the refreshed token too.
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let second = forwarded(
        get(&shopper, &r.url_b("/account/idp/x"), None)
            .await
            .text()
            .await
            .expect("body"),
    );
    assert_ne!(second, first);
    let on_a = forwarded(
        get(&shopper, &r.url_a("/account/idp/x"), None)
            .await
            .text()
            .await
            .expect("body"),
    );
    assert_eq!(userinfo(&r.idp.issuer(), &on_a).await, (200, Some("pia".into())));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Past the first token's expiry: A never forwards it.
    let on_a = forwarded(
        get(&shopper, &r.url_a("/account/idp/x"), None)
            .await
            .text()
            .await
            .expect("body"),
    );
    assert_ne!(on_a, first, "A forwarded an expired token");
    assert_eq!(userinfo(&r.idp.issuer(), &on_a).await, (200, Some("pia".into())));
    for log in [r.a.log(), r.b.log()] {
        assert!(!log.contains(&first) && !log.contains(&second));
    }
}

#[tokio::test]
async fn the_idp_token_goes_only_where_both_readings_of_the_path_agree_and_api_tokens_stay_same_origin() {
    let origin = Storefront::start().expect("origin");
    let config = GatewayConfig::default();
    let callback = format!("http://shop.localhost:{}/login/sso/callback", config.port);
    let idp = Idp::start_with(sso_tests::free_port(), std::slice::from_ref(&callback), &[], &[]).expect("idp");
    let site = format!(
        "{}{FORWARDING_ROUTES}",
        Shop::site_toml(&origin.addr(), &idp.issuer(), "")
    );
    let gateway = config.site(&site).start().expect("gateway");
    let shop = Shop { origin, idp, gateway };
    let shopper = Shopper::new(&["shop"]).expect("client");
    shop.sign_in(&shopper, "/account", "olga").await.expect("login");
    let resp = get(&shopper, &shop.url("/account/idp/profile"), None).await;
    assert!(
        authorization(&resp.text().await.expect("body")).is_some(),
        "the plain path forwards"
    );
    // Case and `;parameter` variants match the rule, but an origin may route them
    // elsewhere: refused, nothing forwarded.
    for variant in [
        "/ACCOUNT/idp/profile",
        "/account;x=1/idp/profile",
        "/account/IDP/profile",
    ] {
        let resp = get(&shopper, &shop.url(variant), None).await;
        assert_eq!(resp.status(), 400, "{variant}");
        let body = resp.text().await.expect("body");
        assert!(
            body.contains("ambiguous_path") && !body.contains("Bearer"),
            "{variant}: {body}"
        );
    }

    // /_sso/token: never to another site's page, and never loadable by another origin.
    let ask = |site: &'static str| {
        shopper
            .http
            .get(shop.url("/_sso/token"))
            .header("accept", "application/json")
            .header("sec-fetch-site", site)
            .send()
    };
    let same = ask("same-origin").await.expect("token");
    assert_eq!(same.status(), 200);
    assert_eq!(
        same.headers()
            .get("cross-origin-resource-policy")
            .and_then(|v| v.to_str().ok()),
        Some("same-origin")
    );
    for other in ["cross-site", "same-site"] {
        assert_eq!(ask(other).await.expect("token").status(), 401, "{other}");
    }
}
