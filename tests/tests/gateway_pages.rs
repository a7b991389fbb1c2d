//! The gateway's own pages, as shoppers see them (docs/pages.md): every page in the
//! five shipped languages over HTTP, a site's own logo, colour and message, and in a
//! real Chromium axe-core finding no serious or critical violation, with a screenshot
//! of every page in two languages (`SSO_PAGES_SCREENSHOTS=docs/pages` keeps them).

use sso_tests::client::Shopper;
use sso_tests::gateway::GatewayConfig;
use sso_tests::{free_port, repo_root, Idp, Storefront, CLIENT_ID, CLIENT_SECRET};
use std::collections::BTreeMap;
use std::process::Command;

const LANGUAGES: [&str; 5] = ["en", "de", "fr", "es", "nl"];

/// The shipped text `key` of `table` in `lang` (read from the catalogue itself).
fn shipped_text(lang: &str, table: &str, key: &str) -> String {
    let path = repo_root().join(format!("filters/src/pages/messages/{lang}.toml"));
    let text = std::fs::read_to_string(&path).expect("catalogue");
    let value: toml::Value = toml::from_str(&text).expect("toml");
    value[table][key].as_str().expect("text").to_string()
}

/// The escaped form a page shows `text` in.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('\'', "&#x27;")
        .replace('"', "&quot;")
        .replace('/', "&#x2f;")
}

struct Pages {
    _origin: Storefront,
    _idp: Idp,
    gateway: sso_tests::gateway::Gateway,
    _dir: tempfile_dir::Dir,
}

