use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "SSO_COOKIE_SECRET" => Some("0123456789abcdef0123456789abcdef".into()),
        "OIDC_CLIENT_SECRET" => Some("client-secret".into()),
        _ => None,
    }
}

const GOOD: &str = r#"
[server]
listen = ["127.0.0.1:8080"]
admin_listen = "127.0.0.1:9100"
trusted_proxies = ["10.0.0.0/8", "192.0.2.7"]

[sessions]
cookie_secret = "${SSO_COOKIE_SECRET}"
idle_timeout = "30m"
absolute_timeout = "12h"

[[sites]]
name = "shop"
hosts = ["Shop.localhost"]
upstreams = ["127.0.0.1:3000", "https://origin.example"]
public_url = "http://shop.localhost:8080"

[sites.oidc]
issuer = "http://127.0.0.1:9000"
client_id = "storefront"
client_secret = "${OIDC_CLIENT_SECRET}"

[[sites.routes]]
prefix = "/account"
access = "login"

[[sites.routes]]
prefix = "/account/api"
access = "api"
"#;

#[test]
fn a_complete_config_validates() {
    let cfg = parse(GOOD, &env).expect("valid config");
    let site = &cfg.sites[0];
    assert_eq!(site.hosts, vec!["shop.localhost"]);
    assert_eq!(site.upstreams[1].address, "origin.example:443");
    assert_eq!(cfg.sessions.cookie_secret.expose(), "0123456789abcdef0123456789abcdef");
    assert_eq!(cfg.sessions.idle_timeout.as_secs(), 1800);
    let oidc = site.oidc.as_ref().expect("oidc");
    assert_eq!(oidc.callback_path, "/login/sso/callback");
    assert_eq!(oidc.client_secret.expose(), "client-secret");
    // Longest prefix first, so the first match wins.
    assert_eq!(site.routes[0].prefix, "/account/api");
    assert_eq!(site.routes[0].access, Access::Api);
    assert_eq!(cfg.server.trusted_proxies.len(), 2);
}

#[test]
fn every_error_is_reported_with_its_key_path() {
    let text = GOOD
        .replace("\"127.0.0.1:3000\"", "\"not a socket\"")
        .replace("${SSO_COOKIE_SECRET}", "short")
        .replace("http://127.0.0.1:9000", "not a url");
    let errors = parse(&text, &env).expect_err("invalid config");
    let report = errors.to_string();
    assert!(errors.mentions("sites[0].upstreams[0]"), "{report}");
    assert!(errors.mentions("sessions.cookie_secret"), "{report}");
    assert!(errors.mentions("sites[0].oidc.issuer"), "{report}");
    assert!(report.contains("\"not a socket\" is not host:port"), "{report}");
    assert!(!report.contains("short\""), "the secret itself is not echoed: {report}");
}

#[test]
fn a_missing_environment_variable_is_named() {
    let errors = parse(&GOOD.replace("${OIDC_CLIENT_SECRET}", "${NOPE_SECRET}"), &env).expect_err("missing var");
    assert!(errors
        .to_string()
        .contains("sites[0].oidc.client_secret: environment variable NOPE_SECRET is not set"));
}

#[test]
fn unknown_keys_are_rejected_with_a_location() {
    let errors = parse(&GOOD.replace("idle_timeout", "idle_timout"), &env).expect_err("typo");
    let report = errors.to_string();
    assert!(report.contains("line 9"), "{report}");
    assert!(report.contains("idle_timout"), "{report}");
}

#[test]
fn protected_routes_need_a_login_method_and_hosts_are_unique() {
    let text = r#"
[sessions]
cookie_secret = "0123456789abcdef0123456789abcdef"
[[sites]]
name = "a"
hosts = ["a.localhost"]
upstreams = ["127.0.0.1:1"]
public_url = "http://a.localhost"
[[sites.routes]]
prefix = "/account"
access = "login"
[[sites]]
name = "a"
hosts = ["A.localhost", "b.localhost:8080"]
upstreams = []
public_url = "http://b.localhost/path"
"#;
    let errors = parse(text, &env).expect_err("invalid");
    let report = errors.to_string();
    for path in [
        "sites[0].routes[0].access",
        "sites[1].name",
        "sites[1].hosts",
        "sites[1].hosts[1]",
        "sites[1].upstreams",
        "sites[1].public_url",
    ] {
        assert!(errors.mentions(path), "{path} missing in:\n{report}");
    }
}

