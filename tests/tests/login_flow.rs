//! The OpenID Connect login as a shopper and the origin see it, against the real
//! `oidc-provider` and the real gateway binary.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sso_tests::{echo_of, Shop, Shopper};

fn header<'a>(echo: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    echo["headers"][name].as_str()
}

#[tokio::test]
async fn a_shopper_signs_in_and_the_origin_gets_a_verified_identity() {
    let shop = Shop::start().expect("shop");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let landing = shop
        .sign_in(&shopper, "/account/orders?page=2", "alice")
        .await
        .expect("login");

    assert_eq!(landing.status, 200, "{landing:?}");
    assert_eq!(landing.url.as_str(), shop.url("/account/orders?page=2"));
    assert!(
        landing.visited.iter().any(|u| u.port() == Some(shop.idp.port)),
        "the IdP was visited"
    );
    let echo = echo_of(&landing.body).expect("echo");
    assert_eq!(echo["url"], "/account/orders?page=2");
    assert_eq!(header(&echo, "x-customer-id"), Some("alice"));
    assert_eq!(header(&echo, "x-customer-email"), Some("alice@example.com"));
    assert_eq!(header(&echo, "x-customer-name"), Some("Alice"));
    assert!(landing.body.contains("Welcome back, <b>Alice</b>"));
    assert_eq!(
        landing.headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("private")
    );

    // The token verifies with the published keys and names the same customer.
    let token = header(&echo, "x-customer-token").expect("token");
    let jwks_response = shopper.api(&shop.url("/_sso/jwks.json")).await.expect("jwks");
    assert_eq!(
        jwks_response.headers()["cache-control"],
        "public, max-age=300",
        "origins may cache the JWKS"
    );
    let jwks: serde_json::Value = shopper
        .api(&shop.url("/_sso/jwks.json"))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let jwk = &jwks["keys"][0];
    assert_eq!(jwk["alg"], "ES256");
    let key =
        DecodingKey::from_ec_components(jwk["x"].as_str().expect("x"), jwk["y"].as_str().expect("y")).expect("key");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&["shop"]);
    validation.set_issuer(&[shop.url("")]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .expect("token verifies")
        .claims;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    let lifetime = claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat");
    assert!(lifetime <= 300, "token lives {lifetime}s");

    // The session endpoint names the shopper; the IdP's tokens never reach the browser.
    let session = shop.session_of(&shopper).await.expect("session");
    assert_eq!(session["authenticated"], true);
    assert_eq!(session["customer"]["id"], "alice");
    assert_eq!(session["customer"]["email"], "alice@example.com");
    assert!(session["expires_at"].as_str().is_some_and(|s| s.ends_with('Z')));
    // How and when the shopper authenticated: the IdP's `auth_time`, kept with the session.
    assert_eq!(session["method"], "oidc");
    let auth_time = session["auth_time"].as_str().unwrap_or_default().to_string();
    assert!(
        auth_time.ends_with('Z') && auth_time.as_str() <= session["expires_at"].as_str().unwrap_or_default(),
        "{session}"
    );
    assert!(!session.to_string().contains("id_token"));

    // A logged-in request with a spoofed identity reaches the origin with the real one.
    let resp = shopper
        .http
        .get(shop.url("/account"))
        .header("accept", "application/json")
        .header("X-Customer-Id", "bob")
        .header("X-Customer_Email", "bob@example.com")
        .send()
        .await
        .expect("request");
    let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
    assert_eq!(header(&echo, "x-customer-id"), Some("alice"));
    assert_eq!(header(&echo, "x-customer-email"), Some("alice@example.com"));
    let raw: Vec<&str> = echo["rawHeaders"]
        .as_array()
        .expect("raw")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        !raw.iter()
            .any(|h| h.eq_ignore_ascii_case("x-customer_email") || *h == "bob"),
        "{raw:?}"
    );

    let metrics = shop.gateway.metrics().await;
    assert!(
        metrics.contains("sso_gateway_logins_total{method=\"oidc\",outcome=\"success\",site=\"shop\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("sso_gateway_sessions_active 1"), "{metrics}");
    assert!(
        metrics.contains("sso_gateway_idp_request_duration_seconds_count{endpoint=\"token\",site=\"shop\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn anonymous_calls_get_401_json_and_anonymous_browsers_a_login_redirect() {
    let shop = Shop::start().expect("shop");
    shop.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");

    let resp = shopper.page(&shop.url("/api/cart")).await.expect("api");
    assert_eq!(resp.status(), 401, "an API route never redirects, even for a browser");
    assert!(resp.headers().get("www-authenticate").is_some());
    assert_eq!(
        resp.json::<serde_json::Value>().await.expect("json")["error"],
        "login_required"
    );

    let resp = shopper.api(&shop.url("/account")).await.expect("xhr");
    assert_eq!(resp.status(), 401);

    let resp = shopper.page(&shop.url("/account?tab=1")).await.expect("page");
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().expect("location").to_string();
    assert!(
        location.starts_with(&format!("{}/auth?", shop.idp.issuer())),
        "{location}"
    );
    for part in [
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "response_type=code",
        "scope=openid",
    ] {
        assert!(location.contains(part), "{part} missing in {location}");
    }
    let set_cookie = resp.headers()["set-cookie"].to_str().expect("cookie");
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );

    let resp = shopper.page(&shop.url("/catalog")).await.expect("public");
    assert_eq!(resp.status(), 200);
    let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
    assert!(header(&echo, "x-customer-id").is_none());

    let session: serde_json::Value = shopper
        .api(&shop.url("/_sso/session"))
        .await
        .expect("s")
        .json()
        .await
        .expect("json");
    assert_eq!(session["authenticated"], false);
    assert_eq!(
        shopper.api(&shop.url("/_sso/token")).await.expect("token").status(),
        401
    );
}

#[tokio::test]
async fn a_tampered_or_forged_cookie_is_anonymous() {
    let shop = Shop::start().expect("shop");
    let shopper = Shopper::new(&["shop"]).expect("client");
    shop.sign_in(&shopper, "/account", "carol").await.expect("login");
    let cookies = shopper.cookies_for(&shop.url("/"));
    let value = cookies
        .split("sso_session=")
        .nth(1)
        .expect("session cookie")
        .split(';')
        .next()
        .expect("value");

    let mut flipped = value.as_bytes().to_vec();
    flipped[5] = if flipped[5] == b'a' { b'b' } else { b'a' };
    let flipped = String::from_utf8(flipped).expect("utf8");
    let forged = format!("{}.{}", "A".repeat(43), "A".repeat(22));
    let stranger = Shopper::new(&["shop"]).expect("client");
    for bad in [flipped.as_str(), forged.as_str(), "garbage", "", "%00%ff"] {
        let resp = stranger
            .http
            .get(shop.url("/account"))
            .header("accept", "text/html")
            .header("cookie", format!("sso_session={bad}"))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 302, "cookie {bad:?} was accepted");
    }
    // The real cookie still works for its owner, and the gateway kept serving.
    let resp = shopper.api(&shop.url("/_sso/session")).await.expect("session");
    assert_eq!(
        resp.json::<serde_json::Value>().await.expect("json")["customer"]["id"],
        "carol"
    );
    let metrics = shop.gateway.metrics().await;
    assert!(
        metrics.contains("sso_gateway_rejected_total{reason=\"bad_cookie\",site=\"shop\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn logout_ends_the_session_here_and_at_the_idp() {
    let shop = Shop::start().expect("shop");
    let shopper = Shopper::new(&["shop"]).expect("client");
    shop.sign_in(&shopper, "/account", "dave").await.expect("login");
    let old_cookie = shopper.cookies_for(&shop.url("/"));

    let resp = shopper.page(&shop.url("/_sso/logout")).await.expect("logout");
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str().expect("location").to_string();
    assert!(
        location.starts_with(&format!("{}/session/end?", shop.idp.issuer())),
        "{location}"
    );
    // By default the session keeps no ID token: logout names the client instead.
    assert!(
        location.contains("client_id=storefront")
            && location.contains("post_logout_redirect_uri=")
            && !location.contains("id_token_hint="),
        "{location}"
    );
    let cleared = resp.headers()["set-cookie"].to_str().expect("set-cookie");
    assert!(
        cleared.contains("Max-Age=0") && cleared.contains("HttpOnly"),
        "{cleared}"
    );

    let resp = shopper.page(&shop.url("/account")).await.expect("account");
    assert_eq!(resp.status(), 302, "after logout /account asks for login again");
    let replay = Shopper::new(&["shop"]).expect("client");
    let resp = replay
        .http
        .get(shop.url("/account"))
        .header("cookie", old_cookie)
        .send()
        .await
        .expect("replay");
    assert_eq!(resp.status(), 302, "the old session cookie is dead");
}

#[tokio::test]
async fn a_return_to_on_another_site_never_leaves_the_shop() {
    let shop = Shop::start().expect("shop");
    shop.ready().await.expect("ready");
    for target in [
        "//evil.example/x",
        "https://evil.example/",
        "/%2f%2fevil.example",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let shopper = Shopper::new(&["shop"]).expect("client");
        let url = format!(
            "{}?return_to={}",
            shop.url("/_sso/login"),
            url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()
        );
        let landing = shopper
            .walk(shopper.page(&url).await.expect("login"), "erin")
            .await
            .expect("walk");
        assert_eq!(
            landing.url.as_str(),
            shop.url("/"),
            "return_to {target:?} led to {}",
            landing.url
        );
        assert!(
            landing.visited.iter().all(|u| u.host_str() != Some("evil.example")),
            "{:?}",
            landing.visited
        );
    }
    let metrics = shop.gateway.metrics().await;
    assert!(
        metrics.contains("sso_gateway_rejected_total{reason=\"open_redirect\",site=\"shop\"} 5"),
        "{metrics}"
    );
}

#[tokio::test]
async fn callbacks_are_single_use_bound_to_the_browser_and_checked() {
    let shop = Shop::start().expect("shop");
    shop.ready().await.expect("ready");
    let is_callback = |u: &url::Url| u.path() == "/login/sso/callback";

    // Finished in another browser: refused.
    let alice = Shopper::new(&["shop"]).expect("client");
    let stop = alice
        .walk_until(
            alice.page(&shop.url("/account")).await.expect("start"),
            "alice",
            is_callback,
        )
        .await
        .expect("walk");
    let thief = Shopper::new(&["shop"]).expect("client");
    let resp = thief.page(stop.url.as_str()).await.expect("callback");
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.expect("body").contains("browser_mismatch"));
    // The state was spent by that attempt: the real browser must start again.
    let resp = alice.page(stop.url.as_str()).await.expect("callback");
    assert_eq!(resp.status(), 400);

    // A completed callback cannot be replayed.
    let bob = Shopper::new(&["shop"]).expect("client");
    let stop = bob
        .walk_until(
            bob.page(&shop.url("/account")).await.expect("start"),
            "bob",
            is_callback,
        )
        .await
        .expect("walk");
    assert_eq!(bob.page(stop.url.as_str()).await.expect("callback").status(), 303);
    // Bob's own browser, still signed in, is sent on (the Back button) with no new
    // session; any other browser gets the refusal (tests/tests/way_back.rs).
    let resp = bob.page(stop.url.as_str()).await.expect("replay");
    assert_eq!(resp.status(), 303);
    assert!(resp.headers().get("set-cookie").is_none(), "a replay sets nothing");
    let resp = Shopper::new(&["shop"])
        .expect("client")
        .page(stop.url.as_str())
        .await
        .expect("replay elsewhere");
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.expect("body").contains("state_unknown"));

    // Repeated parameters, unknown states and IdP errors get clear pages, not 500s.
    let cb = shop.url("/login/sso/callback");
    for (query, status, code) in [
        ("state=a&state=b&code=c", 400, "bad_callback"),
        ("code=c", 400, "bad_callback"),
        ("state=nope&code=c", 400, "state_unknown"),
        ("error=access_denied&state=nope", 400, "state_unknown"),
    ] {
        let resp = bob.page(&format!("{cb}?{query}")).await.expect("callback");
        assert_eq!(resp.status(), status, "{query}");
        assert!(resp.text().await.expect("body").contains(code), "{query}");
    }
    let carl = Shopper::new(&["shop"]).expect("client");
    let start = carl.page(&shop.url("/_sso/login?return_to=/x")).await.expect("start");
    let authorize = url::Url::parse(start.headers()["location"].to_str().expect("loc")).expect("url");
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .expect("state")
        .1
        .to_string();
    let resp = carl
        .page(&format!("{cb}?error=access_denied&state={state}"))
        .await
        .expect("callback");
    // A cancel at the IdP goes back to the shop (tests/tests/way_back.rs).
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/x?sso_notice=sign_in_cancelled");
}

#[tokio::test]
async fn two_tabs_can_log_in_at_once() {
    let shop = Shop::start().expect("shop");
    shop.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let is_callback = |u: &url::Url| u.path() == "/login/sso/callback";
    let tab1 = shopper.page(&shop.url("/account/one")).await.expect("tab 1");
    let tab2 = shopper.page(&shop.url("/account/two")).await.expect("tab 2");
    let cb2 = shopper.walk_until(tab2, "frank", is_callback).await.expect("walk 2");
    let cb1 = shopper.walk_until(tab1, "frank", is_callback).await.expect("walk 1");
    for (cb, path) in [(cb2, "/account/two"), (cb1, "/account/one")] {
        let resp = shopper.page(cb.url.as_str()).await.expect("callback");
        assert_eq!(resp.status(), 303);
        assert_eq!(resp.headers()["location"], path);
    }
}

#[tokio::test]
async fn the_gateway_token_works_as_a_bearer_on_api_routes() {
    let shop = Shop::start().expect("shop");
    let shopper = Shopper::new(&["shop"]).expect("client");
    shop.sign_in(&shopper, "/account", "grace").await.expect("login");
    let token: serde_json::Value = shopper
        .api(&shop.url("/_sso/token"))
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let expires_in = token["expires_in"].as_u64().expect("expires_in");
    assert!((1..=300).contains(&expires_in), "expires_in {expires_in}");
    assert_eq!(token["token_type"], "Bearer");
    let token = token["access_token"].as_str().expect("access_token").to_string();

    let api_client = Shopper::new(&["shop"]).expect("client");
    let resp = api_client
        .http
        .get(shop.url("/api/orders"))
        .bearer_auth(&token)
        .header("accept", "application/json")
        .send()
        .await
        .expect("api");
    assert_eq!(resp.status(), 200);
    let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
    assert_eq!(header(&echo, "x-customer-id"), Some("grace"));

    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    let resp = api_client
        .http
        .get(shop.url("/api/orders"))
        .bearer_auth(&forged)
        .send()
        .await
        .expect("api");
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn with_logout_id_token_hint_the_logout_carries_the_id_token() {
    let shop = Shop::start_with(sso_tests::GatewayConfig::default(), "logout_id_token_hint = true").expect("shop");
    let shopper = Shopper::new(&["shop"]).expect("client");
    shop.sign_in(&shopper, "/account", "erin").await.expect("login");
    let resp = shopper.page(&shop.url("/_sso/logout")).await.expect("logout");
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str().expect("location");
    assert!(
        location.contains("id_token_hint=ey") && location.contains("post_logout_redirect_uri="),
        "{location}"
    );
}