mod tempfile_dir {
    /// A directory removed when dropped.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// `shop`: branded, with its own `not_found` text in English and German, a route
/// only the `vip` group may open; `outlet`: the same brand, its origin down; `multi`:
/// two IdPs (the chooser), `globex` down, the shipped design; `busy`: rate-limited.
async fn start() -> Pages {
    let origin = Storefront::start().expect("origin");
    let config = GatewayConfig::default().server("rate_limits = { login = 20 }\n");
    let port = config.port;
    let callbacks: Vec<String> = ["shop", "multi", "busy"]
        .iter()
        .map(|s| format!("http://{s}.localhost:{port}/login/sso/callback"))
        .collect();
    let idp = Idp::start(&callbacks, &[format!("http://shop.localhost:{port}/")]).expect("idp");
    let dir = tempfile_dir::Dir(std::env::temp_dir().join(format!("sso-pages-test-{port}")));
    std::fs::create_dir_all(dir.0.join("messages")).expect("dir");
    std::fs::write(
        dir.0.join("messages/en.toml"),
        "[messages]\nnot_found = \"Acme Shoes has no such page.\"\n",
    )
    .expect("en");
    std::fs::write(
        dir.0.join("messages/de.toml"),
        "[messages]\nnot_found = \"Diese Seite gibt es bei Acme Shoes nicht.\"\n",
    )
    .expect("de");
    let brand = format!(
        "[sites.pages]\nshop_name = \"Acme Shoes\"\nlogo_url = \"/logo.svg\"\nprimary_color = \"#0b6e4f\"\n\
         support_url = \"mailto:help@acme.example\"\ndir = \"{}\"\n",
        dir.0.display()
    );
    let oidc = format!(
        "[sites.oidc]\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n",
        idp.issuer()
    );
    let down = format!("http://127.0.0.1:{}", free_port());
    let gateway = config
        .site(&format!(
            "name = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"{}\"]\npublic_url = \"http://shop.localhost:{{port}}\"\n\
             {oidc}{brand}[[sites.routes]]\nprefix = \"/account\"\naccess = \"login\"\n\
             [[sites.routes]]\nprefix = \"/vip\"\naccess = \"login\"\nrequire_groups = [\"vip\"]\n",
            origin.addr()
        ))
        .site(&format!(
            "name = \"outlet\"\nhosts = [\"outlet.localhost\"]\nupstreams = [\"127.0.0.1:{}\"]\n\
             public_url = \"http://outlet.localhost:{{port}}\"\n{brand}",
            free_port()
        ))
        .site(&format!(
            "name = \"multi\"\nhosts = [\"multi.localhost\"]\nupstreams = [\"{}\"]\npublic_url = \"http://multi.localhost:{{port}}\"\n\
             [[sites.idps]]\nname = \"acme\"\ndisplay_name = \"Acme Corp\"\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n\
             [[sites.idps]]\nname = \"globex\"\ndisplay_name = \"Globex\"\nissuer = \"{down}\"\nclient_id = \"g\"\nclient_secret = \"g\"\n",
            origin.addr(),
            idp.issuer()
        ))
        .site(&format!(
            "name = \"busy\"\nhosts = [\"busy.localhost\"]\nupstreams = [\"{}\"]\npublic_url = \"http://busy.localhost:{{port}}\"\n{oidc}",
            origin.addr()
        ))
        .start()
        .expect("gateway");
    gateway.serving().await.expect("serving");
    Pages {
        _origin: origin,
        _idp: idp,
        gateway,
        _dir: dir,
    }
}

/// (name, site, path, status, code): every kind of page a shopper can meet.
fn every_page() -> Vec<(&'static str, &'static str, &'static str, u16, &'static str)> {
    vec![
        ("chooser", "multi", "/_sso/login", 200, ""),
        (
            "chooser-unknown",
            "multi",
            "/_sso/login?org=initech",
            404,
            "chooser_unknown_org",
        ),
        ("idp-down", "multi", "/_sso/login?org=globex", 503, "idp_unavailable"),
        (
            "sign-in-failed",
            "shop",
            "/login/sso/callback?state=forged&code=x",
            400,
            "state_unknown",
        ),
        (
            "link-expired",
            "shop",
            "/_sso/login?sso_error=token_expired",
            400,
            "token_expired",
        ),
        ("access-denied", "shop", "/vip/lounge", 403, "access_denied"),
        ("rate-limited", "busy", "/_sso/login", 429, "rate_limited"),
        ("origin-down", "outlet", "/", 502, "upstream_unavailable"),
        ("unknown-host", "elsewhere", "/", 421, "unknown_host"),
        ("not-found", "shop", "/_sso/nothing-here", 404, "not_found"),
    ]
}

/// Spends `busy`'s login starts so that the next one is refused.
async fn exhaust_busy(p: &Pages, shopper: &Shopper) {
    for _ in 0..25 {
        let r = shopper
            .page(&p.gateway.site_url("busy", "/_sso/login"))
            .await
            .expect("busy");
        if r.status() == 429 {
            return;
        }
    }
    panic!("busy never answered 429:\n{}", p.gateway.log());
}

#[tokio::test]
async fn every_page_speaks_five_languages_and_shows_the_shops_brand() {
    let p = start().await;
    let shopper = Shopper::new(&["shop", "outlet", "multi", "busy", "elsewhere"]).expect("shopper");
    let landing = shopper
        .walk(
            shopper
                .page(&p.gateway.site_url("shop", "/account"))
                .await
                .expect("start"),
            "judy",
        )
        .await
        .expect("sign in");
    assert_eq!(landing.status, 200, "{landing:?}");
    exhaust_busy(&p, &shopper).await;
    for (name, site, path, status, code) in every_page() {
        for lang in LANGUAGES {
            let r = shopper
                .page_in(&p.gateway.site_url(site, path), &format!("{lang};q=0.9, ja;q=0.1"))
                .await
                .expect("page");
            assert_eq!(r.status(), status, "{name} in {lang}");
            let header = |n: &str| {
                r.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            assert_eq!(header("content-language"), lang, "{name}");
            let csp = header("content-security-policy");
            assert!(
                csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'") && !csp.contains("script"),
                "{name}: {csp}"
            );
            assert_eq!(header("cache-control"), "no-store", "{name}");
            assert_eq!(header("x-frame-options"), "DENY", "{name}");
            let body = r.text().await.expect("body");
            assert!(
                body.contains(&format!("<html lang=\"{lang}\"")),
                "{name} in {lang}: {body}"
            );
            assert!(!body.contains("<script"), "{name}");
            let expected = match (name, lang) {
                ("not-found", "en") => "Acme Shoes has no such page.".to_string(),
                ("not-found", "de") => "Diese Seite gibt es bei Acme Shoes nicht.".to_string(),
                ("chooser", _) => shipped_text(lang, "ui", "chooser_title"),
                ("chooser-unknown", _) => shipped_text(lang, "ui", code),
                _ => shipped_text(lang, "messages", code),
            };
            assert!(
                body.contains(&escaped(&expected)),
                "{name} in {lang} lacks {expected:?}:\n{body}"
            );
            let branded = matches!(site, "shop" | "outlet");
            assert_eq!(
                body.contains("Acme Shoes"),
                branded,
                "{name}: the brand is the site's own"
            );
            assert_eq!(body.contains("--primary:#0b6e4f"), branded, "{name}");
            assert_eq!(body.contains("src=\"/logo.svg\""), branded, "{name}");
            if branded {
                assert!(
                    body.contains(&escaped(&shipped_text(lang, "ui", "back_to_shop"))),
                    "{name}"
                );
                assert!(body.contains("mailto:help@acme.example"), "{name}");
            }
        }
    }
    // An API call gets the stable code and the message in its language.
    let api = reqwest::Client::builder()
        .resolve("shop.localhost", std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .build()
        .expect("client");
    let r = api
        .get(p.gateway.site_url("shop", "/_sso/nothing-here"))
        .header("accept", "application/json")
        .header("accept-language", "de")
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), 404);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["error"], "not_found");
    assert_eq!(v["message"], "Diese Seite gibt es bei Acme Shoes nicht.");
}

