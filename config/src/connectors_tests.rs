use crate::parse;

const SECRET: &str = "merchant-secret-0123456789abcdef0123";

fn env(name: &str) -> Option<String> {
    (name == "CUSTOMER_LOGIN_SECRET").then(|| SECRET.to_string())
}

fn site(sections: &str) -> String {
    format!(
        r#"
[sessions]
cookie_secret = "0123456789abcdef0123456789abcdef"
[[sites]]
name = "shop"
hosts = ["shop.localhost"]
upstreams = ["127.0.0.1:1"]
public_url = "http://shop.localhost"
{sections}
[[sites.routes]]
prefix = "/account"
access = "login"
"#
    )
}

const CUSTOMER_LOGIN: &str = r#"
[sites.customer_login]
client_id = "merchant"
client_secret = "${CUSTOMER_LOGIN_SECRET}"
store_hash = "abc123"
"#;

const OIDC: &str = r#"
[sites.oidc]
issuer = "http://127.0.0.1:9"
client_id = "c"
client_secret = "s"
"#;

fn errors(sections: &str) -> String {
    match parse(&site(sections), &env) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_customer_login_alone_is_a_login_method_with_bigcommerce_defaults() {
    let cfg = parse(&site(CUSTOMER_LOGIN), &env).expect("valid");
    let c = cfg.sites[0].customer_login.as_ref().expect("section");
    assert_eq!(c.path, "/login/token/");
    assert_eq!(c.max_age.as_secs(), 30);
    assert_eq!(
        (c.default_redirect.as_str(), c.logout_redirect.as_str()),
        ("/account", "/login.php?action=logout")
    );
    assert_eq!(c.client_secret.expose(), SECRET);
    assert!(errors("").contains("needs a login method"));
}

#[test]
fn weak_or_malformed_customer_login_settings_are_refused_by_key() {
    let bad = CUSTOMER_LOGIN
        .replace("${CUSTOMER_LOGIN_SECRET}", "short-secret")
        .replace("\"abc123\"", "\"a b\"")
        + "channel_id = -1\npath = \"/login/token\"\nmax_age = \"10m\"\ndefault_redirect = \"//evil.example/\"\nlogout_redirect = \"https://x/\"\n";
    let report = errors(&bad);
    for key in [
        "customer_login.client_secret",
        "customer_login.store_hash",
        "customer_login.channel_id",
        "customer_login.path",
        "customer_login.max_age",
        "customer_login.default_redirect",
        "customer_login.logout_redirect",
    ] {
        assert!(report.contains(&format!("sites[0].{key}")), "{key}: {report}");
    }
    assert!(!report.contains("short-secret"), "the secret is not echoed: {report}");
    let report = errors("[sites.customer_login]\n");
    for key in ["client_id", "client_secret", "store_hash"] {
        assert!(
            report.contains(&format!("customer_login.{key}: is required")),
            "{key}: {report}"
        );
    }
}

#[test]
fn token_paths_may_not_overlap_gateway_paths_or_each_other() {
    let under_prefix = CUSTOMER_LOGIN.to_string() + "path = \"/_sso/token/\"\n";
    assert!(
        errors(&under_prefix).contains("overlaps sso_prefix"),
        "{}",
        errors(&under_prefix)
    );
    let platform = format!(
        "{OIDC}{CUSTOMER_LOGIN}\n[sites.provisioning]\nurl = \"http://127.0.0.1:9/hook\"\n\
         [sites.platform_login]\nclient_id = \"p\"\nclient_secret = \"{SECRET}\"\nstore_hash = \"abc\"\n"
    );
    let report = errors(&platform);
    assert!(
        report.contains("platform_login.path") && report.contains("overlaps customer_login.path"),
        "{report}"
    );
    let apart = platform.replace(
        "store_hash = \"abc\"\n",
        "store_hash = \"abc\"\npath = \"/platform/token/\"\n",
    );
    assert_eq!(errors(&apart), "");
}

#[test]
fn connector_sections_need_what_they_build_on() {
    let login_alone = format!("{OIDC}\n[sites.login]\nurl = \"https://merchant.example/login?r={{return_to}}\"\n");
    assert!(errors(&login_alone).contains("add [sites.customer_login]"));
    let platform_alone = format!(
        "\n[sites.platform_login]\nclient_id = \"p\"\nclient_secret = \"{SECRET}\"\nstore_hash = \"abc\"\n{CUSTOMER_LOGIN}"
    );
    let report = errors(&platform_alone);
    assert!(
        report.contains("add [sites.oidc]") && report.contains("add [sites.provisioning] with a url"),
        "{report}"
    );
    assert!(errors("\n[sites.provisioning]\n").contains("needs a url"));
    let secret_without_url =
        format!("{CUSTOMER_LOGIN}\n[sites.provisioning]\ndefault_group = \"g\"\nsecret = \"0123456789abcdef\"\n");
    assert!(errors(&secret_without_url).contains("provisioning.secret: is sent to the hook"));
}

#[test]
fn merchant_urls_groups_and_hook_settings_are_checked() {
    let with = |login: &str| format!("{CUSTOMER_LOGIN}\n[sites.login]\nurl = \"{login}\"\n");
    assert_eq!(
        errors(&with("https://merchant.example/login?return_to={return_to}")),
        ""
    );
    assert_eq!(
        errors(&with("https://merchant.example/login")),
        "",
        "the placeholder is optional"
    );
    assert!(errors(&with("merchant.example/login")).contains("is not an http(s) URL"));
    assert!(errors(&with("https://m.example/?a={return_to}&b={return_to}")).contains("once"));
    assert!(errors(&with("https://m.example/#{return_to}")).contains("is not an http(s) URL"));
    let hook = |extra: &str| format!("{CUSTOMER_LOGIN}\n[sites.provisioning]\nurl = \"http://127.0.0.1:9/h\"\n{extra}");
    assert!(errors(&hook("default_group = \"a,b\"\n")).contains("provisioning.default_group"));
    assert!(errors(&hook("timeout = \"1m\"\n")).contains("provisioning.timeout"));
    assert!(errors(&hook("secret = \"short\"\n")).contains("provisioning.secret"));
    assert!(errors(&hook("url2 = 1\n")).contains("url2"));
    let off = parse(&site(&hook("cache_ttl = \"off\"\n")), &env).expect("valid");
    assert!(off.sites[0]
        .provisioning
        .as_ref()
        .is_some_and(|p| p.cache_ttl.is_zero()));
}

#[test]
fn with_a_platform_logout_ends_on_the_platforms_logout_page_unless_told_otherwise() {
    let platform = format!(
        "{OIDC}\n[sites.provisioning]\nurl = \"http://127.0.0.1:9/hook\"\n\
         [sites.platform_login]\nclient_id = \"p\"\nclient_secret = \"{SECRET}\"\nstore_hash = \"abc\"\n"
    );
    let cfg = parse(&site(&platform), &env).expect("valid");
    assert_eq!(
        cfg.sites[0].oidc.as_ref().map(|o| o.post_logout_path.as_str()),
        Some("/login.php?action=logout")
    );
    let explicit = platform.replace(
        "client_secret = \"s\"\n",
        "client_secret = \"s\"\npost_logout_path = \"/bye\"\n",
    );
    let cfg = parse(&site(&explicit), &env).expect("valid");
    assert_eq!(
        cfg.sites[0].oidc.as_ref().map(|o| o.post_logout_path.as_str()),
        Some("/bye")
    );
}

#[test]
fn customer_login_beside_an_idp_needs_a_hook_so_ids_share_one_namespace() {
    let both = format!("{OIDC}{CUSTOMER_LOGIN}");
    assert!(errors(&both).contains("would share X-Customer-Id"), "{}", errors(&both));
    let only_group = format!("{both}\n[sites.provisioning]\ndefault_group = \"g\"\n");
    assert!(errors(&only_group).contains("would share X-Customer-Id"));
    let hooked = format!("{both}\n[sites.provisioning]\nurl = \"http://127.0.0.1:9/hook\"\n");
    assert_eq!(errors(&hooked), "");
}

#[test]
fn a_callback_path_may_not_shadow_the_gateways_endpoints_or_the_site() {
    for path in ["/_sso/logout", "/_sso/login", "/", "/_SSO/x"] {
        let text = OIDC.replace(
            "client_secret = \"s\"\n",
            &format!("client_secret = \"s\"\ncallback_path = \"{path}\"\n"),
        );
        assert!(errors(&text).contains("would shadow"), "{path}: {}", errors(&text));
    }
}

#[test]
fn an_idp_may_assert_only_the_email_domains_it_is_given() {
    let idp = |extra: &str| {
        format!(
            "[[sites.idps]]\nname = \"acme\"\nissuer = \"http://127.0.0.1:9\"\nclient_id = \"c\"\nclient_secret = \"s\"\n{extra}"
        )
    };
    let parsed = |extra: &str| parse(&site(&idp(extra)), &env).expect("valid").sites[0].idps[0].clone();
    let none = parsed("");
    assert!(!none.may_assert_email("ann@acme.example"), "none by default");
    let listed = parsed("email_domains = [\"Acme.example\"]");
    assert!(listed.may_assert_email("ann@acme.example"));
    assert!(listed.may_assert_email("ann@EU.acme.example"), "subdomains too");
    assert!(!listed.may_assert_email("ann@evilacme.example"));
    assert!(!listed.may_assert_email("ann@acme.example.evil"));
    assert!(!listed.may_assert_email("no-at-sign"));
    assert!(parsed("email_domains = [\"*\"]").may_assert_email("anyone@anywhere.example"));
    for bad in [
        "[\"\"]",
        "[\"localhost\"]",
        "[\".acme.example\"]",
        "[\"a b.example\"]",
        "[\"*\", \"acme.example\"]",
    ] {
        let report = errors(&idp(&format!("email_domains = {bad}\n")));
        assert!(report.contains("email_domains["), "{bad}: {report}");
    }
}
