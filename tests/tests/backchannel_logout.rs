//! OpenID Connect Back-Channel Logout against the real provider (issue "done when"):
//! a shopper who signs out at the IdP is signed out of the shop — on one gateway and
//! on two replicas on Redis — and logout tokens that are unsigned, signed by someone
//! else, for another client, carrying a nonce, missing a claim, too old or replayed
//! end nothing. A token for one customer leaves everyone else signed in.

use serde_json::{json, Value};
use sso_tests::backchannel::{idp_key_file, impostor_key_file, now, post_logout_token, LoopbackShop, Minter};
use sso_tests::replicas::TestRedis;
use sso_tests::{Shopper, CLIENT_ID};
use std::time::{Duration, Instant};

/// Signs `login` in through `/account` on gateway `i`.
async fn sign_in(shop: &LoopbackShop, shopper: &Shopper, login: &str) {
    shop.ready().await.expect("ready");
    let start = shopper.page(&shop.url(0, "/account")).await.expect("start");
    let landing = shopper.walk(start, login).await.expect("walk");
    assert_eq!(landing.status, 200, "{landing:?}\n{}", shop.logs());
}

/// The customer `/_sso/session` at `url` names for this shopper, if any.
async fn signed_in_as(shopper: &Shopper, url: &str) -> Option<String> {
    let v: Value = shopper.api(url).await.ok()?.json().await.ok()?;
    v["customer"]["id"].as_str().map(str::to_string)
}

