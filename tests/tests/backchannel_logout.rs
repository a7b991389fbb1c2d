//! OpenID Connect Back-Channel Logout against the real provider (issue "done when"):
//! a shopper who signs out at the IdP is signed out of the shop — on one gateway and
//! on two replicas on Redis — and logout tokens that are unsigned, signed by someone
//! else, for another client, carrying a nonce, missing a claim, too old or replayed
//! end nothing. A token for one customer leaves everyone else signed in.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sso_tests::backchannel::{idp_key_file, impostor_key_file, LoopbackShop};
use sso_tests::{Shopper, CLIENT_ID};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

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

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Mints logout tokens with the IdP's own key (or another), as a forger who holds
/// the key — or the IdP — would.
struct Minter {
    issuer: String,
    kid: String,
    key: EncodingKey,
}

impl Minter {
    async fn of(shop: &LoopbackShop, key_file: std::path::PathBuf) -> Minter {
        let jwks: Value = reqwest::get(format!("{}/jwks", shop.idp.issuer()))
            .await
            .expect("jwks")
            .json()
            .await
            .expect("jwks json");
        let pem = std::fs::read(key_file).expect("key file");
        Minter {
            issuer: shop.idp.issuer(),
            kid: jwks["keys"][0]["kid"].as_str().expect("kid").to_string(),
            key: EncodingKey::from_rsa_pem(&pem).expect("rsa key"),
        }
    }

    /// The claims of a good logout token for `sub` (a fresh `jti`).
    fn claims(&self, sub: &str) -> Value {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        json!({
            "iss": self.issuer, "aud": CLIENT_ID, "sub": sub, "iat": now(), "exp": now() + 120,
            "jti": format!("test-jti-{n}-{}", now()), "events": { EVENT: {} },
        })
    }

    /// `claims` signed RS256, `typ: logout+jwt`, the IdP's `kid`.
    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("logout+jwt".into());
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign")
    }
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

fn without(mut base: Value, key: &str) -> Value {
    base.as_object_mut().expect("object").remove(key);
    base
}

/// POSTs `logout_token=<token>` as the IdP does; status, `Cache-Control`, JSON body.
async fn post_token(url: &str, token: &str) -> (u16, String, Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .form(&[("logout_token", token)])
        .send()
        .await
        .expect("post");
    let status = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, cache, body)
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
    let idp = Minter::of(&shop, idp_key_file()).await;
    let impostor = Minter::of(&shop, impostor_key_file()).await;
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
        let (status, cache, body) = post_token(&url, token).await;
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
    let (status, cache, _) = post_token(&url, &token).await;
    assert_eq!((status, cache.as_str()), (200, "no-store"), "{}", shop.logs());
    assert_eq!(signed_in_as(&alice, &session).await, None, "the valid token ended it");

    // Alice signs in again; the same token posted again ends nothing.
    sign_in(&shop, &alice, "alice").await;
    let (status, _, body) = post_token(&url, &token).await;
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
    let idp = Minter::of(&shop, idp_key_file()).await;
    let url = shop.backchannel_url();
    let session = shop.url(0, "/_sso/session");

    // Bob's subject with an IdP session that is not his: only that IdP session ends.
    let not_his = with(idp.claims("bob"), "sid", json!("some-other-idp-session"));
    assert_eq!(post_token(&url, &idp.sign(&not_his)).await.0, 200);
    // An IdP session id alone, guessed: nothing of anyone's.
    let guessed = with(without(idp.claims("x"), "sub"), "sid", json!("guessed-sid"));
    assert_eq!(post_token(&url, &idp.sign(&guessed)).await.0, 200);
    assert_eq!(signed_in_as(&bob, &session).await.as_deref(), Some("bob"));
    assert_eq!(signed_in_as(&alice, &session).await.as_deref(), Some("alice"));

    // Alice's subject: all of Alice's sessions, none of Bob's.
    assert_eq!(post_token(&url, &idp.sign(&idp.claims("alice"))).await.0, 200);
    assert_eq!(signed_in_as(&alice, &session).await, None);
    assert_eq!(signed_in_as(&bob, &session).await.as_deref(), Some("bob"));
}
