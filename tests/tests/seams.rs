//! Where features meet (issue 19): four holes that each feature alone did not show,
//! against the real binary, the real IdP and, where it applies, two replicas on one
//! real Redis.
//!
//! 1. A customer id never crosses customer namespaces (`check` refuses the group; the
//!    run-time refusal below it is `cross_site::namespace_tests` in the filters crate).
//! 2. A refresh the IdP refuses ends the shopper's sign-in on every site of the group,
//!    and nothing signs them back in without the IdP.
//! 3. Minting one-time tokens in a loop evicts nobody's pending login or SSO session,
//!    and is rate-limited.
//! 4. A global logout reaches platform-login sites, and starts from them too.

use anyhow::{Context, Result};
use sso_tests::group::{Group, GroupOptions, HOSTS};
use sso_tests::{echo_of, Shopper};
use std::time::Duration;

/// Opens `url` like a person would, signing in as nobody if an IdP form comes.
async fn open(shopper: &Shopper, url: &str) -> Result<sso_tests::client::Landing> {
    shopper.walk(shopper.page(url).await?, "nobody-should-sign-in").await
}

/// The `X-Customer-Id` the origin saw on a landing (`Null` when anonymous).
fn customer(landing: &sso_tests::client::Landing) -> Result<serde_json::Value> {
    Ok(echo_of(&landing.body).with_context(|| format!("{landing:?}"))?["headers"]["x-customer-id"].clone())
}

/// `/_sso/session` at `url` once it says anonymous, or as it is after `wait`.
async fn anonymous_within(shopper: &Shopper, url: &str, wait: Duration) -> Result<bool> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        let s: serde_json::Value = shopper.api(url).await?.json().await?;
        if s["authenticated"] == false {
            return Ok(true);
        }
        if std::time::Instant::now() > deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Signs `login` in on shop-a through the IdP, then lets the first visit to shop-b
/// (on replica B when there is one) sign them in by one-time token.
async fn signed_in_on_a_and_b(group: &Group, shopper: &Shopper, login: &str) -> Result<()> {
    group.ready().await?;
    let a = shopper
        .walk(shopper.page(&group.url("shop-a", "/account")).await?, login)
        .await?;
    anyhow::ensure!(customer(&a)? == login, "signed in on shop-a: {:?}", a.visited);
    let b = open(shopper, &group.url_b("shop-b", "/catalog")).await?;
    anyhow::ensure!(customer(&b)? == login, "signed in on shop-b by OTT: {:?}", b.visited);
    Ok(())
}

// ---------------------------------------------------------------- 1. namespaces

#[test]
fn check_refuses_a_group_whose_sites_mean_other_customers_by_one_id() -> Result<()> {
    let site = |name: &str, extra: &str| {
        format!(
            "[[sites]]\nname = \"{name}\"\nhosts = [\"{name}.example\"]\nupstreams = [\"127.0.0.1:1\"]\n\
             public_url = \"http://{name}.example\"\n[sites.sso]\nmode = \"auto\"\n{extra}\n"
        )
    };
    let merchant = |app: &str, store: &str| {
        format!("[sites.customer_login]\nclient_id = \"{app}\"\nclient_secret = \"${{MERCHANT_SECRET}}\"\nstore_hash = \"{store}\"\n")
    };
    let idp = |port: u16| {
        format!("[sites.oidc]\nissuer = \"http://127.0.0.1:{port}\"\nclient_id = \"c\"\nclient_secret = \"s\"\n")
    };
    let config = |a: &str, b: &str| {
        format!(
            "[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n{}{}[sso]\nauth_host = \"http://auth.example\"\n",
            site("store-a", a),
            site("store-b", b)
        )
    };
    let env = [("MERCHANT_SECRET", "merchant-secret-0123456789abcdef0123")];
    // Two stores, each with its own merchant app: customer 1001 of one is not 1001 of the other.
    let (ok, out) = sso_tests::gateway::check(&config(&merchant("app-a", "aaa"), &merchant("app-b", "bbb")), &env)?;
    assert!(!ok, "{out}");
    for named in ["store-a", "store-b", "app-a/aaa", "app-b/bbb", "[sites.provisioning]"] {
        assert!(out.contains(named), "the error names {named}: {out}");
    }
    // Two sites on two IdPs without a hook: IdP-1's alice is not the outlet's alice.
    let (ok, out) = sso_tests::gateway::check(&config(&idp(9001), &idp(9002)), &env)?;
    assert!(
        !ok && out.contains("127.0.0.1:9001") && out.contains("127.0.0.1:9002"),
        "{out}"
    );
    // One IdP for both, or a hook on each that maps sign-ins into its shop: fine.
    let (ok, out) = sso_tests::gateway::check(&config(&idp(9001), &idp(9001)), &env)?;
    assert!(ok, "{out}");
    let hook = "[sites.provisioning]\nurl = \"http://127.0.0.1:3/hook\"\n";
    let (ok, out) = sso_tests::gateway::check(
        &config(&format!("{}{hook}", idp(9001)), &format!("{}{hook}", idp(9002))),
        &env,
    )?;
    assert!(ok, "{out}");
    Ok(())
}

