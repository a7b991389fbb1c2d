//! The core gateway as an operator and an origin see it: config checking, host
//! routing, identity-header stripping, forwarded headers, error pages, admin listener.

use sso_tests::gateway::check;
use sso_tests::{echo_of, free_port, GatewayConfig, Shopper, Storefront, COOKIE_SECRET};

#[test]
fn check_names_every_bad_key_and_exits_1() {
    let text = "[sessions]\ncookie_secret = \"too-short\"\n[[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\n\
                upstreams = [\"not a socket\"]\npublic_url = \"http://shop.localhost\"\n";
    let (ok, out) = check(text, &[]).expect("check runs");
    assert!(!ok, "check accepted a bad config:\n{out}");
    assert!(
        out.contains("sites[0].upstreams[0]: \"not a socket\" is not host:port"),
        "{out}"
    );
    assert!(out.contains("sessions.cookie_secret"), "{out}");
    assert!(!out.contains("too-short"), "the secret was echoed:\n{out}");
}

#[test]
fn check_names_a_missing_environment_variable() {
    let text = "[sessions]\ncookie_secret = \"${SSO_TEST_UNSET_SECRET}\"\n[[sites]]\nname = \"shop\"\n\
                hosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\npublic_url = \"http://shop.localhost\"\n";
    let (ok, out) = check(text, &[]).expect("check runs");
    assert!(!ok);
    assert!(
        out.contains("sessions.cookie_secret: environment variable SSO_TEST_UNSET_SECRET is not set"),
        "{out}"
    );
    let (ok, out) = check(text, &[("SSO_TEST_UNSET_SECRET", COOKIE_SECRET)]).expect("check runs");
    assert!(ok, "{out}");
}

/// The patterns `deploy/examples/` must keep showing (docs/configuration.md lists them).
const EXAMPLE_PATTERNS: [&str; 6] = [
    "shop-with-oidc.toml",
    "merchant-website.toml",
    "enterprise-idps.toml",
    "shop-group.toml",
    "redis-replicas.toml",
    "redis-sentinel.toml",
];

#[test]
fn every_shipped_example_config_passes_check_without_a_warning() {
    let dir = sso_tests::repo_root().join("deploy/examples");
    // The replicas' shared token signing key comes from the environment, as in production.
    let key = rcgen::KeyPair::generate().expect("P-256 key");
    let key_file = std::env::temp_dir().join(format!("sso-gw-example-key-{}.pem", free_port()));
    std::fs::write(&key_file, key.serialize_pem()).expect("write key");
    let key_path = key_file.display().to_string();
    let env = [
        ("SSO_COOKIE_SECRET", COOKIE_SECRET),
        ("OIDC_CLIENT_SECRET", "x"),
        ("CUSTOMER_LOGIN_SECRET", "customer-login-secret-0123456789abcdef"),
        ("PLATFORM_LOGIN_SECRET", "platform-login-secret-0123456789abcdef"),
        ("PLATFORM_CLIENT_ID", "gateway"),
        ("PROVISIONING_SECRET", "provisioning-secret-0123"),
        ("ECWID_CLIENT_SECRET", "example-ecwid-client-secret-0123456789"),
        ("SHOPIFY_MULTIPASS_SECRET", "example-multipass-secret-0123456789ab"),
        ("ACME_CLIENT_SECRET", "x"),
        ("GLOBEX_CLIENT_SECRET", "x"),
        ("FASHION_CLIENT_SECRET", "x"),
        ("OUTDOOR_CLIENT_SECRET", "x"),
        ("REDIS_PASSWORD", "redis-password"),
        ("SSO_ADMIN_TOKEN", "example-admin-token-0123"),
        ("SSO_TOKEN_KEY_FILE", key_path.as_str()),
    ];
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("deploy/examples") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).expect("read");
            let (ok, out) = check(&text, &env).expect("check runs");
            assert!(ok, "{} fails check:\n{out}", path.display());
            // Except the generated signing key's: an example for one instance need
            // not ship a key file (the replica examples do; `check` says so as `run` does).
            let warnings = out
                .lines()
                .filter(|l| l.to_ascii_lowercase().contains("warning"))
                .filter(|l| !l.contains(": no token.signing_key_file: generated a signing key"));
            assert_eq!(
                warnings.count(),
                0,
                "{} passes check with a warning:\n{out}",
                path.display()
            );
            assert!(
                text.starts_with('#'),
                "{} does not start with a comment saying which pattern it shows and what to change",
                path.display()
            );
            checked.extend(path.file_name().map(|n| n.to_string_lossy().into_owned()));
        }
    }
    let _ = std::fs::remove_file(&key_file);
    for pattern in EXAMPLE_PATTERNS {
        assert!(
            checked.iter().any(|c| c == pattern),
            "deploy/examples/{pattern} is missing (checked: {checked:?})"
        );
    }
}

