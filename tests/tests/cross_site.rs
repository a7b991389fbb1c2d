//! Cross-site sign-on for a group of shops, against the real binary, the real IdP
//! and (for the replica tests) two gateways on one real Redis: a sign-in on one shop
//! signs the shopper in on the others without another sign-in; one-time tokens are
//! single-use, per site and per browser; opt-in and disabled sites; global and site
//! logout; data shared through the SSO session.

use anyhow::{Context, Result};
use sso_tests::group::{Group, GroupOptions, HOSTS};
use sso_tests::{echo_of, Shopper};
use std::time::Duration;

/// Signs `login` in on shop-a (its `/account` needs a login) and checks it worked.
async fn sign_in_on_a(group: &Group, shopper: &Shopper, login: &str) -> Result<()> {
    group.ready().await?;
    let landing = shopper
        .walk(shopper.page(&group.url("shop-a", "/account")).await?, login)
        .await?;
    let echo = echo_of(&landing.body).with_context(|| format!("{landing:?}"))?;
    assert_eq!(echo["headers"]["x-customer-id"], login, "{:?}", landing.visited);
    assert!(
        landing.visited.iter().any(|u| u.path() == "/_sso/adopt"),
        "the sign-in handed its SSO session to the auth host: {:?}",
        landing.visited
    );
    Ok(())
}

/// `/_sso/session` of `url`'s site as JSON.
async fn session(shopper: &Shopper, url: &str) -> Result<serde_json::Value> {
    Ok(shopper.api(url).await?.json().await?)
}