// ---------------------------------------------------------------- 2. revocation

async fn a_refused_refresh_ends_the_group(redis: bool) -> Result<()> {
    let mut group = Group::start(GroupOptions {
        redis,
        idp_env: &[("ACCESS_TOKEN_TTL", "4")],
        ..GroupOptions::default()
    })?;
    let shopper = Shopper::new(&HOSTS)?;
    signed_in_on_a_and_b(&group, &shopper, "rita").await?;
    // The IdP forgets every grant (as when an account is revoked): the next refresh
    // of shop-a's session is refused.
    group.restart_idp()?;
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let a = shopper.page(&group.url("shop-a", "/account")).await?;
    assert_eq!(
        a.status(),
        303,
        "the refused refresh ended shop-a's session (to the auth host)"
    );
    assert_eq!(
        group
            .a
            .metric("sso_gateway_logins_total{method=\"oidc\",outcome=\"refresh_refused\",site=\"shop-a\"}")
            .await,
        1.0
    );
    // shop-b's session came from the same sign-in: it is gone too, on every replica.
    assert!(
        anonymous_within(
            &shopper,
            &group.url_b("shop-b", "/_sso/session"),
            Duration::from_secs(2)
        )
        .await?,
        "shop-b's one-time-token session outlived the revoked grant"
    );
    // And nothing signs the shopper back in without the IdP: the auth host has no
    // SSO session any more, so a public page stays anonymous and a login route asks
    // the IdP.
    let page = open(&shopper, &group.url_b("shop-b", "/")).await?;
    assert_eq!(customer(&page)?, serde_json::Value::Null, "{:?}", page.visited);
    let account = shopper
        .walk_until(shopper.page(&group.url_b("shop-b", "/account")).await?, "nobody", |u| {
            u.port() == Some(group.idp.port)
        })
        .await?;
    assert_eq!(
        account.url.port(),
        Some(group.idp.port),
        "a login route goes to the IdP: {:?}",
        account.visited
    );
    Ok(())
}

#[tokio::test]
async fn a_refused_refresh_signs_the_shopper_out_of_every_site_of_the_group() -> Result<()> {
    a_refused_refresh_ends_the_group(false).await
}

#[tokio::test]
async fn a_refused_refresh_signs_the_shopper_out_everywhere_on_two_replicas() -> Result<()> {
    a_refused_refresh_ends_the_group(true).await
}