#[tokio::test]
async fn in_chromium_no_page_has_a_serious_accessibility_violation() {
    let p = start().await;
    let shopper = Shopper::new(&["busy"]).expect("shopper");
    exhaust_busy(&p, &shopper).await;
    let keep = std::env::var("SSO_PAGES_SCREENSHOTS").ok().map(|d| repo_root().join(d));
    let shots = keep
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("sso-pages-shots-{}", p.gateway.port)));
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let pages: Vec<serde_json::Value> = every_page()
        .into_iter()
        .map(|(name, site, path, _, _)| serde_json::json!({ "name": name, "url": p.gateway.site_url(site, path) }))
        .collect();
    let spec = serde_json::json!({
        "languages": ["en", "de"],
        "signIn": { "url": p.gateway.site_url("shop", "/account"), "login": "judy" },
        "pages": pages,
        "screenshots": shots,
    });
    let spec_path = shots.join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).expect("spec");
    let script = repo_root().join("tests/browser/pages.mjs");
    let out = tokio::task::spawn_blocking(move || Command::new("node").arg(script).arg(spec_path).output())
        .await
        .expect("join")
        .expect("node runs");
    let seen = sso_tests::script_result("pages.mjs", &out);
    assert!(seen.get("error").is_none(), "{seen}\n{}", p.gateway.log());
    let expected: BTreeMap<&str, u16> = every_page().into_iter().map(|(n, _, _, s, _)| (n, s)).collect();
    let seen_pages = seen["pages"].as_array().expect("pages");
    assert_eq!(seen_pages.len(), expected.len() * 2, "{seen}");
    for page in seen_pages {
        let name = page["name"].as_str().unwrap_or_default();
        assert_eq!(page["status"], expected[name], "{page}");
        assert_eq!(page["htmlLang"], page["lang"], "{page}");
        let serious: Vec<_> = page["violations"]
            .as_array()
            .expect("violations")
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(serious.is_empty(), "{name} ({}): {serious:?}", page["lang"]);
        // The logo is a path of the site: with the origin down (502) it cannot load.
        if matches!(name, "access-denied" | "not-found" | "sign-in-failed" | "link-expired") {
            assert_eq!(page["logoLoaded"], true, "{page}");
        }
        let shot = std::path::Path::new(page["screenshot"].as_str().unwrap_or_default());
        assert!(shot.metadata().is_ok_and(|m| m.len() > 1000), "{page}");
    }
    let _ = std::fs::remove_file(shots.join("spec.json"));
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&shots);
    }
}

#[test]
fn check_refuses_a_template_that_does_not_compile_and_names_it() {
    let port = free_port();
    let dir = tempfile_dir::Dir(std::env::temp_dir().join(format!("sso-pages-check-{port}")));
    std::fs::create_dir_all(dir.0.join("templates")).expect("dir");
    let config_path = dir.0.join("gateway.toml");
    let config = |pages_dir: &std::path::Path| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\n[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n\
             [[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\n\
             public_url = \"http://shop.localhost:{port}\"\n[sites.pages]\ndir = \"{}\"\n",
            pages_dir.display()
        )
    };
    std::fs::write(&config_path, config(&dir.0)).expect("config");
    let check = || {
        Command::new(sso_tests::gateway_bin())
            .args(["check", "--config"])
            .arg(&config_path)
            .output()
            .expect("check runs")
    };
    assert!(check().status.success(), "an empty dir is fine");
    std::fs::write(
        dir.0.join("templates/chooser.html"),
        "{% extends \"layout.html\" %}{% block main %}{% if %}{% endblock %}",
    )
    .expect("template");
    let out = check();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("sites[0].pages") && stderr.contains("chooser.html"),
        "{stderr}"
    );
    std::fs::remove_file(dir.0.join("templates/chooser.html")).expect("rm");
    std::fs::create_dir_all(dir.0.join("messages")).expect("messages");
    std::fs::write(dir.0.join("messages/de.toml"), "[messages]\nnot_found = 3\n").expect("bad texts");
    let out = check();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("de.toml"), "{stderr}");
}