/// Polls `/_sso/session` on gateway `i` until this shopper is anonymous (10 s at most).
async fn anonymous_soon(shop: &LoopbackShop, shopper: &Shopper, i: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if signed_in_as(shopper, &shop.url(i, "/_sso/session")).await.is_none() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Ends the shopper's IdP session as a person would: the provider's end-session page
/// with the IdP's cookies, then its "Yes, sign me out" form.
async fn sign_out_at_idp(shop: &LoopbackShop, shopper: &Shopper) {
    let page = shopper
        .page(&format!("{}/session/end?client_id={CLIENT_ID}", shop.idp.issuer()))
        .await
        .expect("end session page");
    let url = page.url().clone();
    let html = page.text().await.expect("page");
    let field = |after: &str| {
        let start = html.find(after).map(|i| i + after.len())?;
        html[start..].split('"').next().map(str::to_string)
    };
    let action = field("action=\"").unwrap_or_else(|| panic!("no logout form in {html}"));
    let xsrf = field("name=\"xsrf\" value=\"").unwrap_or_else(|| panic!("no xsrf in {html}"));
    let done = shopper
        .http
        .post(url.join(&action).expect("action"))
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .expect("confirm");
    assert_eq!(done.status(), 303, "{}", shop.logs());
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

fn without(mut base: Value, key: &str) -> Value {
    base.as_object_mut().expect("object").remove(key);
    base
}

#[tokio::test]
async fn signing_out_at_the_idp_ends_the_shop_session_and_only_that() {
    let shop = LoopbackShop::start().expect("shop");
    let (alice, bob) = (Shopper::new(&[]).expect("client"), Shopper::new(&[]).expect("client"));
    sign_in(&shop, &alice, "alice").await;
    sign_in(&shop, &bob, "bob").await;
    let session = shop.url(0, "/_sso/session");
    assert_eq!(signed_in_as(&alice, &session).await.as_deref(), Some("alice"));

    sign_out_at_idp(&shop, &alice).await;
    assert!(
        anonymous_soon(&shop, &alice, 0).await,
        "still signed in:\n{}",
        shop.logs()
    );
    assert!(
        shop.idp.proc.log().contains("back-channel logout sent"),
        "the provider itself delivered it:\n{}",
        shop.logs()
    );
    assert_eq!(
        signed_in_as(&bob, &session).await.as_deref(),
        Some("bob"),
        "another customer stays signed in"
    );
    let page = alice.page(&shop.url(0, "/account")).await.expect("account");
    assert!(
        page.status().is_redirection(),
        "a login route sends the signed-out shopper to log in"
    );
}

#[tokio::test]
async fn on_redis_the_idp_logout_ends_the_session_on_both_replicas() {
    let shop = LoopbackShop::start_replicas().expect("replicas");
    let alice = Shopper::new(&[]).expect("client");
    sign_in(&shop, &alice, "alice").await;
    for i in 0..2 {
        let who = signed_in_as(&alice, &shop.url(i, "/_sso/session")).await;
        assert_eq!(who.as_deref(), Some("alice"), "signed in on replica {i}");
    }
    // The IdP posts to the second replica; the session was made on the first.
    sign_out_at_idp(&shop, &alice).await;
    for i in 0..2 {
        assert!(
            anonymous_soon(&shop, &alice, i).await,
            "still signed in on replica {i}:\n{}",
            shop.logs()
        );
    }
}

#[tokio::test]
async fn forged_wrong_and_replayed_tokens_end_nothing() {
    let shop = LoopbackShop::start().expect("shop");
    let alice = Shopper::new(&[]).expect("client");
    sign_in(&shop, &alice, "alice").await;
    let idp = Minter::of(&shop, idp_key_file()).await.expect("minter");
    let impostor = Minter::of(&shop, impostor_key_file()).await.expect("minter");
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let unsigned = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"logout+jwt"}"#),
        b64(&idp.claims("alice").to_string())
    );
    let cases = [
        ("unsigned (alg none)", unsigned),
        ("signed by another key", impostor.sign(&idp.claims("alice"))),
        (
            "another audience",
            idp.sign(&with(idp.claims("alice"), "aud", json!("other-client"))),
        ),
        (
            "another issuer",
            idp.sign(&with(idp.claims("alice"), "iss", json!("http://127.0.0.1:1"))),
        ),
        ("a nonce", idp.sign(&with(idp.claims("alice"), "nonce", json!("n-1")))),
        ("no events", idp.sign(&without(idp.claims("alice"), "events"))),
        (
            "another event",
            idp.sign(&with(idp.claims("alice"), "events", json!({"x": {}}))),
        ),
        ("neither sub nor sid", idp.sign(&without(idp.claims("alice"), "sub"))),
        ("no jti", idp.sign(&without(idp.claims("alice"), "jti"))),
        (
            "iat far in the past",
            idp.sign(&with(idp.claims("alice"), "iat", json!(now() - 3600))),
        ),
        (
            "iat in the future",
            idp.sign(&with(idp.claims("alice"), "iat", json!(now() + 3600))),
        ),
        ("tampered", {
            let good = idp.sign(&idp.claims("bob"));
            let parts: Vec<&str> = good.split('.').collect();
            format!("{}.{}.{}", parts[0], b64(&idp.claims("alice").to_string()), parts[2])
        }),
    ];
    let url = shop.backchannel_url();
    for (what, token) in &cases {
        let (status, cache, body) = post_logout_token(&url, token).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(cache, "no-store", "{what}");
        assert_eq!(body["error"], "invalid_request", "{what}: {body}");
    }
    let session = shop.url(0, "/_sso/session");
    assert_eq!(
        signed_in_as(&alice, &session).await.as_deref(),
        Some("alice"),
        "no refused token ended the session"
    );

    let token = idp.sign(&idp.claims("alice"));
    let (status, cache, _) = post_logout_token(&url, &token).await;
    assert_eq!((status, cache.as_str()), (200, "no-store"), "{}", shop.logs());
    assert_eq!(signed_in_as(&alice, &session).await, None, "the valid token ended it");

    // Alice signs in again; the same token posted again ends nothing.
    sign_in(&shop, &alice, "alice").await;
    let (status, _, body) = post_logout_token(&url, &token).await;
    assert_eq!(status, 400, "a replay is refused: {body}");
    assert_eq!(signed_in_as(&alice, &session).await.as_deref(), Some("alice"));
    let metrics = shop.gateways[0].metrics().await;
    for reason in ["logout_token_replayed", "logout_token_nonce", "logout_token_signature"] {
        assert!(metrics.contains(reason), "{reason} not counted:\n{metrics}");
    }
}