/// `/_sso/session` at `url` once it says anonymous, or as it is after two seconds: a
/// session ended on one replica leaves the other's cache when Redis tells it.
async fn anonymous_soon(shopper: &Shopper, url: &str) -> Result<serde_json::Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let s = session(shopper, url).await?;
        if s["authenticated"] == false || std::time::Instant::now() > deadline {
            return Ok(s);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens `url` like a person would (following redirects, filling no IdP form).
async fn open(shopper: &Shopper, url: &str) -> Result<sso_tests::client::Landing> {
    shopper.walk(shopper.page(url).await?, "nobody-should-sign-in").await
}

fn went_through_idp(group: &Group, landing: &sso_tests::client::Landing) -> bool {
    let idp = group.idp_authority();
    landing
        .visited
        .iter()
        .any(|u| format!("{}:{}", u.host_str().unwrap_or(""), u.port().unwrap_or(80)) == idp)
}

async fn auto_site_lands_signed_in(options: GroupOptions<'_>) -> Result<()> {
    let group = Group::start(options)?;
    let shopper = Shopper::new(&HOSTS)?;
    sign_in_on_a(&group, &shopper, "alice").await?;
    // The first visit to shop-b (on the other replica when there are two).
    let landing = open(&shopper, &group.url_b("shop-b", "/catalog?page=2")).await?;
    assert!(
        !went_through_idp(&group, &landing),
        "no IdP page: {:?}",
        landing.visited
    );
    assert_eq!(landing.url.path(), "/catalog", "{:?}", landing.visited);
    assert_eq!(landing.url.query(), Some("page=2"));
    let echo = echo_of(&landing.body)?;
    assert_eq!(echo["headers"]["x-customer-id"], "alice");
    assert!(landing.visited.iter().any(|u| u.path() == "/_sso/ott"));
    let s = session(&shopper, &group.url_b("shop-b", "/_sso/session")).await?;
    assert_eq!(s["authenticated"], true);
    assert_eq!(s["sso"]["linked_sites"], serde_json::json!(["shop-a", "shop-b"]));
    // Signed in now: no more trips to the auth host.
    let again = shopper.page(&group.url_b("shop-b", "/catalog")).await?;
    assert_eq!(again.status(), 200);
    Ok(())
}

#[tokio::test]
async fn after_signing_in_on_a_the_first_visit_to_b_is_signed_in() -> Result<()> {
    auto_site_lands_signed_in(GroupOptions::default()).await
}

#[tokio::test]
async fn on_two_replicas_and_redis_too() -> Result<()> {
    auto_site_lands_signed_in(GroupOptions {
        redis: true,
        ..GroupOptions::default()
    })
    .await
}

#[tokio::test]
async fn anonymous_visitors_and_crawlers_are_never_looped() -> Result<()> {
    let group = Group::start(GroupOptions::default())?;
    group.ready().await?;
    let shopper = Shopper::new(&HOSTS)?;
    // No SSO session: one trip to the auth host, back with the marker, then the page.
    let landing = open(&shopper, &group.url("shop-a", "/")).await?;
    assert_eq!(landing.status, 200);
    assert_eq!(
        landing.visited.len(),
        4,
        "page, auth host, /_sso/ott, page: {:?}",
        landing.visited
    );
    assert_eq!(
        echo_of(&landing.body)?["headers"]["x-customer-id"],
        serde_json::Value::Null
    );
    let next = shopper.page(&group.url("shop-a", "/other")).await?;
    assert_eq!(next.status(), 200, "the marker stops further trips");
    // A crawler, an API call and a HEAD are never sent away.
    let crawler = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("shop-b.localhost", ([127, 0, 0, 1], 0).into())
        .user_agent("Mozilla/5.0 (compatible; Googlebot/2.1)")
        .build()?;
    let r = crawler
        .get(group.url("shop-b", "/"))
        .header("accept", "text/html")
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    let fresh = Shopper::new(&HOSTS)?;
    assert_eq!(fresh.api(&group.url("shop-b", "/")).await?.status(), 200);
    let head = fresh
        .http
        .head(group.url("shop-b", "/"))
        .header("accept", "text/html")
        .send()
        .await?;
    assert_eq!(head.status(), 200);
    Ok(())
}

/// An OTT for `site`, minted by the auth host for `shopper`'s SSO session, and the
/// state the browser would hold.
async fn mint(group: &Group, shopper: &Shopper, site: &str) -> Result<(String, String)> {
    let state = sso_filters::secret::random_token();
    let link = format!("/_sso/link?site={site}&state={state}&return_to=%2F");
    let r = shopper.page(&group.auth_url(&link)).await?;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str()?.to_string();
    let url = url::Url::parse(&location)?;
    let token = url
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .with_context(|| format!("no token in {location}"))?;
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    Ok((token, state))
}

/// The name of the state cookie of the link round with `state`.
fn state_cookie(state: &str) -> String {
    let hash = sso_filters::store::hashed_key(&["link-state", state]);
    format!("sso_session_link_state_{}", &hash[..16])
}

/// Redeems `token` at `url`'s site as a browser holding `state`; the new session
/// cookie, if it signed in.
async fn redeem(url: &str, token: &str, state: &str) -> Result<Option<String>> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("shop-a.localhost", ([127, 0, 0, 1], 0).into())
        .resolve("shop-b.localhost", ([127, 0, 0, 1], 0).into())
        .build()?;
    let r = client
        .get(format!("{url}/_sso/ott?token={token}&state={state}&return_to=%2F"))
        .header("accept", "text/html")
        .header("cookie", format!("{}={state}.check", state_cookie(state)))
        .send()
        .await?;
    assert_eq!(r.status(), 303, "always back to the page");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    Ok(r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sso_session=") && !c.starts_with("sso_session=;"))
        .map(str::to_string))
}

#[tokio::test]
async fn one_time_tokens_are_single_use_per_site_per_browser_and_short_lived() -> Result<()> {
    let group = Group::start(GroupOptions {
        sso: "ott_ttl = \"5s\"",
        ..GroupOptions::default()
    })?;
    let shopper = Shopper::new(&HOSTS)?;
    sign_in_on_a(&group, &shopper, "bob").await?;
    let b = group.a.site_url("shop-b", "");
    let a = group.a.site_url("shop-a", "");

    let (token, state) = mint(&group, &shopper, "shop-b").await?;
    assert!(redeem(&b, &token, &state).await?.is_some(), "a fresh token signs in");
    assert!(redeem(&b, &token, &state).await?.is_none(), "redeemed twice");

    let (token, state) = mint(&group, &shopper, "shop-a").await?;
    assert!(
        redeem(&b, &token, &state).await?.is_none(),
        "minted for shop-a, redeemed at shop-b"
    );
    assert!(redeem(&a, &token, &state).await?.is_none(), "and spent by that attempt");

    let (token, _) = mint(&group, &shopper, "shop-b").await?;
    let other_state = sso_filters::secret::random_token();
    assert!(
        redeem(&b, &token, &other_state).await?.is_none(),
        "another browser's token (login CSRF)"
    );

    let made_up = sso_filters::secret::random_token();
    assert!(redeem(&b, &made_up, &state).await?.is_none(), "made up");
    assert!(redeem(&b, "not-a-token", &state).await?.is_none());

    let (token, state) = mint(&group, &shopper, "shop-b").await?;
    tokio::time::sleep(Duration::from_secs(6)).await; // past ott_ttl = 5s
    assert!(redeem(&b, &token, &state).await?.is_none(), "expired");
    let refused = group
        .a
        .metric("sso_gateway_logins_total{method=\"ott\",outcome=\"ott_unknown\",site=\"shop-b\"}")
        .await;
    assert!(refused >= 3.0, "refusals are counted: {refused}");
    Ok(())
}

