//! Issue 21 §2: the cookie secret and the token signing key rotate, twice, on two
//! replicas sharing Redis, by rolling restarts that follow the runbook of
//! docs/operations.md ("Rotating the cookie secret and the signing key"): first every
//! replica learns the new secret and key as *previous* (so each can read what any
//! other makes), then each makes them current, and once the old ones have aged out
//! they are removed. Shoppers who use the shop meanwhile are never signed out; an
//! origin verifying with the JWKS accepts tokens from before and after; a cookie of a
//! previous secret is set again with the current one; what only a removed secret made
//! no longer opens (anonymous, never a 5xx).

use sso_filters::sessions::cookie::CookieCodec;
use sso_tests::replicas::{Replica, ReplicaOptions, Replicas};
use sso_tests::{echo_of, Shopper, COOKIE_SECRET};
use std::path::{Path, PathBuf};

const S1: &str = "rotation-secret-one-0123456789abcdef";
const S2: &str = "rotation-secret-two-0123456789abcdef";

fn key_file(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("sso-rotation-{name}-{}.pem", sso_tests::free_port()));
    let key = rcgen::KeyPair::generate().expect("P-256 key");
    std::fs::write(&path, key.serialize_pem()).expect("write key");
    path
}

fn token_table(current: &Path, previous: &[&Path]) -> String {
    let previous: Vec<String> = previous
        .iter()
        .map(|p| format!("{:?}", p.display().to_string()))
        .collect();
    format!(
        "[sites.token]\nsigning_key_file = {:?}\nprevious_signing_key_files = [{}]\n",
        current.display().to_string(),
        previous.join(", ")
    )
}

fn ring(previous: &[&str]) -> String {
    let previous: Vec<String> = previous.iter().map(|s| format!("{s:?}")).collect();
    format!("previous_cookie_secrets = [{}]", previous.join(", "))
}

/// The customer the origin was told about, and the `X-Customer-Token` it got.
async fn seen_by_origin(shopper: &Shopper, url: &str) -> (u16, Option<String>, Option<String>) {
    let Ok(resp) = shopper.api(url).await else {
        return (0, None, None);
    };
    let status = resp.status().as_u16();
    let echo = echo_of(&resp.text().await.unwrap_or_default()).unwrap_or_default();
    let header = |h: &str| echo["headers"][h].as_str().map(str::to_string);
    (status, header("x-customer-id"), header("x-customer-token"))
}

/// Every shopper in `active` is signed in on both replicas (each request may also
/// renew their cookie and re-encrypt their record).
async fn all_signed_in(r: &Replicas, active: &[(&str, Shopper)], when: &str) {
    for (name, shopper) in active {
        for (replica, url) in [("A", r.url_a("/account")), ("B", r.url_b("/account"))] {
            let (status, who, _) = seen_by_origin(shopper, &url).await;
            assert_eq!(
                (status, who.as_deref()),
                (200, Some(*name)),
                "{name} on {replica} {when}:\nA:\n{}\nB:\n{}",
                r.a.log(),
                r.b.log()
            );
        }
    }
}

/// An origin's check of an `X-Customer-Token`: the JWKS fetched from `gateway`, the
/// key picked by `kid`, ES256, audience `shop`.
async fn origin_accepts(gateway: &sso_tests::Gateway, token: &str) -> bool {
    let client = Shopper::new(&["shop"]).expect("client");
    let jwks: jsonwebtoken::jwk::JwkSet = client
        .http
        .get(gateway.site_url("shop", "/_sso/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("a JWK set");
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return false;
    };
    let Some(jwk) = header.kid.as_deref().and_then(|kid| jwks.find(kid)) else {
        return false;
    };
    let Ok(key) = jsonwebtoken::DecodingKey::from_jwk(jwk) else {
        return false;
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["shop"]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).is_ok()
}

fn kid(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).ok()?.kid
}

