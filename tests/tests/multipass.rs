//! The Shopify Multipass hand-off (`[sites.multipass]`, docs/multipass.md) against the
//! real gateway, the real `oidc-provider` and the demo origin, which stands in for the
//! store (`store_url` is the shop's own public URL, so the hand-off URL comes back
//! through the gateway and its access line can be read). Every token is opened by the
//! test's own decoder written from Shopify's documentation
//! (`tests/js/multipass-decode.mjs`, Node's `crypto`), never by the gateway's code.

use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sso_filters::sessions::now_secs;
use sso_tests::group::{Group, GroupOptions, HOSTS};
use sso_tests::{repo_root, GatewayConfig, Shop, Shopper};
use std::io::Write;
use std::process::{Command, Stdio};

const SECRET: &str = "shopify-multipass-secret-0123456789ab";
const MULTIPASS_PATH: &str = "/account/login/multipass/";
const MERCHANT_SECRET: &str = "merchant-website-secret-0123456789abcdef";

/// The `[sites.multipass]` of a site whose store is `store` (`{port}` is the gateway's).
fn multipass_section(store: &str) -> String {
    format!("\n[sites.multipass]\nstore_url = \"{store}\"\nsecret = \"{SECRET}\"\n")
}

/// A shop whose IdP sends groups, handing off to itself as the store; `extra` is
/// appended to the site.
fn multipass_shop(extra: &str) -> Shop {
    let site = format!(
        "scopes = [\"openid\", \"email\", \"profile\", \"groups\"]\n{}{extra}",
        multipass_section("http://shop.localhost:{port}")
    );
    Shop::start_with(GatewayConfig::default(), &site).expect("shop")
}