#[tokio::test]
async fn two_replicas_racing_for_one_token_make_one_session() -> Result<()> {
    raced_tokens(GroupOptions {
        redis: true,
        ..GroupOptions::default()
    })
    .await
}

/// One-time tokens, SSO sessions and logouts on a real three-primary Redis Cluster.
#[tokio::test]
async fn on_a_redis_cluster_tokens_are_single_use_and_logouts_reach_every_replica() -> Result<()> {
    let cluster = sso_tests::replicas::TestCluster::start();
    let address = cluster.sessions_toml();
    let options = GroupOptions {
        redis: true,
        redis_address: Some(&address),
        ..GroupOptions::default()
    };
    auto_site_lands_signed_in(options).await?;
    raced_tokens(options).await?;
    logouts(options).await
}

async fn raced_tokens(options: GroupOptions<'_>) -> Result<()> {
    let group = Group::start(options)?;
    let shopper = Shopper::new(&HOSTS)?;
    sign_in_on_a(&group, &shopper, "carol").await?;
    let on_a = group.a.site_url("shop-b", "");
    let on_b = group.url_b("shop-b", "");
    for round in 0..10 {
        let (token, state) = mint(&group, &shopper, "shop-b").await?;
        let (x, y) = tokio::join!(redeem(&on_a, &token, &state), redeem(&on_b, &token, &state));
        let winners = [x?, y?].iter().filter(|c| c.is_some()).count();
        assert_eq!(winners, 1, "round {round}");
    }
    Ok(())
}

#[tokio::test]
async fn opt_in_sites_wait_for_a_click_and_disabled_sites_are_untouched() -> Result<()> {
    let group = Group::start(GroupOptions::default())?;
    let shopper = Shopper::new(&HOSTS)?;
    sign_in_on_a(&group, &shopper, "dave").await?;
    // opt_in: a visit stays anonymous, with no trip anywhere.
    let visit = shopper.page(&group.url("shop-c", "/")).await?;
    assert_eq!(visit.status(), 200);
    assert_eq!(
        echo_of(&visit.text().await?)?["headers"]["x-customer-id"],
        serde_json::Value::Null
    );
    // Its "Sign in" signs the customer in with no form.
    let landing = open(&shopper, &group.url("shop-c", "/_sso/login?return_to=%2Fwelcome")).await?;
    assert!(!went_through_idp(&group, &landing), "{:?}", landing.visited);
    assert_eq!(landing.url.path(), "/welcome");
    assert_eq!(echo_of(&landing.body)?["headers"]["x-customer-id"], "dave");
    // disabled: a visit is untouched, and its sign-in goes to the IdP.
    let visit = shopper.page(&group.url("shop-d", "/")).await?;
    assert_eq!(visit.status(), 200);
    assert_eq!(
        echo_of(&visit.text().await?)?["headers"]["x-customer-id"],
        serde_json::Value::Null
    );
    let login = shopper.page(&group.url("shop-d", "/_sso/login")).await?;
    let to = login.headers()["location"].to_str()?.to_string();
    assert!(to.contains(&group.idp_authority()), "to the IdP: {to}");
    assert!(
        shopper.page(&group.url("shop-d", "/_sso/ott?state=x")).await?.status() == 404,
        "a disabled site has no /_sso/ott"
    );
    Ok(())
}

