//! Issue 21 §1: whoever reads Redis (or its backup) learns no credential or personal
//! data. After sign-ins with refresh tokens on two replicas, every key, value and
//! `DUMP` under the gateway's prefix is free of the refresh tokens, the IdP access
//! tokens, the e-mail addresses and the customer ids.

use sso_filters::secret::Sid;
use sso_filters::store::{record, seal};
use sso_tests::replicas::{ReplicaOptions, Replicas};
use sso_tests::{echo_of, Shopper, COOKIE_SECRET};

/// A route that forwards the IdP access token, so the test learns it from the origin.
const FORWARDING: &str =
    "[[sites.routes]]\nprefix = \"/account/idp\"\naccess = \"login\"\nforward_idp_access_token = true\n";

#[tokio::test]
async fn redis_holds_no_token_email_or_customer_id_in_clear() {
    let r = Replicas::start(ReplicaOptions {
        site: FORWARDING,
        ..ReplicaOptions::default()
    })
    .expect("replicas");
    r.ready().await.expect("ready");
    let mut needles: Vec<(String, String)> = Vec::new();
    for (name, start_on_a) in [("rosalind-at-rest", true), ("tiberius-at-rest", false)] {
        let shopper = Shopper::new(&["shop"]).expect("client");
        let url = |p: &str| if start_on_a { r.url_a(p) } else { r.url_b(p) };
        let start = shopper.page(&url("/account")).await.expect("start");
        let landing = shopper.walk(start, name).await.expect("walk");
        assert_eq!(landing.status, 200, "{landing:?}");
        let resp = shopper.api(&url("/account/idp")).await.expect("forwarding route");
        assert_eq!(resp.status(), 200);
        let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
        let header = |h: &str| echo["headers"][h].as_str().map(str::to_string);
        let access = header("authorization")
            .and_then(|a| a.strip_prefix("Bearer ").map(str::to_string))
            .expect("the IdP access token reached the origin");
        assert_eq!(header("x-customer-id").as_deref(), Some(name));
        let email = header("x-customer-email").expect("an e-mail");
        needles.push(("access token".into(), access));
        needles.push(("e-mail".into(), email));
        needles.push(("customer id".into(), name.to_string()));
    }

    let held = sso_tests::redis_scan::everything(&r.redis.url, &r.prefix)
        .await
        .expect("scan");
    // The refresh tokens are in the records (opened here with the cookie secret, as
    // only the gateway can): the test knows what to look for.
    let ring = seal::Seal::from_secret(&sso_config::Secret::new(COOKIE_SECRET));
    let session_prefix = format!("{}:session:", r.prefix);
    let mut sessions = 0;
    for h in &held {
        let Some(sid) = h.key.strip_prefix(&session_prefix).and_then(Sid::parse) else {
            continue;
        };
        let stored = h.values.first().expect("a session record");
        assert_eq!(stored.first(), Some(&seal::FORMAT), "{}: not encrypted", h.key);
        let (data, stale) = record::open(&ring, &sid, stored).expect("the gateway's record opens");
        assert!(!stale);
        let refresh = data.refresh.token().expect("a refresh token is kept");
        needles.push(("refresh token".into(), refresh.expose().to_string()));
        sessions += 1;
    }
    assert_eq!(
        sessions,
        2,
        "keys: {:?}",
        held.iter().map(|h| &h.key).collect::<Vec<_>>()
    );
    for h in &held {
        for (what, needle) in &needles {
            assert!(
                !h.contains(needle.as_bytes()),
                "{what} {needle:?} in clear under {}",
                h.key
            );
        }
    }
}