#[tokio::test]
async fn a_token_for_one_customer_leaves_the_others_alone() {
    let shop = LoopbackShop::start().expect("shop");
    let (alice, bob) = (Shopper::new(&[]).expect("client"), Shopper::new(&[]).expect("client"));
    sign_in(&shop, &alice, "alice").await;
    sign_in(&shop, &bob, "bob").await;
    let idp = Minter::of(&shop, idp_key_file()).await.expect("minter");
    let url = shop.backchannel_url();
    let session = shop.url(0, "/_sso/session");

    // Bob's subject with an IdP session that is not his: only that IdP session ends.
    let not_his = with(idp.claims("bob"), "sid", json!("some-other-idp-session"));
    assert_eq!(post_logout_token(&url, &idp.sign(&not_his)).await.0, 200);
    // An IdP session id alone, guessed: nothing of anyone's.
    let guessed = with(without(idp.claims("x"), "sub"), "sid", json!("guessed-sid"));
    assert_eq!(post_logout_token(&url, &idp.sign(&guessed)).await.0, 200);
    assert_eq!(signed_in_as(&bob, &session).await.as_deref(), Some("bob"));
    assert_eq!(signed_in_as(&alice, &session).await.as_deref(), Some("alice"));

    // Alice's subject: all of Alice's sessions, none of Bob's.
    assert_eq!(post_logout_token(&url, &idp.sign(&idp.claims("alice"))).await.0, 200);
    assert_eq!(signed_in_as(&alice, &session).await, None);
    assert_eq!(signed_in_as(&bob, &session).await.as_deref(), Some("bob"));
}

#[tokio::test]
async fn a_session_whose_idp_gave_no_sid_ends_by_its_subject() {
    // An IdP that does not say its session in ID tokens, yet names one in its logout
    // tokens: the session cannot be matched by `sid`, and must not outlive the IdP's.
    let shop = LoopbackShop::start_without_idp_sid().expect("shop");
    let (alice, bob) = (Shopper::new(&[]).expect("client"), Shopper::new(&[]).expect("client"));
    sign_in(&shop, &alice, "alice").await;
    sign_in(&shop, &bob, "bob").await;
    let idp = Minter::of(&shop, idp_key_file()).await.expect("minter");
    let url = shop.backchannel_url();
    let session = shop.url(0, "/_sso/session");

    let sid_only = with(without(idp.claims("bob"), "sub"), "sid", json!("idp-session-9"));
    assert_eq!(post_logout_token(&url, &idp.sign(&sid_only)).await.0, 200);
    assert_eq!(
        signed_in_as(&bob, &session).await.as_deref(),
        Some("bob"),
        "a sid alone names nobody"
    );

    let both = with(idp.claims("alice"), "sid", json!("idp-session-9"));
    assert_eq!(post_logout_token(&url, &idp.sign(&both)).await.0, 200);
    assert_eq!(signed_in_as(&alice, &session).await, None, "ended by its subject");
    assert_eq!(signed_in_as(&bob, &session).await.as_deref(), Some("bob"));
}

#[tokio::test]
async fn a_logout_the_store_could_not_take_is_answered_503_and_its_retry_counts() {
    let mut shop = LoopbackShop::start_replicas_on(TestRedis::own()).expect("replicas");
    let alice = Shopper::new(&[]).expect("client");
    sign_in(&shop, &alice, "alice").await;
    let idp = Minter::of(&shop, idp_key_file()).await.expect("minter");
    let token = idp.sign(&idp.claims("alice"));
    let url = shop.backchannel_url();

    shop.redis.as_mut().expect("redis").stop();
    let (status, cache, body) = post_logout_token(&url, &token).await;
    assert_eq!((status, cache.as_str()), (503, "no-store"), "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");

    // Redis is back: the IdP's retry of the very same token is no replay.
    shop.redis.as_mut().expect("redis").start();
    shop.ready().await.expect("ready again");
    let (status, _, body) = post_logout_token(&url, &token).await;
    assert_eq!(status, 200, "{body}\n{}", shop.logs());
    for i in 0..2 {
        assert!(anonymous_soon(&shop, &alice, i).await, "still signed in on replica {i}");
    }
    assert_eq!(post_logout_token(&url, &token).await.0, 400, "and now it is spent");
}