async fn logouts(options: GroupOptions<'_>) -> Result<()> {
    let group = Group::start(options)?;
    let shopper = Shopper::new(&HOSTS)?;
    sign_in_on_a(&group, &shopper, "erin").await?;
    open(&shopper, &group.url_b("shop-b", "/")).await?;
    open(&shopper, &group.url("shop-c", "/_sso/login")).await?;
    for site in ["shop-a", "shop-b", "shop-c"] {
        assert_eq!(
            session(&shopper, &group.url(site, "/_sso/session")).await?["authenticated"],
            true,
            "{site}"
        );
    }
    // A site logout (shop-c) ends shop-c's session only.
    let out = shopper.page(&group.url("shop-c", "/_sso/logout")).await?;
    assert_eq!(out.status(), 303);
    assert_eq!(
        session(&shopper, &group.url("shop-c", "/_sso/session")).await?["authenticated"],
        false
    );
    assert_eq!(
        session(&shopper, &group.url("shop-a", "/_sso/session")).await?["authenticated"],
        true
    );
    // A global logout on shop-b (through replica B) ends shop-a's session too.
    let out = shopper.page(&group.url_b("shop-b", "/_sso/logout")).await?;
    assert_eq!(out.status(), 303);
    for site in ["shop-a", "shop-b"] {
        // The other replica drops its cached copy when Redis tells it (within a second).
        let s = anonymous_soon(&shopper, &group.url(site, "/_sso/session")).await?;
        assert_eq!(s["authenticated"], false, "{site} after a global logout: {s}");
    }
    // And nothing signs the shopper back in: the SSO session is gone.
    let landing = open(&shopper, &group.url("shop-a", "/")).await?;
    assert_eq!(
        echo_of(&landing.body)?["headers"]["x-customer-id"],
        serde_json::Value::Null
    );
    Ok(())
}

#[tokio::test]
async fn a_global_logout_ends_every_linked_session_and_a_site_logout_only_its_own() -> Result<()> {
    logouts(GroupOptions::default()).await
}

#[tokio::test]
async fn logouts_reach_every_replica() -> Result<()> {
    logouts(GroupOptions {
        redis: true,
        ..GroupOptions::default()
    })
    .await
}

#[tokio::test]
async fn hostile_links_tokens_and_redirect_targets_get_clear_answers() -> Result<()> {
    let group = Group::start(GroupOptions::default())?;
    group.ready().await?;
    let shopper = Shopper::new(&HOSTS)?;
    let state = sso_filters::secret::random_token();
    let status = |r: &reqwest::Response| r.status().as_u16();
    // The auth host: unknown site, bad state or intent, other methods and paths.
    for (link, code) in [
        (format!("/_sso/link?site=nope&state={state}"), 400),
        ("/_sso/link?site=shop-b&state=short".to_string(), 400),
        (format!("/_sso/link?site=shop-b&state={state}&intent=steal"), 400),
        (format!("/_sso/link?site=shop-d&state={state}"), 400),
        ("/_sso/adopt?token=AAAA".to_string(), 400),
        (format!("/_sso/adopt?token={state}"), 400),
        ("/".to_string(), 404),
        ("/_sso/link/../adopt".to_string(), 400),
    ] {
        let r = shopper.page(&group.auth_url(&link)).await?;
        assert_eq!(status(&r), code, "{link}");
        assert_eq!(r.headers()["cache-control"], "no-store", "{link}");
    }
    let post = shopper.http.post(group.auth_url("/_sso/link")).send().await?;
    assert_eq!(status(&post), 405);
    // Open redirects: the browser only ever goes to a configured site, to a path.
    for evil in [
        "%2F%2Fevil.example",
        "https%3A%2F%2Fevil.example%2F",
        "%2F%5Cevil.example",
        "%2F.%2F%2Fevil.example",
    ] {
        let r = shopper
            .page(&group.auth_url(&format!("/_sso/link?site=shop-b&state={state}&return_to={evil}")))
            .await?;
        let to = r.headers()["location"].to_str()?.to_string();
        assert!(to.starts_with(&group.url("shop-b", "/_sso/ott?")), "{to}");
        assert!(
            to.contains("return_to=%2F&") || to.ends_with("return_to=%2F"),
            "{evil} -> {to}"
        );
        let back = shopper
            .page(&group.url("shop-b", &format!("/_sso/ott?state={state}&return_to={evil}")))
            .await?;
        // (No state cookie here: the page comes back marked, so it cannot loop.)
        assert_eq!(back.headers()["location"], "/?sso_checked=1", "{evil}");
    }
    // A huge or malformed token is a refusal, not an error; nobody is signed in.
    let huge = "A".repeat(8000);
    for token in [huge.as_str(), "%00%ff", "..%2F..", ""] {
        let r = shopper
            .page(&group.url(
                "shop-b",
                &format!("/_sso/ott?token={token}&state={state}&return_to=%2F"),
            ))
            .await?;
        assert_eq!(status(&r), 303, "{}", &token[..token.len().min(20)]);
        assert!(!r.headers().get_all("set-cookie").iter().any(|c| c
            .to_str()
            .unwrap_or("")
            .starts_with("sso_session=")
            && !c.to_str().unwrap_or("").starts_with("sso_session=;")));
    }
    // Everyone else is still served, and nothing was logged that could sign in.
    assert_eq!(shopper.api(&group.url("shop-a", "/_sso/session")).await?.status(), 200);
    let log = group.a.log();
    assert!(!log.contains(&state), "a link state was logged");
    assert!(!log.contains("token="), "a token parameter was logged");
    Ok(())
}

