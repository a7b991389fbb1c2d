//! The IdP client enterprises need, with the real `oidc-provider`, at the ends of a
//! session: a logout revokes the session's token at the IdP (its introspection then
//! says inactive), while a back-channel logout and an admin `DELETE` do not call the
//! IdP; pushed authorization requests with an IdP that requires them (step-up
//! parameters included); and a back-channel logout token signed with an algorithm the
//! IdP does not use for ID tokens is refused (`rp-backchannel-rpinitlogout-lt-wrong-alg`).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sso_tests::backchannel::{idp_key_file, Minter};
use sso_tests::idp_options::{introspect, secret_line, IdpShop};
use sso_tests::{echo_of, CLIENT_ID};
use std::time::{Duration, Instant};

const REVOCATION: (&str, &str) = ("REVOCATION", "1");
const FORWARDING: &str =
    "[[sites.routes]]\nprefix = \"/account/idp\"\naccess = \"login\"\nforward_idp_access_token = true\n";
const REVOKED: &str = r#"sso_gateway_idp_revocations_total{idp="",outcome="revoked",site="shop"}"#;

/// The IdP access token the origin gets on a forwarding route.
async fn idp_access_token(shop: &IdpShop, shopper: &sso_tests::Shopper) -> String {
    let resp = shopper.page(&shop.url("/account/idp/me")).await.expect("page");
    assert_eq!(resp.status(), 200);
    let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
    let bearer = echo["headers"]["authorization"].as_str().expect("forwarded token");
    bearer.strip_prefix("Bearer ").expect("bearer").to_string()
}

async fn active(shop: &IdpShop, token: &str) -> bool {
    let answer = introspect(&shop.issuer, None, token, false)
        .await
        .expect("introspection");
    answer["active"].as_bool().expect("active")
}

async fn counter_reaches(shop: &IdpShop, series: &str, at_least: f64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if shop.gateway.metric(series).await >= at_least {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_logout_revokes_the_token_and_the_idp_then_says_inactive() {
    let shop = IdpShop::start(&[REVOCATION], None, &secret_line(), FORWARDING).expect("shop");
    let landing = shop.sign_in("ann").await.expect("sign in");
    assert_eq!(landing.status, 200, "{}", shop.logs());
    let token = idp_access_token(&shop, &shop.shopper).await;
    assert!(active(&shop, &token).await, "live before the logout");

    let out = shop.shopper.page(&shop.url("/_sso/logout")).await.expect("logout");
    assert_eq!(out.status(), 303);
    assert!(
        counter_reaches(&shop, REVOKED, 1.0).await,
        "{}",
        shop.gateway.metrics().await
    );
    // The refresh token was revoked, and with it (RFC 7009 §2.1) the grant's access token.
    assert!(!active(&shop, &token).await, "inactive after the logout");

    // An administrator's DELETE ends the sessions in the store and calls no IdP: the
    // other customer's token stays live there (documented in docs/security.md).
    let bea = sso_tests::Shopper::new(&["shop"]).expect("client");
    let start = bea.page(&shop.url("/account")).await.expect("page");
    assert_eq!(bea.walk(start, "bea").await.expect("walk").status, 200);
    let bea_token = idp_access_token(&shop, &bea).await;
    let deleted = reqwest::Client::new()
        .delete(shop.gateway.admin_url("/sessions?site=shop&customer=bea"))
        .send()
        .await
        .expect("admin");
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        bea.page(&shop.url("/account")).await.expect("page").status(),
        302,
        "signed out"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        active(&shop, &bea_token).await,
        "an admin DELETE revokes nothing at the IdP"
    );
    assert_eq!(shop.gateway.metric(REVOKED).await, 1.0);
}

#[tokio::test]
async fn an_idp_without_a_revocation_endpoint_is_not_called() {
    let shop = IdpShop::start(&[], None, &secret_line(), "").expect("shop");
    assert_eq!(shop.sign_in("cai").await.expect("sign in").status, 200);
    let out = shop.shopper.page(&shop.url("/_sso/logout")).await.expect("logout");
    assert_eq!(out.status(), 303);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!shop
        .gateway
        .metrics()
        .await
        .contains("sso_gateway_idp_revocations_total{"));
}

const STEP_UP: &str = "[[sites.routes]]\nprefix = \"/checkout\"\naccess = \"login\"\nmax_auth_age = \"1s\"\n";

