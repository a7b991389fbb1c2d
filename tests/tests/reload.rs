//! Reloading the configuration of a running gateway (SIGHUP, `POST /reload`,
//! `sso-gateway reload`), against the real binary, the real IdP and the echo origin.

use sso_tests::gateway::check;
use sso_tests::{echo_of, free_port, gateway_bin, Gateway, GatewayConfig, Idp, Shop, Shopper, Storefront};
use std::process::Command;
use std::time::{Duration, Instant};

const ADMIN_TOKEN: &str = "reload-test-admin-token-0123456789";
const OK: &str = "sso_gateway_config_reloads_total{result=\"ok\"}";
const REFUSED: &str = "sso_gateway_config_reloads_total{result=\"refused\"}";

/// Status of a page load (0 when the request failed).
async fn status(shopper: &Shopper, url: &str) -> u16 {
    shopper.page(url).await.map_or(0, |r| r.status().as_u16())
}

/// Polls until `url` answers `want` (a reload by signal is not acknowledged).
async fn wait_status(shopper: &Shopper, url: &str, want: u16, gw: &Gateway) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = 0;
    while Instant::now() < deadline {
        last = status(shopper, url).await;
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} still answers {last}, not {want}:\n{}", gw.log());
}

/// Polls until the metric `series` reaches `want`.
async fn wait_metric(gw: &Gateway, series: &str, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if gw.metric(series).await >= want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{series} never reached {want}:\n{}", gw.log());
}

async fn readyz(gw: &Gateway) -> (u16, serde_json::Value) {
    let r = reqwest::get(gw.admin_url("/readyz")).await.expect("readyz");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json"))
}

/// The shop site with one more route (`/deals`) whose access is `deals`.
fn shop_site(origin: &str, issuer: &str, deals: &str) -> String {
    format!(
        "{}[[sites.routes]]\nprefix = \"/deals\"\naccess = \"{deals}\"\n",
        Shop::site_toml(origin, issuer, "")
    )
}

/// `sso-gateway reload` with these arguments and environment; (exit ok, output).
fn reload_command(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let (code, out) = reload_exit(args, env);
    (code == Some(0), out)
}