#[tokio::test]
async fn data_put_on_one_shop_reads_back_on_another() -> Result<()> {
    let group = Group::start(GroupOptions::default())?;
    let shopper = Shopper::new(&HOSTS)?;
    sign_in_on_a(&group, &shopper, "frank").await?;
    open(&shopper, &group.url("shop-b", "/")).await?;
    let put = |site: &str, body: String, content_type: &str| {
        shopper
            .http
            .put(group.url(site, "/_sso/sso-data"))
            .header("content-type", content_type)
            .header("accept", "application/json")
            .body(body)
            .send()
    };
    let doc = serde_json::json!({"prompts": {"newsletter": "shown"}, "preferred_shop": "shop-b"});
    let r = put("shop-a", doc.to_string(), "application/json").await?;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let back: serde_json::Value = shopper
        .api(&group.url("shop-b", "/_sso/sso-data"))
        .await?
        .json()
        .await?;
    assert_eq!(back, doc, "shop-b reads what shop-a stored");
    // Refused, and the document stays as it was.
    for (body, content_type, status) in [
        ("{\"a\":1}".to_string(), "text/plain", 415),
        ("{not json".to_string(), "application/json", 400),
        ("[1,2,3]".to_string(), "application/json", 400),
        (format!("{{\"a\":\"{}\"}}", "x".repeat(5000)), "application/json", 413),
        (
            format!("{}1{}", "{\"a\":".repeat(20), "}".repeat(20)),
            "application/json",
            400,
        ),
    ] {
        let r = put("shop-b", body, content_type).await?;
        assert_eq!(r.status(), status, "{content_type}");
    }
    let cross = shopper
        .http
        .put(group.url("shop-b", "/_sso/sso-data"))
        .header("content-type", "application/json")
        .header("sec-fetch-site", "cross-site")
        .body("{\"evil\":true}")
        .send()
        .await?;
    assert_eq!(cross.status(), 403, "another site's page cannot write it");
    let back: serde_json::Value = shopper
        .api(&group.url("shop-a", "/_sso/sso-data"))
        .await?
        .json()
        .await?;
    assert_eq!(back, doc);
    // Anonymous callers and disabled sites get nothing.
    let stranger = Shopper::new(&HOSTS)?;
    assert_eq!(
        stranger.api(&group.url("shop-a", "/_sso/sso-data")).await?.status(),
        401
    );
    assert_eq!(shopper.api(&group.url("shop-d", "/_sso/sso-data")).await?.status(), 404);
    // A global logout ends the data with the SSO session.
    shopper.page(&group.url("shop-a", "/_sso/logout")).await?;
    sign_in_on_a(&group, &shopper, "frank").await?;
    let fresh: serde_json::Value = shopper
        .api(&group.url("shop-a", "/_sso/sso-data"))
        .await?
        .json()
        .await?;
    assert_eq!(fresh, serde_json::json!({}), "a new SSO session starts empty");
    Ok(())
}