/// The shopper never comes back to shop-a, whose session holds the IdP grant: the
/// session shop-b made from it follows the grant all the same (shop-b refreshes it,
/// being a client of the same IdP), so a revoked account ends there too, and no other
/// shop signs it in by one-time token.
async fn a_revoked_grant_reaches_sites_the_holder_never_visits(redis: bool) -> Result<()> {
    let mut group = Group::start(GroupOptions {
        redis,
        // The default `revalidate_interval` (5 min): shop-b's session is checked when
        // the grant's holder is due (3 s into a 4 s access token), not 5 min later.
        idp_env: &[("ACCESS_TOKEN_TTL", "4")],
        ..GroupOptions::default()
    })?;
    let shopper = Shopper::new(&HOSTS)?;
    signed_in_on_a_and_b(&group, &shopper, "tess").await?;
    group.restart_idp()?;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    // Only shop-b is used from now on.
    let b = shopper.page(&group.url_b("shop-b", "/account")).await?;
    assert_eq!(b.status(), 303, "shop-b's session ended with the revoked grant");
    assert!(
        anonymous_within(&shopper, &group.url("shop-a", "/_sso/session"), Duration::from_secs(2)).await?,
        "and shop-a's, which held it"
    );
    let c = shopper
        .walk_until(
            shopper.page(&group.url("shop-c", "/_sso/login")).await?,
            "nobody",
            |u| u.port() == Some(group.idp.port),
        )
        .await?;
    assert_eq!(
        c.url.port(),
        Some(group.idp.port),
        "no one-click sign-in: {:?}",
        c.visited
    );
    Ok(())
}

#[tokio::test]
async fn a_revoked_grant_reaches_sites_the_holder_never_visits_in_memory() -> Result<()> {
    a_revoked_grant_reaches_sites_the_holder_never_visits(false).await
}

#[tokio::test]
async fn a_revoked_grant_reaches_sites_the_holder_never_visits_on_two_replicas() -> Result<()> {
    a_revoked_grant_reaches_sites_the_holder_never_visits(true).await
}

// ---------------------------------------------------------------- 3. minting floods

async fn minting_floods_evict_nobody(redis: bool) -> Result<()> {
    let group = Group::start(GroupOptions {
        redis,
        sessions: "max_pending_logins = 100",
        ..GroupOptions::default()
    })?;
    group.ready().await?;
    // A shopper half-way through a login: at the IdP, the pending login stored.
    let at_idp = Shopper::from_address(&HOSTS, Some([127, 0, 0, 2].into()))?;
    let idp_port = group.idp.port;
    let started = at_idp
        .walk_until(at_idp.page(&group.url("shop-a", "/account")).await?, "vera", |u| {
            u.port() == Some(idp_port)
        })
        .await?;
    // A shopper signed in on shop-a whose first visit to shop-b is still to come.
    let linked = Shopper::from_address(&HOSTS, Some([127, 0, 0, 3].into()))?;
    let landed = linked
        .walk(linked.page(&group.url("shop-a", "/account")).await?, "walt")
        .await?;
    assert_eq!(customer(&landed)?, "walt");
    // The attacker: signed in, then 1 000 one-time tokens asked in a loop.
    let attacker = Shopper::from_address(&HOSTS, Some([127, 0, 0, 4].into()))?;
    attacker
        .walk(attacker.page(&group.url("shop-a", "/account")).await?, "mallory")
        .await?;
    let mut minted = 0;
    for i in 0..1_000 {
        let state = sso_filters::secret::random_token();
        let site = ["shop-b", "shop-c"][i % 2];
        let r = attacker
            .page(&group.auth_url(&format!(
                "/_sso/link?site={site}&state={state}&intent=check&return_to=%2F"
            )))
            .await?;
        assert_eq!(r.status(), 303);
        if r.headers()["location"].to_str()?.contains("token=") {
            minted += 1;
        }
    }
    assert!(minted <= 60, "rate-limited: {minted} tokens minted of 1 000 asked");
    assert!(
        group
            .a
            .metric("sso_gateway_rate_limited_total{endpoint=\"link\",site=\"auth-host\"}")
            .await
            >= 900.0
    );
    // The login started before the flood finishes.
    let finished = at_idp.walk(at_idp.page(started.url.as_str()).await?, "vera").await?;
    assert_eq!(customer(&finished)?, "vera", "{:?}", finished.visited);
    // The SSO session of the other shopper still signs them in on shop-b (replica B).
    let b = open(&linked, &group.url_b("shop-b", "/catalog")).await?;
    assert_eq!(customer(&b)?, "walt", "{:?}", b.visited);
    Ok(())
}

