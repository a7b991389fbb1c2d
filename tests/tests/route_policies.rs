//! Route requirements (`require_*` on `[[sites.routes]]`), against the real gateway,
//! the real `oidc-provider` (groups and claims only through userinfo, as stock
//! `oidc-provider` sends them) and the demo origin: who gets the page, who gets the
//! 403 page or JSON, and what `check` refuses.

use sso_tests::gateway::check;
use sso_tests::{echo_of, merchant_login, GatewayConfig, Shop, Shopper};

/// `[sites.oidc]` keys and the extra routes of the shop under test (the base routes
/// are `/account` login and `/api` api).
const POLICIES: &str = r#"scopes = ["openid", "email", "profile", "groups"]
[[sites.routes]]
prefix = "/wholesale"
access = "login"
require_groups = ["wholesale", "staff"]
[[sites.routes]]
prefix = "/api/wholesale"
access = "api"
require_groups = ["wholesale"]
[[sites.routes]]
prefix = "/sales"
access = "login"
require_claims = { department = ["sales", "ops"] }
[[sites.routes]]
prefix = "/acme"
access = "login"
require_email_domains = ["acme.example"]
[[sites.routes]]
prefix = "/api/browser-only"
access = "api"
require_methods = ["oidc"]
"#;

async fn signed_in(shop: &Shop, login: &str) -> Shopper {
    let shopper = Shopper::new(&["shop"]).expect("client");
    let landing = shop.sign_in(&shopper, "/account", login).await.expect("sign in");
    assert_eq!(landing.status, 200, "{login} signed in: {:?}", landing.visited);
    shopper
}

