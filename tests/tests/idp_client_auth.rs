//! The IdP client enterprises need, with the real `oidc-provider`: how the gateway
//! authenticates (`client_secret_post`, `private_key_jwt` with ES256 and RS256 keys,
//! registered from what `sso-gateway client-jwks` prints) and how it connects (an IdP
//! behind a private CA trusted only through `ca_file`; mutual TLS). Every sign-in
//! goes through the token endpoint and userinfo; a refresh and a logout's revocation
//! use the same authentication (the IdP refuses any other).

use sso_tests::idp_options::{client_jwks, secret_line, IdpShop, IdpTls};
use sso_tests::tls_certs::TestCa;
use sso_tests::{echo_of, repo_root};
use std::time::{Duration, Instant};

const IDP_ERROR: &str = "idp_error";

/// The error code of the gateway's error page (JSON or HTML) in `body`.
fn refused_with(body: &str, code: &str) -> bool {
    body.contains(code)
}

/// The origin saw this customer.
fn customer(body: &str) -> String {
    echo_of(body).map_or_else(
        |_| String::new(),
        |e| e["headers"]["x-customer-id"].as_str().unwrap_or_default().to_string(),
    )
}

/// Waits (at most 20 s) until the counter `series` is at least `at_least`.
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

/// Signs in, refreshes (short access tokens) and signs out with revocation: every
/// token-endpoint and revocation call authenticated as the IdP demands.
async fn full_round(shop: &IdpShop, login: &str) {
    let landing = shop.sign_in(login).await.expect("sign in");
    assert_eq!(landing.status, 200, "{:?}\n{}", landing.visited, shop.logs());
    assert_eq!(customer(&landing.body), login);
    // The access token lives 2 s: after 3 s the next request refreshes it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let resp = shop.shopper.page(&shop.url("/account/again")).await.expect("page");
    assert_eq!(resp.status(), 200, "{}", shop.logs());
    let refreshed = r#"sso_gateway_idp_request_duration_seconds_count{endpoint="refresh",site="shop"}"#;
    assert!(counter_reaches(shop, refreshed, 1.0).await, "a refresh happened");
    assert_eq!(
        shop.gateway
            .metric(r#"sso_gateway_idp_errors_total{endpoint="refresh",site="shop"}"#)
            .await,
        0.0
    );
    let resp = shop.shopper.page(&shop.url("/account/again")).await.expect("page");
    assert_eq!(
        resp.status(),
        200,
        "still signed in after the refresh:\n{}",
        shop.logs()
    );
    // Logout revokes with the same client authentication.
    let out = shop.shopper.page(&shop.url("/_sso/logout")).await.expect("logout");
    assert_eq!(out.status(), 303);
    let revoked = r#"sso_gateway_idp_revocations_total{idp="",outcome="revoked",site="shop"}"#;
    assert!(
        counter_reaches(shop, revoked, 1.0).await,
        "{}",
        shop.gateway.metrics().await
    );
}

const SHORT_TOKENS: (&str, &str) = ("ACCESS_TOKEN_TTL", "2");
const REVOCATION: (&str, &str) = ("REVOCATION", "1");

#[tokio::test]
async fn rp_token_endpoint_client_secret_post() {
    let env = [
        ("TOKEN_ENDPOINT_AUTH_METHOD", "client_secret_post"),
        SHORT_TOKENS,
        REVOCATION,
    ];
    // The IdP refuses client_secret_basic, the default.
    let basic = IdpShop::start(&env, None, &secret_line(), "").expect("shop");
    let landing = basic.sign_in("ann").await.expect("walk");
    assert_eq!(landing.status, 502, "{:?}", landing.visited);
    assert!(refused_with(&landing.body, IDP_ERROR), "{}", landing.body);
    assert!(
        basic.idp.proc.log().contains("invalid_client") || basic.gateway.log().contains("invalid_client"),
        "{}",
        basic.logs()
    );

    let keys = format!("{}\ntoken_endpoint_auth_method = \"client_secret_post\"", secret_line());
    let post = IdpShop::start(&env, None, &keys, "").expect("shop");
    full_round(&post, "ann").await;
}

/// A P-256 key in PKCS#8 PEM, written to a fresh file.
fn ec_key_file() -> std::path::PathBuf {
    let key = rcgen::KeyPair::generate().expect("key");
    let path = std::env::temp_dir().join(format!(
        "sso-client-ec-{}-{}.pem",
        std::process::id(),
        sso_tests::free_port()
    ));
    std::fs::write(&path, key.serialize_pem()).expect("write key");
    path
}

async fn private_key_jwt_round(key: &std::path::Path, alg: &str) {
    let jwks = client_jwks(key).expect("client-jwks");
    let parsed: serde_json::Value = serde_json::from_str(&jwks).expect("a JWKS");
    assert_eq!(parsed["keys"][0]["alg"], alg);
    assert!(parsed["keys"][0].get("d").is_none(), "no private part is printed");
    let env = [
        ("TOKEN_ENDPOINT_AUTH_METHOD", "private_key_jwt"),
        ("CLIENT_JWKS", jwks.as_str()),
        SHORT_TOKENS,
        REVOCATION,
    ];
    let keys = format!(
        "token_endpoint_auth_method = \"private_key_jwt\"\nclient_assertion_key_file = \"{}\"",
        key.display()
    );
    let shop = IdpShop::start(&env, None, &keys, "").expect("shop");
    full_round(&shop, "bea").await;

    // A client secret where the IdP wants a signed assertion is refused.
    let wrong = IdpShop::start(&env, None, &secret_line(), "").expect("shop");
    let landing = wrong.sign_in("bea").await.expect("walk");
    assert_eq!(landing.status, 502, "{:?}", landing.visited);
}

#[tokio::test]
async fn private_key_jwt_with_an_es256_key() {
    private_key_jwt_round(&ec_key_file(), "ES256").await;
}

#[tokio::test]
async fn private_key_jwt_with_an_rs256_key() {
    private_key_jwt_round(&repo_root().join("tests/keys/client-assertion-rsa.pem"), "RS256").await;
}

#[tokio::test]
async fn an_idp_behind_a_private_ca_is_trusted_through_ca_file_only() {
    let ca = TestCa::new("idp-ca").expect("ca");
    let tls = || Some(IdpTls { ca: &ca, mutual: false });
    // Without ca_file, the system roots do not know the test CA: discovery fails on
    // the certificate, the gateway is not ready and says why.
    let untrusted = IdpShop::start(&[], tls(), &secret_line(), "").expect("shop");
    assert!(untrusted.log_shows("discovery failed").await, "{}", untrusted.logs());
    let log = untrusted.gateway.log();
    assert!(log.to_ascii_lowercase().contains("certificate"), "a TLS error: {log}");
    let ready: serde_json::Value = reqwest::get(untrusted.gateway.admin_url("/readyz"))
        .await
        .expect("readyz")
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(ready["checks"]["oidc:shop"], false, "{ready}");

    // With it: discovery, JWKS, token, userinfo and revocation over the private CA.
    let keys = format!("{}\nca_file = \"{}\"", secret_line(), ca.pem_path.display());
    let shop = IdpShop::start(&[SHORT_TOKENS, REVOCATION], tls(), &keys, "").expect("shop");
    full_round(&shop, "cai").await;
}

#[tokio::test]
async fn mutual_tls_presents_the_client_certificate_to_the_idp() {
    let ca = TestCa::new("idp-mtls").expect("ca");
    let client = ca
        .issue("gateway-client", &["sso-gateway.example"])
        .expect("client cert");
    let tls = || Some(IdpTls { ca: &ca, mutual: true });
    let trusted = format!("{}\nca_file = \"{}\"", secret_line(), ca.pem_path.display());
    // The IdP binds access tokens to the client certificate (RFC 8705 §3): a token
    // request without one is refused.
    let without = IdpShop::start(&[], tls(), &trusted, "").expect("shop");
    let landing = without.sign_in("dan").await.expect("walk");
    assert_eq!(landing.status, 502, "{:?}\n{}", landing.visited, without.logs());

    let keys = format!(
        "{trusted}\nclient_cert_file = \"{}\"\nclient_key_file = \"{}\"",
        client.cert_path.display(),
        client.key_path.display()
    );
    let shop = IdpShop::start(&[SHORT_TOKENS, REVOCATION], tls(), &keys, "").expect("shop");
    full_round(&shop, "dan").await;
}

#[test]
fn check_names_an_unreadable_or_invalid_file() {
    let dir = std::env::temp_dir().join(format!(
        "sso-check-idp-{}-{}",
        std::process::id(),
        sso_tests::free_port()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a pem at all\n").expect("write");
    let site = |keys: &str| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:{}\"]\n[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n\
             [[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\n\
             public_url = \"http://shop.localhost\"\n[sites.oidc]\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n{keys}\n",
            sso_tests::free_port()
        )
    };
    let cases = [
        (
            format!(
                "client_secret = \"s\"\nca_file = \"{}\"",
                dir.join("missing.pem").display()
            ),
            "sites[0].oidc.ca_file: ",
            "cannot be read",
        ),
        (
            format!("client_secret = \"s\"\nca_file = \"{}\"", garbage.display()),
            "sites[0].oidc.ca_file: ",
            "holds no PEM certificate",
        ),
        (
            format!(
                "client_secret = \"s\"\nclient_cert_file = \"{g}\"\nclient_key_file = \"{g}\"",
                g = garbage.display()
            ),
            "sites[0].oidc.client_cert_file: ",
            "holds no PEM certificate",
        ),
        (
            format!(
                "token_endpoint_auth_method = \"private_key_jwt\"\nclient_assertion_key_file = \"{}\"",
                garbage.display()
            ),
            "sites[0].oidc.client_assertion_key_file: ",
            "is not a PKCS#8 PEM private key",
        ),
    ];
    for (keys, key, why) in cases {
        let (ok, out) = sso_tests::gateway::check(&site(&keys), &[]).expect("check");
        assert!(!ok, "accepted: {keys}");
        assert!(out.contains(key) && out.contains(why), "{keys}:\n{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