#[tokio::test]
async fn a_thousand_one_time_token_mints_evict_no_login_and_no_sso_session() -> Result<()> {
    minting_floods_evict_nobody(false).await
}

#[tokio::test]
async fn a_thousand_mints_on_two_replicas_evict_nothing_either() -> Result<()> {
    minting_floods_evict_nobody(true).await
}

// ---------------------------------------------------------------- 4. platform-login logout

const PLATFORM_SECRET: &str = "platform-secret-0123456789abcdef0123";
/// The demo origin's provisioning hook, which every linked site of the group maps its
/// sign-ins with (a platform-login site needs the platform's customer id).
const HOOK: &str = "[sites.provisioning]\nurl = \"http://{origin}/hooks/provision\"\n";
const PLATFORM: &str = "[sites.provisioning]\nurl = \"http://{origin}/hooks/provision\"\n\
     [sites.platform_login]\nclient_id = \"gateway\"\n\
     client_secret = \"platform-secret-0123456789abcdef0123\"\nstore_hash = \"abc123\"\n";

/// Signs in on shop-b (a platform-login site), then on shop-a by one-time token;
/// checks the sign-in on shop-b was handed to the auth host and on to the platform.
async fn signed_in_through_the_platform_site(group: &Group, shopper: &Shopper) -> Result<()> {
    group.ready().await?;
    let b = shopper
        .walk(shopper.page(&group.url("shop-b", "/account")).await?, "pia")
        .await?;
    assert!(
        b.visited.iter().any(|u| u.path() == "/_sso/adopt"),
        "the sign-in on the platform-login site went to the auth host: {:?}",
        b.visited
    );
    let adopted = b.visited.iter().position(|u| u.path() == "/_sso/adopt");
    let handed = b.visited.iter().position(|u| u.path().starts_with("/login/token/"));
    assert!(
        matches!((adopted, handed), (Some(x), Some(y)) if x < y),
        "then to the platform's customer login: {:?}",
        b.visited
    );
    assert_eq!(
        b.url.path(),
        "/account",
        "the platform sent the shopper on: {:?}",
        b.visited
    );
    let on_b = customer(&b)?;
    assert!(on_b.is_string(), "the hook's customer on shop-b: {b:?}");
    let a = open(shopper, &group.url("shop-a", "/catalog")).await?;
    assert_eq!(customer(&a)?, on_b, "one sign-on for the group: {:?}", a.visited);
    Ok(())
}

async fn global_logout_with_a_platform_site(from: &str, other: &str) -> Result<()> {
    let group = Group::start(GroupOptions {
        site_extra: &[("shop-a", HOOK), ("shop-b", PLATFORM), ("shop-c", HOOK)],
        origin_env: &[("PLATFORM_LOGIN_SECRET", PLATFORM_SECRET)],
        ..GroupOptions::default()
    })?;
    let shopper = Shopper::new(&HOSTS)?;
    signed_in_through_the_platform_site(&group, &shopper).await?;
    let out = shopper.page(&group.url(from, "/_sso/logout")).await?;
    assert_eq!(out.status(), 303);
    assert!(
        anonymous_within(&shopper, &group.url(other, "/_sso/session"), Duration::from_secs(1)).await?,
        "a global logout on {from} left {other} signed in"
    );
    // Once the "checked" marker is gone (a new browser day), nothing signs them back in.
    shopper.jar_clear_link_markers(&group.url(other, "/"));
    let page = open(&shopper, &group.url(other, "/")).await?;
    assert_eq!(customer(&page)?, serde_json::Value::Null, "{:?}", page.visited);
    Ok(())
}