#[test]
fn bad_values_never_panic() {
    for text in [
        "",
        "[[sites]]",
        "sites = 3",
        "[server]\nthreads = -1",
        "[sessions]\nstore = \"redis\"",
        "\u{0}",
    ] {
        assert!(parse(text, &env).is_err(), "{text:?} accepted");
    }
}

const TLS_SITE: &str = r#"
[sessions]
cookie_secret = "0123456789abcdef0123456789abcdef"
[[sites]]
name = "shop"
hosts = ["shop.localhost"]
upstreams = ["127.0.0.1:3000"]
public_url = "https://shop.localhost"
"#;

#[test]
fn an_https_site_needs_something_that_terminates_tls() {
    let errors = parse(TLS_SITE, &env).expect_err("nothing terminates TLS");
    assert!(errors.mentions("sites[0].public_url"), "{errors}");
    // Behind a trusted TLS-terminating balancer it is fine, and HSTS defaults to a year.
    let cfg = parse(
        &TLS_SITE.replace("[sessions]", "[server]\ntrusted_proxies = [\"10.0.0.0/8\"]\n[sessions]"),
        &env,
    )
    .expect("valid behind a balancer");
    assert_eq!(
        cfg.sites[0].hsts_max_age,
        Some(std::time::Duration::from_secs(365 * 24 * 3600))
    );
}

#[test]
fn tls_listeners_and_site_certificates_are_checked() {
    let text = TLS_SITE.replace(
        "[sessions]",
        "[server]\nredirect_listen = [\"127.0.0.1:8080\", \"nope\"]\n[[server.tls]]\nlisten = \"127.0.0.1:8443\"\ncert = \"/c.pem\"\n[sessions]",
    ) + "hsts_max_age = \"soon\"\n[sites.tls]\ncert = \"/s.pem\"\n";
    let errors = parse(&text, &env).expect_err("invalid");
    for path in [
        "server.tls[0].key",
        "server.redirect_listen[1]",
        "sites[0].tls.key",
        "sites[0].hsts_max_age",
    ] {
        assert!(errors.mentions(path), "{path} missing in:\n{errors}");
    }
    let errors = parse(
        &(TLS_SITE.replace("https://", "http://") + "hsts_max_age = \"1d\"\n"),
        &env,
    )
    .expect_err("hsts on http");
    assert!(errors.mentions("sites[0].hsts_max_age"), "{errors}");
    let ok = TLS_SITE.replace(
        "[sessions]",
        "[[server.tls]]\nlisten = \"127.0.0.1:8443\"\ncert = \"/c.pem\"\nkey = \"/k.pem\"\n[sessions]",
    ) + "hsts_max_age = \"off\"\n";
    assert_eq!(parse(&ok, &env).expect("valid").sites[0].hsts_max_age, None);
}

#[test]
fn request_safety_settings_are_checked() {
    let bad = GOOD
        .replace(
            "public_url = \"http://shop.localhost:8080\"",
            "public_url = \"http://other.localhost:8080\"\nsso_prefix = \"/\"",
        )
        .replace(
            "[sites.oidc]",
            "[sites.identity_headers]\nid = \"Authorization\"\nemail = \"x_customer_name\"\n[sites.oidc]",
        )
        .replace("prefix = \"/account/api\"", "prefix = \"/account/../api\"")
        .replace("[server]", "[server]\nrate_limits = { login = -1 }");
    let errors = parse(&bad, &env).expect_err("refused").to_string();
    for needle in [
        "sites[0].public_url: the host \"other.localhost\" is not in sites[0].hosts",
        "sites[0].sso_prefix: must not be \"/\"",
        "sites[0].identity_headers.id: \"Authorization\" is a framing, hop-by-hop or credential header",
        "sites[0].identity_headers.name: \"X-Customer-Name\" is already used",
        "sites[0].routes[1].prefix: \"/account/../api\" must be a plain path",
        "server.rate_limits.login: -1 is not between 0 (off)",
    ] {
        assert!(errors.contains(needle), "missing {needle:?} in:\n{errors}");
    }
}