/// `sso-gateway reload` with these arguments and environment; (exit status, output).
fn reload_exit(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = Command::new(gateway_bin())
        .arg("reload")
        .args(args)
        .env_remove("SSO_ADMIN_TOKEN")
        .envs(env.iter().copied())
        .output()
        .expect("sso-gateway reload runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[tokio::test]
async fn sighup_swaps_the_route_table_and_the_signed_in_shopper_stays_signed_in() {
    let origin = Storefront::start().expect("origin");
    let base = GatewayConfig::default();
    let port = base.port;
    let idp = Idp::start(
        &[format!("http://shop.localhost:{port}/login/sso/callback")],
        &[format!("http://shop.localhost:{port}/")],
    )
    .expect("idp");
    let before = base.clone().site(&shop_site(&origin.addr(), &idp.issuer(), "public"));
    let after = base.site(&shop_site(&origin.addr(), &idp.issuer(), "login"));
    let gw = before.clone().start().expect("gateway");
    gw.ready().await.expect("ready");
    let url = |path: &str| gw.site_url("shop", path);

    let alice = Shopper::new(&["shop"]).expect("client");
    let landing = alice
        .walk(alice.page(&url("/account")).await.expect("start"), "alice")
        .await
        .expect("login");
    assert_eq!(landing.status, 200, "{landing:?}");
    let anonymous = Shopper::new(&["shop"]).expect("client");
    assert_eq!(
        status(&anonymous, &url("/deals")).await,
        200,
        "public before the reload"
    );
    // An API token handed out before the reload (the site's key is generated).
    let token: serde_json::Value = alice
        .api(&url("/_sso/token"))
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let token = token["access_token"].as_str().expect("access_token").to_string();
    // A shopper at the IdP while the reload happens.
    let bob = Shopper::new(&["shop"]).expect("client");
    let at_idp = bob
        .walk_until(bob.page(&url("/account/bob")).await.expect("start"), "bob", |u| {
            u.path() == "/login/sso/callback"
        })
        .await
        .expect("walk to the callback");

    gw.rewrite_config(&after.render()).expect("rewrite");
    gw.signal("HUP").expect("SIGHUP");
    wait_status(&anonymous, &url("/deals"), 302, &gw).await;
    assert_eq!(gw.metric(OK).await, 1.0);

    // The same cookie still carries the same identity to the origin.
    let page = alice.page(&url("/deals")).await.expect("deals");
    assert_eq!(page.status(), 200);
    let echo = echo_of(&page.text().await.expect("body")).expect("echo");
    assert_eq!(echo["headers"]["x-customer-id"], "alice");
    let session: serde_json::Value = alice
        .api(&url("/_sso/session"))
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    assert_eq!(session["authenticated"], true);
    let api = anonymous
        .http
        .get(url("/api/orders"))
        .bearer_auth(&token)
        .header("accept", "application/json")
        .send()
        .await
        .expect("api");
    assert_eq!(api.status(), 200, "the API token still verifies");
    let echo: serde_json::Value = api.json().await.expect("echo");
    assert_eq!(echo["headers"]["x-customer-id"], "alice");
    // Bob's login, started before the reload, finishes after it.
    let callback = bob.page(at_idp.url.as_str()).await.expect("callback");
    assert_eq!(callback.status(), 303, "the pending login was kept");
    assert_eq!(callback.headers()["location"], "/account/bob");

    let (ready, body) = readyz(&gw).await;
    assert_eq!(ready, 200, "the reused provider kept its metadata: {body}");
    assert!(gw.log().contains("configuration reloaded"), "{}", gw.log());
}

#[tokio::test]
async fn a_broken_file_is_refused_and_the_running_configuration_keeps_serving() {
    let origin = Storefront::start().expect("origin");
    let good = GatewayConfig::default().plain_site("shop", &[origin.addr()]);
    let gw = good.clone().start().expect("gateway");
    let shopper = Shopper::new(&["shop"]).expect("client");
    let url = gw.site_url("shop", "/");
    assert_eq!(status(&shopper, &url).await, 200);
    let good_text = good.render();

    // A new site with an IdP, in a file that does not build: its provider must not
    // stay registered (no `oidc:idp-site` readiness check afterwards).
    let idp_site = format!(
        "{}[sites.token]\nsigning_key_file = \"/nonexistent/sso-gw-key.pem\"\n",
        Shop::site_toml(&origin.addr(), &format!("http://127.0.0.1:{}", free_port()), "")
            .replace("name = \"shop\"", "name = \"idp-site\"")
            .replace("shop.localhost", "idp-site.localhost")
            .replace("{port}", &gw.port.to_string())
    );
    let broken: [(&str, String, &str); 4] = [
        ("syntax", format!("{good_text}\nthis is not toml ="), "line "),
        (
            "semantic",
            format!("{good_text}[[sites.routes]]\nprefix = \"/x\"\naccess = \"sometimes\"\n"),
            "sites[0].routes[0].access",
        ),
        (
            "unbuildable",
            format!("{good_text}[sites.token]\nsigning_key_file = \"/nonexistent/sso-gw-key.pem\"\n"),
            "sites[0].token.signing_key_file",
        ),
        (
            "new IdP, unbuildable",
            format!("{good_text}\n[[sites]]\n{idp_site}"),
            "sites[1].token.signing_key_file",
        ),
    ];
    for (i, (what, text, names)) in broken.iter().enumerate() {
        gw.rewrite_config(text).expect("rewrite");
        let (code, answer) = gw.reload(None).await.expect("POST /reload");
        assert_eq!(code, 400, "{what}: {answer}");
        assert_eq!(answer["result"], "refused", "{what}: {answer}");
        let errors = answer["errors"].to_string();
        assert!(errors.contains(names), "{what}: {errors}");
        assert!(
            !errors.contains(sso_tests::COOKIE_SECRET),
            "{what}: a secret in {errors}"
        );
        assert_eq!(
            status(&shopper, &url).await,
            200,
            "{what}: the old configuration serves"
        );
        assert_eq!(gw.metric(REFUSED).await, (i + 1) as f64);
    }

    let (ready, report) = readyz(&gw).await;
    assert_eq!(ready, 200, "{report}");
    assert_eq!(
        report["checks"],
        serde_json::json!({ "config": true, "listeners": true, "serving": true }),
        "nothing of a refused file stays"
    );
    // A valid new site in a file refused for another site's sake: it never served,
    // so it leaves no metric series and no warning about its generated key.
    let ghost = format!(
        "{good_text}\n[[sites]]\nname = \"ghost\"\nhosts = [\"ghost.localhost\"]\nupstreams = [\"{}\"]\n\
         public_url = \"http://ghost.localhost\"\n\n[[sites]]\nname = \"unresolvable\"\n\
         hosts = [\"unresolvable.localhost\"]\nupstreams = [\"nonexistent-host.invalid:80\"]\n\
         public_url = \"http://unresolvable.localhost\"\n",
        origin.addr()
    );
    gw.rewrite_config(&ghost).expect("rewrite");
    let (code, answer) = gw.reload(None).await.expect("POST /reload");
    assert_eq!(code, 400, "{answer}");
    let metrics = reqwest::get(gw.admin_url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        !metrics.contains("ghost"),
        "a site of a refused file leaves no metric series:\n{metrics}"
    );
    assert!(!gw.log().contains("ghost"), "nor a log line:\n{}", gw.log());

    // SIGHUP with a broken file: refused, still serving, counted.
    gw.signal("HUP").expect("SIGHUP");
    wait_metric(&gw, REFUSED, 6.0).await;
    assert_eq!(status(&shopper, &url).await, 200);
    assert!(gw.log().contains("configuration reload refused"), "{}", gw.log());
    assert_eq!(gw.metric(OK).await, 0.0);

    // Fixed: accepted.
    gw.rewrite_config(&good_text).expect("rewrite");
    let (code, answer) = gw.reload(None).await.expect("POST /reload");
    assert_eq!((code, answer["result"].as_str()), (200, Some("ok")), "{answer}");
    assert_eq!(answer["sites"], 1);
}

#[tokio::test]
async fn with_an_admin_token_only_the_right_bearer_reloads() {
    let origin = Storefront::start().expect("origin");
    let base = GatewayConfig::default().server(&format!("admin_token = \"{ADMIN_TOKEN}\""));
    let one = base.clone().plain_site("shop", &[origin.addr()]);
    let two = one.clone().plain_site("outlet", &[origin.addr()]);
    let gw = one.start().expect("gateway");
    let shopper = Shopper::new(&["shop", "outlet"]).expect("client");
    let outlet = gw.site_url("outlet", "/");
    assert_eq!(status(&shopper, &outlet).await, 421);
    gw.rewrite_config(&two.render()).expect("rewrite");

    for token in [None, Some("wrong-token"), Some(&ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1])] {
        let (code, answer) = gw.reload(token).await.expect("POST /reload");
        assert_eq!(code, 401, "{token:?}: {answer}");
    }
    let get = reqwest::get(gw.admin_url("/reload")).await.expect("GET /reload");
    assert_eq!(get.status(), 405, "never by GET");
    assert_eq!(status(&shopper, &outlet).await, 421, "nothing was reloaded");
    assert_eq!(gw.metric(OK).await + gw.metric(REFUSED).await, 0.0);

    let (ok, out) = reload_command(&["--admin", &gw.admin_addr(), "--token", "wrong-token"], &[]);
    assert!(!ok, "a wrong token exits 1: {out}");
    assert!(out.contains("401"), "{out}");
    let (ok, out) = reload_command(&["--admin", &gw.admin_addr(), "--token", ADMIN_TOKEN], &[]);
    assert!(ok, "{out}");
    assert_eq!(out, "configuration reloaded: 2 site(s)\n");
    assert_eq!(status(&shopper, &outlet).await, 200, "the added site is served");

    // The token from the environment; a refused file exits 1.
    gw.rewrite_config("[server\n").expect("rewrite");
    let (ok, out) = reload_command(&["--admin", &gw.admin_addr()], &[("SSO_ADMIN_TOKEN", ADMIN_TOKEN)]);
    assert!(!ok, "{out}");
    assert!(out.contains("refused"), "{out}");
    let (code, _) = gw.reload(Some(ADMIN_TOKEN)).await.expect("POST /reload");
    assert_eq!(code, 400);
    let (ok, out) = reload_command(&["--admin", &format!("127.0.0.1:{}", free_port())], &[]);
    assert!(!ok && out.contains("cannot reach"), "{out}");

    // A reload rotates the token: from then on only the new one works.
    let rotated = two.render().replace(ADMIN_TOKEN, "rotated-admin-token-9876543210");
    gw.rewrite_config(&rotated).expect("rewrite");
    let (code, _) = gw.reload(Some(ADMIN_TOKEN)).await.expect("POST /reload");
    assert_eq!(code, 200);
    let (code, _) = gw.reload(Some(ADMIN_TOKEN)).await.expect("POST /reload");
    assert_eq!(code, 401, "the old token is gone");
    let (code, _) = gw
        .reload(Some("rotated-admin-token-9876543210"))
        .await
        .expect("POST /reload");
    assert_eq!(code, 200);
}

/// `reload --config`: the address and token come from the file; each refusal and
/// each restart-only key is a line of its own, and the exit status tells them apart.
#[tokio::test]
async fn reload_reads_the_admin_listener_from_the_config_and_says_each_outcome_on_a_line() {
    let origin = Storefront::start().expect("origin");
    let base = GatewayConfig::default()
        .server(&format!("admin_token = \"{ADMIN_TOKEN}\""))
        .plain_site("shop", &[origin.addr()]);
    let text = base.render();
    let gw = base.start().expect("gateway");
    let path = gw.config_path.display().to_string();
    let env = [("SSO_TEST_RELOAD_TOKEN", ADMIN_TOKEN)];
    // The token as a file may write it, from this shell's environment.
    let with_var = std::env::temp_dir().join(format!("sso-gw-reload-{}.toml", free_port()));
    std::fs::write(&with_var, text.replace(ADMIN_TOKEN, "${SSO_TEST_RELOAD_TOKEN}")).expect("write");
    let with_var = with_var.display().to_string();
    let (code, out) = reload_exit(&["--config", &with_var], &env);
    assert_eq!((code, out.as_str()), (Some(0), "configuration reloaded: 1 site(s)\n"));
    let (code, out) = reload_exit(&["--config", &with_var], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("server.admin_token environment variable SSO_TEST_RELOAD_TOKEN is not set; give --token"),
        "{out}"
    );
    let (code, out) = reload_exit(&["--config", &path], &[]);
    assert_eq!(code, Some(0), "the written token: {out}");

    // Two problems: two lines, no JSON.
    let broken = format!("{text}[[sites.routes]]\nprefix = \"/x\"\naccess = \"sometimes\"\n")
        .replace("[sessions]\n", "[sessions]\nidle_timout = \"30m\"\n");
    gw.rewrite_config(&broken).expect("rewrite");
    let (code, out) = reload_exit(&["--config", &path], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with("reload refused (HTTP 400), the running configuration keeps serving; 2 problem(s):\n"),
        "{out}"
    );
    assert!(
        out.contains("\n  sessions.idle_timout: unknown key, did you mean `idle_timeout`? (line "),
        "{out}"
    );
    assert!(
        out.contains("\n  sites[0].routes[0].access: \"sometimes\" is not"),
        "{out}"
    );
    assert!(!out.contains("{\"") && !out.contains("\\\""), "not JSON: {out}");

    // A key that needs a restart: applied, exit 2, the key on its line.
    gw.rewrite_config(&text.replace("threads = 2", "threads = 1"))
        .expect("rewrite");
    let (code, out) = reload_exit(&["--config", &path], &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("configuration reloaded: 1 site(s)\n"), "{out}");
    assert!(
        out.contains("these changed keys keep their running values until a restart (`run --upgrade`):\n"),
        "{out}"
    );
    assert!(out.ends_with("\n  server.threads\n"), "{out}");

    // A file without an admin listener says so.
    let no_admin = std::env::temp_dir().join(format!("sso-gw-reload-{}.toml", free_port()));
    std::fs::write(
        &no_admin,
        text.replace(&format!("admin_listen = \"127.0.0.1:{}\"", gw.admin_port), ""),
    )
    .expect("write");
    let (code, out) = reload_exit(&["--config", &no_admin.display().to_string()], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("server.admin_listen is not set"), "{out}");
    let _ = std::fs::remove_file(&no_admin);
    let _ = std::fs::remove_file(&with_var);
}

#[tokio::test]
async fn a_request_in_flight_finishes_on_the_configuration_it_started_with() {
    let origin = Storefront::start().expect("origin");
    let base = GatewayConfig::default();
    let with_shop = base.clone().plain_site("shop", &[origin.addr()]);
    let without_shop = base.plain_site("outlet", &[origin.addr()]);
    let gw = with_shop.start().expect("gateway");
    let shopper = Shopper::new(&["shop", "outlet"]).expect("client");
    assert_eq!(status(&shopper, &gw.site_url("shop", "/")).await, 200);

    let slow_url = gw.site_url("shop", "/slow?delay_ms=1500");
    let slow = {
        let http = shopper.http.clone();
        tokio::spawn(async move { http.get(slow_url).header("accept", "application/json").send().await })
    };
    // The request is at the origin; the new configuration drops its site.
    tokio::time::sleep(Duration::from_millis(300)).await;
    gw.rewrite_config(&without_shop.render()).expect("rewrite");
    let (code, answer) = gw.reload(None).await.expect("POST /reload");
    assert_eq!(code, 200, "{answer}");
    assert_eq!(
        status(&shopper, &gw.site_url("shop", "/")).await,
        421,
        "new requests: no such site"
    );

    let response = slow.await.expect("join").expect("the slow request completed");
    assert_eq!(response.status(), 200);
    let echo: serde_json::Value = response.json().await.expect("echo");
    assert_eq!(echo["url"], "/slow?delay_ms=1500");
    assert!(
        echo["headers"]["x-forwarded-host"]
            .as_str()
            .is_some_and(|h| h.starts_with("shop.localhost")),
        "{echo}"
    );
}

#[tokio::test]
async fn a_site_added_by_reload_signs_shoppers_in_and_a_removed_one_leaves_readiness() {
    let origin = Storefront::start().expect("origin");
    let base = GatewayConfig::default();
    let port = base.port;
    let idp = Idp::start(
        &[
            format!("http://shop.localhost:{port}/login/sso/callback"),
            format!("http://outlet.localhost:{port}/login/sso/callback"),
        ],
        &[
            format!("http://shop.localhost:{port}/"),
            format!("http://outlet.localhost:{port}/"),
        ],
    )
    .expect("idp");
    let shop = base.site(&Shop::site_toml(&origin.addr(), &idp.issuer(), ""));
    let outlet_toml = Shop::site_toml(&origin.addr(), &idp.issuer(), "")
        .replace("name = \"shop\"", "name = \"outlet\"")
        .replace("shop.localhost", "outlet.localhost");
    let with_outlet = shop.clone().site(&outlet_toml);
    // An IdP nobody answers for: this site never gets ready.
    let ghost = Shop::site_toml(&origin.addr(), &format!("http://127.0.0.1:{}", free_port()), "")
        .replace("name = \"shop\"", "name = \"ghost\"")
        .replace("shop.localhost", "ghost.localhost");
    let with_ghost = with_outlet.clone().site(&ghost);

    let gw = shop.clone().start().expect("gateway");
    gw.ready().await.expect("ready");
    let shopper = Shopper::new(&["shop", "outlet", "ghost"]).expect("client");
    assert_eq!(status(&shopper, &gw.site_url("outlet", "/")).await, 421);

    gw.rewrite_config(&with_outlet.render()).expect("rewrite");
    let (code, answer) = gw.reload(None).await.expect("POST /reload");
    assert_eq!((code, answer["sites"].as_u64()), (200, Some(2)), "{answer}");
    gw.ready().await.expect("the new IdP is discovered");
    let (_, report) = readyz(&gw).await;
    assert_eq!(report["checks"]["oidc:outlet"], true, "{report}");

    let start = shopper.page(&gw.site_url("outlet", "/account")).await.expect("outlet");
    assert_eq!(start.status(), 302);
    let landing = shopper.walk(start, "bob").await.expect("login");
    assert_eq!(landing.status, 200, "{landing:?}");
    assert_eq!(landing.url.as_str(), gw.site_url("outlet", "/account"));
    let echo = echo_of(&landing.body).expect("echo");
    assert_eq!(echo["headers"]["x-customer-id"], "bob");

    // A site whose IdP is down holds readiness at 503 only while it is configured.
    gw.rewrite_config(&with_ghost.render()).expect("rewrite");
    let (code, answer) = gw.reload(None).await.expect("POST /reload");
    assert_eq!(code, 200, "an unreachable IdP does not refuse the file: {answer}");
    let (ready, report) = readyz(&gw).await;
    assert_eq!(
        (ready, &report["checks"]["oidc:ghost"]),
        (503, &serde_json::json!(false)),
        "{report}"
    );

    gw.rewrite_config(&shop.render()).expect("rewrite");
    let (code, _) = gw.reload(None).await.expect("POST /reload");
    assert_eq!(code, 200);
    let (ready, report) = readyz(&gw).await;
    assert_eq!(ready, 200, "{report}");
    assert!(report["checks"].get("oidc:ghost").is_none(), "{report}");
    assert!(report["checks"].get("oidc:outlet").is_none(), "{report}");
    assert_eq!(status(&shopper, &gw.site_url("outlet", "/")).await, 421);
}

#[tokio::test]
async fn listeners_need_a_restart_and_everything_else_still_applies() {
    let origin = Storefront::start().expect("origin");
    let base = GatewayConfig::default().plain_site("shop", &[origin.addr()]);
    let gw = base.clone().start().expect("gateway");
    let shopper = Shopper::new(&["shop", "outlet"]).expect("client");
    let port = base.port;
    let text = base
        .clone()
        .plain_site("outlet", &[origin.addr()])
        .render()
        .replace(
            &format!("listen = [\"127.0.0.1:{port}\"]"),
            &format!("listen = [\"127.0.0.1:{}\"]", free_port()),
        )
        .replace("threads = 2", "threads = 1");
    gw.rewrite_config(&text).expect("rewrite");
    let (code, answer) = gw.reload(None).await.expect("POST /reload");
    assert_eq!(code, 200, "{answer}");
    assert_eq!(
        answer["restart_required"],
        serde_json::json!(["server.listen", "server.threads"]),
        "{answer}"
    );
    assert!(gw.log().contains("need a restart"), "{}", gw.log());
    assert_eq!(
        status(&shopper, &gw.site_url("shop", "/")).await,
        200,
        "the old listener serves"
    );
    assert_eq!(
        status(&shopper, &gw.site_url("outlet", "/")).await,
        200,
        "the new site applies"
    );
}

#[test]
fn check_refuses_an_admin_listener_open_to_the_network_without_a_token() {
    let site = "[[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\n\
                public_url = \"http://shop.localhost\"\n";
    let config = |server: &str| {
        format!(
            "[server]\n{server}\n[sessions]\ncookie_secret = \"{}\"\n{site}",
            sso_tests::COOKIE_SECRET
        )
    };
    // It could list and end any customer's sessions: an error, not a warning.
    let (ok, out) = check(&config("admin_listen = \"0.0.0.0:9100\""), &[]).expect("check");
    assert!(!ok, "an error, not a warning: {out}");
    assert!(
        out.contains("server.admin_listen") && out.contains("server.admin_token is not set"),
        "{out}"
    );
    let (ok, out) = check(
        &config("admin_listen = \"0.0.0.0:9100\"\nadmin_token = \"${SSO_TEST_ADMIN_TOKEN}\""),
        &[("SSO_TEST_ADMIN_TOKEN", ADMIN_TOKEN)],
    )
    .expect("check");
    assert!(ok && !out.contains("warning: server.admin"), "{out}");
    assert!(!out.contains(ADMIN_TOKEN), "the token is never printed: {out}");
    let (ok, out) = check(&config("admin_listen = \"127.0.0.1:9100\""), &[]).expect("check");
    assert!(ok && !out.contains("warning: server.admin"), "{out}");
}