#[tokio::test]
async fn one_organisations_idp_cannot_end_another_organisations_sessions() {
    // Two IdPs of one site, even signing with the same key: a logout token of Globex
    // naming Alice, who signed in through Acme, ends nothing.
    use sso_tests::{GatewayConfig, Idp, Storefront};
    let origin = Storefront::start().expect("origin");
    let config = GatewayConfig::default();
    let base = format!("http://shop.localhost:{}", config.port);
    let key = idp_key_file();
    let env = [("IDP_SIGNING_KEY_FILE", key.to_str().expect("path"))];
    let callback = |name: &str| vec![format!("{base}/login/sso/callback/{name}")];
    let (acme_client, globex_client) = (
        ("acme-shop", "acme-secret-0123456789"),
        ("globex-shop", "globex-secret-0123456789"),
    );
    let acme = Idp::start_client(acme_client, &callback("acme"), &[], &env).expect("acme");
    let globex = Idp::start_client(globex_client, &callback("globex"), &[], &env).expect("globex");
    let idp = |name: &str, issuer: String, (id, secret): (&str, &str)| {
        format!("[[sites.idps]]\nname = \"{name}\"\nissuer = \"{issuer}\"\nclient_id = \"{id}\"\nclient_secret = \"{secret}\"\n")
    };
    let site = format!(
        "name = \"shop\"\nhosts = [\"shop.localhost\", \"127.0.0.1\"]\nupstreams = [\"{}\"]\npublic_url = \"{base}\"\n{}{}",
        origin.addr(),
        idp("acme", acme.issuer(), acme_client),
        idp("globex", globex.issuer(), globex_client),
    );
    let gateway = config.site(&site).start().expect("gateway");
    gateway.ready().await.expect("ready");
    let alice = Shopper::new(&["shop"]).expect("client");
    let start = alice
        .page(&format!("{base}/_sso/login?org=acme&return_to=/"))
        .await
        .expect("start");
    assert_eq!(alice.walk(start, "alice").await.expect("walk").status, 200);
    let session = format!("{base}/_sso/session");
    assert_eq!(signed_in_as(&alice, &session).await.as_deref(), Some("acme:alice"));

    let url = gateway.url("/_sso/backchannel-logout");
    let from_globex = Minter::new(&globex.issuer(), globex_client.0, &key)
        .await
        .expect("globex minter");
    let (status, _, body) = post_logout_token(&url, &from_globex.sign(&from_globex.claims("alice"))).await;
    assert_eq!(status, 200, "a valid token of Globex: {body}");
    assert_eq!(
        signed_in_as(&alice, &session).await.as_deref(),
        Some("acme:alice"),
        "Globex's word does not end an Acme sign-in"
    );
    let from_acme = Minter::new(&acme.issuer(), acme_client.0, &key)
        .await
        .expect("acme minter");
    let for_globex = with(from_acme.claims("alice"), "aud", json!(globex_client.0));
    assert_eq!(
        post_logout_token(&url, &from_acme.sign(&for_globex)).await.0,
        400,
        "Acme's token for Globex's client"
    );
    assert_eq!(
        post_logout_token(&url, &from_acme.sign(&from_acme.claims("alice")))
            .await
            .0,
        200
    );
    assert_eq!(signed_in_as(&alice, &session).await, None, "Acme's own word does");
}
