//! Several IdPs per site, chosen by organisation (commercetools' enterprise SSO),
//! against two real `oidc-provider` instances with their own issuers and clients,
//! and the real gateway. Includes the mix-up attacks: a response of one IdP brought
//! to the other's callback, a state of one paired with a code of the other, and a
//! forged `iss`.

use sso_tests::{echo_of, Gateway, GatewayConfig, Idp, Shopper, Storefront};
use url::Url;

const ACME: (&str, &str) = ("acme-storefront", "acme-client-secret");
const GLOBEX: (&str, &str) = ("globex-storefront", "globex-client-secret");
/// A display name that would run if it were not escaped.
const ACME_DISPLAY: &str = "Acme <script>alert(1)</script> & Co";

thread_local! {
    /// The `[[sites]]` body the last [`Enterprise`] of this thread was started with
    /// (ports filled in), for a second replica.
    static SITE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// One shop with two IdPs: `acme` (logout through its `end_session_endpoint`) and
/// `globex` (extra `[[sites.idps]]` keys given per test).
struct Enterprise {
    _origin: Storefront,
    acme: Idp,
    globex: Idp,
    gateway: Gateway,
}

impl Enterprise {
    async fn start(globex_extra: &str, globex_env: &[(&str, &str)]) -> Enterprise {
        Self::start_with(GatewayConfig::default(), globex_extra, globex_env).await
    }

    async fn start_with(config: GatewayConfig, globex_extra: &str, globex_env: &[(&str, &str)]) -> Enterprise {
        let origin = Storefront::start().expect("origin");
        let base = format!("http://shop.localhost:{}", config.port);
        let post_logout = vec![format!("{base}/")];
        let acme =
            Idp::start_client(ACME, &[format!("{base}/login/sso/callback/acme")], &post_logout, &[]).expect("acme idp");
        let globex = Idp::start_client(
            GLOBEX,
            &[format!("{base}/login/sso/callback/globex")],
            &post_logout,
            globex_env,
        )
        .expect("globex idp");
        let site = format!(
            "name = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"{origin}\"]\n\
             public_url = \"http://shop.localhost:{{port}}\"\n\
             [[sites.idps]]\nname = \"acme\"\ndisplay_name = {acme_display:?}\nissuer = \"{acme}\"\n\
             client_id = \"{acme_id}\"\nclient_secret = \"{acme_secret}\"\n\
             [[sites.idps]]\nname = \"globex\"\ndisplay_name = \"Globex\"\nissuer = \"{globex}\"\n\
             client_id = \"{globex_id}\"\nclient_secret = \"{globex_secret}\"\n{globex_extra}\n\
             [[sites.routes]]\nprefix = \"/account\"\naccess = \"login\"\n",
            origin = origin.addr(),
            acme_display = ACME_DISPLAY,
            acme = acme.issuer(),
            acme_id = ACME.0,
            acme_secret = ACME.1,
            globex = globex.issuer(),
            globex_id = GLOBEX.0,
            globex_secret = GLOBEX.1,
        );
        let filled = site.replace("{port}", &config.port.to_string());
        let gateway = config.site(&site).start().expect("gateway");
        gateway.ready().await.expect("ready");
        SITE.with(|s| *s.borrow_mut() = filled);
        Enterprise {
            _origin: origin,
            acme,
            globex,
            gateway,
        }
    }

    fn url(&self, path: &str) -> String {
        self.gateway.site_url("shop", path)
    }

    /// Walks a login started at `start` through the IdP's forms as `login`, and stops
    /// before the gateway's callback: the URL the IdP sent the browser to.
    async fn until_callback(&self, shopper: &Shopper, start: &str, login: &str) -> Url {
        let first = shopper.page(&self.url(start)).await.expect("start");
        let landing = shopper
            .walk_until(first, login, |u| u.path().starts_with("/login/sso/callback/"))
            .await
            .expect("walk");
        assert!(landing.status.is_redirection(), "{landing:?}");
        landing.url
    }

    async fn signed_in_as(&self, shopper: &Shopper) -> Option<String> {
        let session: serde_json::Value = shopper
            .api(&self.url("/_sso/session"))
            .await
            .expect("session")
            .json()
            .await
            .expect("json");
        session["customer"]["id"].as_str().map(str::to_string)
    }
}

fn param(url: &Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// A callback query of the given parameters (URL-encoded).
fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().copied())
        .finish()
}

