//! The OpenID Foundation's RP-certification cases for the code flow, played by the
//! project's own misbehaving IdP (`tests/idp/misbehaving-idp.mjs`) against the real
//! gateway binary. Each case is one login by a fresh shopper; a refused login must end
//! on the gateway's error page with no session anywhere, and the gateway keeps serving.
//! Case names are the certification test ids where one exists.

use sso_tests::misbehaving_idp::{ConformanceShop, Expect};
use sso_tests::Shopper;
use std::time::Instant;

const ID_TOKEN_INVALID: Expect = Expect::Refused(502, "id_token_invalid");
const IDP_ERROR: Expect = Expect::Refused(502, "idp_error");

/// (case, IdP mode, expected outcome), run in order against one gateway and one IdP
/// publishing two RSA keys and one EC key.
const CASES: &[(&str, &str, Expect)] = &[
    // Also rp-response_type-code, rp-token_endpoint-client_secret_basic,
    // rp-userinfo-bearer-header and rp-scope-userinfo-claims: the IdP checks them.
    ("rp-id_token-sig-rs256", "good_rs256", Expect::SignedIn),
    ("rp-id_token-sig-es256", "good_es256", Expect::SignedIn),
    ("rp-id_token-issuer-mismatch", "issuer_mismatch", ID_TOKEN_INVALID),
    ("rp-id_token-aud", "wrong_aud", ID_TOKEN_INVALID),
    (
        "several audiences, azp another client",
        "multi_aud_wrong_azp",
        ID_TOKEN_INVALID,
    ),
    ("rp-id_token-bad-sig-rs256", "bad_sig_rs256", ID_TOKEN_INVALID),
    ("rp-id_token-bad-sig-es256", "bad_sig_es256", ID_TOKEN_INVALID),
    // The certification's sig-none case is for RPs that registered `none`; the
    // gateway never does, so an unsigned token is refused.
    ("rp-id_token-sig-none (refused)", "alg_none", ID_TOKEN_INVALID),
    (
        "HS256 keyed with the public key (PEM)",
        "hs256_public_pem",
        ID_TOKEN_INVALID,
    ),
    (
        "HS256 keyed with the public key (JWK)",
        "hs256_public_jwk",
        ID_TOKEN_INVALID,
    ),
    // Two RSA keys and no kid: openidconnect refuses the ambiguous key choice
    // (the certification allows refusing or trying each key).
    ("rp-id_token-kid-absent-multiple-jwks", "kid_absent", ID_TOKEN_INVALID),
    ("unknown kid (refetch finds nothing)", "unknown_kid", ID_TOKEN_INVALID),
    ("rp-nonce-invalid", "wrong_nonce", ID_TOKEN_INVALID),
    ("nonce missing", "missing_nonce", ID_TOKEN_INVALID),
    ("expired ID token", "expired", ID_TOKEN_INVALID),
    ("aud missing", "missing_aud", ID_TOKEN_INVALID),
    // A required claim missing makes the whole token response unparsable
    // (openidconnect deserialises the claims with the response); the gateway still
    // reports it as an invalid ID token, not as an IdP outage.
    ("rp-id_token-sub", "missing_sub", ID_TOKEN_INVALID),
    ("rp-id_token-iat", "missing_iat", ID_TOKEN_INVALID),
    ("rp-userinfo-bad-sub-claim", "userinfo_sub_mismatch", IDP_ERROR),
    ("token endpoint: invalid_grant", "token_invalid_grant", IDP_ERROR),
    ("token endpoint: 500", "token_500", IDP_ERROR),
    ("token endpoint: garbage body", "token_garbage", IDP_ERROR),
    // Bounded by oidc.request_timeout = 2s: the shopper gets the page, not a hang.
    ("token endpoint never answers", "token_hang", IDP_ERROR),
    ("good again after all that", "good_rs256", Expect::SignedIn),
];