#[tokio::test]
async fn a_back_channel_logout_under_global_scope_ends_the_linked_sessions() -> Result<()> {
    use sso_tests::backchannel::{idp_key_file, Minter};
    let group = Group::start(GroupOptions::default())?;
    let shopper = Shopper::new(&HOSTS)?;
    sign_in_on_a(&group, &shopper, "grace").await?;
    open(&shopper, &group.url("shop-b", "/")).await?;
    let other = Shopper::new(&HOSTS)?;
    sign_in_on_a(&group, &other, "heidi").await?;
    for site in ["shop-a", "shop-b"] {
        assert_eq!(
            session(&shopper, &group.url(site, "/_sso/session")).await?["authenticated"],
            true
        );
    }
    // The IdP says grace's sign-in is over, to shop-a (where she signed in at the IdP).
    let idp = Minter::new(&group.idp.issuer(), sso_tests::CLIENT_ID, &idp_key_file()).await?;
    let token = idp.sign(&idp.claims("grace"));
    let r = shopper
        .http
        .post(group.url("shop-a", "/_sso/backchannel-logout"))
        .form(&[("logout_token", token.as_str())])
        .send()
        .await?;
    assert_eq!(r.status(), 200, "{}", r.text().await?);
    for site in ["shop-a", "shop-b"] {
        let s = session(&shopper, &group.url(site, "/_sso/session")).await?;
        assert_eq!(s["authenticated"], false, "{site}: {s}");
    }
    assert_eq!(
        session(&other, &group.url("shop-a", "/_sso/session")).await?["authenticated"],
        true,
        "another customer is untouched"
    );
    Ok(())
}

/// `/_sso/ott` at `url` with `token` and the URL's `state`, from a browser whose state
/// cookie holds `held` (another state: another browser's token).
async fn redeem_with_cookie_of(url: &str, token: &str, state: &str, held: &str) -> Result<bool> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("shop-b.localhost", ([127, 0, 0, 1], 0).into())
        .build()?;
    let r = client
        .get(format!("{url}/_sso/ott?token={token}&state={state}&return_to=%2F"))
        .header("cookie", format!("{}={held}.check", state_cookie(held)))
        .send()
        .await?;
    Ok(r.headers().get_all("set-cookie").iter().any(|c| {
        c.to_str().unwrap_or("").starts_with("sso_session=") && !c.to_str().unwrap_or("").starts_with("sso_session=;")
    }))
}

#[tokio::test]
async fn a_token_that_reached_another_browser_is_spent_and_tabs_do_not_undo_each_other() -> Result<()> {
    let group = Group::start(GroupOptions::default())?;
    let shopper = Shopper::new(&HOSTS)?;
    sign_in_on_a(&group, &shopper, "ivan").await?;
    let b = group.a.site_url("shop-b", "");
    // The victim's browser lands on a URL whose state is not in its cookies...
    let (token, state) = mint(&group, &shopper, "shop-b").await?;
    let victim_state = sso_filters::secret::random_token();
    assert!(!redeem_with_cookie_of(&b, &token, &state, &victim_state).await?);
    // ...and whoever else saw that URL cannot use it afterwards.
    assert!(redeem(&b, &token, &state).await?.is_none(), "spent by the refusal");

    // Two tabs opened at once on an auto site: both rounds succeed.
    let fresh = Shopper::new(&HOSTS)?;
    sign_in_on_a(&group, &fresh, "judy").await?;
    let first = fresh.page(&group.url("shop-b", "/one")).await?;
    let second = fresh.page(&group.url("shop-b", "/two")).await?;
    let mut landed = Vec::new();
    for r in [first, second] {
        let at_auth = fresh.page(r.headers()["location"].to_str()?).await?;
        let ott = fresh.page(at_auth.headers()["location"].to_str()?).await?;
        assert_eq!(ott.status(), 303);
        landed.push(ott.headers()["location"].to_str()?.to_string());
        let signed_in = ott.headers().get_all("set-cookie").iter().any(|c| {
            c.to_str().unwrap_or("").starts_with("sso_session=")
                && !c.to_str().unwrap_or("").starts_with("sso_session=;")
        });
        assert!(signed_in, "each tab signs in");
    }
    assert_eq!(landed, ["/one", "/two"]);
    // Rounds that never came back: past a few, their cookies are cleared.
    let stale: Vec<String> = (0..5)
        .map(|_| format!("{}=x.check", state_cookie(&sso_filters::secret::random_token())))
        .collect();
    let stranger = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("shop-b.localhost", ([127, 0, 0, 1], 0).into())
        .user_agent("Mozilla/5.0 (X11; Linux x86_64)")
        .build()?;
    let r = stranger
        .get(group.url("shop-b", "/"))
        .header("accept", "text/html")
        .header("cookie", stale.join("; "))
        .send()
        .await?;
    let cleared = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter(|c| c.to_str().unwrap_or("").contains("Max-Age=0"))
        .count();
    assert_eq!(cleared, 5, "{:?}", r.headers());
    Ok(())
}

