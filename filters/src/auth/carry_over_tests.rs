//! [`SiteAuth::carry_over`]: what a site's auth keeps across a configuration reload.

use super::*;
use crate::sessions::memory::MemorySessionStore;

struct NoEvents;
impl AuthEvents for NoEvents {
    fn login(&self, _: &str, _: &str) {}
    fn rejected(&self, _: &str, _: &str) {}
    fn session_lookup(&self, _: &'static str) {}
    fn idp_call(&self, _: &str, _: &str, _: f64) {}
}

fn auth(config: &Config, provider: Option<Arc<OidcProvider>>) -> SiteAuth {
    let store: Arc<dyn SessionStore> = Arc::new(MemorySessionStore::new(Duration::from_secs(60), 10));
    SiteAuth::from_config(config, &config.sites[0], store, provider, Arc::new(NoEvents)).expect("auth")
}

#[test]
fn a_reload_keeps_a_generated_key_and_the_pending_logins_of_the_same_provider() {
    let config = sso_config::parse(
        "[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n[[sites]]\nname = \"shop\"\n\
         hosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\npublic_url = \"http://shop.localhost\"\n\
         [sites.oidc]\nissuer = \"http://127.0.0.1:9\"\nclient_id = \"c\"\nclient_secret = \"s\"\n",
        &|_| None,
    )
    .expect("config");
    let site = &config.sites[0];
    let provider = Arc::new(OidcProvider::from_config(site, site.oidc.as_ref().expect("oidc")).expect("provider"));
    let old = auth(&config, Some(provider.clone()));
    let session = SessionData::new(
        "shop".into(),
        Customer {
            id: "alice".into(),
            ..Customer::default()
        },
        None,
        Default::default(),
        600,
    );
    let sid = Sid::of(&SessionId::random());
    let (token, _) = old
        .tokens
        .mint(
            crate::tokens::TokenPurpose::Api,
            &session,
            &sid,
            crate::sessions::now_secs(),
        )
        .expect("mint");

    let mut new = auth(&config, Some(provider.clone()));
    assert_ne!(new.signer.kid, old.signer.kid, "a fresh key before carrying over");
    new.carry_over(&old, true);
    assert_eq!(new.signer.kid, old.signer.kid);
    assert!(new.tokens.verify_api(&token).is_ok(), "tokens handed out still verify");
    let pending = |a: &SiteAuth| a.flow.as_ref().map(|f| f.pending.clone()).expect("flow");
    assert!(Arc::ptr_eq(&pending(&new), &pending(&old)));

    let other = Arc::new(OidcProvider::from_config(site, site.oidc.as_ref().expect("oidc")).expect("provider"));
    let mut changed_idp = auth(&config, Some(other));
    changed_idp.carry_over(&old, true);
    assert!(
        !Arc::ptr_eq(&pending(&changed_idp), &pending(&old)),
        "another IdP: no pending logins"
    );
    let mut new_bound = auth(&config, Some(provider));
    new_bound.carry_over(&old, false);
    assert!(!Arc::ptr_eq(&pending(&new_bound), &pending(&old)));
}
