//! A session made from a one-time token lives only as long as its SSO session: the
//! revalidation the lifecycle asks of the cross-site feature ends it once the SSO
//! session is gone, even when no link led there (a link lost to a full set, a store
//! hiccup).

use crate::auth::{Identity, Via};
use crate::cross_site::records::SsoSession;
use crate::features::SitePipeline;
use crate::identity::Customer;
use crate::secret::Sid;
use crate::sessions::{now_secs, LoginMethod, LoginSource, RefreshState};
use crate::store::memory_sessions::MemorySessionStore;
use crate::store::Stores;
use std::sync::Arc;
use std::time::Duration;

const MERCHANT: &str = "[sites.customer_login]\nclient_id = \"app\"\nclient_secret = \"merchant-secret-0123456789abcdef0123\"\nstore_hash = \"s\"\n";

fn pipeline(stores: &Stores) -> SitePipeline {
    let site = |name: &str| {
        format!(
            "[[sites]]\nname = \"{name}\"\nhosts = [\"{name}.example\"]\nupstreams = [\"127.0.0.1:1\"]\n\
             public_url = \"http://{name}.example\"\n[sites.sso]\nmode = \"auto\"\n{MERCHANT}\n"
        )
    };
    let text = format!(
        "[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n{}{}[sso]\nauth_host = \"http://auth.example\"\n",
        site("shop-a"),
        site("shop-b")
    );
    let config = match sso_config::parse(&text, &|_| None) {
        Ok(c) => c,
        Err(e) => panic!("a valid group: {e}"),
    };
    let events: Arc<dyn crate::events::AuthEvents> = Arc::new(NoEvents);
    match SitePipeline::from_config(&config, &config.sites[1], stores, None, events) {
        Ok(p) => p,
        Err(e) => panic!("the pipeline: {e}"),
    }
}

struct NoEvents;
impl crate::events::AuthEvents for NoEvents {
    fn login(&self, _: &str, _: &'static str, _: &str) {}
    fn rejected(&self, _: &str, _: &str) {}
    fn session_lookup(&self, _: &'static str) {}
    fn idp_call(&self, _: &str, _: &str, _: f64, _: bool) {}
}

#[tokio::test]
async fn a_session_made_from_a_one_time_token_ends_with_its_sso_session() {
    let stores = Stores::memory(MemorySessionStore::new(Duration::from_secs(600), 10), 100);
    let site = pipeline(&stores);
    let group = &site.features.cross_site.as_ref().expect("linked").group;
    let record = SsoSession {
        customer_id: "1001".into(),
        email: None,
        name: None,
        groups: vec![],
        method: LoginMethod::CustomerLogin.as_u8(),
        issuer: None,
        subject: "1001".into(),
        idp_session: None,
        origin_site: "shop-a".into(),
        created_at: 0,
        expires_at: 0,
    };
    let (_, handle) = group.create(record).await.expect("SSO session");
    let login = LoginSource {
        method: LoginMethod::Ott,
        ..LoginSource::oidc("1001")
    };
    let customer = Customer {
        id: "1001".into(),
        ..Customer::default()
    };
    let mut data = site
        .core
        .new_session_data(customer, login)
        .linked_to(Some(handle.clone()));
    // Due now (a revalidation interval has passed).
    data.refresh = RefreshState::from_stored(None, now_secs().saturating_sub(1), 60);
    let id = stores.sessions.create(data).await.expect("stored");
    let sid = Sid::of(&id);
    let identity = |session| Identity {
        session,
        sid,
        via: Via::Cookie,
        renewed_cookie: None,
    };
    let live = stores.sessions.get(&sid).await.expect("read").expect("live");
    let kept = site
        .refresh_if_due(identity(live))
        .await
        .expect("the SSO session lives: kept");
    assert!(
        !kept.session.refresh.is_due(now_secs()),
        "checked again only after the interval"
    );

    // The SSO session ends, and this session was never linked to it (no link to follow).
    group.end(&handle).await.expect("ended");
    let session = stores.sessions.get(&sid).await.expect("read").expect("still stored");
    session.refresh.retry_in(0);
    let due = RefreshState::from_stored(None, now_secs().saturating_sub(1), 60);
    assert!(due.is_due(now_secs()));
    let stale = Arc::new(crate::sessions::SessionData {
        refresh: due,
        ..clone_data(&session)
    });
    assert!(
        site.refresh_if_due(identity(stale)).await.is_none(),
        "ended with its source"
    );
    assert!(
        stores.sessions.get(&sid).await.expect("read").is_none(),
        "and gone from the store"
    );
}

/// A copy of a session's stored fields (the per-process caches start empty).
fn clone_data(s: &crate::sessions::SessionData) -> crate::sessions::SessionData {
    crate::sessions::SessionData::new(s.site.clone(), s.customer.clone(), None, RefreshState::default(), 60)
        .with_login(s.login.clone())
        .linked_to(s.sso.clone())
}
