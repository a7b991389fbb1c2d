//! The shopper's way back (docs/pages.md#the-way-back), with the real IdP and the
//! demo origin: Cancel on the IdP's sign-in page, other IdP errors, the Back button
//! to a finished sign-in's callback (which must never sign anyone in), and the way
//! back on the gateway's pages; then the same journey in Chromium.

use reqwest::Response;
use sso_tests::{repo_root, Shop, Shopper};
use std::process::Command;
use url::Url;

const CANCELLED: &str = "sso_gateway_logins_total{method=\"oidc\",outcome=\"sign_in_cancelled\",site=\"shop\"}";

fn location(resp: &Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn is_callback(u: &Url) -> bool {
    u.path() == "/login/sso/callback"
}

/// Follows redirects from `start` up to the IdP's sign-in page, clicks its
/// `[ Cancel ]` link as a person would, and follows the IdP's answer up to the
/// shop's callback: its URL, not yet requested.
async fn cancel_at_idp(shopper: &Shopper, start: &str) -> Url {
    let mut resp = shopper.page(start).await.expect("start");
    for _ in 0..10 {
        if !resp.status().is_redirection() {
            break;
        }
        let next = resp.url().join(&location(&resp)).expect("url");
        resp = shopper.page(next.as_str()).await.expect("hop");
    }
    let page_url = resp.url().clone();
    let body = resp.text().await.expect("idp page");
    let cancel = body
        .split("<a href=\"")
        .skip(1)
        .find(|a| a.contains("[ Cancel ]"))
        .and_then(|a| a.split('"').next())
        .unwrap_or_else(|| panic!("no Cancel link on the IdP's page:\n{body}"));
    let mut next = page_url.join(&cancel.replace("&amp;", "&")).expect("cancel url");
    for _ in 0..10 {
        if is_callback(&next) {
            return next;
        }
        let resp = shopper.page(next.as_str()).await.expect("idp hop");
        assert!(resp.status().is_redirection(), "{next}: {}", resp.status());
        next = resp.url().join(&location(&resp)).expect("url");
    }
    panic!("the IdP never came back to the callback");
}

/// A login started for real (its flow cookie in `shopper`'s jar): its `state`.
async fn started_state(shop: &Shop, shopper: &Shopper, return_to: &str) -> String {
    let start = shopper
        .page(&shop.url(&format!("/_sso/login?return_to={return_to}")))
        .await
        .expect("start");
    let authorize = Url::parse(&location(&start)).expect("authorize url");
    let state = authorize.query_pairs().find(|(k, _)| k == "state").expect("state").1;
    state.into_owned()
}

/// A page's status, code and request id check: the page shows its `X-Request-Id`
/// and leads back to `back` (an absolute URL).
async fn assert_page(resp: Response, status: u16, code: &str, back: &str) {
    assert_eq!(resp.status(), status, "{code}");
    let id = resp.headers()["x-request-id"].to_str().expect("ascii").to_string();
    let body = resp.text().await.expect("body");
    assert!(body.contains(code), "{code}: {body}");
    assert!(body.contains(&id), "{code}: the page shows the request id {id}: {body}");
    assert!(
        body.contains(&format!("href=\"{back}\"")),
        "{code}: the page leads back to {back}: {body}"
    );
}

#[tokio::test]
async fn cancel_at_the_idp_goes_back_to_the_shop_signed_out_with_a_notice() {
    let shop = Shop::start().expect("shop");
    shop.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");

    // From a public page: back on it, its query kept, the notice added.
    let callback = cancel_at_idp(&shopper, &shop.url("/_sso/login?return_to=%2Fshoes%3Fsize%3D9")).await;
    assert!(
        callback
            .query_pairs()
            .any(|(k, v)| k == "error" && v == "access_denied"),
        "{callback}"
    );
    let resp = shopper.page(callback.as_str()).await.expect("callback");
    assert_eq!(resp.status(), 303, "{}", shop.gateway.log());
    assert_eq!(location(&resp), "/shoes?size=9&sso_notice=sign_in_cancelled");
    let landed = shopper.page(&shop.url(&location(&resp))).await.expect("landing");
    assert_eq!(landed.status(), 200);
    let body = landed.text().await.expect("body");
    assert!(
        body.contains("id=\"sso-notice\""),
        "the demo shop shows the notice: {body}"
    );
    assert!(body.contains("Hello, guest"), "{body}");
    assert_eq!(
        shop.session_of(&shopper).await.expect("session")["authenticated"],
        false
    );

    // The state is spent: the same callback again is the clear refusal it always was.
    let again = shopper.page(callback.as_str()).await.expect("again");
    assert_page(again, 400, "state_unknown", &shop.url("/")).await;

    // From a login-only page (it would only send the shopper to the IdP again): home.
    let callback = cancel_at_idp(&shopper, &shop.url("/account/orders")).await;
    let resp = shopper.page(callback.as_str()).await.expect("callback");
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/?sso_notice=sign_in_cancelled");
    assert_eq!(shop.gateway.metric(CANCELLED).await, 2.0);

    // Another browser cannot bring a shopper's cancel back: no flow cookie, refused,
    // and the state is spent for the browser that started it too.
    let stranger = Shopper::new(&["shop"]).expect("client");
    let callback = cancel_at_idp(&shopper, &shop.url("/_sso/login?return_to=/shoes")).await;
    let resp = stranger.page(callback.as_str()).await.expect("stranger");
    assert_page(resp, 400, "browser_mismatch", &shop.url("/")).await;
    let resp = shopper.page(callback.as_str()).await.expect("owner");
    assert_page(resp, 400, "state_unknown", &shop.url("/")).await;
    // A made-up state with `access_denied` is refused as before.
    let forged = shop.url("/login/sso/callback?error=access_denied&state=made-up");
    assert_page(
        shopper.page(&forged).await.expect("forged"),
        400,
        "state_unknown",
        &shop.url("/"),
    )
    .await;
    assert_eq!(shop.gateway.metric(CANCELLED).await, 2.0);
}

#[tokio::test]
async fn other_idp_errors_get_a_clear_page_that_leads_back() {
    let shop = Shop::start().expect("shop");
    shop.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let cb = shop.url("/login/sso/callback");
    for (return_to, error, status, code, back) in [
        ("/shoes", "server_error", 502, "idp_error", "/shoes"),
        (
            "/shoes%3Fsize%3D9",
            "temporarily_unavailable",
            503,
            "idp_unavailable",
            "/shoes?size=9",
        ),
        ("/shoes", "login_required", 403, "idp_refused", "/shoes"),
        // A login-only page is no way back: it would start another sign-in.
        ("/account/orders", "login_required", 403, "idp_refused", "/"),
    ] {
        let state = started_state(&shop, &shopper, return_to).await;
        let resp = shopper
            .page(&format!("{cb}?error={error}&state={state}"))
            .await
            .expect("callback");
        assert_page(resp, status, code, &shop.url(back)).await;
    }
    assert_eq!(
        shop.session_of(&shopper).await.expect("session")["authenticated"],
        false
    );
    // The chooser-less site's 404 and every other page keep their way back too.
    let resp = shopper.page(&shop.url("/_sso/nothing")).await.expect("404");
    assert_page(resp, 404, "not_found", &shop.url("/")).await;
}

#[tokio::test]
async fn the_back_button_to_a_finished_callback_sends_a_signed_in_shopper_on() {
    let shop = Shop::start().expect("shop");
    shop.ready().await.expect("ready");
    let alice = Shopper::new(&["shop"]).expect("client");
    let start = alice.page(&shop.url("/account/orders?page=2")).await.expect("start");
    let stop = alice.walk_until(start, "alice", is_callback).await.expect("walk");
    let callback = stop.url.to_string();
    let first = alice.page(&callback).await.expect("callback");
    assert_eq!(first.status(), 303);
    assert_eq!(location(&first), "/account/orders?page=2");
    let cookie = alice.cookies_for(&shop.url("/"));
    assert_eq!(
        shop.session_of(&alice).await.expect("session")["customer"]["id"],
        "alice"
    );

    // Back to the callback, twice: on to the page, the session untouched.
    for _ in 0..2 {
        let again = alice.page(&callback).await.expect("again");
        assert_eq!(again.status(), 303, "{}", shop.gateway.log());
        assert_eq!(location(&again), "/account/orders?page=2");
        let set: Vec<_> = again.headers().get_all("set-cookie").iter().collect();
        assert!(set.is_empty(), "a replay sets no cookie: {set:?}");
        assert_eq!(alice.cookies_for(&shop.url("/")), cookie);
    }
    let landed = alice.page(&shop.url("/account/orders?page=2")).await.expect("page");
    assert!(landed.text().await.expect("body").contains("Welcome back"));

    // A stranger with alice's callback URL is not signed in, and gets a clear page.
    let stranger = Shopper::new(&["shop"]).expect("client");
    let resp = stranger.page(&callback).await.expect("stranger");
    let sets_session = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap_or_default().starts_with("sso_session="));
    assert!(!sets_session, "a replayed callback set a session cookie");
    assert_page(resp, 400, "state_unknown", &shop.url("/")).await;
    assert_eq!(
        shop.session_of(&stranger).await.expect("session")["authenticated"],
        false
    );

    // Another signed-in shopper gets the refusal, still who they were: that browser
    // holds no marker of alice's sign-in, and nothing of alice's session reaches it.
    let bob = Shopper::new(&["shop"]).expect("client");
    let start = bob.page(&shop.url("/account")).await.expect("start");
    bob.walk(start, "bob").await.expect("bob signs in");
    let resp = bob.page(&callback).await.expect("bob replays");
    assert_page(resp, 400, "state_unknown", &shop.url("/")).await;
    assert_eq!(shop.session_of(&bob).await.expect("session")["customer"]["id"], "bob");
    assert_eq!(
        shop.session_of(&alice).await.expect("session")["customer"]["id"],
        "alice"
    );

    // Signed out, alice's Back to the callback is the clear page again, not a sign-in.
    let out = alice.page(&shop.url("/_sso/logout")).await.expect("logout");
    assert!(out.status().is_redirection());
    let resp = alice.page(&callback).await.expect("after logout");
    assert_page(resp, 400, "state_unknown", &shop.url("/")).await;
    assert_eq!(shop.session_of(&alice).await.expect("session")["authenticated"], false);
}

