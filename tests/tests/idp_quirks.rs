//! The quirks of the IdPs shops use (docs/idps/), reproduced with the local
//! provider configured the same way:
//! - Microsoft Entra ID's multi-tenant metadata (`/common/v2.0`) names the issuer
//!   template `…/{tenantid}/v2.0`: refused, with the key and the issuer to use, in
//!   the log and in `/readyz`; no login starts;
//! - an IdP without `end_session_endpoint` (Google): logout still ends the session,
//!   clears the cookie and lands on the site's post-logout page;
//! - an issuer ending in `/` (Auth0, Azure AD B2C): the configured URL (which
//!   reads back without it) is the same issuer; sign-in and logout work;
//! - an IdP that leaves `email_verified` out (Entra ID, for some accounts): with
//!   `require_verified_email = true` the shopper signs in without an email; with
//!   `false` the address is handed on.

use sso_tests::idp_options::{secret_line, IdpShop};
use sso_tests::{echo_of, GatewayConfig, Shopper, Storefront};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves Entra ID's multi-tenant discovery document (as
/// `https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration`
/// does, with this server's address) at any path; returns its base URL.
async fn multi_tenant_metadata() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let document = serde_json::json!({
        "issuer": format!("{base}/{{tenantid}}/v2.0"),
        "authorization_endpoint": format!("{base}/common/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/common/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/common/discovery/v2.0/keys"),
        "end_session_endpoint": format!("{base}/common/oauth2/v2.0/logout"),
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "frontchannel_logout_supported": true,
        "http_logout_supported": true,
    })
    .to_string();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let document = document.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let (status, body) = if request.starts_with(b"GET /common/discovery/v2.0/keys ") {
                    ("200 OK", r#"{"keys":[]}"#.to_string())
                } else if request.starts_with(b"GET /common/v2.0/.well-known/openid-configuration ") {
                    ("200 OK", document)
                } else {
                    ("404 Not Found", "{}".to_string())
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(response.as_bytes()).await;
            });
        }
    });
    base
}