#[tokio::test]
async fn org_goes_straight_to_its_idp_and_each_idp_signs_a_shopper_in() {
    let shop = Enterprise::start("", &[]).await;

    for (org, idp, client, login) in [
        ("acme", &shop.acme, ACME.0, "alice"),
        (" Globex ", &shop.globex, GLOBEX.0, "bob"),
        // The same subject at the other organisation's IdP is someone else.
        ("globex", &shop.globex, GLOBEX.0, "alice"),
    ] {
        let shopper = Shopper::new(&["shop"]).expect("client");
        let start = format!(
            "/_sso/login?org={}&return_to=%2Faccount%2Forders",
            org.replace(' ', "+")
        );
        let resp = shopper.page(&shop.url(&start)).await.expect("login");
        assert_eq!(resp.status(), 302);
        let to = location(&resp);
        assert!(to.starts_with(&format!("{}/auth?", idp.issuer())), "{org}: {to}");
        let name = org.trim().to_lowercase();
        let authorize = Url::parse(&to).expect("url");
        assert_eq!(param(&authorize, "client_id"), client);
        assert_eq!(
            param(&authorize, "redirect_uri"),
            shop.url(&format!("/login/sso/callback/{name}")),
            "each IdP has its own redirect URI"
        );

        let landing = shopper.walk(resp, login).await.expect("walk");
        assert_eq!(landing.status, 200, "{landing:?}");
        assert_eq!(landing.url.as_str(), shop.url("/account/orders"));
        assert!(landing.visited.iter().any(|u| u.port() == Some(idp.port)));
        let echo = echo_of(&landing.body).expect("echo");
        // Without a provisioning hook the id names the IdP: two organisations' IdPs may
        // both issue subject "alice", and neither may become the other's customer.
        let id = format!("{name}:{login}");
        assert_eq!(
            echo["headers"]["x-customer-id"],
            id.as_str(),
            "the origin sees IdP and subject"
        );
        assert_eq!(shop.signed_in_as(&shopper).await.as_deref(), Some(id.as_str()));
    }

    let ready: serde_json::Value = reqwest::get(shop.gateway.admin_url("/readyz"))
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["checks"]["oidc:shop/acme"], true, "{ready}");
    assert_eq!(ready["checks"]["oidc:shop/globex"], true, "{ready}");
    let metrics = shop.gateway.metrics().await;
    assert!(
        metrics.contains("sso_gateway_logins_total{method=\"oidc\",outcome=\"success\",site=\"shop\"} 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_chooser_lists_both_idps_escaped_and_anonymous_navigations_reach_it() {
    let shop = Enterprise::start("", &[]).await;
    let shopper = Shopper::new(&["shop"]).expect("client");

    // An anonymous page load of a login route goes to the chooser, keeping the path.
    let resp = shopper
        .page(&shop.url("/account/orders?page=2"))
        .await
        .expect("account");
    assert_eq!(resp.status(), 302);
    let to = location(&resp);
    assert_eq!(to, "/_sso/login?return_to=%2Faccount%2Forders%3Fpage%3D2");
    assert!(resp.headers().get("set-cookie").is_none(), "no login started yet");

    let resp = shopper.page(&shop.url(&to)).await.expect("chooser");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.headers()["content-type"]
        .to_str()
        .expect("type")
        .starts_with("text/html"));
    assert!(resp.headers().get("set-cookie").is_none(), "the chooser keeps no state");
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let page = resp.text().await.expect("page");
    assert!(
        !page.contains("<script"),
        "no script, and the display name is escaped:\n{page}"
    );
    assert!(
        page.contains("Acme &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"),
        "{page}"
    );
    assert!(page.contains(">Globex</a>"), "{page}");
    assert!(
        page.contains("<form method=\"get\" action=\"/_sso/login\">")
            && page.contains("<label for=\"org\">")
            && page.contains("id=\"org\" name=\"org\""),
        "an organisation field with its label:\n{page}"
    );
    assert!(
        page.contains("name=\"return_to\" value=\"/account/orders?page=2\""),
        "{page}"
    );
    assert!(
        page.contains("href=\"/_sso/login?org=globex&amp;return_to=%2Faccount%2Forders%3Fpage%3D2\""),
        "{page}"
    );

    // The form as a browser submits it starts the login at the named IdP.
    let resp = shopper
        .page(&shop.url("/_sso/login?org=globex&return_to=%2Faccount%2Forders%3Fpage%3D2"))
        .await
        .expect("form");
    assert_eq!(resp.status(), 302);
    assert!(location(&resp).starts_with(&format!("{}/auth?", shop.globex.issuer())));

    // An unknown organisation: a clear page, no redirect, nothing started, the name
    // not echoed.
    let resp = shopper
        .page(&shop.url("/_sso/login?org=%3Cscript%3Einitech"))
        .await
        .expect("unknown");
    assert_eq!(resp.status(), 404);
    assert!(resp.headers().get("location").is_none());
    assert!(resp.headers().get("set-cookie").is_none());
    let page = resp.text().await.expect("page");
    assert!(
        page.contains("No organisation with this name") && !page.contains("initech"),
        "{page}"
    );

    // Scripts get no chooser and no login.
    let resp = shopper.api(&shop.url("/_sso/login")).await.expect("xhr");
    assert_eq!(resp.status(), 401);

    // An open redirect in return_to is not carried through.
    let resp = shopper
        .page(&shop.url("/_sso/login?return_to=https%3A%2F%2Fevil.example%2F"))
        .await
        .expect("evil");
    let page = resp.text().await.expect("page");
    assert!(!page.contains("evil.example"), "{page}");
}