#[tokio::test]
async fn a_browser_without_cookies_gets_its_page_and_crowds_are_not_rate_limited() -> Result<()> {
    let group = Group::start(GroupOptions {
        server: "[server.rate_limits]\ncallback = 2",
        ..GroupOptions::default()
    })?;
    group.ready().await?;
    // No cookie jar at all: the page comes after one round, not a redirect loop.
    let cookieless = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("shop-b.localhost", ([127, 0, 0, 1], 0).into())
        .resolve("auth.localhost", ([127, 0, 0, 1], 0).into())
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) no-cookies")
        .build()?;
    let mut url = url::Url::parse(&group.url("shop-b", "/catalog"))?;
    let mut hops = 0;
    let landed = loop {
        let r = cookieless
            .get(url.as_str())
            .header("accept", "text/html")
            .send()
            .await?;
        if !r.status().is_redirection() {
            break r;
        }
        hops += 1;
        assert!(hops < 6, "redirect loop at {url}");
        url = url.join(r.headers()["location"].to_str()?)?;
    };
    assert_eq!(landed.status(), 200);
    assert_eq!(url.path(), "/catalog");
    // Five visitors behind one address, each once through the auth host: no 429.
    for i in 0..5 {
        let visitor = Shopper::new(&HOSTS)?;
        let landing = open(&visitor, &group.url("shop-b", "/")).await?;
        assert_eq!(landing.status, 200, "visitor {i}: {:?}", landing.visited);
    }
    Ok(())
}

#[tokio::test]
async fn logouts_from_elsewhere_prefetches_and_a_site_logout_keep_the_group_signed_in() -> Result<()> {
    let group = Group::start(GroupOptions::default())?;
    let shopper = Shopper::new(&HOSTS)?;
    sign_in_on_a(&group, &shopper, "ken").await?;
    open(&shopper, &group.url("shop-b", "/")).await?;
    // A speculative load of the logout link ends nothing.
    let prefetch = shopper
        .http
        .get(group.url("shop-b", "/_sso/logout"))
        .header("sec-purpose", "prefetch")
        .send()
        .await?;
    assert_eq!(prefetch.status(), 400);
    // Another site's link to shop-b's logout ends shop-b's session only.
    let csrf = shopper
        .http
        .get(group.url("shop-b", "/_sso/logout"))
        .header("accept", "text/html")
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document")
        .send()
        .await?;
    assert_eq!(csrf.status(), 303);
    assert_eq!(
        session(&shopper, &group.url("shop-b", "/_sso/session")).await?["authenticated"],
        false
    );
    assert_eq!(
        session(&shopper, &group.url("shop-a", "/_sso/session")).await?["authenticated"],
        true
    );
    // After a site logout on shop-c, its sign-in is its own (the IdP), not the group's.
    open(&shopper, &group.url("shop-c", "/_sso/login")).await?;
    assert_eq!(
        session(&shopper, &group.url("shop-c", "/_sso/session")).await?["authenticated"],
        true
    );
    let out = shopper.page(&group.url("shop-c", "/_sso/logout")).await?;
    assert_eq!(
        out.headers()["location"],
        "/",
        "a site logout of a group session stays on the site"
    );
    let login = shopper.page(&group.url("shop-c", "/_sso/login")).await?;
    let to = login.headers()["location"].to_str()?.to_string();
    assert!(
        to.contains(&group.idp_authority()),
        "to the IdP, not the auth host: {to}"
    );
    Ok(())
}