#[tokio::test]
async fn a_global_logout_on_a_normal_site_ends_the_platform_login_sites_session() -> Result<()> {
    global_logout_with_a_platform_site("shop-a", "shop-b").await
}

#[tokio::test]
async fn a_global_logout_on_the_platform_login_site_ends_the_normal_one() -> Result<()> {
    global_logout_with_a_platform_site("shop-b", "shop-a").await
}

// ---------------------------------------------------------------- the gateway's own paths

#[tokio::test]
async fn the_gateway_prefix_written_another_way_never_reaches_the_origin() -> Result<()> {
    let group = Group::start(GroupOptions::default())?;
    group.ready().await?;
    let shopper = Shopper::new(&HOSTS)?;
    for path in [
        "/_SSO/ott?token=secret&state=x",
        "/_Sso/handoff?return_to=%2F",
        "/_sso;x=1/ott?token=secret",
    ] {
        let r = shopper.page(&group.url("shop-a", path)).await?;
        assert_eq!(r.status(), 404, "{path}");
        let body = r.text().await?;
        assert!(echo_of(&body).is_err(), "{path} reached the origin: {body}");
    }
    // The origin's own paths that merely start alike still reach it.
    let r = shopper.api(&group.url("shop-a", "/_ssofoo/page")).await?;
    assert_eq!(r.status(), 200);
    assert!(echo_of(&r.text().await?).is_ok());
    Ok(())
}

// ---------------------------------------------------------------- logout links from elsewhere

const MERCHANT_SECRET: &str = "merchant-website-secret-0123456789abcdef";
/// A merchant app on a site that has an IdP too (its sign-ins mapped by the hook).
const MERCHANT: &str = "[sites.provisioning]\nurl = \"http://{origin}/hooks/provision\"\n\
     [sites.customer_login]\nclient_id = \"merchant-site\"\n\
     client_secret = \"merchant-website-secret-0123456789abcdef\"\nstore_hash = \"abc123\"\n";

#[tokio::test]
async fn a_customer_login_logout_link_from_another_site_ends_only_this_sites_session() -> Result<()> {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    let group = Group::start(GroupOptions {
        site_extra: &[("shop-a", MERCHANT), ("shop-b", MERCHANT), ("shop-c", MERCHANT)],
        ..GroupOptions::default()
    })?;
    let shopper = Shopper::new(&HOSTS)?;
    group.ready().await?;
    shopper
        .walk(shopper.page(&group.url("shop-a", "/account")).await?, "vic")
        .await?;
    let b = open(&shopper, &group.url("shop-b", "/catalog")).await?;
    assert!(customer(&b)?.is_string(), "signed in on shop-b: {:?}", b.visited);
    // A merchant token for the attacker's own account that "logs out", opened by the
    // victim's browser from the attacker's page (logout CSRF through a sign-in link).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let claims = serde_json::json!({
        "iss": "merchant-site", "iat": now, "jti": format!("csrf-{now}"),
        "operation": "customer_login", "store_hash": "abc123", "customer_id": 666,
        "redirect_to": "/login.php?action=logout",
    });
    let jwt = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(MERCHANT_SECRET.as_bytes()),
    )?;
    let r = shopper
        .http
        .get(group.url("shop-a", &format!("/login/token/{jwt}")))
        .header("accept", "text/html")
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document")
        .send()
        .await?;
    assert_eq!(r.status(), 303);
    assert!(
        anonymous_within(&shopper, &group.url("shop-a", "/_sso/session"), Duration::ZERO).await?,
        "shop-a's own session ends"
    );
    let s: serde_json::Value = shopper.api(&group.url("shop-b", "/_sso/session")).await?.json().await?;
    assert_eq!(
        s["authenticated"], true,
        "the group's sign-in is not another site's to end: {s}"
    );
    Ok(())
}