fn auth_time(body: &str) -> u64 {
    echo_of(body).expect("echo")["headers"]["x-customer-auth-time"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("X-Customer-Auth-Time")
}

/// The query parameters of a redirect's `Location`.
fn query_names(location: &str) -> Vec<String> {
    let url = url::Url::parse(location).expect("absolute");
    url.query_pairs().map(|(k, _)| k.into_owned()).collect()
}

#[tokio::test]
async fn pushed_authorization_with_an_idp_that_requires_it() {
    let env = [("PAR", "required")];
    // Without PAR the IdP refuses the authorization request.
    let plain = IdpShop::start(&env, None, &secret_line(), "").expect("shop");
    let landing = plain.sign_in("dan").await.expect("walk");
    assert_ne!(landing.status, 200, "{:?}", landing.visited);

    let keys = format!("{}\npushed_authorization = true", secret_line());
    let shop = IdpShop::start(&env, None, &keys, STEP_UP).expect("shop");
    shop.gateway.ready().await.expect("ready");
    let start = shop.shopper.page(&shop.url("/account")).await.expect("page");
    assert_eq!(start.status(), 302);
    let to_idp = start.headers()["location"].to_str().expect("ascii").to_string();
    assert_eq!(query_names(&to_idp), ["client_id", "request_uri"], "{to_idp}");
    let landing = shop.shopper.walk(start, "dan").await.expect("walk");
    assert_eq!(landing.status, 200, "{:?}\n{}", landing.visited, shop.logs());
    let first = auth_time(&landing.body);

    // A step-up: max_age travels in the pushed request, not the browser's URL, and
    // the IdP honours it (asks for the password again; a fresh auth_time).
    tokio::time::sleep(Duration::from_secs(4)).await;
    let start = shop.shopper.page(&shop.url("/checkout/pay")).await.expect("page");
    assert_eq!(start.status(), 302);
    let to_idp = start.headers()["location"].to_str().expect("ascii").to_string();
    assert_eq!(query_names(&to_idp), ["client_id", "request_uri"], "{to_idp}");
    let landing = shop.shopper.walk(start, "dan").await.expect("step-up");
    assert_eq!(landing.status, 200, "{:?}\n{}", landing.visited, shop.logs());
    assert!(
        landing.visited.iter().any(|u| u.path().starts_with("/interaction")),
        "the IdP asked again: {:?}",
        landing.visited
    );
    assert!(auth_time(&landing.body) > first, "a fresh auth_time");
}

#[tokio::test]
async fn pushed_authorization_fails_closed_when_the_idp_offers_none() {
    let keys = format!("{}\npushed_authorization = true", secret_line());
    let shop = IdpShop::start(&[("PAR", "off")], None, &keys, "").expect("shop");
    assert!(
        shop.log_shows("discovery lists no pushed_authorization_request_endpoint")
            .await,
        "{}",
        shop.logs()
    );
    let start = shop.shopper.page(&shop.url("/account")).await.expect("page");
    assert_eq!(start.status(), 503, "no login starts without PAR");
}

/// A P-256 key (PKCS#8 PEM) in a fresh file.
fn ec_key_file() -> std::path::PathBuf {
    let key = rcgen::KeyPair::generate().expect("key");
    let path = std::env::temp_dir().join(format!(
        "sso-idp-ec-{}-{}.pem",
        std::process::id(),
        sso_tests::free_port()
    ));
    std::fs::write(&path, key.serialize_pem()).expect("write key");
    path
}

async fn post_logout_token(shop: &IdpShop, token: &str) -> u16 {
    let resp = shop
        .shopper
        .http
        .post(shop.url("/_sso/backchannel-logout"))
        .form(&[("logout_token", token)])
        .send()
        .await
        .expect("post");
    resp.status().as_u16()
}

#[tokio::test]
async fn rp_backchannel_rpinitlogout_lt_wrong_alg() {
    let ec = ec_key_file();
    let rsa = idp_key_file();
    let keys_env = format!("{},{}", rsa.display(), ec.display());
    let env = [("IDP_SIGNING_KEY_FILE", keys_env.as_str()), REVOCATION];
    // The IdP publishes an RSA and an EC key; this client's ID tokens are RS256.
    let keys = format!("{}\nid_token_signed_response_alg = \"RS256\"", secret_line());
    let shop = IdpShop::start(&env, None, &keys, FORWARDING).expect("shop");
    assert_eq!(
        shop.sign_in("eve").await.expect("sign in").status,
        200,
        "{}",
        shop.logs()
    );
    let token = idp_access_token(&shop, &shop.shopper).await;

    // A well-formed logout token signed ES256 with the IdP's own EC key: refused.
    let rs256 = Minter::new(&shop.issuer, CLIENT_ID, &rsa).await.expect("minter");
    let jwks: serde_json::Value = reqwest::get(format!("{}/jwks", shop.issuer))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let ec_kid = jwks["keys"]
        .as_array()
        .and_then(|k| k.iter().find(|k| k["kty"] == "EC"))
        .and_then(|k| k["kid"].as_str())
        .expect("the EC key")
        .to_string();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(ec_kid);
    header.typ = Some("logout+jwt".into());
    let key = EncodingKey::from_ec_pem(&std::fs::read(&ec).expect("key")).expect("ec key");
    let es256 = jsonwebtoken::encode(&header, &rs256.claims("eve"), &key).expect("sign");
    assert_eq!(post_logout_token(&shop, &es256).await, 400);
    let refused = r#"sso_gateway_rejected_total{reason="logout_token_alg",site="shop"}"#;
    assert_eq!(
        shop.gateway.metric(refused).await,
        1.0,
        "{}",
        shop.gateway.metrics().await
    );
    assert_eq!(
        shop.shopper.page(&shop.url("/account")).await.expect("page").status(),
        200,
        "still signed in"
    );

    // The same claims signed RS256: the shopper is signed out, and (a back-channel
    // logout comes from the IdP, which ended the grant itself) nothing is revoked.
    assert_eq!(post_logout_token(&shop, &rs256.sign(&rs256.claims("eve"))).await, 200);
    assert_eq!(
        shop.shopper.page(&shop.url("/account")).await.expect("page").status(),
        302,
        "signed out"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(shop.gateway.metric(REVOKED).await, 0.0);
    assert!(active(&shop, &token).await, "a back-channel logout revokes nothing");
}