#[tokio::test]
async fn a_response_of_one_idp_is_refused_at_the_other_idps_callback() {
    let shop = Enterprise::start("", &[]).await;
    let shopper = Shopper::new(&["shop"]).expect("client");

    let acme_response = shop.until_callback(&shopper, "/_sso/login?org=acme", "mallory").await;
    assert_eq!(acme_response.path(), "/login/sso/callback/acme");
    assert_eq!(param(&acme_response, "iss"), shop.acme.issuer(), "the IdP sends iss");
    let whole = acme_response.query().expect("query").to_string();

    // acme's whole response (state, code, iss) presented at globex's callback.
    let resp = shopper
        .page(&shop.url(&format!("/login/sso/callback/globex?{whole}")))
        .await
        .expect("mixed up");
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
    assert!(resp.text().await.expect("page").contains("idp_mismatch"));
    assert_eq!(shop.signed_in_as(&shopper).await, None);
    // The same with a forged globex `iss`: the state itself says it belongs to acme.
    let again = shop.until_callback(&shopper, "/_sso/login?org=acme", "mallory").await;
    let forged = query(&[
        ("code", &param(&again, "code")),
        ("state", &param(&again, "state")),
        ("iss", &shop.globex.issuer()),
    ]);
    let resp = shopper
        .page(&shop.url(&format!("/login/sso/callback/globex?{forged}")))
        .await
        .expect("mixed up");
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.expect("page").contains("idp_mismatch"));
    assert_eq!(shop.signed_in_as(&shopper).await, None);
    // The state was spent by the attempt: it cannot be finished anywhere now.
    let resp = shopper
        .page(&shop.url(&format!("/login/sso/callback/acme?{whole}")))
        .await
        .expect("replayed");
    assert_eq!(resp.status(), 400);
    assert_eq!(shop.signed_in_as(&shopper).await, None);

    // globex's state paired with acme's code, at globex's callback: with acme's iss,
    // without iss (globex's metadata promises it), and with a forged globex iss (the
    // code means nothing to globex). Each needs a fresh globex state.
    let acme_code = param(
        &shop.until_callback(&shopper, "/_sso/login?org=acme", "mallory").await,
        "code",
    );
    let attempts: [(Option<String>, u16, &str); 3] = [
        (Some(shop.acme.issuer()), 400, "idp_mismatch"),
        (None, 400, "idp_mismatch"),
        (Some(shop.globex.issuer()), 502, "idp_error"),
    ];
    for (iss, status, code) in attempts {
        let globex = shop.until_callback(&shopper, "/_sso/login?org=globex", "mallory").await;
        assert_eq!(globex.path(), "/login/sso/callback/globex");
        let state = param(&globex, "state");
        let mut pairs = vec![("code", acme_code.as_str()), ("state", state.as_str())];
        if let Some(iss) = &iss {
            pairs.push(("iss", iss));
        }
        let resp = shopper
            .page(&shop.url(&format!("/login/sso/callback/globex?{}", query(&pairs))))
            .await
            .expect("paired");
        assert_eq!(resp.status(), status, "iss {iss:?}");
        assert!(resp.text().await.expect("page").contains(code), "iss {iss:?}");
        assert_eq!(shop.signed_in_as(&shopper).await, None, "iss {iss:?}");
    }
    let metrics = shop.gateway.metrics().await;
    assert!(
        metrics.contains("sso_gateway_logins_total{method=\"oidc\",outcome=\"idp_mismatch\",site=\"shop\"} 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_forged_iss_is_refused_and_the_honest_response_still_works() {
    let shop = Enterprise::start("", &[]).await;
    let shopper = Shopper::new(&["shop"]).expect("client");

    let forged_at = shop.until_callback(&shopper, "/_sso/login?org=acme", "erin").await;
    for forged in [
        shop.globex.issuer(),
        format!("{}/", shop.acme.issuer()),
        "https://evil.example".into(),
    ] {
        // Each try needs its own state: the refused one is spent.
        let honest = shop.until_callback(&shopper, "/_sso/login?org=acme", "erin").await;
        let pairs = [
            ("code", param(&honest, "code")),
            ("state", param(&honest, "state")),
            ("iss", forged.clone()),
        ];
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let resp = shopper
            .page(&shop.url(&format!("/login/sso/callback/acme?{}", query(&pairs))))
            .await
            .expect("forged");
        assert_eq!(resp.status(), 400, "{forged}");
        assert!(resp.text().await.expect("page").contains("idp_mismatch"));
        assert_eq!(shop.signed_in_as(&shopper).await, None);
    }
    // A repeated iss (one honest, one forged) is refused too.
    let honest = shop.until_callback(&shopper, "/_sso/login?org=acme", "erin").await;
    let doubled = format!(
        "/login/sso/callback/acme?{}&iss=https%3A%2F%2Fevil.example",
        honest.query().expect("query")
    );
    assert_eq!(shopper.page(&shop.url(&doubled)).await.expect("doubled").status(), 400);

    // The untouched response of the first login still signs in.
    let resp = shopper.page(forged_at.as_str()).await.expect("honest");
    assert_eq!(resp.status(), 303, "{:?}", resp.text().await);
    assert_eq!(shop.signed_in_as(&shopper).await.as_deref(), Some("acme:erin"));
}

#[tokio::test]
async fn logout_and_refresh_go_to_the_idp_that_signed_the_session_in() {
    // globex: an explicit logout URL with parameters, and access tokens that expire
    // at once, so every request after a second refreshes at globex.
    let shop = Enterprise::start(
        "logout_url = \"https://logout.globex.example/bye\"\nlogout_params = { tenant = \"shop\" }\n",
        &[("ACCESS_TOKEN_TTL", "2")],
    )
    .await;

    let alice = Shopper::new(&["shop"]).expect("client");
    let landing = alice
        .walk(
            alice.page(&shop.url("/_sso/login?org=acme")).await.expect("start"),
            "alice",
        )
        .await
        .expect("acme login");
    assert_eq!(landing.status, 200, "{landing:?}");
    let bob = Shopper::new(&["shop"]).expect("client");
    let landing = bob
        .walk(
            bob.page(&shop.url("/_sso/login?org=globex")).await.expect("start"),
            "bob",
        )
        .await
        .expect("globex login");
    assert_eq!(landing.status, 200, "{landing:?}");

    // bob's session refreshes at globex (acme would refuse globex's refresh token and
    // end the session): he stays signed in and the refresh is counted.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let refreshed = "sso_gateway_logins_total{method=\"oidc\",outcome=\"refreshed\",site=\"shop\"}";
    while shop.gateway.metric(refreshed).await < 1.0 {
        assert!(std::time::Instant::now() < deadline, "{}", shop.gateway.metrics().await);
        let resp = bob.page(&shop.url("/account")).await.expect("account");
        assert_eq!(resp.status(), 200, "bob stays signed in");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(shop.signed_in_as(&bob).await.as_deref(), Some("globex:bob"));

    let resp = alice.page(&shop.url("/_sso/logout")).await.expect("logout");
    assert_eq!(resp.status(), 303);
    let to = location(&resp);
    assert!(to.starts_with(&format!("{}/session/end?", shop.acme.issuer())), "{to}");
    assert!(to.contains(&format!("client_id={}", ACME.0)), "{to}");

    let resp = bob.page(&shop.url("/_sso/logout")).await.expect("logout");
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "https://logout.globex.example/bye?tenant=shop");
    assert_eq!(shop.signed_in_as(&bob).await, None);
    assert_eq!(shop.signed_in_as(&alice).await, None);

    // Without a session there is no IdP to sign out of: the site's own page.
    let resp = alice.page(&shop.url("/_sso/logout")).await.expect("logout");
    assert_eq!(location(&resp), "/");
}

#[tokio::test]
async fn only_starting_a_login_or_naming_an_unknown_organisation_costs_login_budget() {
    // Staff of one company often share one address: showing them the chooser must
    // not use up the logins they may start.
    let config = GatewayConfig::default().server("[server.rate_limits]\nlogin = 3");
    let shop = Enterprise::start_with(config, "", &[]).await;
    let shopper = Shopper::new(&["shop"]).expect("client");
    for _ in 0..10 {
        let resp = shopper.page(&shop.url("/account")).await.expect("account");
        assert_eq!(resp.status(), 302);
        assert_eq!(
            shopper
                .page(&shop.url(&location(&resp)))
                .await
                .expect("chooser")
                .status(),
            200
        );
    }
    let start = |org: &'static str| {
        let url = shop.url(&format!("/_sso/login?org={org}"));
        let shopper = &shopper;
        async move { shopper.page(&url).await.expect("login").status() }
    };
    assert_eq!(start("acme").await, 302);
    assert_eq!(start("initech").await, 404);
    assert_eq!(start("globex").await, 302);
    assert_eq!(start("acme").await, 429, "the fourth counted request is over the limit");
    assert_eq!(start("initech").await, 429, "probing names counts too");
    assert_eq!(
        shopper.page(&shop.url("/_sso/login")).await.expect("chooser").status(),
        200
    );
}

