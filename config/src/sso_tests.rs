use crate::parse;
use crate::sso::{LogoutScope, SsoMode};
use std::time::Duration;

/// A configuration with one site (`site_sso` in its table) and `top` at the end.
fn config(site_sso: &str, top: &str) -> Result<crate::Config, String> {
    let text = format!(
        r#"
[server]
trusted_proxies = ["10.0.0.1/32"]
[sessions]
cookie_secret = "0123456789abcdef0123456789abcdef"
[[sites]]
name = "shop-a"
hosts = ["shop-a.example"]
upstreams = ["127.0.0.1:1"]
public_url = "https://shop-a.example"
{site_sso}
{top}
"#
    );
    parse(&text, &|_| None).map_err(|e| e.to_string())
}

#[test]
fn a_linked_site_and_the_group_read_with_their_defaults() {
    let c = config(
        "[sites.sso]\nmode = \"auto\"",
        "[sso]\nauth_host = \"auth.shops.example\"",
    )
    .expect("valid");
    let sso = c.sso.expect("[sso]");
    assert_eq!(sso.auth_url.as_str(), "https://auth.shops.example/");
    assert_eq!(sso.authority(), "auth.shops.example");
    assert!(sso.is_https());
    assert_eq!(sso.cookie_name, "sso_group");
    assert_eq!(sso.ott_ttl, Duration::from_secs(60));
    assert_eq!(sso.session_ttl, Duration::from_secs(12 * 3600));
    assert_eq!(c.sites[0].sso.mode, SsoMode::Auto);
    assert_eq!(c.sites[0].sso.logout_scope, LogoutScope::Global);
    let local = config(
        "[sites.sso]\nmode = \"opt_in\"\nlogout_scope = \"site\"",
        "[sso]\nauth_host = \"http://auth.localhost:8080\"\ncookie_name = \"__Host-grp\"",
    )
    .expect("valid");
    let sso = local.sso.expect("[sso]");
    assert_eq!(sso.authority(), "auth.localhost:8080");
    assert_eq!(sso.cookie_name, "grp", "__Host- is the gateway's to add");
    assert_eq!(local.sites[0].sso.logout_scope, LogoutScope::Site);
    let plain = config("", "").expect("valid");
    assert!(plain.sso.is_none());
    assert_eq!(plain.sites[0].sso.mode, SsoMode::Disabled, "disabled by default");
}

#[test]
fn bad_group_settings_are_refused_by_key() {
    for (site_sso, top, key) in [
        ("[sites.sso]\nmode = \"auto\"", "", "sites[0].sso.mode"),
        ("[sites.sso]\nmode = \"always\"", "", "sites[0].sso.mode"),
        ("[sites.sso]\nlogout_scope = \"all\"", "", "sites[0].sso.logout_scope"),
        ("", "[sso]\ncookie_name = \"x\"", "sso.auth_host"),
        ("", "[sso]\nauth_host = \"https://auth.example/path\"", "sso.auth_host"),
        ("", "[sso]\nauth_host = \"ftp://auth.example\"", "sso.auth_host"),
        ("", "[sso]\nauth_host = \"shop-a.example\"", "sso.auth_host"),
        ("", "[sso]\nauth_host = \"a.example\"\nott_ttl = \"10m\"", "sso.ott_ttl"),
        ("", "[sso]\nauth_host = \"a.example\"\nott_ttl = \"1s\"", "sso.ott_ttl"),
        (
            "",
            "[sso]\nauth_host = \"a.example\"\nsession_ttl = \"365d\"",
            "sso.session_ttl",
        ),
        (
            "",
            "[sso]\nauth_host = \"a.example\"\ncookie_name = \"a b\"",
            "sso.cookie_name",
        ),
        ("", "[sso]\nauth_host = \"a.example\"\nunknown = 1", "unknown"),
    ] {
        let err = config(site_sso, top).err().unwrap_or_default();
        assert!(err.contains(key), "{site_sso:?} {top:?}: {err}");
    }
}

/// Two linked sites, `a` and `b`, with these extra sections each.
fn group(a: &str, b: &str) -> Result<crate::Config, String> {
    let site = |name: &str, extra: &str| {
        format!(
            "[[sites]]\nname = \"{name}\"\nhosts = [\"{name}.example\"]\nupstreams = [\"127.0.0.1:1\"]\n\
             public_url = \"http://{name}.example\"\n[sites.sso]\nmode = \"auto\"\n{extra}\n"
        )
    };
    let text = format!(
        "[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n{}{}[sso]\nauth_host = \"http://auth.example\"\n",
        site("a", a),
        site("b", b)
    );
    parse(&text, &|_| Some("merchant-secret-0123456789abcdef0123".into())).map_err(|e| e.to_string())
}