#[tokio::test]
async fn public_paths_reach_the_origin_unchanged_and_spoofed_identity_never_does() {
    let (_origin, gw, shopper) = sso_tests::plain_shop().expect("shop");
    let resp = shopper
        .http
        .get(gw.site_url("shop", "/catalog/shoes?size=42&colour=red%20blue&empty="))
        .header("accept", "application/json")
        .header("X-Customer-Id", "admin")
        .header("x-customer-email", "ceo@shop.example")
        .header("X-Customer_Id", "admin")
        .header("X_CUSTOMER_EMAIL", "ceo@shop.example")
        .header("x-customer-token", "forged")
        .header("X-Forwarded-For", "10.0.0.1")
        .header("X-Forwarded-Host", "evil.example")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
    assert_eq!(echo["url"], "/catalog/shoes?size=42&colour=red%20blue&empty=");
    let raw = echo["rawHeaders"].as_array().expect("raw headers");
    for name in raw.iter().step_by(2).filter_map(|v| v.as_str()) {
        let n = name.to_ascii_lowercase().replace('_', "-");
        assert!(
            !n.starts_with("x-customer"),
            "spoofed {name} reached the origin: {echo}"
        );
    }
    // The peer (127.0.0.1) is not a trusted proxy: its forwarded headers are replaced.
    assert_eq!(echo["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(
        echo["headers"]["x-forwarded-host"],
        format!("shop.localhost:{}", gw.port)
    );
    assert_eq!(echo["headers"]["x-forwarded-proto"], "http");
    assert!(gw.log().contains("removed incoming identity headers"));
}

#[tokio::test]
async fn unknown_hosts_are_not_proxied_and_admin_paths_stay_on_the_admin_listener() {
    let origin = Storefront::start().expect("origin");
    let gw = GatewayConfig::default()
        .plain_site("shop", &[origin.addr()])
        .start()
        .expect("gateway");
    let shopper = Shopper::new(&["shop", "other"]).expect("client");

    let resp = shopper.page(&gw.site_url("other", "/")).await.expect("request");
    assert_eq!(resp.status(), 421);
    let body = resp.text().await.expect("body");
    assert!(body.contains("<html") && body.contains("unknown_host"), "{body}");
    let resp = shopper.api(&gw.site_url("other", "/metrics")).await.expect("request");
    assert_eq!(resp.status(), 421);
    assert_eq!(
        resp.json::<serde_json::Value>().await.expect("json")["error"],
        "unknown_host"
    );

    let health = reqwest::get(gw.admin_url("/healthz")).await.expect("healthz");
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(gw.admin_url("/readyz")).await.expect("readyz");
    assert_eq!(ready.status(), 200);
    // A request is counted when its log phase runs, after the answer is sent: on a
    // busy machine the second 421 can be counted a moment after the client read it.
    let counted = "sso_gateway_requests_total{access=\"-\",site=\"-\",status=\"421\"} 2";
    let mut metrics = gw.metrics().await;
    for _ in 0..50 {
        if metrics.contains(counted) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        metrics = gw.metrics().await;
    }
    assert!(metrics.contains(counted), "{metrics}");
    assert!(metrics.contains("sso_gateway_build_info"), "{metrics}");
    assert!(
        metrics.contains("sso_gateway_request_duration_seconds_bucket"),
        "{metrics}"
    );

    // On the storefront listener /metrics and /healthz belong to the shop.
    let resp = shopper.api(&gw.site_url("shop", "/metrics")).await.expect("request");
    let echo = echo_of(&resp.text().await.expect("body")).expect("origin answered");
    assert_eq!(echo["url"], "/metrics");
    let resp = shopper.api(&gw.site_url("shop", "/healthz")).await.expect("request");
    assert_eq!(
        echo_of(&resp.text().await.expect("body")).expect("origin answered")["url"],
        "/healthz"
    );
}

#[tokio::test]
async fn a_down_upstream_gets_a_502_page_and_a_healthy_one_takes_over() {
    let origin = Storefront::start().expect("origin");
    let dead = format!("127.0.0.1:{}", free_port());
    let gw = GatewayConfig::default()
        .plain_site("shop", &[dead.clone(), origin.addr()])
        .plain_site("closed", &[dead])
        .start()
        .expect("gateway");
    let shopper = Shopper::new(&["shop", "closed"]).expect("client");

    let resp = shopper.page(&gw.site_url("closed", "/")).await.expect("request");
    assert_eq!(resp.status(), 502);
    assert_eq!(
        resp.headers().get("connection").and_then(|v| v.to_str().ok()),
        Some("close")
    );
    assert!(resp.text().await.expect("body").contains("upstream_unavailable"));
    let resp = shopper.api(&gw.site_url("closed", "/")).await.expect("request");
    assert_eq!(resp.status(), 502);
    assert_eq!(
        resp.json::<serde_json::Value>().await.expect("json")["error"],
        "upstream_unavailable"
    );

    // Round robin over a dead and a live origin: every request is served.
    for i in 0..6 {
        let resp = shopper
            .api(&gw.site_url("shop", &format!("/p/{i}")))
            .await
            .expect("request");
        assert_eq!(resp.status(), 200, "request {i}");
    }
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("sso_gateway_upstream_errors_total{site=\"closed\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn clients_may_speak_h2c_when_it_is_turned_on() {
    let origin = sso_tests::Storefront::start().expect("origin");
    let gw = sso_tests::GatewayConfig::default()
        .server("h2c = true")
        .plain_site("shop", &[origin.addr()])
        .start()
        .expect("gateway");
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .resolve("shop.localhost", std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .build()
        .expect("client");
    let resp = client
        .get(gw.site_url("shop", "/h2?x=1"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("h2 request");
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(
        echo_of(&resp.text().await.expect("body")).expect("echo")["url"],
        "/h2?x=1"
    );
}

/// A page that carries an identity loses every field a CDN would keep it by (RFC 9213:
/// a CDN honours `CDN-Cache-Control` and its kin before `Cache-Control`), and its
/// `Expires` says it is already stale; an anonymous page keeps the origin's fields.
#[tokio::test]
async fn a_page_that_carries_an_identity_loses_the_fields_a_cdn_caches_by() {
    let shop = sso_tests::Shop::start().expect("shop");
    shop.ready().await.expect("ready");
    let cdn_fields = ["cdn-cache-control", "cloudflare-cdn-cache-control", "surrogate-control"];
    let value = |resp: &reqwest::Response, name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };

    let anonymous = Shopper::new(&["shop"]).expect("client");
    let public = anonymous.api(&shop.url("/?cache=cdn")).await.expect("public page");
    assert_eq!(public.status(), 200);
    for name in cdn_fields {
        assert_eq!(value(&public, name).as_deref(), Some("max-age=600"), "{name}");
    }
    assert_eq!(value(&public, "cache-control").as_deref(), Some("public, max-age=60"));
    assert!(value(&public, "expires").is_some_and(|e| e.ends_with("GMT")));

    let shopper = Shopper::new(&["shop"]).expect("client");
    let landing = shop.sign_in(&shopper, "/account", "alice").await.expect("sign in");
    assert_eq!(landing.status, 200, "{landing:?}");
    for path in ["/account?cache=cdn", "/?cache=cdn"] {
        let resp = shopper.api(&shop.url(path)).await.expect("page");
        assert_eq!(resp.status(), 200, "{path}");
        for name in cdn_fields {
            assert_eq!(value(&resp, name), None, "{path}: {name}");
        }
        assert_eq!(
            value(&resp, "cache-control").as_deref(),
            Some("private, max-age=60"),
            "{path}"
        );
        assert_eq!(value(&resp, "expires").as_deref(), Some("0"), "{path}");
        let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
        assert_eq!(echo["headers"]["x-customer-id"], "alice", "{path} carried the identity");
    }
}