/// A codec of the shop's session cookie under `secret` (as a replica with that
/// current secret has).
fn codec(secret: &str) -> CookieCodec {
    let text = format!(
        "[sessions]\ncookie_secret = \"{secret}\"\n[[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\n\
         upstreams = [\"127.0.0.1:1\"]\npublic_url = \"http://shop.localhost\"\n"
    );
    let cfg = sso_config::parse(&text, &|_| None).expect("config");
    CookieCodec::from_config(&cfg.sessions, &cfg.sites[0])
}

fn session_cookie(shopper: &Shopper, r: &Replicas) -> String {
    let jar = shopper.cookies_for(&r.url_a("/"));
    jar.split("; ")
        .find_map(|pair| pair.strip_prefix("sso_session="))
        .expect("a session cookie")
        .to_string()
}

#[tokio::test]
async fn rotating_twice_on_two_replicas_signs_nobody_out() {
    let keys = [key_file("k0"), key_file("k1"), key_file("k2")];
    let [k0, k1, k2] = [keys[0].as_path(), keys[1].as_path(), keys[2].as_path()];
    let first = token_table(k0, &[]);
    let mut r = Replicas::start(ReplicaOptions {
        site: &first,
        ..ReplicaOptions::default()
    })
    .expect("replicas");
    r.ready().await.expect("ready");

    // Ann signs in on A, Ben on B: they use the shop throughout. Cal signs in and
    // leaves: her cookie and record are only ever made with the first secret.
    let mut active = Vec::new();
    for (name, on_a) in [("ann", true), ("ben", false), ("cal", true)] {
        let shopper = Shopper::new(&["shop"]).expect("client");
        let url = if on_a { r.url_a("/account") } else { r.url_b("/account") };
        let start = shopper.page(&url).await.expect("start");
        assert_eq!(shopper.walk(start, name).await.expect("walk").status, 200);
        active.push((name, shopper));
    }
    let (_, cal) = active.pop().expect("cal");
    let cal_cookie = session_cookie(&cal, &r);
    all_signed_in(&r, &active, "before any rotation").await;
    let (_, _, before) = seen_by_origin(&active[0].1, &r.url_a("/account")).await;
    let token_before = before.expect("an X-Customer-Token");
    let api_before = r_api_token(&r, &active[0].1).await;

    // Rollout 1: S1 and K1 announced (previous) on every replica, nothing made with them.
    for which in [Replica::A, Replica::B] {
        r.restart(which, COOKIE_SECRET, &ring(&[S1]), &token_table(k0, &[k1]))
            .await
            .expect("restart");
        all_signed_in(&r, &active, &format!("after announcing S1 on {which:?}")).await;
    }

    // Rollout 2: S1 and K1 current, S0 and K0 previous. Replica A first: B still runs
    // rollout 1 and reads whatever A makes.
    let ann_old_cookie = session_cookie(&active[0].1, &r);
    r.restart(Replica::A, S1, &ring(&[COOKIE_SECRET]), &token_table(k1, &[k0]))
        .await
        .expect("restart");
    let renewed = renewal_of(&r, &ann_old_cookie).await;
    assert_ne!(renewed, ann_old_cookie, "set again, with the current secret");
    assert!(codec(S1).decode(&renewed).is_ok(), "the renewed cookie is S1's");
    all_signed_in(&r, &active, "with A on S1 and B announcing it").await;
    let (_, _, minted_by_a) = seen_by_origin(&active[0].1, &r.url_a("/account")).await;
    let token_after = minted_by_a.expect("an X-Customer-Token");
    assert_ne!(kid(&token_after), kid(&token_before), "A signs with K1");
    assert!(origin_accepts(&r.b, &token_after).await, "B's JWKS already has K1");
    r.restart(Replica::B, S1, &ring(&[COOKIE_SECRET]), &token_table(k1, &[k0]))
        .await
        .expect("restart");
    all_signed_in(&r, &active, "after switching to S1").await;
    for gateway in [&r.a, &r.b] {
        assert!(
            origin_accepts(gateway, &token_before).await,
            "a K0 token, JWKS of {}",
            gateway.port
        );
        assert!(
            origin_accepts(gateway, &token_after).await,
            "a K1 token, JWKS of {}",
            gateway.port
        );
    }
    // The gateway itself still takes the API token K0 signed.
    assert_eq!(api_customer(&r, &api_before).await.as_deref(), Some("ann"));

    // Rollout 3, once absolute_timeout has passed: S0 and K0 removed, S2 and K2 announced.
    for which in [Replica::A, Replica::B] {
        r.restart(which, S1, &ring(&[S2]), &token_table(k1, &[k2]))
            .await
            .expect("restart");
        all_signed_in(&r, &active, &format!("after removing S0 on {which:?}")).await;
    }
    // Rollout 4: S2 and K2 current.
    for which in [Replica::A, Replica::B] {
        r.restart(which, S2, &ring(&[S1]), &token_table(k2, &[k1]))
            .await
            .expect("restart");
        all_signed_in(&r, &active, &format!("after switching to S2 on {which:?}")).await;
    }
    let (_, _, latest) = seen_by_origin(&active[1].1, &r.url_b("/account")).await;
    let latest = latest.expect("an X-Customer-Token");
    for gateway in [&r.a, &r.b] {
        assert!(origin_accepts(gateway, &latest).await);
        assert!(origin_accepts(gateway, &token_after).await, "K1 is still published");
        assert!(!origin_accepts(gateway, &token_before).await, "K0 was removed");
    }
    assert!(
        api_customer(&r, &api_before).await.is_none(),
        "K0's API token verifies no more"
    );

    // Cal never came back: her cookie (S0) is refused, and her record (S0), shown
    // with a cookie the current secret signed, does not open. Anonymous, no 5xx.
    let plain = Shopper::new(&["shop"]).expect("client");
    let resend = |cookie: String, path: &'static str| {
        let (http, url) = (plain.http.clone(), r.url_a(path));
        async move {
            http.get(url)
                .header("accept", "application/json")
                .header("cookie", format!("sso_session={cookie}"))
                .send()
                .await
                .expect("request")
        }
    };
    let cal_id = codec(COOKIE_SECRET).decode(&cal_cookie).expect("cal's id");
    let forged_now = codec(S2).encode(&cal_id);
    for cookie in [cal_cookie.clone(), forged_now] {
        let account = resend(cookie.clone(), "/account").await;
        assert!(matches!(account.status().as_u16(), 302 | 401), "{}", account.status());
        let public = resend(cookie, "/").await;
        assert_eq!(public.status(), 200);
        let echo = echo_of(&public.text().await.expect("body")).expect("echo");
        assert!(echo["headers"]["x-customer-id"].is_null(), "{echo}");
    }
    assert!(r.a.log().contains("unreadable session record ignored"), "{}", r.a.log());
    for log in [r.a.log(), r.b.log()] {
        assert!(!log.contains("panicked"), "{log}");
    }
    for key in keys {
        let _ = std::fs::remove_file(key);
    }
}

/// The `Set-Cookie` answer to a request showing `cookie` (made with a previous
/// secret) on replica A: the session cookie set again.
async fn renewal_of(r: &Replicas, cookie: &str) -> String {
    let plain = Shopper::new(&["shop"]).expect("client");
    let resp = plain
        .http
        .get(r.url_a("/account"))
        .header("accept", "application/json")
        .header("cookie", format!("sso_session={cookie}"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200, "{}", r.a.log());
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("sso_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
        .expect("the session cookie is set again")
}

async fn r_api_token(r: &Replicas, shopper: &Shopper) -> String {
    let answer: serde_json::Value = shopper
        .api(&r.url_a("/_sso/token"))
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    answer["access_token"].as_str().expect("an API token").to_string()
}

/// The customer replica B's origin is told about for an API call with `token`.
async fn api_customer(r: &Replicas, token: &str) -> Option<String> {
    let bearer = format!("Bearer {token}");
    sso_tests::client::customer_as(&["shop"], &r.url_b("/api/me"), ("authorization", &bearer)).await
}