#[tokio::test]
async fn ending_the_sign_in_from_outside_ends_the_sso_session_too() -> Result<()> {
    use sso_tests::backchannel::{idp_key_file, Minter};
    let group = Group::start(GroupOptions::default())?;
    group.ready().await?;
    // Signed in on shop-c (site logout scope), linked on shop-a; then shop-c's own
    // session ends: the SSO session is all that is left of the sign-in there.
    let shopper = Shopper::new(&HOSTS)?;
    let landing = shopper
        .walk(shopper.page(&group.url("shop-c", "/account")).await?, "lena")
        .await?;
    assert_eq!(echo_of(&landing.body)?["headers"]["x-customer-id"], "lena");
    open(&shopper, &group.url("shop-a", "/")).await?;
    shopper.page(&group.url("shop-c", "/_sso/logout")).await?;
    assert_eq!(
        session(&shopper, &group.url("shop-a", "/_sso/session")).await?["authenticated"],
        true
    );
    // The IdP's back-channel logout (to shop-c, where no session is left) ends it all.
    let idp = Minter::new(&group.idp.issuer(), sso_tests::CLIENT_ID, &idp_key_file()).await?;
    let r = shopper
        .http
        .post(group.url("shop-c", "/_sso/backchannel-logout"))
        .form(&[("logout_token", idp.sign(&idp.claims("lena")).as_str())])
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    assert_eq!(
        session(&shopper, &group.url("shop-a", "/_sso/session")).await?["authenticated"],
        false
    );
    let back = open(&shopper, &group.url("shop-b", "/")).await?;
    assert_eq!(
        echo_of(&back.body)?["headers"]["x-customer-id"],
        serde_json::Value::Null,
        "nothing signs her in again"
    );

    // Support's DELETE /sessions of a customer on a site ends the SSO session as well.
    let other = Shopper::new(&HOSTS)?;
    sign_in_on_a(&group, &other, "mike").await?;
    open(&other, &group.url("shop-b", "/")).await?;
    let r = reqwest::Client::new()
        .delete(group.a.admin_url("/sessions?site=shop-b&customer=mike"))
        .send()
        .await?;
    let body: serde_json::Value = r.json().await?;
    assert_eq!(body["sso_sessions_ended"], 1, "{body}");
    assert_eq!(
        session(&other, &group.url("shop-a", "/_sso/session")).await?["authenticated"],
        false
    );
    let back = open(&other, &group.url("shop-b", "/")).await?;
    assert_eq!(
        echo_of(&back.body)?["headers"]["x-customer-id"],
        serde_json::Value::Null
    );
    Ok(())
}

#[tokio::test]
async fn a_new_sign_in_replaces_the_browsers_sso_session_and_nothing_escapes_a_logout() -> Result<()> {
    let group = Group::start(GroupOptions::default())?;
    group.ready().await?;
    let shopper = Shopper::new(&HOSTS)?;
    // shop-b checked a moment ago (no SSO session then), so its sign-in goes to the IdP.
    open(&shopper, &group.url("shop-b", "/")).await?;
    sign_in_on_a(&group, &shopper, "nina").await?;
    let landing = shopper
        .walk(shopper.page(&group.url("shop-b", "/_sso/login")).await?, "nina")
        .await?;
    assert!(
        landing.visited.iter().any(|u| u.path() == "/_sso/adopt"),
        "{:?}",
        landing.visited
    );
    // The same shopper's sign-in elsewhere (even one another site's page set off)
    // signs nobody out: her first SSO session is chained to the new one.
    let s = session(&shopper, &group.url("shop-a", "/_sso/session")).await?;
    assert_eq!(s["authenticated"], true, "{s}");
    // The global logout on shop-b ends what the browser's first SSO session linked.
    shopper.page(&group.url("shop-b", "/_sso/logout")).await?;
    for site in ["shop-a", "shop-b"] {
        let s = session(&shopper, &group.url(site, "/_sso/session")).await?;
        assert_eq!(s["authenticated"], false, "{site}: {s}");
    }
    Ok(())
}
