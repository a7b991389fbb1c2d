//! [`Idps`]: which IdP a login, a callback, a refresh and a logout go to.

use super::*;
use crate::identity::Customer;
use crate::sessions::{LoginMethod, LoginSource, RefreshState};
use crate::store::memory_sessions::MemorySessionStore;

struct NoEvents;
impl AuthEvents for NoEvents {
    fn login(&self, _: &str, _: &str, _: &str) {}
    fn rejected(&self, _: &str, _: &str) {}
    fn session_lookup(&self, _: &'static str) {}
    fn idp_call(&self, _: &str, _: &str, _: f64, _: bool) {}
}

/// A site's auth with these IdP tables (`[sites.oidc]` or `[[sites.idps]]`).
fn auth(idps: &str) -> SiteAuth {
    let config = sso_config::parse(
        &format!(
            "[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n[[sites]]\nname = \"shop\"\n\
             hosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\npublic_url = \"http://shop.localhost\"\n{idps}"
        ),
        &|_| None,
    )
    .expect("config");
    let site = &config.sites[0];
    let providers: Vec<_> = site
        .identity_providers()
        .into_iter()
        .map(|(name, oidc)| Arc::new(OidcProvider::for_idp(site, name, oidc).expect("provider")))
        .collect();
    let stores = Stores::memory(MemorySessionStore::new(Duration::from_secs(60), 10), 100);
    SiteAuth::from_config(&config, site, &stores, providers, Arc::new(NoEvents)).expect("auth")
}

fn idp(name: &str) -> String {
    format!(
        "[[sites.idps]]\nname = \"{name}\"\ndisplay_name = \"{name} Inc\"\nissuer = \"http://127.0.0.1:9\"\n\
         client_id = \"c\"\nclient_secret = \"s\"\nlogout_url = \"https://{name}.example/logout\"\n"
    )
}

fn session(method: LoginMethod, idp: Option<&str>) -> SessionData {
    let customer = Customer {
        id: "alice".into(),
        email: None,
        name: None,
        groups: Vec::new(),
    };
    SessionData::new(
        "shop".into(),
        customer,
        None,
        RefreshState::new(None, None, Duration::ZERO),
        60,
    )
    .with_login(LoginSource {
        method,
        idp: idp.map(str::to_string),
        ..LoginSource::oidc("alice")
    })
}

#[test]
fn several_idps_are_found_by_organisation_callback_and_session() {
    let auth = auth(&(idp("acme") + &idp("globex")));
    let idps = &auth.idps;
    assert!(idps.only().is_none());
    assert_eq!(idps.choices(), vec![("acme", "acme Inc"), ("globex", "globex Inc")]);
    for typed in ["globex", " Globex ", "GLOBEX"] {
        assert_eq!(idps.by_name(typed).and_then(Idp::name), Some("globex"), "{typed:?}");
    }
    for unknown in ["", "glob", "globex2", "initech", "acme globex"] {
        assert!(idps.by_name(unknown).is_none(), "{unknown:?}");
    }
    assert_eq!(
        idps.by_callback("/login/sso/callback/acme").and_then(Idp::name),
        Some("acme")
    );
    assert!(idps.by_callback("/login/sso/callback").is_none());
    assert!(
        idps.by_callback("/login/sso/callback/ACME").is_none(),
        "paths are exact"
    );

    let globex = session(LoginMethod::Oidc, Some("globex"));
    assert_eq!(idps.of_session(&globex).and_then(Idp::name), Some("globex"));
    assert_eq!(idps.for_logout(Some(&globex)).and_then(Idp::name), Some("globex"));
    // An IdP the site no longer has, or a session without an IdP, goes to none of them.
    for orphan in [
        session(LoginMethod::Oidc, Some("initech")),
        session(LoginMethod::Oidc, None),
    ] {
        assert!(idps.of_session(&orphan).is_none());
        assert!(idps.for_logout(Some(&orphan)).is_none());
    }
    assert!(idps.of_session(&session(LoginMethod::CustomerLogin, None)).is_none());
    assert!(idps.for_logout(None).is_none(), "no session: no IdP to choose");
}

#[test]
fn a_single_oidc_site_behaves_as_before() {
    let auth = auth("[sites.oidc]\nissuer = \"http://127.0.0.1:9\"\nclient_id = \"c\"\nclient_secret = \"s\"\n");
    let idps = &auth.idps;
    let only = idps.only().expect("one IdP");
    assert_eq!(only.name(), None);
    assert!(idps.choices().is_empty());
    assert!(idps.by_name("anything").is_none());
    assert!(idps.by_callback("/login/sso/callback").is_some());
    let signed_in = session(LoginMethod::Oidc, None);
    assert!(idps.of_session(&signed_in).is_some());
    assert!(idps.for_logout(Some(&signed_in)).is_some());
    assert!(
        idps.for_logout(None).is_some(),
        "anonymous logout still reaches the IdP"
    );
    assert!(idps
        .for_logout(Some(&session(LoginMethod::CustomerLogin, None)))
        .is_some());
    assert!(idps.of_session(&session(LoginMethod::Oidc, Some("acme"))).is_none());
}

#[test]
fn a_session_belongs_to_its_idp_by_name_and_issuer() {
    let auth = auth(&(idp("acme") + &idp("globex")));
    let with_issuer = |issuer: &str| {
        let s = session(LoginMethod::Oidc, Some("acme"));
        let login = LoginSource {
            issuer: Some(issuer.to_string()),
            idp_session: None,
            ..s.login.clone()
        };
        s.with_login(login)
    };
    let same = with_issuer(
        auth.idps
            .by_name("acme")
            .map_or("", |i| i.flow.provider.config.issuer.as_str()),
    );
    assert_eq!(auth.idps.of_session(&same).and_then(Idp::name), Some("acme"));
    // The name now points at another issuer (a reload repointed it): not this IdP's
    // session, so its refresh token and logout never go there.
    let repointed = with_issuer("https://login.evil.example/");
    assert!(auth.idps.of_session(&repointed).is_none());
    assert!(auth.idps.for_logout(Some(&repointed)).is_none());
}
