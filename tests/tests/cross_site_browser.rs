//! Cross-site sign-on in one real headless Chromium context (one cookie jar, like a
//! person's browser): a sign-in on shop-a through the IdP's pages, shop-b greeting
//! the same customer with no IdP page in between, a global logout on shop-b ending
//! shop-a's session too, the auth host's cookie flags, and clean URLs after the
//! one-time token was spent. `tests/browser/cross_site_journey.mjs` drives the
//! browser and prints what it saw; this test judges it.

use serde_json::Value;
use sso_tests::group::{Group, GroupOptions};
use sso_tests::repo_root;
use std::time::Duration;
use url::Url;

/// Longer than the script's own 100 s deadline: a hung `node` is killed, not waited on.
const JOURNEY_TIMEOUT: Duration = Duration::from_secs(150);

/// The URLs of `seen[key]` (a list of strings).
fn urls(seen: &Value, key: &[&str]) -> Vec<Url> {
    let list = key.iter().fold(seen, |v, k| &v[*k]);
    list.as_array()
        .unwrap_or_else(|| panic!("no {key:?} in {seen}"))
        .iter()
        .map(|u| Url::parse(u.as_str().expect("a URL string")).expect("a URL"))
        .collect()
}

/// `host:port` of `url`.
fn authority(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}

fn has_token(url: &Url) -> bool {
    url.query_pairs().any(|(k, _)| k == "token")
}

/// The text at `seen[key]`, or a panic naming what is missing.
fn text<'a>(seen: &'a Value, key: &[&str]) -> &'a str {
    key.iter()
        .fold(seen, |v, k| &v[*k])
        .as_str()
        .unwrap_or_else(|| panic!("no {key:?} in {seen}"))
}