#[tokio::test]
async fn with_redis_a_login_started_on_one_replica_finishes_at_its_idp_on_the_other() {
    use sso_tests::replicas::{unique_prefix, TestRedis};
    let redis = TestRedis::shared();
    let sessions = format!(
        "store = \"redis\"\nredis_url = \"{}\"\nredis_key_prefix = \"{}\"\n",
        redis.url,
        unique_prefix()
    );
    let a = Enterprise::start_with(GatewayConfig::default().sessions(&sessions), "", &[]).await;
    let site = SITE.with(|s| s.borrow().clone());
    let b = GatewayConfig::default()
        .sessions(&sessions)
        .site(&site)
        .start()
        .expect("replica b");
    b.ready().await.expect("b ready");
    let on_b = |url: &Url| b.site_url("shop", &format!("{}?{}", url.path(), url.query().unwrap_or("")));

    // Started on A for globex (a pending login naming its IdP, in Redis), finished on B.
    let shopper = Shopper::new(&["shop"]).expect("client");
    let response = a
        .until_callback(&shopper, "/_sso/login?org=globex&return_to=/account", "grace")
        .await;
    let resp = shopper.page(&on_b(&response)).await.expect("callback on b");
    assert_eq!(resp.status(), 303, "{}", b.log());
    assert_eq!(location(&resp), "/account");
    let echo = echo_of(
        &shopper
            .page(&a.url("/account"))
            .await
            .expect("a")
            .text()
            .await
            .expect("body"),
    )
    .expect("echo");
    assert_eq!(
        echo["headers"]["x-customer-id"], "globex:grace",
        "the session is shared"
    );

    // The mix-up defence holds across replicas: acme's response at globex's callback on B.
    let mallory = Shopper::new(&["shop"]).expect("client");
    let acme = a.until_callback(&mallory, "/_sso/login?org=acme", "mallory").await;
    let mut mixed = acme.clone();
    mixed.set_path("/login/sso/callback/globex");
    let resp = mallory.page(&on_b(&mixed)).await.expect("mixed up");
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.expect("page").contains("idp_mismatch"));
    assert_eq!(a.signed_in_as(&mallory).await, None);
}