#[test]
fn request_safety_defaults_and_trailing_slashes() {
    let text = GOOD
        .replace("prefix = \"/account\"\n", "prefix = \"/account/\"\n")
        .replace("[server]", "[server]\nrate_limits = { token = 0 }");
    let cfg = parse(&text, &env).expect("valid");
    let site = &cfg.sites[0];
    assert!(site.routes.iter().any(|r| r.prefix == "/account"), "{:?}", site.routes);
    assert!(site.paths.case_insensitive && !site.paths.allow_encoded_slashes);
    assert!(!site.forward_gateway_credentials);
    assert_eq!(cfg.server.rate_limits.token, None);
    assert_eq!(cfg.server.rate_limits.login, Some(60));
    let oidc = site.oidc.as_ref().expect("oidc");
    assert!(oidc.require_verified_email);
    assert_eq!(oidc.revalidate_interval.as_secs(), 300);
    assert_eq!(cfg.sessions.max_per_customer, 10);
}

#[test]
fn the_admin_token_is_a_secret_with_env_expansion() {
    let with = |line: &str| GOOD.replace("[sessions]", &format!("{line}\n\n[sessions]"));
    let env = |name: &str| match name {
        "ADMIN_TOKEN" => Some("an-admin-token-of-some-length".to_string()),
        other => env(other),
    };
    let cfg = parse(&with("admin_token = \"${ADMIN_TOKEN}\""), &env).expect("valid");
    let token = cfg.server.admin_token.as_ref().expect("token");
    assert_eq!(token.expose(), "an-admin-token-of-some-length");
    assert!(!format!("{cfg:?}").contains("an-admin-token"), "never printed");
    assert!(parse(GOOD, &env).expect("valid").server.admin_token.is_none());

    for bad in [
        "admin_token = \"\"",
        "admin_token = \"short\"",
        "admin_token = \"has a space in the middle\"",
        "admin_token = \"${UNSET_ADMIN_TOKEN}\"",
    ] {
        let errors = parse(&with(bad), &env).expect_err(bad);
        assert!(errors.mentions("server.admin_token"), "{bad}: {errors}");
    }
}

#[test]
fn an_admin_listener_off_loopback_needs_a_token() {
    let listen = |addr: &str, token: &str| {
        GOOD.replace(
            "admin_listen = \"127.0.0.1:9100\"",
            &format!("admin_listen = \"{addr}\"\n{token}"),
        )
    };
    for local in [
        "127.0.0.1:9100",
        "127.0.0.2:9100",
        "[::1]:9100",
        "localhost:9100",
        "LOCALHOST:9100",
    ] {
        parse(&listen(local, ""), &env).unwrap_or_else(|e| panic!("{local}: {e}"));
    }
    for exposed in ["0.0.0.0:9100", "[::]:9100", "10.0.0.5:9100", "admin.internal:9100"] {
        let errors = parse(&listen(exposed, ""), &env).expect_err(exposed);
        assert!(errors.mentions("server.admin_listen"), "{exposed}: {errors}");
        assert!(errors.to_string().contains("server.admin_token is not set"), "{errors}");
        let token = "admin_token = \"a-long-enough-admin-token\"";
        parse(&listen(exposed, token), &env).unwrap_or_else(|e| panic!("{exposed} with a token: {e}"));
    }
    // A bad token is reported as itself, not twice.
    let errors = parse(&listen("0.0.0.0:9100", "admin_token = \"short\""), &env).expect_err("short");
    assert!(
        errors.mentions("server.admin_token") && !errors.mentions("server.admin_listen"),
        "{errors}"
    );
}