const IDP: &str = "[sites.oidc]\nissuer = \"http://127.0.0.1:9\"\nclient_id = \"c\"\nclient_secret = \"s\"\n";
const HOOK: &str = "[sites.provisioning]\nurl = \"http://127.0.0.1:3/hook\"\n";
const MERCHANT: &str = "[sites.customer_login]\nclient_id = \"m\"\nclient_secret = \"${S}\"\nstore_hash = \"x\"\n";

#[test]
fn linked_sites_must_mean_the_same_customers_by_an_id() {
    assert!(group(IDP, IDP).is_ok(), "IdP subjects everywhere");
    assert!(
        group(&format!("{IDP}{HOOK}"), &format!("{IDP}{HOOK}")).is_ok(),
        "hooks everywhere"
    );
    assert!(
        group(&format!("{IDP}{HOOK}"), "").is_ok(),
        "a site without a sign-in of its own"
    );
    let err = group(&format!("{IDP}{HOOK}"), IDP).err().unwrap_or_default();
    assert!(
        err.contains("sites[1].sso.mode") && err.contains("provisioning"),
        "{err}"
    );
    let err = group(MERCHANT, IDP).err().unwrap_or_default();
    assert!(
        err.contains("sites[0].sso.mode") && err.contains("customer-login"),
        "{err}"
    );
    assert!(group(&format!("{MERCHANT}{HOOK}"), &format!("{IDP}{HOOK}")).is_ok());
}

#[test]
fn ids_of_two_merchants_or_two_idps_never_meet_under_one_id() {
    const MERCHANT_B: &str =
        "[sites.customer_login]\nclient_id = \"other-app\"\nclient_secret = \"${S}\"\nstore_hash = \"y\"\n";
    const IDP_B: &str = "[sites.oidc]\nissuer = \"http://127.0.0.1:8\"\nclient_id = \"c\"\nclient_secret = \"s\"\n";
    // Two stores, each signing its customers in with its own merchant app.
    let err = group(MERCHANT, MERCHANT_B).err().unwrap_or_default();
    for named in ["sites[0] (a)", "sites[1] (b)", "m/x", "other-app/y", "provisioning"] {
        assert!(err.contains(named), "{named}: {err}");
    }
    assert!(
        group(MERCHANT, MERCHANT).is_ok(),
        "one merchant app, one store: one namespace"
    );
    // Two sites on two IdPs, no hook: IdP-1's alice is not the outlet's alice.
    let err = group(IDP, IDP_B).err().unwrap_or_default();
    for named in [
        "sites[0].sso.mode",
        "sites[1].sso.mode",
        "http://127.0.0.1:9",
        "http://127.0.0.1:8",
    ] {
        assert!(err.contains(named), "{named}: {err}");
    }
    // A hook on each site maps each sign-in into that shop's customers.
    assert!(group(&format!("{IDP}{HOOK}"), &format!("{IDP_B}{HOOK}")).is_ok());
    // A site that signs nobody in itself cannot take ids of two namespaces.
    let text = |extra_c: &str| {
        format!(
            "[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n\
             [[sites]]\nname = \"a\"\nhosts = [\"a.example\"]\nupstreams = [\"127.0.0.1:1\"]\npublic_url = \"http://a.example\"\n\
             [sites.sso]\nmode = \"auto\"\n{IDP}{HOOK}\
             [[sites]]\nname = \"b\"\nhosts = [\"b.example\"]\nupstreams = [\"127.0.0.1:1\"]\npublic_url = \"http://b.example\"\n\
             [sites.sso]\nmode = \"auto\"\n{IDP_B}[sites.provisioning]\nurl = \"http://127.0.0.1:4/other-hook\"\n\
             [[sites]]\nname = \"c\"\nhosts = [\"c.example\"]\nupstreams = [\"127.0.0.1:1\"]\npublic_url = \"http://c.example\"\n\
             [sites.sso]\nmode = \"auto\"\n{extra_c}\n[sso]\nauth_host = \"http://auth.example\"\n"
        )
    };
    let err = parse(&text(""), &|_| None)
        .map_err(|e| e.to_string())
        .err()
        .unwrap_or_default();
    assert!(
        err.contains("sites[2].sso.mode") && err.contains("sites[0] (a)") && err.contains("sites[1] (b)"),
        "{err}"
    );
}

#[test]
fn a_named_idps_ids_are_not_the_same_idps_subjects() {
    // `[[sites.idps]]` without a hook gives ids `acme:<subject>`; the same IdP as a
    // site's single `[sites.oidc]` gives `<subject>`: an attacker whose subject is
    // `acme:alice` would be the victim `acme:alice` on the other shop.
    let named =
        "[[sites.idps]]\nname = \"acme\"\nissuer = \"http://127.0.0.1:9\"\nclient_id = \"c\"\nclient_secret = \"s\"\n";
    let err = group(named, IDP).err().unwrap_or_default();
    assert!(
        err.contains("sites[0].sso.mode") && err.contains("sites[1].sso.mode"),
        "{err}"
    );
    assert!(err.contains("acme"), "{err}");
    assert!(group(named, named).is_ok(), "one named IdP on both");
}
