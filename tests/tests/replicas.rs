//! Two gateways on one Redis act as one (issue 9's "done when", checked as a user
//! would): a shopper signed in on A is signed in on B; a login started on A finishes
//! on B; logout and the admin `DELETE` on one end the session on the other within a
//! second; a callback raced on both yields one session; a rotating refresh token is
//! used once however many requests on both replicas find it due.

use sso_tests::client::{anonymous_within, customer_with_cookie};
use sso_tests::replicas::{ReplicaOptions, Replicas};
use sso_tests::{echo_of, Shopper};
use std::time::Duration;

/// The customer the origin was told about for `url`, or `None` when the request was
/// anonymous (a login redirect or an error).
async fn customer_at(shopper: &Shopper, url: &str) -> Option<String> {
    let resp = shopper.api(url).await.ok()?;
    if resp.status() != 200 {
        return None;
    }
    let echo = echo_of(&resp.text().await.ok()?).ok()?;
    echo["headers"]["x-customer-id"].as_str().map(str::to_string)
}

/// `GET /sessions?site=shop&customer=…` on a replica's admin listener.
async fn listed_sessions(gateway: &sso_tests::Gateway, customer: &str) -> serde_json::Value {
    reqwest::get(gateway.admin_url(&format!("/sessions?site=shop&customer={customer}")))
        .await
        .expect("list")
        .json()
        .await
        .expect("json")
}

/// Signs `login` in on replica A (`/account`).
async fn sign_in_on_a(r: &Replicas, shopper: &Shopper, login: &str) {
    r.ready().await.expect("replicas ready");
    let start = shopper.page(&r.url_a("/account")).await.expect("start");
    let landing = shopper.walk(start, login).await.expect("walk");
    assert_eq!(landing.status, 200, "{landing:?}\n{}", r.a.log());
}

#[tokio::test]
async fn a_session_is_one_across_replicas_and_ends_on_both() {
    one_session_across_replicas(ReplicaOptions::default()).await;
}

/// The same on a real three-primary Redis Cluster: sessions, the logout fan-out and
/// the admin `DELETE` (whose index and sessions live on different nodes).
#[tokio::test]
async fn on_a_redis_cluster_too() {
    let cluster = sso_tests::replicas::TestCluster::start();
    one_session_across_replicas(ReplicaOptions {
        redis_address: Some(cluster.sessions_toml()),
        ..ReplicaOptions::default()
    })
    .await;
}