#[tokio::test]
async fn a_merchant_login_page_comes_first_and_org_or_via_idp_still_reach_the_idps() {
    let merchant = "[sites.customer_login]\nclient_id = \"merchant\"\n\
                    client_secret = \"customer-login-secret-0123456789abcdef\"\nstore_hash = \"k2x9f7\"\n\
                    [sites.login]\nurl = \"https://merchant.example/login?return_to={return_to}\"\n";
    let shop = Enterprise::start(merchant, &[]).await;
    let shopper = Shopper::new(&["shop"]).expect("client");

    let resp = shopper.page(&shop.url("/account/orders")).await.expect("account");
    assert_eq!(resp.status(), 302);
    assert_eq!(
        location(&resp),
        "https://merchant.example/login?return_to=%2Faccount%2Forders"
    );
    let resp = shopper.page(&shop.url("/_sso/login")).await.expect("login");
    assert!(location(&resp).starts_with("https://merchant.example/login"));

    let resp = shopper.page(&shop.url("/_sso/login?via=idp")).await.expect("via idp");
    assert_eq!(resp.status(), 200, "several IdPs: the chooser");
    assert!(resp.text().await.expect("page").contains(">Globex</a>"));
    let resp = shopper.page(&shop.url("/_sso/login?org=globex")).await.expect("org");
    assert!(location(&resp).starts_with(&format!("{}/auth?", shop.globex.issuer())));
}