#[tokio::test]
async fn a_route_admits_only_the_customers_its_requirements_name() {
    let shop = Shop::start_with(GatewayConfig::default(), POLICIES).expect("shop");
    let ann = signed_in(&shop, "ann~wholesale~department=sales").await;
    let bob = signed_in(&shop, "bob~retail").await;

    // Groups come through userinfo only (stock oidc-provider): ann is wholesale.
    let resp = ann.page(&shop.url("/wholesale/catalogue")).await.expect("page");
    assert_eq!(resp.status(), 200);
    let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
    assert_eq!(echo["headers"]["x-customer-groups"], "wholesale");
    assert_eq!(echo["headers"]["x-customer-login-method"], "oidc");
    let auth_time: u64 = echo["headers"]["x-customer-auth-time"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("X-Customer-Auth-Time in Unix seconds");
    assert!(auth_time > 1_700_000_000);
    assert_eq!(
        ann.page(&shop.url("/sales")).await.expect("page").status(),
        200,
        "claim from userinfo"
    );

    // bob is retail: a page load gets the 403 page, never a login redirect.
    let resp = bob.page(&shop.url("/wholesale/catalogue")).await.expect("page");
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("location").is_none());
    let body = resp.text().await.expect("body");
    assert!(body.contains("<html") && body.contains("access_denied"), "{body}");
    assert_eq!(bob.page(&shop.url("/sales")).await.expect("page").status(), 403);

    // A preflight-shaped OPTIONS that carries the session cookie is no preflight (a
    // browser never sends credentials on one): it meets the requirements too.
    let resp = bob
        .http
        .request(reqwest::Method::OPTIONS, shop.url("/wholesale/catalogue"))
        .header("origin", "https://elsewhere.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .expect("options");
    assert_eq!(
        resp.status(),
        403,
        "a cookie-carrying OPTIONS passed the group requirement"
    );

    // An API call gets JSON with the reason.
    let resp = bob.api(&shop.url("/api/wholesale/prices")).await.expect("api");
    assert_eq!(resp.status(), 403);
    let json: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(
        (json["error"].as_str(), json["reason"].as_str()),
        (Some("access_denied"), Some("group"))
    );
    assert_eq!(
        ann.api(&shop.url("/api/wholesale/prices")).await.expect("api").status(),
        200
    );

    // The email domain must be the verified address's: ann is at example.com.
    assert_eq!(ann.page(&shop.url("/acme")).await.expect("page").status(), 403);

    // An API token is its own method: refused where only browser sign-ins may go.
    let token = shop.api_token(&ann).await.expect("token");
    let api_client = Shopper::new(&["shop"]).expect("client");
    let resp = api_client
        .http
        .get(shop.url("/api/browser-only/x"))
        .header("accept", "application/json")
        .bearer_auth(&token)
        .send()
        .await
        .expect("bearer call");
    assert_eq!(resp.status(), 403);
    let json: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(json["reason"], "method");
    assert_eq!(
        ann.api(&shop.url("/api/browser-only/x")).await.expect("api").status(),
        200
    );

    // Anonymous visitors are handled as before: login for pages, 401 for the API.
    let anonymous = Shopper::new(&["shop"]).expect("client");
    let resp = anonymous.page(&shop.url("/wholesale")).await.expect("page");
    assert_eq!(resp.status(), 302, "an anonymous page load starts a login");
    let resp = anonymous.api(&shop.url("/api/wholesale/prices")).await.expect("api");
    assert_eq!(resp.status(), 401);
    // No browser puts credentials or a body on a preflight: such an OPTIONS is an
    // ordinary request, and the origin never gets the bearer or the body.
    let resp = anonymous
        .http
        .request(reqwest::Method::OPTIONS, shop.url("/api/wholesale/prices"))
        .header("origin", "null")
        .header("access-control-request-method", "DELETE")
        .header("authorization", "Bearer xyz")
        .body("{\"delete\":\"all\"}")
        .send()
        .await
        .expect("options");
    assert_eq!(
        resp.status(),
        401,
        "a preflight-shaped OPTIONS with a bearer and a body reached the origin"
    );

    let metrics = shop.gateway.metrics().await;
    let denied = |reason: &str| {
        let series = format!("sso_gateway_access_denied_total{{reason=\"{reason}\",site=\"shop\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&series).and_then(|v| v.trim().parse::<f64>().ok()))
            .unwrap_or(0.0)
    };
    assert_eq!(denied("group"), 3.0, "{metrics}");
    assert_eq!(denied("claim"), 1.0);
    assert_eq!(denied("email_domain"), 1.0);
    assert_eq!(denied("method"), 1.0);
}

#[tokio::test]
async fn a_customer_login_session_is_refused_where_only_idp_sign_ins_may_go() {
    let section = format!(
        "[[sites.routes]]\nprefix = \"/members\"\naccess = \"login\"\nrequire_methods = [\"oidc\"]\n{}",
        merchant_login::sections()
    );
    let shop = Shop::start_with(GatewayConfig::default(), &section).expect("shop");
    shop.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop"]).expect("client");
    merchant_login::sign_in(&shop, &shopper, 42, 0)
        .await
        .expect("customer login");
    let resp = shopper.page(&shop.url("/account")).await.expect("page");
    let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
    assert_eq!(echo["headers"]["x-customer-login-method"], "customer_login");
    let resp = shopper.page(&shop.url("/members")).await.expect("page");
    assert_eq!(resp.status(), 403, "a customer-login session on an oidc-only route");
    assert!(resp.headers().get("location").is_none(), "no login loop");
}

fn site(extra: &str) -> String {
    let body = format!(
        "name = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:9\"]\npublic_url = \"http://shop.localhost:{{port}}\"\n{extra}"
    );
    GatewayConfig::default().site(&body).render()
}

#[test]
fn check_refuses_policies_that_cannot_apply() {
    let env = [("NONE", "")];
    let oidc = "[sites.oidc]\nissuer = \"http://127.0.0.1:9/\"\nclient_id = \"c\"\nclient_secret = \"s\"\n";
    let cases = [
        (
            format!("{oidc}[[sites.routes]]\nprefix = \"/b2b\"\nrequire_groups = [\"wholesale\"]\n"),
            "must be \"login\" or \"api\"",
        ),
        (
            format!("{oidc}[[sites.routes]]\nprefix = \"/b2b\"\naccess = \"login\"\nrequire_idps = [\"acme\"]\n"),
            "is not the name of one of this site's [[sites.idps]]",
        ),
        (
            "[sites.customer_login]\nclient_id = \"m\"\nclient_secret = \"merchant-website-secret-0123456789abcdef\"\nstore_hash = \"abc\"\n\
             [[sites.routes]]\nprefix = \"/b2b\"\naccess = \"login\"\nrequire_claims = { department = [\"sales\"] }\n"
                .to_string(),
            "needs an IdP that sends claims",
        ),
        (
            format!("{oidc}[[sites.routes]]\nprefix = \"/b2b\"\naccess = \"login\"\nrequire_groups = []\n"),
            "would refuse everyone",
        ),
        (
            format!("{oidc}[[sites.routes]]\nprefix = \"/b2b\"\naccess = \"api\"\nrequire_methods = [\"password\"]\n"),
            "is not one of",
        ),
        (
            format!("{oidc}[[sites.routes]]\nprefix = \"/pay\"\naccess = \"login\"\nacr_values = [\"a b\"]\n"),
            "cannot hold spaces",
        ),
        (
            "[sites.customer_login]\nclient_id = \"m\"\nclient_secret = \"merchant-website-secret-0123456789abcdef\"\nstore_hash = \"abc\"\n\
             [[sites.routes]]\nprefix = \"/pay\"\naccess = \"login\"\nmax_auth_age = \"10m\"\n"
                .to_string(),
            "step-up (max_auth_age, acr_values) needs an IdP",
        ),
    ];
    for (extra, expected) in cases {
        let (ok, out) = check(&site(&extra), &env).expect("check runs");
        assert!(!ok, "accepted:\n{extra}");
        assert!(out.contains(expected), "expected {expected:?} in:\n{out}");
    }
    let fine = format!(
        "{oidc}[[sites.routes]]\nprefix = \"/b2b\"\naccess = \"login\"\nrequire_groups = [\"wholesale\"]\nrequire_claims = {{ department = [\"sales\"] }}\nmax_auth_age = \"0s\"\nacr_values = [\"mfa\"]\n"
    );
    let (ok, out) = check(&site(&fine), &env).expect("check runs");
    assert!(ok, "{out}");
}
