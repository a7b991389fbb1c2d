//! One real headless Chromium journey: a login-only page, the IdP's sign-in page,
//! and the storefront greeting the customer by name.

use sso_tests::{repo_root, Shop};
use std::process::Command;

#[tokio::test]
async fn a_shopper_in_chromium_signs_in_and_is_greeted() {
    let shop = Shop::start().expect("shop");
    shop.ready().await.expect("ready");
    let screenshot = std::env::temp_dir().join(format!("sso-journey-{}.png", shop.gateway.port));
    let script = repo_root().join("tests/browser/journey.mjs");
    let out = tokio::task::spawn_blocking({
        let url = shop.url("/account/orders");
        let screenshot = screenshot.clone();
        move || {
            Command::new("node")
                .arg(script)
                .arg(url)
                .arg("judy")
                .arg(screenshot)
                .output()
        }
    })
    .await
    .expect("join")
    .expect("node runs");
    let seen = sso_tests::script_result("journey", &out);
    assert!(
        seen.get("error").is_none(),
        "journey failed: {seen}\ngateway log:\n{}",
        shop.gateway.log()
    );
    assert!(
        seen["idpUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with(&shop.idp.issuer())),
        "{seen}"
    );
    assert_eq!(seen["finalUrl"], shop.url("/account/orders"));
    assert!(
        seen["greeting"]
            .as_str()
            .is_some_and(|g| g.contains("Welcome back, Judy")),
        "{seen}"
    );
    let cookies = seen["cookies"].as_array().expect("cookies");
    let session = cookies
        .iter()
        .find(|c| c["name"] == "sso_session")
        .expect("session cookie");
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Lax");
    assert!(
        seen["afterLogout"].as_str().is_some_and(|g| g.contains("Hello, guest")),
        "{seen}"
    );
    assert!(screenshot.exists());
}