#[tokio::test]
async fn a_shopper_signs_in_on_one_shop_and_is_greeted_on_another_then_signs_out_of_both() {
    let group = Group::start(GroupOptions::default()).expect("group");
    group.ready().await.expect("ready");
    let screenshot = std::env::temp_dir().join(format!("sso-cross-site-journey-{}.png", group.a.port));
    let _ = std::fs::remove_file(&screenshot);
    let shop_a = group.url("shop-a", "");
    let shop_b = group.url("shop-b", "");
    let mut node = tokio::process::Command::new("node");
    node.arg(repo_root().join("tests/browser/cross_site_journey.mjs"))
        .arg(&shop_a)
        .arg(&shop_b)
        .arg("maria")
        .arg(&screenshot)
        .kill_on_drop(true);
    let out = tokio::time::timeout(JOURNEY_TIMEOUT, node.output())
        .await
        .unwrap_or_else(|_| panic!("the journey did not end in {JOURNEY_TIMEOUT:?}"))
        .expect("node runs");
    let seen = sso_tests::script_result("journey", &out);
    assert!(
        seen.get("error").is_none() && seen["step"] == "done" && out.status.success(),
        "journey failed: {seen}\nstderr:\n{}\ngateway log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        group.a.log()
    );
    let idp = group.idp_authority();
    let auth = Url::parse(&group.auth_url("/")).expect("auth URL");
    let a = Url::parse(&shop_a).expect("shop-a URL");
    let b = Url::parse(&shop_b).expect("shop-b URL");
    let on = |url: &Url, site: &Url| authority(url) == authority(site);

    // 1. The IdP's sign-in page, then shop-a's /account greeting the customer; the
    //    sign-in handed its SSO session to the auth host on the way.
    assert!(text(&seen, &["idpPage"]).starts_with(&group.idp.issuer()), "{seen}");
    assert_eq!(seen["a"]["finalUrl"], group.url("shop-a", "/account"), "{seen}");
    assert!(
        text(&seen, &["a", "greeting"]).contains("Welcome back, Maria"),
        "{seen}"
    );
    let navs_a = urls(&seen, &["a", "navs"]);
    for path in ["/_sso/link", "/_sso/adopt"] {
        assert!(
            navs_a.iter().any(|u| on(u, &auth) && u.path() == path),
            "the sign-in on shop-a went through the auth host's {path}: {navs_a:?}"
        );
    }

    // 2. shop-b greets the same customer; the browser went to the auth host and back
    //    with a one-time token, and never to the IdP.
    let navs_b = urls(&seen, &["b", "navs"]);
    assert!(
        navs_b.iter().all(|u| authority(u) != idp),
        "no IdP page on the way to shop-b: {navs_b:?}"
    );
    assert!(
        navs_b.iter().any(|u| on(u, &auth) && u.path() == "/_sso/link"),
        "{navs_b:?}"
    );
    assert!(
        navs_b
            .iter()
            .any(|u| on(u, &b) && u.path() == "/_sso/ott" && has_token(u)),
        "{navs_b:?}"
    );
    assert_eq!(seen["b"]["finalUrl"], group.url("shop-b", "/"), "{seen}");
    assert!(
        text(&seen, &["b", "greeting"]).contains("Welcome back, Maria"),
        "{seen}"
    );
    assert_eq!(seen["b"]["session"]["status"], 200, "{seen}");
    assert_eq!(seen["b"]["session"]["body"]["authenticated"], true, "{seen}");
    assert_eq!(
        seen["b"]["session"]["body"]["sso"]["linked_sites"],
        serde_json::json!(["shop-a", "shop-b"]),
        "{seen}"
    );
    // The origin got the page itself, with no token in its URL or its Referer.
    assert_eq!(seen["b"]["origin"]["url"], "/", "{seen}");
    for referrer in ["referer", "documentReferrer"] {
        let r = &seen["b"]["origin"][referrer];
        assert!(
            r.is_null() || r.as_str().is_some_and(|r| !r.contains("token=")),
            "{referrer}: {seen}"
        );
    }
    assert!(screenshot.exists(), "screenshot {}", screenshot.display());

    // 3. A global logout on shop-b (through the IdP's own sign-out confirmation):
    //    shop-b and shop-a are both signed out, and nothing signs the shopper back in.
    let logout_end = Url::parse(text(&seen, &["logout", "finalUrl"])).expect("URL");
    assert!(on(&logout_end, &b), "back on shop-b after the logout: {seen}");
    assert!(text(&seen, &["logout", "greeting"]).contains("Hello, guest"), "{seen}");
    assert_eq!(seen["logout"]["bSession"]["body"]["authenticated"], false, "{seen}");
    assert_eq!(
        seen["afterLogout"]["aSession"]["body"]["authenticated"], false,
        "shop-a after a global logout on shop-b: {seen}"
    );
    assert!(
        text(&seen, &["afterLogout", "aHome", "greeting"]).contains("Hello, guest"),
        "{seen}"
    );
    assert_eq!(
        seen["afterLogout"]["aHome"]["finalUrl"],
        group.url("shop-a", "/"),
        "{seen}"
    );
    assert!(
        urls(&seen, &["afterLogout", "aHome", "navs"])
            .iter()
            .all(|u| authority(u) != idp),
        "an anonymous page load is not sent to the IdP: {seen}"
    );

    // 4. The auth host's SSO cookie: HttpOnly, SameSite=Lax (not Secure on http); its
    //    binding cookie was spent by the adopt step.
    let cookies = seen["cookies"].as_array().expect("cookies");
    let sso = cookies
        .iter()
        .find(|c| c["name"] == "sso_group")
        .unwrap_or_else(|| panic!("no sso_group cookie: {seen}"));
    assert_eq!(sso["domain"], "auth.localhost", "{sso}");
    assert_eq!(sso["httpOnly"], true, "{sso}");
    assert_eq!(sso["sameSite"], "Lax", "{sso}");
    assert!(
        cookies.iter().all(|c| c["name"] != "sso_group_bind"),
        "the binding cookie is gone after the adopt step: {seen}"
    );
    // Every URL a tab showed is clean: the one-time token never stays in the address
    // bar (nor in history), on the shops or on the auth host.
    let committed = urls(&seen, &["committed"]);
    assert!(!committed.is_empty());
    for url in committed.iter().filter(|u| on(u, &a) || on(u, &b) || on(u, &auth)) {
        assert!(!has_token(url), "a token left in {url}: {committed:?}");
    }
    // The spent token, opened from another browser (as a leaked URL would be), signs
    // nobody in.
    assert!(text(&seen, &["replay", "greeting"]).contains("Hello, guest"), "{seen}");
    assert_eq!(seen["replay"]["session"]["body"]["authenticated"], false, "{seen}");
    assert!(
        !has_token(&Url::parse(text(&seen, &["replay", "finalUrl"])).expect("URL")),
        "{seen}"
    );
}