async fn one_session_across_replicas(options: ReplicaOptions<'_>) {
    let r = Replicas::start(options).expect("replicas");
    let shopper = Shopper::new(&["shop"]).expect("client");
    sign_in_on_a(&r, &shopper, "nina").await;
    assert_eq!(
        customer_at(&shopper, &r.url_a("/account")).await.as_deref(),
        Some("nina")
    );
    assert_eq!(
        customer_at(&shopper, &r.url_b("/account")).await.as_deref(),
        Some("nina"),
        "the same cookie is signed in on B:\n{}",
        r.b.log()
    );

    // Logout on A: the same cookie (kept by whoever copied it) is anonymous on B
    // within a second, though B held the session in its L1.
    let copied = shopper.cookies_for(&r.url_a("/"));
    assert_eq!(
        customer_with_cookie(&copied, &r.url_b("/account")).await.as_deref(),
        Some("nina")
    );
    let resp = shopper.page(&r.url_a("/_sso/logout")).await.expect("logout");
    assert_eq!(resp.status(), 303);
    assert!(anonymous_within(&copied, &r.url_b("/account"), Duration::from_secs(1)).await);
    let shopper_cookie_kept = Shopper::new(&["shop"]).expect("client");
    sign_in_on_a(&r, &shopper_cookie_kept, "nina").await;

    // Support ends every session of the customer from B's admin listener: A forgets it.
    assert_eq!(
        customer_at(&shopper_cookie_kept, &r.url_a("/account")).await.as_deref(),
        Some("nina")
    );
    let list = listed_sessions(&r.b, "nina").await;
    let sessions = list["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 1, "{list}");
    let listed = sessions[0].as_object().expect("row");
    assert!(listed.contains_key("created_at") && listed.contains_key("last_seen"));
    assert!(!list
        .to_string()
        .contains(&shopper_cookie_kept.cookies_for(&r.url_a("/"))));
    let ended: serde_json::Value = reqwest::Client::new()
        .delete(r.b.admin_url("/sessions?site=shop&customer=nina"))
        .send()
        .await
        .expect("delete")
        .json()
        .await
        .expect("json");
    assert_eq!(ended["ended"], 1, "{ended}");
    let kept = shopper_cookie_kept.cookies_for(&r.url_a("/"));
    assert!(anonymous_within(&kept, &r.url_a("/account"), Duration::from_secs(1)).await);
    assert!(customer_with_cookie(&kept, &r.url_b("/account")).await.is_none());
}

#[tokio::test]
async fn a_login_started_on_a_finishes_on_b_and_a_raced_callback_makes_one_session() {
    let r = Replicas::start(ReplicaOptions::default()).expect("replicas");
    r.ready().await.expect("ready");
    let is_callback = |u: &url::Url| u.path() == "/login/sso/callback";
    let a_port = r.a.port.to_string();
    let b_port = r.b.port.to_string();

    // Started on A, the IdP sends the browser back; the load balancer picks B.
    let shopper = Shopper::new(&["shop"]).expect("client");
    let start = shopper.page(&r.url_a("/account")).await.expect("start");
    let at_callback = shopper.walk_until(start, "olga", is_callback).await.expect("walk");
    let on_b = at_callback.url.as_str().replace(&a_port, &b_port);
    let resp = shopper.page(&on_b).await.expect("callback on B");
    assert_eq!(resp.status(), 303, "{}", r.b.log());
    assert_eq!(
        customer_at(&shopper, &r.url_b("/account")).await.as_deref(),
        Some("olga")
    );
    assert_eq!(
        customer_at(&shopper, &r.url_a("/account")).await.as_deref(),
        Some("olga")
    );

    // The same callback sent to A and B at once: one session, one refusal.
    for round in 0..3 {
        let racer = Shopper::new(&["shop"]).expect("client");
        let start = racer.page(&r.url_a("/account")).await.expect("start");
        let at_callback = racer.walk_until(start, "pia", is_callback).await.expect("walk");
        let to_a = at_callback.url.to_string();
        let to_b = to_a.replace(&a_port, &b_port);
        let (x, y) = tokio::join!(racer.page(&to_a), racer.page(&to_b));
        let statuses = [x.expect("A").status().as_u16(), y.expect("B").status().as_u16()];
        let mut sorted = statuses;
        sorted.sort();
        assert_eq!(sorted, [303, 400], "round {round}: {statuses:?}");
    }
    let list = listed_sessions(&r.a, "pia").await;
    assert_eq!(
        list["sessions"].as_array().map(Vec::len),
        Some(3),
        "one session per raced login: {list}"
    );
}

/// The IdP rotates refresh tokens and revokes the grant when a spent one is used:
/// two refreshes of one session would end it. Both replicas under load when the
/// token is due: exactly one refresh, and the session lives on through the next.
#[tokio::test]
async fn a_rotating_refresh_happens_once_across_replicas_and_the_session_survives() {
    let r = Replicas::start(ReplicaOptions {
        idp_env: &[("ACCESS_TOKEN_TTL", "4"), ("ROTATE_REFRESH_TOKENS", "1")],
        sessions: "l1_ttl = \"1s\"",
        ..ReplicaOptions::default()
    })
    .expect("replicas");
    let shopper = Shopper::new(&["shop"]).expect("client");
    sign_in_on_a(&r, &shopper, "rosa").await;
    assert_eq!(
        customer_at(&shopper, &r.url_b("/account")).await.as_deref(),
        Some("rosa")
    );

    for period in 1..=2 {
        tokio::time::sleep(Duration::from_millis(3300)).await;
        let mut load = tokio::task::JoinSet::new();
        for i in 0..16 {
            let url = if i % 2 == 0 {
                r.url_a("/account")
            } else {
                r.url_b("/account")
            };
            let http = shopper.http.clone();
            load.spawn(async move { http.get(url).header("accept", "application/json").send().await });
        }
        while let Some(resp) = load.join_next().await {
            let resp = resp.expect("join").expect("request");
            assert_eq!(resp.status(), 200, "period {period}");
            let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
            assert_eq!(echo["headers"]["x-customer-id"], "rosa", "period {period}");
        }
        let refreshed = |m: &str| {
            m.lines()
                .find(|l| {
                    l.starts_with("sso_gateway_logins_total{method=\"oidc\",outcome=\"refreshed\",site=\"shop\"}")
                })
                .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let total = refreshed(&r.a.metrics().await) + refreshed(&r.b.metrics().await);
        assert_eq!(
            total,
            period,
            "refreshes after period {period}:\n{}\n{}",
            r.a.log(),
            r.b.log()
        );
    }
    assert_eq!(
        customer_at(&shopper, &r.url_a("/account")).await.as_deref(),
        Some("rosa"),
        "the rotated token was kept: the session survived two rotations"
    );
}

/// The subscription of replica B is stalled without being closed (a NAT or load
/// balancer that dropped the idle flow): B notices within seconds (its pings go
/// unanswered), says so in `/readyz`, reconnects and drops its L1, so a logout on A
/// reaches B well before B's `l1_ttl` (30 s here) would have.
#[tokio::test]
async fn a_silently_stalled_subscription_is_noticed_and_revocation_still_arrives() {
    let redis = sso_tests::replicas::TestRedis::shared();
    let upstream: std::net::SocketAddr = ([127, 0, 0, 1], redis.port).into();
    let proxy = sso_tests::stalling_proxy::StallingProxy::start(upstream)
        .await
        .expect("proxy");
    let r = Replicas::start(ReplicaOptions {
        sessions: "l1_ttl = \"30s\"",
        b_redis_url: Some(format!("redis://{}/0", proxy.addr)),
        redis: Some(redis),
        ..ReplicaOptions::default()
    })
    .expect("replicas");
    let shopper = Shopper::new(&["shop"]).expect("client");
    sign_in_on_a(&r, &shopper, "sami").await;
    assert_eq!(
        customer_at(&shopper, &r.url_b("/account")).await.as_deref(),
        Some("sami")
    );

    let copied = shopper.cookies_for(&r.url_a("/"));
    proxy.stall_subscriptions();
    let resp = shopper.page(&r.url_a("/_sso/logout")).await.expect("logout");
    assert_eq!(resp.status(), 303);
    assert_eq!(
        customer_with_cookie(&copied, &r.url_b("/account")).await.as_deref(),
        Some("sami"),
        "the eviction is held up: B still serves its copy for now"
    );
    assert!(
        anonymous_within(&copied, &r.url_b("/account"), Duration::from_secs(12)).await,
        "B kept serving a revoked session with its subscription stalled:\n{}",
        r.b.log()
    );
    assert!(r.b.log().contains("eviction subscription"), "{}", r.b.log());
}
