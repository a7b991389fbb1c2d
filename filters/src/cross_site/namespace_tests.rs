//! The run-time namespace rule of a redemption, below the `check` that refuses such a
//! group: two replicas whose configurations differ (a roll-out moving shop-b to
//! another IdP) must still never hand shop-a's customer id to shop-b as its own.

use super::group::{OttError, SsoGroup};
use super::records::SsoSession;
use crate::sessions::LoginMethod;
use crate::store::memory_sessions::MemorySessionStore;
use crate::store::Stores;
use std::time::Duration;

const IDP_1: &str = "[sites.oidc]\nissuer = \"http://127.0.0.1:9001\"\nclient_id = \"c\"\nclient_secret = \"s\"\n";
const IDP_2: &str = "[sites.oidc]\nissuer = \"http://127.0.0.1:9002\"\nclient_id = \"c\"\nclient_secret = \"s\"\n";
const APP_A: &str = "[sites.customer_login]\nclient_id = \"app-a\"\nclient_secret = \"merchant-secret-0123456789abcdef0123\"\nstore_hash = \"aaa\"\n";
const APP_B: &str = "[sites.customer_login]\nclient_id = \"app-b\"\nclient_secret = \"merchant-secret-0123456789abcdef0123\"\nstore_hash = \"bbb\"\n";
const HOOK: &str = "[sites.provisioning]\nurl = \"http://127.0.0.1:3/hook\"\n";

/// A group of `shop-a` and `shop-b` with these extra sections.
fn config(a: &str, b: &str) -> sso_config::Config {
    let site = |name: &str, extra: &str| {
        format!(
            "[[sites]]\nname = \"{name}\"\nhosts = [\"{name}.example\"]\nupstreams = [\"127.0.0.1:1\"]\n\
             public_url = \"http://{name}.example\"\n[sites.sso]\nmode = \"auto\"\n{extra}\n"
        )
    };
    let text = format!(
        "[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n{}{}[sso]\nauth_host = \"http://auth.example\"\n",
        site("shop-a", a),
        site("shop-b", b)
    );
    match sso_config::parse(&text, &|_| None) {
        Ok(c) => c,
        Err(e) => panic!("a valid group: {e}"),
    }
}

fn group(config: &sso_config::Config) -> SsoGroup {
    let stores = Stores::memory(MemorySessionStore::new(Duration::from_secs(60), 10), 100);
    SsoGroup::from_config(config, &stores).expect("the group")
}

fn site<'a>(config: &'a sso_config::Config, name: &str) -> &'a sso_config::SiteConfig {
    config.sites.iter().find(|s| s.name == name).expect("the site")
}

fn signed_in_on_a(method: LoginMethod, issuer: Option<&str>) -> SsoSession {
    SsoSession {
        customer_id: "1001".into(),
        email: None,
        name: None,
        groups: vec![],
        method: method.as_u8(),
        issuer: issuer.map(str::to_string),
        subject: "1001".into(),
        idp_session: None,
        origin_site: "shop-a".into(),
        created_at: 0,
        expires_at: u64::MAX,
    }
}

#[test]
fn an_idp_subject_reaches_only_a_site_of_the_same_idp() {
    // This replica's configuration: both shops on IdP 1.
    let here = config(IDP_1, IDP_1);
    let g = group(&here);
    let sso = signed_in_on_a(LoginMethod::Oidc, Some("http://127.0.0.1:9001/"));
    assert_eq!(
        g.namespace_for(site(&here, "shop-b"), g.id_namespace(&sso)),
        Ok("oidc:http://127.0.0.1:9001/".to_string())
    );
    // Another replica already moved shop-b to IdP 2: IdP 1's "1001" is not its "1001".
    let moved = config(IDP_2, IDP_2);
    assert_eq!(
        g.namespace_for(site(&moved, "shop-b"), g.id_namespace(&sso)),
        Err(OttError::OtherNamespace)
    );
}

#[test]
fn a_merchant_apps_customer_id_reaches_only_the_same_store() {
    let here = config(APP_A, APP_A);
    let g = group(&here);
    let sso = signed_in_on_a(LoginMethod::CustomerLogin, None);
    assert_eq!(
        g.namespace_for(site(&here, "shop-b"), g.id_namespace(&sso)),
        Ok("customer_login:app-a/aaa".to_string())
    );
    let other_store = config(APP_B, APP_B);
    assert_eq!(
        g.namespace_for(site(&other_store, "shop-b"), g.id_namespace(&sso)),
        Err(OttError::OtherNamespace)
    );
    // Nor an IdP site, nor an SSO session whose origin this replica does not know.
    assert_eq!(
        g.namespace_for(site(&config(IDP_1, IDP_1), "shop-b"), g.id_namespace(&sso)),
        Err(OttError::OtherNamespace)
    );
    let unknown = SsoSession {
        origin_site: "gone".into(),
        ..sso
    };
    assert_eq!(
        g.namespace_for(site(&here, "shop-b"), g.id_namespace(&unknown)),
        Err(OttError::OtherNamespace)
    );
}

#[test]
fn a_hooked_origins_shop_id_is_of_the_hooks_namespace() {
    // shop-a maps IdP sign-ins with its hook: its customer ids are the hook's.
    let here = config(&format!("{IDP_1}{HOOK}"), &format!("{IDP_1}{HOOK}"));
    let g = group(&here);
    let sso = signed_in_on_a(LoginMethod::Oidc, Some("http://127.0.0.1:9001/"));
    assert_eq!(g.id_namespace(&sso).as_deref(), Some("hook:http://127.0.0.1:3/hook"));
    // A site without a hook that knows only IdP 1's subjects must not take a shop id.
    let plain = config(IDP_1, IDP_1);
    assert_eq!(
        g.namespace_for(site(&plain, "shop-b"), g.id_namespace(&sso)),
        Err(OttError::OtherNamespace)
    );
}