#[tokio::test]
async fn in_chromium_cancel_and_back_land_on_shop_pages() {
    let shop = Shop::start().expect("shop");
    shop.ready().await.expect("ready");
    let script = repo_root().join("tests/browser/way_back.mjs");
    let base = shop.url("/");
    let out = tokio::task::spawn_blocking(move || Command::new("node").arg(script).arg(base).arg("judy").output())
        .await
        .expect("join")
        .expect("node runs");
    let seen = sso_tests::script_result("way_back.mjs", &out);
    eprintln!("way_back.mjs saw: {seen}");
    assert!(
        seen.get("error").is_none(),
        "journey failed: {seen}\ngateway log:\n{}",
        shop.gateway.log()
    );
    let public = &seen["publicCancel"];
    assert!(
        public["idp"]
            .as_str()
            .is_some_and(|u| u.starts_with(&shop.idp.issuer())),
        "{seen}"
    );
    assert_eq!(public["url"], shop.url("/shoes?size=9&sso_notice=sign_in_cancelled"));
    assert!(
        public["greeting"].as_str().is_some_and(|g| g.contains("Hello, guest")),
        "{seen}"
    );
    assert!(
        public["notice"].as_str().is_some_and(|n| n.contains("cancelled")),
        "{seen}"
    );
    let login_only = &seen["loginCancel"];
    assert_eq!(login_only["url"], shop.url("/?sso_notice=sign_in_cancelled"));
    assert!(login_only["notice"].as_str().is_some(), "{seen}");

    assert_eq!(seen["signedIn"]["url"], shop.url("/account/orders"));
    assert!(
        seen["callback"].as_str().is_some_and(|c| c.contains("state=")),
        "{seen}"
    );
    assert_eq!(
        seen["back"]["gatewayError"], false,
        "the Back button led to an error page: {seen}"
    );
    let again = &seen["callbackAgain"];
    assert_eq!(again["url"], shop.url("/account/orders"), "{seen}");
    assert!(
        again["greeting"]
            .as_str()
            .is_some_and(|g| g.contains("Welcome back, Judy")),
        "{seen}"
    );

    let stranger = &seen["stranger"];
    assert_eq!(stranger["status"], 400, "{seen}");
    assert!(
        stranger["text"].as_str().is_some_and(|t| t.contains("state_unknown")),
        "{seen}"
    );
    assert_eq!(stranger["backHref"], shop.url("/"));
    assert!(
        stranger["afterwards"]
            .as_str()
            .is_some_and(|g| g.contains("Hello, guest")),
        "{seen}"
    );
}

#[tokio::test]
async fn cancel_on_a_shop_that_needs_a_sign_in_everywhere_is_a_page_not_a_loop() {
    let shop = Shop::start_with(
        sso_tests::GatewayConfig::default(),
        "[[sites.routes]]\nprefix = \"/\"\naccess = \"login\"\n",
    )
    .expect("shop");
    shop.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let callback = cancel_at_idp(&shopper, &shop.url("/shoes?size=9")).await;
    let resp = shopper.page(callback.as_str()).await.expect("callback");
    // Not a redirect to `/` (which would send the shopper straight back to the IdP).
    assert_eq!(resp.status(), 200, "{}", location(&resp));
    let body = resp.text().await.expect("body");
    assert!(body.contains("You cancelled the sign-in."), "{body}");
    assert!(
        body.contains(&format!("href=\"{}\"", shop.url("/"))),
        "a link to sign in again: {body}"
    );
    assert_eq!(shop.gateway.metric(CANCELLED).await, 1.0);
}