#[tokio::test]
async fn another_sites_page_cannot_pick_the_idp_and_callback_variants_never_reach_the_origin() {
    let shop = Enterprise::start("", &[]).await;
    let shopper = Shopper::new(&["shop"]).expect("client");
    // A page of another site links to ?org=acme: the visitor gets the chooser, no login.
    let resp = shopper
        .http
        .get(shop.url("/_sso/login?org=acme&return_to=/account"))
        .header("accept", "text/html")
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document")
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 200, "the chooser, not a redirect to the IdP");
    assert_eq!(
        resp.headers()
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert!(resp.text().await.expect("body").contains("Globex"));
    // The same link from the shop's own page goes straight to acme.
    let own = shopper
        .http
        .get(shop.url("/_sso/login?org=acme"))
        .header("accept", "text/html")
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("login");
    assert_eq!(own.status(), 302);
    // Another spelling of a callback path: neither a callback nor passed on with the code.
    for variant in [
        "/login/sso/callback/ACME?code=c0de&state=s",
        "/login/sso/callback/acme;x=1?code=c0de&state=s",
        "/login/sso/callback/acme/?code=c0de&state=s",
    ] {
        let resp = shopper.api(&shop.url(variant)).await.expect("variant");
        assert_eq!(resp.status(), 404, "{variant}");
        let body = resp.text().await.expect("body");
        assert!(
            body.contains("not_found") && !body.contains("c0de"),
            "{variant}: reached the origin: {body}"
        );
    }
}

#[tokio::test]
async fn one_organisations_idp_being_down_does_not_hold_the_gateway_out_of_service() {
    let origin = Storefront::start().expect("origin");
    let config = GatewayConfig::default();
    let base = format!("http://shop.localhost:{}", config.port);
    let acme = Idp::start_client(ACME, &[format!("{base}/login/sso/callback/acme")], &[], &[]).expect("acme idp");
    let down = format!("http://127.0.0.1:{}", sso_tests::free_port());
    let site = format!(
        "name = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"{}\"]\npublic_url = \"{base}\"\n\
         [[sites.idps]]\nname = \"acme\"\ndisplay_name = \"Acme\"\nissuer = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\
         [[sites.idps]]\nname = \"globex\"\ndisplay_name = \"Globex\"\nissuer = \"{down}\"\nclient_id = \"g\"\nclient_secret = \"g\"\n",
        origin.addr(),
        acme.issuer(),
        ACME.0,
        ACME.1
    );
    let gateway = config.site(&site).start().expect("gateway");
    gateway.serving().await.expect("ready on acme alone");
    let ready: serde_json::Value = reqwest::get(gateway.admin_url("/readyz"))
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["checks"]["oidc:shop"], true, "{ready}");
    assert_eq!(ready["checks"]["oidc:shop/acme"], true, "{ready}");
    assert_eq!(
        ready["checks"]["oidc:shop/globex"], false,
        "shown, not counted: {ready}"
    );
}

#[tokio::test]
async fn an_organisations_idp_speaks_only_for_the_email_domains_it_is_given() {
    // globex may assert addresses at example.com (the demo IdP's); acme, given none,
    // may assert no address at all.
    let shop = Enterprise::start("email_domains = [\"example.com\"]", &[]).await;
    for (org, login, email) in [("acme", "ann", None), ("globex", "gil", Some("gil@example.com"))] {
        let shopper = Shopper::new(&["shop"]).expect("client");
        let start = shopper
            .page(&shop.url(&format!("/_sso/login?org={org}&return_to=/account")))
            .await
            .expect("start");
        let landing = shopper.walk(start, login).await.expect("walk");
        assert_eq!(landing.status, 200, "{org}: {landing:?}");
        let echo = echo_of(&landing.body).expect("echo");
        assert_eq!(echo["headers"]["x-customer-email"].as_str(), email, "{org}");
    }
}