/// What the independent decoder says of `token` under `secret`.
fn decode(token: &str, secret: &str) -> Value {
    let mut child = Command::new("node")
        .arg(repo_root().join("tests/js/multipass-decode.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node");
    let input = json!({ "secret": secret, "token": token }).to_string();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("node runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The token of the first hand-off URL of `visited` on `store`.
fn handed_off_token(visited: &[url::Url], store: &str) -> Option<String> {
    let prefix = format!("{store}{MULTIPASS_PATH}");
    visited
        .iter()
        .find_map(|u| u.as_str().strip_prefix(&prefix).map(str::to_string))
}

/// Signs `login` in at `path`, stopping (without requesting it) at the store's
/// Multipass URL; the walk and the token.
async fn sign_in_to_store(
    shop: &Shop,
    shopper: &Shopper,
    path: &str,
    login: &str,
) -> (sso_tests::client::Landing, String) {
    shop.ready().await.expect("ready");
    let store = shop.url("");
    let start = shopper.page(&shop.url(path)).await.expect("start");
    let landing = shopper
        .walk_until(start, login, |u| u.path().starts_with(MULTIPASS_PATH))
        .await
        .expect("walk");
    let token = landing
        .url
        .as_str()
        .strip_prefix(&format!("{}{MULTIPASS_PATH}", store.trim_end_matches('/')))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no hand-off: {:?}", landing.visited));
    (landing, token)
}

#[tokio::test]
async fn an_idp_sign_in_hands_the_customer_to_the_store_with_a_token_shopify_can_read() {
    let shop = multipass_shop("");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let before = now_secs();
    let (landing, token) =
        sign_in_to_store(&shop, &shopper, "/account/orders?page=2", "olga~vip~name=Olga Petrova").await;
    let after = now_secs();
    // The callback's redirect: not stored, no Referer on to the store.
    let h = |n: &str| {
        landing
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(landing.status, 303);
    assert_eq!(h("cache-control"), "no-store");
    assert_eq!(h("referrer-policy"), "no-referrer");
    assert!(
        h("set-cookie").contains("sso_session"),
        "the gateway session is set too"
    );

    let opened = decode(&token, SECRET);
    assert_eq!(opened["ok"], true, "{opened}");
    assert_eq!(opened["padded"], true, "`=` padding as Ruby's urlsafe_encode64");
    let data = &opened["data"];
    let subject = "olga~vip~name=Olga Petrova";
    assert_eq!(data["email"], "olga@example.com");
    assert_eq!(data["identifier"], subject, "the customer id (the IdP subject here)");
    assert_eq!(data["first_name"], "Olga");
    assert_eq!(data["last_name"], "Petrova");
    assert_eq!(data["tag_string"], "vip");
    assert_eq!(data["return_to"], shop.url("/account/orders?page=2"));
    assert_eq!(data["remote_ip"], "127.0.0.1");
    let created = opened["created_at_unix"].as_u64().expect("created_at is ISO 8601");
    assert!(
        before <= created + 1 && created <= after + 1,
        "created_at {created} in [{before}, {after}]"
    );
    let fields: Vec<&String> = data.as_object().expect("object").keys().collect();
    assert_eq!(fields.len(), 8, "no other field: {fields:?}");

    // One byte changed anywhere: the HMAC fails (and nothing is decrypted).
    let mut raw = base64::engine::general_purpose::URL_SAFE
        .decode(&token)
        .expect("base64");
    for at in [0, 20, raw.len() - 40, raw.len() - 1] {
        raw[at] ^= 0x01;
        let forged = base64::engine::general_purpose::URL_SAFE.encode(&raw);
        assert_eq!(decode(&forged, SECRET)["reason"], "signature", "byte {at}");
        raw[at] ^= 0x01;
    }
    assert_eq!(
        decode(&token, "another-secret-0123456789abcdef0123")["reason"],
        "signature"
    );

    // The browser goes on to the store (here the origin, through the gateway): the
    // access line shows the path redacted, and no log line holds the token.
    let resp = shopper.page(landing.url.as_str()).await.expect("store");
    assert_eq!(resp.status(), 200);
    let redacted = shop.gateway.log_shows("/account/login/multipass/[redacted]").await;
    let log = shop.gateway.log();
    assert!(redacted, "{log}");
    assert!(!log.contains(&token[..40]), "the token is in the log");
    assert!(!log.contains(SECRET));

    // A second sign-in of the same customer: another token (a new IV, minted per hand-off).
    let again = Shopper::new(&["shop"]).expect("client");
    let (_, second) = sign_in_to_store(&shop, &again, "/account", subject).await;
    assert_ne!(second, token);
    assert_eq!(decode(&second, SECRET)["data"]["return_to"], shop.url("/account"));
    let metric = "sso_gateway_handoffs_total{outcome=\"handed_off\",platform=\"multipass\",site=\"shop\"}";
    assert_eq!(shop.gateway.metric(metric).await, 2.0);
    let metrics = shop.gateway.metrics().await;
    assert!(
        !metrics.contains(&token[..20]) && !metrics.contains("olga"),
        "{metrics}"
    );
}

#[tokio::test]
async fn accounts_without_a_verified_plain_address_are_not_handed_off_and_stay_signed_in() {
    let shop = multipass_shop("");
    shop.ready().await.expect("ready");
    // An unverified address; and a verified one ending in a control character, which
    // sanitising would store as `eve@example.com`, not the string the IdP verified.
    for login in ["ivan~unverified", "eve~bellmail"] {
        let shopper = Shopper::new(&["shop"]).expect("client");
        let start = shopper.page(&shop.url("/account")).await.expect("start");
        let landing = shopper.walk(start, login).await.expect("walk");
        assert!(
            handed_off_token(&landing.visited, shop.url("").trim_end_matches('/')).is_none(),
            "{login} handed off: {:?}",
            landing.visited
        );
        assert_eq!(landing.status, 403, "{login}: {:?}", landing.visited);
        assert!(landing.body.contains("handoff_email_unverified"), "{}", landing.body);
        assert!(landing.body.contains("href=\"/account\""), "a way on: {}", landing.body);
        // Still signed in at the gateway.
        let session = shop.session_of(&shopper).await.expect("session");
        assert_eq!(session["authenticated"], true, "{session}");
        let resp = shopper.page(&shop.url("/account")).await.expect("account");
        assert_eq!(resp.status(), 200);
    }
    let metric = "sso_gateway_handoffs_total{outcome=\"no_verified_email\",platform=\"multipass\",site=\"shop\"}";
    assert_eq!(shop.gateway.metric(metric).await, 2.0);
    let handed = "sso_gateway_handoffs_total{outcome=\"handed_off\",platform=\"multipass\",site=\"shop\"}";
    assert_eq!(shop.gateway.metric(handed).await, 0.0);
}

#[tokio::test]
async fn a_page_of_another_site_cannot_make_handoff_mint_a_token() {
    let shop = multipass_shop("");
    shop.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let start = shopper.page(&shop.url("/account")).await.expect("start");
    shopper.walk(start, "judy").await.expect("walk");
    let url = shop.url("/_sso/handoff?return_to=/account/orders");
    let navigate = |site: &'static str| {
        let cookie = shopper.cookies_for(&url);
        let url = url.clone();
        async move {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .resolve("shop.localhost", std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
                .build()
                .expect("client")
                .get(url)
                .header("cookie", cookie)
                .header("accept", "text/html")
                .header("sec-fetch-site", site)
                .header("sec-fetch-mode", "navigate")
                .header("sec-fetch-dest", "document")
                .send()
                .await
                .expect("handoff")
        }
    };
    let from_elsewhere = navigate("cross-site").await;
    assert_eq!(from_elsewhere.status(), 303);
    assert_eq!(
        from_elsewhere.headers()["location"],
        "/account/orders",
        "no token for another site's page"
    );
    let own = navigate("same-origin").await;
    let location = own.headers()["location"].to_str().expect("location").to_string();
    assert!(
        location.contains(MULTIPASS_PATH),
        "the shop's own navigation is handed off: {location}"
    );
}

/// A customer-login JWT for customer 42, with `email` when given.
fn customer_login_token(email: Option<&str>) -> String {
    let mut claims = json!({
        "iss": "merchant-site",
        "iat": now_secs(),
        "jti": sso_filters::secret::random_token(),
        "operation": "customer_login",
        "store_hash": "abc123",
        "customer_id": 42,
        "redirect_to": "/account/orders",
    });
    if let (Some(email), Some(map)) = (email, claims.as_object_mut()) {
        map.insert("email".into(), json!(email));
    }
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(MERCHANT_SECRET.as_bytes()),
    )
    .expect("sign")
}

#[tokio::test]
async fn a_customer_login_jwt_is_handed_off_with_its_email_and_refused_without() {
    let shop = multipass_shop(&format!(
        "\n[sites.customer_login]\nclient_id = \"merchant-site\"\nclient_secret = \"{MERCHANT_SECRET}\"\n\
         store_hash = \"abc123\"\n[sites.provisioning]\nurl = \"http://{{origin}}/hooks/provision\"\n"
    ));
    shop.ready().await.expect("ready");
    let store = shop.url("");
    let store = store.trim_end_matches('/');
    let shopper = Shopper::new(&["shop"]).expect("client");
    let token = customer_login_token(Some("kim@merchant.example"));
    let resp = shopper
        .page(&shop.url(&format!("/login/token/{token}")))
        .await
        .expect("login");
    assert_eq!(resp.status(), 303);
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let multipass = location
        .strip_prefix(&format!("{store}{MULTIPASS_PATH}"))
        .unwrap_or_else(|| panic!("not handed off: {location}"));
    let data = &decode(multipass, SECRET)["data"];
    assert_eq!(data["email"], "kim@merchant.example");
    // This site's IdP subjects and the merchant's customer ids both reach the store:
    // no `identifier`, or IdP subject 42 and customer 42 would be one Shopify customer.
    assert!(data.get("identifier").is_none(), "{data}");
    assert_eq!(data["return_to"], shop.url("/account/orders"));
    assert!(data.get("first_name").is_none(), "no name: {data}");

    let without = Shopper::new(&["shop"]).expect("client");
    let resp = without
        .page(&shop.url(&format!("/login/token/{}", customer_login_token(None))))
        .await
        .expect("login");
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("set-cookie").is_some(), "signed in at the gateway");
    assert!(resp.text().await.expect("body").contains("handoff_email_unverified"));
}

#[tokio::test]
async fn cross_site_sign_ons_hand_off_after_the_binding_round_and_after_a_one_time_token() {
    let a = multipass_section("http://shop-a.localhost:{port}");
    let b = multipass_section("http://shop-b.localhost:{port}");
    let group = Group::start(GroupOptions {
        site_extra: &[("shop-a", &a), ("shop-b", &b)],
        ..GroupOptions::default()
    })
    .expect("group");
    group.ready().await.expect("ready");
    let shopper = Shopper::new(&HOSTS).expect("client");
    let is_store = |u: &url::Url| u.path().starts_with(MULTIPASS_PATH);

    // The IdP sign-in on shop-a starts the SSO session: the auth host's binding round
    // first, then `/_sso/handoff`, which hands off to shop-a's store.
    let start = shopper.page(&group.url("shop-a", "/account")).await.expect("start");
    let landing = shopper.walk_until(start, "olga", is_store).await.expect("walk");
    let visited: Vec<&str> = landing.visited.iter().map(url::Url::as_str).collect();
    assert!(
        visited.iter().any(|u| u.starts_with(&group.auth_url("/"))),
        "through the auth host: {visited:?}"
    );
    let handoff = group.url("shop-a", "/_sso/handoff?return_to=%2Faccount");
    assert!(visited.contains(&handoff.as_str()), "back at /handoff: {visited:?}");
    let store_a = group.url("shop-a", MULTIPASS_PATH);
    let token = landing
        .url
        .as_str()
        .strip_prefix(store_a.as_str())
        .unwrap_or_else(|| panic!("not handed off to shop-a's store: {}", landing.url));
    let data = &decode(token, SECRET)["data"];
    assert_eq!(data["email"], "olga@example.com");
    assert_eq!(data["return_to"], group.url("shop-a", "/account"));

    // A page of shop-b: signed in by one-time token, then handed to shop-b's store.
    let start = shopper.page(&group.url("shop-b", "/account")).await.expect("start");
    let landing = shopper.walk_until(start, "nobody", is_store).await.expect("walk");
    let store_b = group.url("shop-b", MULTIPASS_PATH);
    let token = landing
        .url
        .as_str()
        .strip_prefix(store_b.as_str())
        .unwrap_or_else(|| panic!("not handed off to shop-b's store: {:?}", landing.visited));
    assert!(
        !landing.visited.iter().any(|u| u.port() == Some(group.idp.port)),
        "no second IdP sign-in: {:?}",
        landing.visited
    );
    let data = &decode(token, SECRET)["data"];
    assert_eq!(data["email"], "olga@example.com", "the SSO session's verified address");
    assert_eq!(data["identifier"], "olga");
    assert_eq!(data["return_to"], group.url("shop-b", "/account"));
}

#[test]
fn check_refuses_what_makes_no_sense() {
    let base = "[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n[[sites]]\nname = \"shop\"\n\
                hosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:3000\"]\npublic_url = \"http://shop.localhost\"\n";
    let oidc = "[sites.oidc]\nissuer = \"https://idp.example\"\nclient_id = \"c\"\nclient_secret = \"s\"\n";
    let bad = |section: &str| {
        let (ok, out) = sso_tests::gateway::check(&format!("{base}{oidc}{section}"), &[]).expect("check");
        assert!(!ok, "accepted:\n{section}");
        out
    };
    let out = bad("[sites.multipass]\nstore_url = \"http://shop.example\"\nsecret = \"short\"\n");
    assert!(
        out.contains("sites[0].multipass.store_url") && out.contains("not https"),
        "{out}"
    );
    assert!(out.contains("sites[0].multipass.secret"), "{out}");
    assert!(!out.contains("short"), "the secret is not echoed:\n{out}");
    let out = bad("[sites.multipass]\nstore_url = \"https://shop.example/account\"\n");
    assert!(
        out.contains("sites[0].multipass.store_url") && out.contains("origin"),
        "{out}"
    );
    assert!(
        out.contains("sites[0].multipass.secret") && out.contains("required"),
        "{out}"
    );
    let out = bad(&format!(
        "[sites.provisioning]\nurl = \"https://hooks.example/p\"\n\
         [sites.platform_login]\nclient_id = \"p\"\nclient_secret = \"{MERCHANT_SECRET}\"\nstore_hash = \"abc\"\n\
         [sites.multipass]\nstore_url = \"https://shop.example\"\nsecret = \"{SECRET}\"\n"
    ));
    assert!(
        out.contains("sites[0].multipass") && out.contains("platform_login"),
        "{out}"
    );
    let (ok, out) = sso_tests::gateway::check(
        &format!("{base}[sites.multipass]\nstore_url = \"https://shop.example\"\nsecret = \"{SECRET}\"\n"),
        &[],
    )
    .expect("check");
    assert!(
        !ok && out.contains("sites[0].multipass") && out.contains("none"),
        "no way to sign in:\n{out}"
    );
    let (ok, out) = sso_tests::gateway::check(
        &format!(
            "{base}{oidc}[sites.multipass]\nstore_url = \"https://shop.example/\"\nsecret = \"${{SHOPIFY_MULTIPASS_SECRET}}\"\n"
        ),
        &[("SHOPIFY_MULTIPASS_SECRET", SECRET)],
    )
    .expect("check");
    assert!(ok, "{out}");
    assert!(!out.contains(SECRET), "{out}");
}
