//! The signed Ecwid SSO profile (`/_sso/ecwid/sso-profile.js`): a customer signed in
//! through the real IdP gets a profile that an independent verifier written from
//! Ecwid's documentation (`tests/js/verify-ecwid-profile.mjs`, Node's crypto) accepts
//! under SHA-256 (the default), SHA-1 and SHA-512, and two loads in one second are
//! two values, both accepted (Ecwid denies a signature it has seen); anyone else
//! (anonymous, an API token, a cross-site page, a signed-out browser) gets an empty
//! one; the script is never cached and its value cannot break out of its string
//! whatever the customer's name holds.

use base64::Engine;
use sso_tests::{repo_root, GatewayConfig, Shop, Shopper};
use std::io::Write;
use std::process::{Command, Stdio};

const ECWID_SECRET: &str = "ecwid-client-secret-0123456789abcdef";

fn ecwid_shop() -> Shop {
    let config = GatewayConfig::default();
    let extra =
        format!("[sites.ecwid]\nstore_id = 1003\nclient_id = \"shop-sso-app\"\nclient_secret = \"{ECWID_SECRET}\"\n");
    Shop::start_with(config, &extra).expect("shop")
}

/// The script's `ecwid_sso_profile` value, unescaped (its `\uXXXX` escapes are read
/// as JSON string escapes, which they are too).
fn profile_of(script: &str) -> String {
    let first = script.lines().next().expect("a first line");
    let inner = first
        .strip_prefix("var ecwid_sso_profile = '")
        .and_then(|r| r.strip_suffix("';"))
        .unwrap_or_else(|| panic!("not the profile declaration: {first}"));
    assert!(!inner.contains(['\'', '<', '>', '"']), "unescaped: {inner}");
    serde_json::from_str(&format!("\"{inner}\"")).expect("valid escapes")
}

/// What the independent verifier says of `values`, checked in order as one stream
/// (a signature seen before is refused, as Ecwid does): `[{accepted, reason, profile}]`.
fn ecwid_verdicts(algorithm: &str, values: &[&str]) -> Vec<serde_json::Value> {
    let input = serde_json::json!({
        "secret": ECWID_SECRET,
        "algorithm": algorithm,
        "appClientId": "shop-sso-app",
        "now": sso_filters::sessions::now_secs(),
        "values": values,
    });
    let out = run_node("tests/js/verify-ecwid-profile.mjs", &input.to_string());
    let verdicts: Vec<serde_json::Value> = serde_json::from_value(out).expect("an array");
    assert_eq!(verdicts.len(), values.len());
    verdicts
}

