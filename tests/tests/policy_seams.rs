//! Where route policies meet cross-site sign-on (issue 20): a shopper signed in on
//! shop-a by the real IdP reaches shop-b by one-time token with the groups, claims and
//! sign-in time of that sign-in; a step-up on one site keeps the group's SSO session,
//! so the other sites stay signed in and a global logout still ends them all.

use anyhow::{Context, Result};
use sso_tests::group::{Group, GroupOptions, HOSTS};
use sso_tests::{echo_of, Shopper};
use std::time::Duration;

const SCOPES: &str = "scopes = [\"openid\", \"email\", \"profile\", \"groups\"]\nrevalidate_interval = \"1s\"";

const SHOP_B_POLICIES: &str =
    "[[sites.routes]]\nprefix = \"/wholesale\"\naccess = \"login\"\nrequire_groups = [\"wholesale\"]\n\
    [[sites.routes]]\nprefix = \"/sales\"\naccess = \"login\"\nrequire_claims = { department = [\"sales\"] }\n\
    [[sites.routes]]\nprefix = \"/ops\"\naccess = \"login\"\nrequire_claims = { department = [\"ops\"] }\n";

const SHOP_A_STEP_UP: &str = "[[sites.routes]]\nprefix = \"/checkout\"\naccess = \"login\"\nmax_auth_age = \"1s\"\n";

fn headers(landing: &sso_tests::client::Landing) -> Result<serde_json::Value> {
    Ok(echo_of(&landing.body).with_context(|| format!("{landing:?}"))?["headers"].clone())
}

async fn open(shopper: &Shopper, url: &str) -> Result<sso_tests::client::Landing> {
    shopper.walk(shopper.page(url).await?, "nobody-should-sign-in").await
}

#[tokio::test]
async fn groups_claims_and_sign_in_time_follow_the_shopper_to_a_linked_site() -> Result<()> {
    let group = Group::start(GroupOptions {
        oidc: SCOPES,
        site_extra: &[("shop-b", SHOP_B_POLICIES)],
        ..GroupOptions::default()
    })?;
    group.ready().await?;
    let shopper = Shopper::new(&HOSTS)?;
    let login = "ann~wholesale~department=sales";
    let a = shopper
        .walk(shopper.page(&group.url("shop-a", "/account")).await?, login)
        .await?;
    let on_a = headers(&a)?;
    assert_eq!(on_a["x-customer-id"], login);

    let b = open(&shopper, &group.url("shop-b", "/wholesale")).await?;
    assert_eq!(b.status, 200, "{:?}", b.visited);
    let on_b = headers(&b)?;
    assert_eq!(on_b["x-customer-login-method"], "ott");
    assert_eq!(on_b["x-customer-groups"], "wholesale");
    assert_eq!(
        on_b["x-customer-auth-time"], on_a["x-customer-auth-time"],
        "the sign-in it came from"
    );
    assert_eq!(
        open(&shopper, &group.url("shop-b", "/sales")).await?.status,
        200,
        "claims carried"
    );
    let ops = shopper.page(&group.url("shop-b", "/ops")).await?;
    assert_eq!(ops.status(), 403, "and only the claims stated");
    Ok(())
}

#[tokio::test]
async fn a_step_up_on_one_site_keeps_the_group_signed_in_and_one_logout_ends_all() -> Result<()> {
    let group = Group::start(GroupOptions {
        oidc: SCOPES,
        site_extra: &[("shop-a", SHOP_A_STEP_UP)],
        ..GroupOptions::default()
    })?;
    group.ready().await?;
    let shopper = Shopper::new(&HOSTS)?;
    let a = shopper
        .walk(shopper.page(&group.url("shop-a", "/account")).await?, "rosa")
        .await?;
    assert_eq!(headers(&a)?["x-customer-id"], "rosa");
    let b = open(&shopper, &group.url("shop-b", "/account")).await?;
    assert_eq!(headers(&b)?["x-customer-id"], "rosa", "{:?}", b.visited);

    tokio::time::sleep(Duration::from_secs(4)).await;
    let stepped = shopper
        .walk(shopper.page(&group.url("shop-a", "/checkout")).await?, "rosa")
        .await?;
    assert_eq!(stepped.status, 200, "{:?}", stepped.visited);
    assert_eq!(headers(&stepped)?["x-customer-login-method"], "oidc");

    // shop-b checks its SSO session every second (revalidate_interval): it must still
    // find it alive, with a live grant, after the step-up replaced shop-a's session.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let still: serde_json::Value = shopper.api(&group.url("shop-b", "/_sso/session")).await?.json().await?;
    assert_eq!(
        still["authenticated"], true,
        "the step-up on shop-a signed shop-b out: {still}"
    );

    // One global logout from shop-a (the stepped-up session) still ends shop-b.
    let out = shopper.page(&group.url("shop-a", "/_sso/logout")).await?;
    assert_eq!(out.status(), 303);
    let after: serde_json::Value = shopper.api(&group.url("shop-b", "/_sso/session")).await?.json().await?;
    assert_eq!(after["authenticated"], false, "{after}");
    Ok(())
}
