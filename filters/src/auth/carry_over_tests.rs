//! [`SiteAuth::carry_over`]: what a site's auth keeps across a configuration reload.

use super::*;
use crate::store::memory_sessions::MemorySessionStore;

struct NoEvents;
impl AuthEvents for NoEvents {
    fn login(&self, _: &str, _: &str, _: &str) {}
    fn rejected(&self, _: &str, _: &str) {}
    fn session_lookup(&self, _: &'static str) {}
    fn idp_call(&self, _: &str, _: &str, _: f64, _: bool) {}
}

fn auth(config: &Config, stores: &Stores, provider: Option<Arc<OidcProvider>>) -> SiteAuth {
    SiteAuth::from_config(config, &config.sites[0], stores, provider, Arc::new(NoEvents)).expect("auth")
}

#[tokio::test]
async fn a_reload_keeps_a_generated_key_and_the_pending_logins() {
    let config = sso_config::parse(
        "[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n[[sites]]\nname = \"shop\"\n\
         hosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\npublic_url = \"http://shop.localhost\"\n\
         [sites.oidc]\nissuer = \"http://127.0.0.1:9\"\nclient_id = \"c\"\nclient_secret = \"s\"\n",
        &|_| None,
    )
    .expect("config");
    let site = &config.sites[0];
    let provider = Arc::new(OidcProvider::from_config(site, site.oidc.as_ref().expect("oidc")).expect("provider"));
    let stores = Stores::memory(MemorySessionStore::new(Duration::from_secs(60), 10), 100);
    let old = auth(&config, &stores, Some(provider.clone()));
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

    let pending = |a: &SiteAuth| a.idps.only().map(|i| i.flow.pending.clone()).expect("flow");
    let started = crate::oidc::pending::PendingLogin {
        nonce: openidconnect::Nonce::new_random(),
        pkce_verifier: openidconnect::PkceCodeVerifier::new("v".repeat(43)),
        return_to: "/".into(),
        binding_hash: [1; 32],
        created_at: crate::sessions::now_secs(),
        idp: None,
        step_up: None,
    };
    pending(&old).insert("state-1", started).await.expect("stored");

    let mut new = auth(&config, &stores, Some(provider));
    assert_ne!(new.signer.kid, old.signer.kid, "a fresh key before carrying over");
    new.carry_over(&old);
    assert_eq!(new.signer.kid, old.signer.kid);
    assert!(new.tokens.verify_api(&token).is_ok(), "tokens handed out still verify");
    assert!(
        pending(&new).take("state-1").await.expect("store").is_some(),
        "a login started before the reload finishes after it"
    );
}