/// Runs `tests/js/{script}` with `stdin` and reads its JSON answer.
fn run_node(script: &str, stdin: &str) -> serde_json::Value {
    let mut child = Command::new("node")
        .arg(repo_root().join(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("node runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// Runs `script` in node (`tests/js/run-ecwid-script.mjs`: a V8 context with a stub
/// of Ecwid's widget API) and returns what it did.
fn run_in_js(script: &str) -> serde_json::Value {
    run_node("tests/js/run-ecwid-script.mjs", script)
}

async fn fetch(shop: &Shop, shopper: &Shopper, extra: Option<(&str, &str)>) -> (reqwest::header::HeaderMap, String) {
    let mut req = shopper.http.get(shop.url("/_sso/ecwid/sso-profile.js"));
    if let Some((name, value)) = extra {
        req = req.header(name, value);
    }
    let resp = req.send().await.expect("script");
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    (headers, resp.text().await.expect("body"))
}

#[tokio::test]
async fn a_signed_in_customer_gets_a_profile_that_verifies_and_nobody_else_does() {
    let shop = ecwid_shop();
    let shopper = Shopper::new(&["shop"]).expect("client");

    // Anonymous: an empty profile, never cached, JavaScript that is not sniffed.
    let (headers, body) = fetch(&shop, &shopper, None).await;
    assert_eq!(profile_of(&body), "");
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert_eq!(h("cache-control"), "private, no-store");
    assert_eq!(h("content-type"), "text/javascript; charset=utf-8");
    assert_eq!(h("x-content-type-options"), "nosniff");
    assert!(body.contains("Ecwid.OnAPILoaded.add"), "{body}");
    assert!(body.contains("setSignInUrls"), "{body}");
    let login_url = format!("var login = '{}';", shop.url("/_sso/login"));
    assert!(body.contains(&login_url), "sign-in goes to the gateway:\n{body}");
    assert!(body.contains(&format!("var logout = '{}';", shop.url("/_sso/logout"))));

    // A customer whose name holds everything that could end the string or the element.
    // (A subject with a line feed never gets this far: the gateway refuses such an ID
    // token, so the line feed is covered by the escaping's unit test. U+2028, a line
    // terminator in older JavaScript, does come through, and is escaped.)
    let login = "o'brien</script><script>alert(1)//\\x\u{2028}y";
    let subject = login;
    let landing = shop.sign_in(&shopper, "/account", login).await.expect("login");
    assert_eq!(landing.status, 200, "{landing:?}");
    let before = sso_filters::sessions::now_secs();
    let (_, body) = fetch(&shop, &shopper, None).await;
    assert!(!body.contains("</script>"), "{body}");
    assert!(!body.lines().next().unwrap_or("").contains('\u{2028}'), "{body}");
    let value = profile_of(&body);
    // A JavaScript engine reads the same value, and the widget's links are set.
    let ran = run_in_js(&body);
    let sign_in = serde_json::json!(["setSignInUrls", {
        "signInUrl": format!("{}?return_to=%2Fcatalog%2Fshoes%3Fsize%3D42%26q%3Da%20b", shop.url("/_sso/login")),
        "signOutUrl": shop.url("/_sso/logout"),
    }]);
    for when in ["loaded", "later"] {
        assert_eq!(ran[when]["profile"], value.as_str(), "{when}: {ran}");
        let calls = ran[when]["calls"].as_array().expect("calls");
        assert!(calls.contains(&sign_in), "{when}: {ran}");
        assert!(!calls.iter().any(|c| c[0] == "setSsoProfile"), "{when}: {ran}");
    }
    let parts: Vec<&str> = value.split(' ').collect();
    assert_eq!(parts.len(), 3, "message, signature, timestamp: {value}");
    let (message, timestamp) = (parts[0], parts[2]);
    let ts: u64 = timestamp.parse().expect("Unix seconds");
    assert!(
        ts + 5 >= before && ts <= sso_filters::sessions::now_secs() + 1,
        "timestamp {ts} is now"
    );

    // The independent verifier's HMAC-SHA256 (the default) under the client secret.
    let verdict = &ecwid_verdicts("sha256", &[&value])[0];
    assert_eq!(verdict["accepted"], true, "{verdict}");

    let json = base64::engine::general_purpose::STANDARD
        .decode(message)
        .expect("base64");
    let json: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
    assert_eq!(&verdict["profile"], &json, "the verifier read the same profile");
    assert_eq!(json["appClientId"], "shop-sso-app");
    assert_eq!(json["userId"], subject, "userId is the customer id (the IdP subject)");
    assert_eq!(json["profile"]["email"], format!("{subject}@example.com"));
    assert_eq!(
        json["profile"]["billingPerson"]["name"],
        format!("O{}", &subject[1..]),
        "the name, whatever it holds"
    );

    // The same session through its API token: no profile.
    let api = shop.api_token(&shopper).await.expect("api token");
    let stranger = Shopper::new(&["shop"]).expect("client");
    let (_, body) = fetch(&shop, &stranger, Some(("authorization", &format!("Bearer {api}")))).await;
    assert_eq!(profile_of(&body), "", "an API token never gets the widget's credential");

    // Another site's page including the script with the shopper's cookie: no profile.
    let (_, body) = fetch(&shop, &shopper, Some(("sec-fetch-site", "cross-site"))).await;
    assert_eq!(profile_of(&body), "");
    assert_eq!(
        shop.gateway
            .metric("sso_gateway_rejected_total{reason=\"ecwid_cross_site\",site=\"shop\"}")
            .await,
        1.0
    );
    let (_, body) = fetch(&shop, &shopper, Some(("sec-fetch-site", "same-origin"))).await;
    assert_ne!(profile_of(&body), "", "the storefront's own page gets it");

    // After logout the widget is told to forget the customer.
    let out = shopper.page(&shop.url("/_sso/logout")).await.expect("logout");
    assert!(out.status().is_redirection() || out.status().is_success());
    let (_, body) = fetch(&shop, &shopper, None).await;
    assert_eq!(profile_of(&body), "");
    let ran = run_in_js(&body);
    for when in ["loaded", "later"] {
        assert_eq!(ran[when]["profile"], "", "{when}: {ran}");
        let calls = ran[when]["calls"].as_array().expect("calls");
        assert!(
            calls.contains(&serde_json::json!(["setSsoProfile", ""])),
            "a signed-out page tells the widget to forget the customer: {ran}"
        );
    }

    // A POST is not a way to get it either.
    let resp = shopper
        .http
        .post(shop.url("/_sso/ecwid/sso-profile.js"))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 404);
    assert!(!shop.gateway.log().contains(ECWID_SECRET));
}

/// Loads the profile twice as fast as it can until both loads carry the same
/// timestamp (the same second), and returns them.
async fn two_loads_in_one_second(shop: &Shop, shopper: &Shopper) -> (String, String) {
    for _ in 0..20 {
        let first = profile_of(&fetch(shop, shopper, None).await.1);
        let second = profile_of(&fetch(shop, shopper, None).await.1);
        if first.rsplit(' ').next() == second.rsplit(' ').next() {
            return (first, second);
        }
    }
    panic!("no two loads within one second in 20 tries");
}

#[tokio::test]
async fn every_signature_verifies_and_no_two_values_are_alike() {
    let shop = ecwid_shop();
    let shopper = Shopper::new(&["shop"]).expect("client");
    let landing = shop.sign_in(&shopper, "/account", "olga").await.expect("login");
    assert_eq!(landing.status, 200, "{landing:?}");
    let text = std::fs::read_to_string(&shop.gateway.config_path).expect("config");
    let secret_line = format!("client_secret = \"{ECWID_SECRET}\"\n");
    assert!(text.contains(&secret_line), "{text}");
    for algorithm in ["sha256", "sha1", "sha512"] {
        if algorithm != "sha256" {
            // The same session, another `signature` (a reload keeps sessions).
            let changed = text.replace(&secret_line, &format!("{secret_line}signature = \"{algorithm}\"\n"));
            shop.gateway.rewrite_config(&changed).expect("rewrite");
            let (status, answer) = shop.gateway.reload(None).await.expect("reload");
            assert_eq!(status, 200, "{answer}");
        }
        let (a, b) = two_loads_in_one_second(&shop, &shopper).await;
        assert_ne!(a, b, "{algorithm}: two loads in one second are two values");
        let verdicts = ecwid_verdicts(algorithm, &[&a, &b]);
        for verdict in &verdicts {
            assert_eq!(verdict["accepted"], true, "{algorithm}: {verdict}");
            assert_eq!(verdict["profile"]["userId"], "olga", "{verdict}");
            assert_eq!(verdict["profile"]["profile"]["email"], "olga@example.com");
            assert_eq!(verdict["profile"]["profile"]["billingPerson"]["name"], "Olga");
        }
        // The verifier refuses what Ecwid refuses: the same value again, a changed
        // signature, the other algorithms' reading of it.
        let mut forged: Vec<char> = a.chars().collect();
        let at = a.find(' ').expect("a space") + 1;
        forged[at] = if forged[at] == '0' { '1' } else { '0' };
        let forged: String = forged.into_iter().collect();
        let verdicts = ecwid_verdicts(algorithm, &[&a, &a, &forged]);
        assert_eq!(verdicts[0]["accepted"], true);
        assert_eq!(verdicts[1]["reason"], "replayed", "{verdicts:?}");
        assert_eq!(verdicts[2]["reason"], "signature", "{verdicts:?}");
        for other in ["sha256", "sha1", "sha512"].into_iter().filter(|o| *o != algorithm) {
            assert_eq!(
                ecwid_verdicts(other, &[&a])[0]["accepted"],
                false,
                "{algorithm} read as {other}"
            );
        }
    }
}

#[tokio::test]
async fn a_site_without_ecwid_has_no_profile_script() {
    let shop = Shop::start().expect("shop");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let resp = shopper
        .http
        .get(shop.url("/_sso/ecwid/sso-profile.js"))
        .send()
        .await
        .expect("script");
    assert_eq!(resp.status(), 404);
}

#[test]
fn the_ecwid_section_is_checked() {
    let base = "[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n[[sites]]\nname = \"shop\"\n\
                hosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:3000\"]\npublic_url = \"http://shop.localhost\"\n";
    let (ok, out) = sso_tests::gateway::check(
        &format!(
            "{base}[sites.ecwid]\nstore_id = 0\nclient_id = \"a b\"\nclient_secret = \"short\"\nsignature = \"md5\"\n"
        ),
        &[],
    )
    .expect("check");
    assert!(!ok, "{out}");
    for key in ["store_id", "client_id", "client_secret", "signature"] {
        assert!(
            out.contains(&format!("sites[0].ecwid.{key}")),
            "{key} not reported:\n{out}"
        );
    }
    assert!(!out.contains("short"), "the secret is not echoed:\n{out}");
    let (ok, out) = sso_tests::gateway::check(
        &format!("{base}[sites.ecwid]\nstore_id = 1003\nclient_id = \"app\"\nclient_secret = \"${{ECWID_SECRET}}\"\n"),
        &[("ECWID_SECRET", ECWID_SECRET)],
    )
    .expect("check");
    assert!(ok, "{out}");
}