#[tokio::test]
async fn every_code_flow_case_ends_cleanly() {
    let shop = ConformanceShop::start(&["rsa", "rsa", "ec"]).await.expect("shop");
    let mut failures = Vec::new();
    for (i, (case, mode, expect)) in CASES.iter().enumerate() {
        let sub = format!("tester-{i}");
        if let Err(e) = shop.run_case(mode, &sub, *expect).await {
            failures.push(format!("{case} (mode {mode}, expected {expect:?}): {e:#}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}\n--- gateway log ---\n{}",
        failures.len(),
        failures.join("\n"),
        shop.gateway.log()
    );
}

#[tokio::test]
async fn rp_key_rotation_op_sign_key() {
    // One RSA key: also the certification's single-key, kid-absent case.
    let shop = ConformanceShop::start(&["rsa"]).await.expect("shop");
    let case =
        |name: &str, r: anyhow::Result<()>| r.unwrap_or_else(|e| panic!("{name}: {e:#}\n{}", shop.gateway.log()));

    case(
        "rp-id_token-kid-absent-single-jwks",
        shop.run_case("kid_absent", "dora", Expect::SignedIn).await,
    );
    case(
        "first login",
        shop.run_case("good_rs256", "dora", Expect::SignedIn).await,
    );

    // The IdP rotates seconds after the gateway read its keys: the next login
    // carries an unknown kid, the gateway refetches the JWKS and the login succeeds.
    let fetches = shop.idp.jwks_fetches().await.expect("stats");
    let kid = shop.idp.rotate_key().await.expect("rotate");
    case(
        &format!("rp-key-rotation-op-sign-key (new kid {kid})"),
        shop.run_case("good_rs256", "dora", Expect::SignedIn).await,
    );
    let refetched = shop.idp.jwks_fetches().await.expect("stats");
    assert!(refetched > fetches, "the JWKS was not fetched again");

    // A second rotation right after that refetch is picked up too.
    let kid = shop.idp.rotate_key().await.expect("rotate");
    case(
        &format!("second rotation (new kid {kid})"),
        shop.run_case("good_rs256", "dora", Expect::SignedIn).await,
    );

    // A token signed with the retired key no longer verifies.
    case(
        "retired key",
        shop.run_case("retired_key", "dora", Expect::Refused(502, "id_token_invalid"))
            .await,
    );
    case(
        "kid absent after rotation",
        shop.run_case("kid_absent", "dora", Expect::SignedIn).await,
    );
}

#[tokio::test]
async fn forged_kids_cannot_make_the_gateway_hammer_the_idp() {
    let shop = ConformanceShop::start(&["rsa", "ec"]).await.expect("shop");
    shop.idp.set_mode("unknown_kid", "mallory").await.expect("mode");
    const LOGINS: usize = 12;
    let mut shoppers = Vec::new();
    for _ in 0..LOGINS {
        let shopper = Shopper::new(&["shop"]).expect("client");
        let callback = shop.callback_url(&shopper).await.expect("callback");
        shoppers.push((shopper, callback));
    }

    // Every callback at once, each ID token with its own made-up kid.
    let fetches = shop.idp.jwks_fetches().await.expect("stats");
    let started = Instant::now();
    let calls: Vec<_> = shoppers
        .iter()
        .map(|(shopper, callback)| {
            let request = shopper
                .http
                .get(callback.as_str())
                .header("accept", "text/html")
                .timeout(sso_tests::misbehaving_idp::LOGIN_WAIT);
            tokio::spawn(async move {
                let resp = request.send().await.expect("callback");
                (resp.status().as_u16(), resp.text().await.unwrap_or_default())
            })
        })
        .collect();
    for call in calls {
        let (status, body) = call.await.expect("join");
        assert_eq!(status, 502, "{body}");
        assert!(body.contains("Error code: id_token_invalid"), "{body}");
    }
    let elapsed = started.elapsed();
    let refetches = shop.idp.jwks_fetches().await.expect("stats") - fetches;

    // At most one fetch per JWKS_REFETCH_INTERVAL (1 s) of the burst, plus the first.
    let allowed = 1 + elapsed.as_secs() + 1;
    assert!(refetches >= 1, "an unknown kid makes the gateway look for new keys");
    assert!(
        refetches <= allowed,
        "{LOGINS} forged tokens in {elapsed:?} caused {refetches} JWKS fetches"
    );
    for (shopper, _) in &shoppers {
        shop.expect_still_serving(shopper).await.expect("serving");
    }
    assert_eq!(shop.sessions_active().await, Some(0));
}

/// A subject the origin could not be given as it is (`nl\nuser`) is refused, not
/// cleaned: cleaning would hand the origin `nluser`, another account's identity.
#[tokio::test]
async fn a_subject_with_control_characters_is_refused_not_merged_with_another() {
    let shop = ConformanceShop::start(&["rsa"]).await.expect("shop");
    for sub in ["nl\nuser", "tab\tuser", "nul\u{0}user"] {
        shop.run_case("good_rs256", sub, ID_TOKEN_INVALID)
            .await
            .unwrap_or_else(|e| panic!("{sub:?}: {e:#}\n{}", shop.gateway.log()));
    }
    shop.run_case("good_rs256", "nluser", Expect::SignedIn)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
}