#[test]
fn the_redis_store_needs_a_usable_url_prefix_and_l1_ttl() {
    let with = |sessions: &str| GOOD.replace("idle_timeout = \"30m\"", &format!("idle_timeout = \"30m\"\n{sessions}"));
    let ok = parse(
        &with("store = \"redis\"\nredis_url = \"rediss://:pw@redis.internal:6380/1\"\nl1_ttl = \"2s\""),
        &env,
    )
    .expect("a redis config");
    assert_eq!(ok.sessions.store, SessionStoreKind::Redis);
    assert_eq!(ok.sessions.redis_key_prefix, "sso");
    assert_eq!(ok.sessions.l1_ttl.as_secs(), 2);
    assert!(!ok.sessions.fail_closed);
    let sentinel = parse(
        &with("store = \"redis\"\nredis_url = \"redis+sentinel://:pw@s1:26379,s2:26380/mymaster/0\""),
        &env,
    )
    .expect("a Sentinel config");
    assert!(sentinel.sessions.redis_cluster.is_empty());
    let cluster = parse(
        &with("store = \"redis\"\nredis_cluster = [\"redis://n1:7000\", \"redis://n2:7000\"]"),
        &env,
    )
    .expect("a Cluster config");
    assert_eq!(cluster.sessions.redis_cluster.len(), 2);
    assert_eq!(cluster.sessions.redis_url, None);
    for (bad, key) in [
        ("store = \"redis\"", "sessions.redis_url"),
        (
            "store = \"redis\"\nredis_url = \"redis+sentinel://h/\"",
            "sessions.redis_url",
        ),
        ("store = \"redis\"\nredis_url = \"http://h:6379\"", "sessions.redis_url"),
        (
            "store = \"redis\"\nredis_url = \"redis://h:6379\"\nredis_cluster = [\"redis://n1:7000\"]",
            "sessions.redis_cluster",
        ),
        ("store = \"redis\"\nredis_cluster = []", "sessions.redis_cluster"),
        (
            "store = \"redis\"\nredis_cluster = [\"redis://n1:7000\", \"n2:7000\"]",
            "sessions.redis_cluster[1]",
        ),
        (
            "store = \"redis\"\nredis_cluster = [\"redis://n1:7000\", \"rediss://n2:7000\"]",
            "sessions.redis_cluster",
        ),
        ("redis_key_prefix = \"a b\"", "sessions.redis_key_prefix"),
        ("l1_ttl = \"2m\"", "sessions.l1_ttl"),
    ] {
        match parse(&with(bad), &env) {
            Ok(_) => panic!("{bad:?} accepted"),
            Err(errors) => assert!(errors.to_string().contains(key), "{bad:?}: {errors}"),
        }
    }
}

#[test]
fn entra_multi_tenant_issuers_are_refused_with_the_issuer_to_use() {
    for (tenant, hint) in [
        ("common", "https://login.microsoftonline.com/TENANT_ID/v2.0"),
        ("organizations", "https://login.microsoftonline.com/TENANT_ID/v2.0"),
        (
            "consumers",
            "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
        ),
    ] {
        let text = GOOD.replace(
            "http://127.0.0.1:9000",
            &format!("https://login.microsoftonline.com/{tenant}/v2.0"),
        );
        let report = parse(&text, &env).expect_err("multi-tenant issuer").to_string();
        assert!(report.contains("sites[0].oidc.issuer: "), "{report}");
        assert!(report.contains(hint), "{report}");
    }
    let tenant = GOOD.replace(
        "http://127.0.0.1:9000",
        "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
    );
    assert!(parse(&tenant, &env).is_ok(), "a tenant's own issuer is fine");
}

#[test]
fn an_issuer_with_a_user_or_password_is_refused_and_not_echoed() {
    for issuer in ["http://usr:IssPwVAL@127.0.0.1:9000", "http://usr@127.0.0.1:9000"] {
        let text = GOOD.replace("http://127.0.0.1:9000", issuer);
        let report = parse(&text, &env).expect_err("userinfo").to_string();
        assert!(
            report.contains("sites[0].oidc.issuer: must not hold a user name or password"),
            "{report}"
        );
        assert!(!report.contains("IssPwVAL"), "{report}");
    }
}