#[tokio::test]
async fn entra_multi_tenant_metadata_is_refused_naming_the_issuer_to_use() {
    let base = multi_tenant_metadata().await;
    let origin = Storefront::start().expect("origin");
    let gateway = GatewayConfig::default()
        .site(&format!(
            "name = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"{}\"]\n\
             public_url = \"http://shop.localhost:{{port}}\"\n\
             [sites.oidc]\nissuer = \"{base}/common/v2.0\"\nclient_id = \"storefront\"\n\
             client_secret = \"test-client-secret\"\n\
             [[sites.routes]]\nprefix = \"/account\"\naccess = \"login\"\n",
            origin.addr()
        ))
        .start()
        .expect("gateway");
    let expected =
        format!("sites[0].oidc.issuer: the discovery document names the issuer template \"{base}/{{tenantid}}/v2.0\"");
    let use_instead = format!("use the tenant-specific issuer {base}/TENANT_ID/v2.0");

    // The log says it, with the key and the issuer to configure.
    assert!(gateway.log_shows(&expected).await, "{}", gateway.log());
    assert!(gateway.log().contains(&use_instead), "{}", gateway.log());

    // /readyz: not ready, and the reason names the key.
    let deadline = Instant::now() + Duration::from_secs(20);
    let report = loop {
        let resp = reqwest::get(gateway.admin_url("/readyz")).await.expect("readyz");
        let status = resp.status();
        let report: serde_json::Value = resp.json().await.expect("json");
        if report["reasons"]["oidc:shop"].is_string() || Instant::now() > deadline {
            assert_eq!(status, 503, "{report}");
            break report;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(report["checks"]["oidc:shop"], false, "{report}");
    let reason = report["reasons"]["oidc:shop"].as_str().expect("reason");
    assert!(reason.starts_with(&expected), "{reason}");
    assert!(reason.contains(&use_instead), "{reason}");

    // No login starts against such metadata: the shopper gets the IdP-down page.
    let shopper = Shopper::new(&["shop"]).expect("client");
    let page = shopper.page(&gateway.site_url("shop", "/account")).await.expect("page");
    assert_eq!(page.status(), 503);
}

#[tokio::test]
async fn check_refuses_entra_multi_tenant_issuers_offline() {
    let config = GatewayConfig::default().site(
        "name = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\n\
         public_url = \"https://shop.example\"\n\
         [sites.oidc]\nissuer = \"https://login.microsoftonline.com/organizations/v2.0\"\n\
         client_id = \"00001111-aaaa-2222-bbbb-3333cccc4444\"\nclient_secret = \"${ENTRA_CLIENT_SECRET}\"\n",
    );
    let (ok, out) =
        sso_tests::gateway::check(&config.render(), &[("ENTRA_CLIENT_SECRET", "a-secret-value")]).expect("check");
    assert!(!ok, "{out}");
    assert!(
        out.contains("sites[0].oidc.issuer: https://login.microsoftonline.com/organizations/v2.0 is Microsoft Entra ID's multi-tenant endpoint"),
        "{out}"
    );
    assert!(
        out.contains("use the tenant-specific issuer https://login.microsoftonline.com/TENANT_ID/v2.0"),
        "{out}"
    );
}

/// The `Location` of a response, and whether it clears the session cookie.
fn location_and_clearing(resp: &reqwest::Response) -> (String, bool) {
    let location = resp
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let clears = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .any(|c| c.starts_with("sso_session=") && c.contains("Max-Age=0"));
    (location, clears)
}

#[tokio::test]
async fn logout_without_an_end_session_endpoint_lands_on_the_post_logout_page() {
    let oidc = format!("{}\npost_logout_path = \"/goodbye\"", secret_line());
    let shop = IdpShop::start(&[("RP_INITIATED_LOGOUT", "off")], None, &oidc, "").expect("shop");
    let meta: serde_json::Value = reqwest::get(format!("{}/.well-known/openid-configuration", shop.issuer))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert!(meta.get("end_session_endpoint").is_none(), "{meta}");

    let landing = shop.sign_in("gil").await.expect("sign in");
    assert_eq!(landing.status, 200, "{}", shop.logs());
    let out = shop.shopper.page(&shop.url("/_sso/logout")).await.expect("logout");
    assert_eq!(out.status(), 303, "{}", shop.logs());
    let (location, clears) = location_and_clearing(&out);
    assert_eq!(location, "/goodbye", "straight to the site's post-logout page");
    assert!(clears, "the session cookie is cleared: {:?}", out.headers());

    // The page is the shop's own (the origin answers it), and the session is gone.
    let page = shop.shopper.page(&shop.url("/goodbye")).await.expect("goodbye");
    assert_eq!(page.status(), 200);
    let echo = echo_of(&page.text().await.expect("body")).expect("echo");
    assert!(echo["headers"]["x-customer-id"].is_null(), "anonymous: {echo}");
    let again = shop.shopper.page(&shop.url("/account")).await.expect("account");
    assert_eq!(again.status(), 302, "signed out: /account starts a login again");
}

#[tokio::test]
async fn logout_with_an_end_session_endpoint_goes_through_the_idp() {
    // The contrast: the same shop with RP-initiated logout on goes to the IdP first.
    let oidc = format!("{}\npost_logout_path = \"/goodbye\"", secret_line());
    let shop = IdpShop::start(&[], None, &oidc, "").expect("shop");
    assert_eq!(shop.sign_in("hal").await.expect("sign in").status, 200);
    let out = shop.shopper.page(&shop.url("/_sso/logout")).await.expect("logout");
    let (location, clears) = location_and_clearing(&out);
    assert!(location.starts_with(&shop.issuer), "{location}");
    assert!(location.contains("post_logout_redirect_uri="), "{location}");
    assert!(clears);
}

/// What the origin was told on `/account` about the signed-in shopper `login`,
/// and what `/_sso/session` says.
async fn signed_in_as(login: &str, require_verified: bool) -> (serde_json::Value, serde_json::Value) {
    let oidc = format!("{}\nrequire_verified_email = {require_verified}", secret_line());
    let shop = IdpShop::start(&[], None, &oidc, "").expect("shop");
    let landing = shop.sign_in(login).await.expect("sign in");
    assert_eq!(landing.status, 200, "{}", shop.logs());
    let echo = echo_of(&landing.body).expect("echo");
    let session: serde_json::Value = shop
        .shopper
        .api(&shop.url("/_sso/session"))
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    (echo["headers"].clone(), session)
}

#[tokio::test]
async fn an_idp_that_omits_email_verified() {
    // require_verified_email = true (the default): signed in, without an address.
    let (headers, session) = signed_in_as("una~silent", true).await;
    assert_eq!(headers["x-customer-id"], "una~silent", "{headers}");
    assert!(headers["x-customer-email"].is_null(), "no verified address: {headers}");
    assert_eq!(session["authenticated"], true, "{session}");
    assert!(session["customer"]["email"].is_null(), "{session}");

    // require_verified_email = false: the address is handed on.
    let (headers, session) = signed_in_as("una~silent", false).await;
    assert_eq!(headers["x-customer-email"], "una@example.com", "{headers}");
    assert_eq!(session["customer"]["email"], "una@example.com", "{session}");

    // The same IdP saying email_verified: true keeps the address under the default,
    // so the difference above is the missing claim.
    let (headers, _) = signed_in_as("vic", true).await;
    assert_eq!(headers["x-customer-email"], "vic@example.com", "{headers}");
}

#[tokio::test]
async fn an_issuer_with_a_trailing_slash_is_the_configured_one() {
    // Auth0 says "issuer": "https://TENANT.auth0.com/"; the operator writes the URL
    // with or without the slash. Both sign in, and the session's logout works.
    for written in ["", "/"] {
        let shop = IdpShop::start_issued(&[("ISSUER_TRAILING_SLASH", "1")], written, &secret_line(), "").expect("shop");
        let meta: serde_json::Value = reqwest::get(format!("{}/.well-known/openid-configuration", shop.issuer))
            .await
            .expect("discovery")
            .json()
            .await
            .expect("json");
        assert_eq!(meta["issuer"], format!("{}/", shop.issuer));
        let landing = shop.sign_in("ida").await.expect("sign in");
        assert_eq!(landing.status, 200, "issuer written {written:?}: {}", shop.logs());
        assert_eq!(echo_of(&landing.body).expect("echo")["headers"]["x-customer-id"], "ida");
        let out = shop.shopper.page(&shop.url("/_sso/logout")).await.expect("logout");
        let (location, clears) = location_and_clearing(&out);
        assert!(location.starts_with(&shop.issuer), "{location}");
        assert!(clears);
    }
}
