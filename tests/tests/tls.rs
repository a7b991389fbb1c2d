//! TLS at the edge: certificates by SNI, HTTP/2, HSTS, rotation without restart,
//! the HTTP→HTTPS listener, secure cookies through a whole login, and verified
//! upstream TLS. Certificates come from a throwaway CA made at test time.

use reqwest::tls::TlsInfo;
use sso_tests::tls_certs::TestCa;
use sso_tests::{echo_of, free_port, GatewayConfig, Idp, Shopper, Storefront, CLIENT_ID, CLIENT_SECRET};
use std::time::{Duration, Instant};

fn tls_listener(port: u16, cert: &sso_tests::tls_certs::Issued) -> String {
    format!(
        "[[server.tls]]\nlisten = \"127.0.0.1:{port}\"\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.cert_path.display(),
        cert.key_path.display()
    )
}

fn tls_site(name: &str, port: u16, origin: &str, cert: &sso_tests::tls_certs::Issued) -> String {
    format!(
        "name = \"{name}\"\nhosts = [\"{name}.localhost\"]\nupstreams = [\"{origin}\"]\n\
         public_url = \"https://{name}.localhost:{port}\"\n[sites.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.cert_path.display(),
        cert.key_path.display()
    )
}

fn peer_cert(resp: &reqwest::Response) -> Vec<u8> {
    resp.extensions()
        .get::<TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

#[tokio::test]
async fn each_site_gets_its_certificate_http2_and_hsts() {
    let ca = TestCa::new("sni").expect("ca");
    let default = ca.issue("default", &["default.localhost"]).expect("cert");
    let a = ca.issue("shop-a", &["shop-a.localhost"]).expect("cert");
    let b = ca.issue("shop-b", &["shop-b.localhost"]).expect("cert");
    let origin = Storefront::start().expect("origin");
    let tls_port = free_port();
    let cfg = GatewayConfig::default().server(&tls_listener(tls_port, &default));
    let gw = cfg
        .site(&tls_site("shop-a", tls_port, &origin.addr(), &a))
        .site(&tls_site("shop-b", tls_port, &origin.addr(), &b))
        .start()
        .expect("gateway");
    wait_tls(tls_port).await;
    let shopper = Shopper::with_ca(&["shop-a", "shop-b", "other"], &ca.pem).expect("client");

    for (name, cert) in [("shop-a", &a), ("shop-b", &b)] {
        let resp = shopper
            .api(&format!("https://{name}.localhost:{tls_port}/p?q=1"))
            .await
            .expect("https request");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), reqwest::Version::HTTP_2, "ALPN negotiates h2");
        assert_eq!(peer_cert(&resp), cert.der, "{name} got another certificate");
        assert_eq!(resp.headers()["strict-transport-security"], "max-age=31536000");
        let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
        assert_eq!(echo["headers"]["x-forwarded-proto"], "https");
        assert_eq!(echo["url"], "/p?q=1");
    }
    // Each served certificate's expiry is in the metrics, by site or listener.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    for name in ["shop-a", "shop-b", "server.tls[0]"] {
        let series = format!("sso_gateway_certificate_expiry_timestamp_seconds{{certificate=\"{name}\"}}");
        let not_after = gw.metric(&series).await;
        assert!(not_after > now + 86_400.0 * 365.0, "{series} = {not_after}");
    }
    // A name no site has gets the listener's default certificate, and no proxying.
    let resp = shopper.api(&format!("https://other.localhost:{tls_port}/")).await;
    assert!(
        resp.is_err(),
        "the default certificate does not name other.localhost, so the client refuses it"
    );
    // The plain storefront listener keeps serving (set-ups behind a TLS balancer),
    // and tells the origin the truth about the scheme.
    let resp = shopper
        .api(&gw.site_url("shop-a", "/plain"))
        .await
        .expect("plain request");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        echo_of(&resp.text().await.expect("body")).expect("echo")["headers"]["x-forwarded-proto"],
        "http"
    );
}

async fn wait_tls(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "TLS listener {port} never opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_certificate_swapped_on_disk_is_served_after_sighup_and_a_bad_one_is_refused() {
    let ca = TestCa::new("rotate").expect("ca");
    let old = ca.issue("shop", &["shop.localhost"]).expect("cert");
    let new = ca.issue("shop-new", &["shop.localhost"]).expect("cert");
    let origin = Storefront::start().expect("origin");
    let tls_port = free_port();
    let cfg = GatewayConfig::default().server(&tls_listener(tls_port, &old));
    let mut gw = cfg
        .site(&tls_site("shop", tls_port, &origin.addr(), &old))
        .start()
        .expect("gateway");
    wait_tls(tls_port).await;
    let url = format!("https://shop.localhost:{tls_port}/");
    let fresh = || Shopper::with_ca(&["shop"], &ca.pem).expect("client");
    assert_eq!(peer_cert(&fresh().api(&url).await.expect("request")), old.der);

    // A broken file: refused, the old certificate stays.
    std::fs::write(&old.cert_path, "not a certificate").expect("write");
    gw.signal("HUP").expect("SIGHUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(peer_cert(&fresh().api(&url).await.expect("request")), old.der);
    assert!(gw.log().contains("certificate not reloaded"), "{}", gw.log());

    // The new certificate: the next connection gets it, no restart.
    new.write_to(&old).expect("swap");
    gw.signal("HUP").expect("SIGHUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(peer_cert(&fresh().api(&url).await.expect("request")), new.der);
    assert!(
        gw.proc.child.try_wait().expect("wait").is_none(),
        "the gateway exited:\n{}",
        gw.log()
    );
}

#[tokio::test]
async fn the_plain_http_listener_redirects_with_308_except_acme_challenges() {
    let ca = TestCa::new("redirect").expect("ca");
    let cert = ca.issue("shop", &["shop.localhost"]).expect("cert");
    let origin = Storefront::start().expect("origin");
    let acme = Storefront::start().expect("acme responder");
    let (tls_port, http_port) = (free_port(), free_port());
    let cfg = GatewayConfig::default().server(&format!(
        "redirect_listen = [\"127.0.0.1:{http_port}\"]\nacme_upstream = \"{}\"\n{}",
        acme.addr(),
        tls_listener(tls_port, &cert)
    ));
    let _gw = cfg
        .site(&tls_site("shop", tls_port, &origin.addr(), &cert))
        .start()
        .expect("gateway");
    wait_tls(http_port).await;
    let shopper = Shopper::new(&["shop", "evil"]).expect("client");

    let resp = shopper
        .page(&format!("http://shop.localhost:{http_port}/account/orders?page=2"))
        .await
        .expect("request");
    assert_eq!(resp.status(), 308);
    assert_eq!(
        resp.headers()["location"],
        format!("https://shop.localhost:{tls_port}/account/orders?page=2")
    );
    let resp = shopper
        .page(&format!("http://shop.localhost:{http_port}//evil.example/x"))
        .await
        .expect("request");
    // The canonical path: `//evil.example` can never become a protocol-relative URL.
    assert_eq!(
        resp.headers()["location"],
        format!("https://shop.localhost:{tls_port}/evil.example/x")
    );
    let resp = shopper
        .page(&format!("http://evil.localhost:{http_port}/"))
        .await
        .expect("request");
    assert_eq!(resp.status(), 421);

    let resp = shopper
        .api(&format!(
            "http://shop.localhost:{http_port}/.well-known/acme-challenge/tok3n"
        ))
        .await
        .expect("acme");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        echo_of(&resp.text().await.expect("body")).expect("echo")["url"],
        "/.well-known/acme-challenge/tok3n"
    );
    // The ACME match is on the canonical path, and what is proxied carries no identity
    // headers and no forged forwarding facts.
    let resp = shopper
        .http
        .get(format!(
            "http://shop.localhost:{http_port}/.well-known/%61cme-challenge/t2"
        ))
        .header("accept", "application/json")
        .header("x-customer-id", "bob")
        .header("x_customer_email", "bob@evil")
        .header("x-forwarded-for", "6.6.6.6")
        .send()
        .await
        .expect("acme");
    let echo = echo_of(&resp.text().await.expect("body")).expect("echo");
    assert_eq!(echo["url"], "/.well-known/acme-challenge/t2");
    let raw = echo["rawHeaders"].to_string();
    assert!(!raw.contains("bob") && !raw.contains("6.6.6.6"), "{raw}");
    let resp = shopper
        .page(&format!(
            "http://shop.localhost:{http_port}/.well-known/acme-challenge/%2e%2e/%2e%2e/account"
        ))
        .await
        .expect("request");
    assert_eq!(
        resp.status(),
        308,
        "leaving the challenge directory is a redirect, not a proxy"
    );
    assert_eq!(
        resp.headers()["location"],
        format!("https://shop.localhost:{tls_port}/account")
    );
}

#[tokio::test]
async fn a_login_over_https_sets_host_prefixed_secure_cookies() {
    let ca = TestCa::new("login").expect("ca");
    let cert = ca.issue("shop", &["shop.localhost"]).expect("cert");
    let origin = Storefront::start().expect("origin");
    let tls_port = free_port();
    let callback = format!("https://shop.localhost:{tls_port}/login/sso/callback");
    let idp = Idp::start(&[callback], &[format!("https://shop.localhost:{tls_port}/")]).expect("idp");
    let cfg = GatewayConfig::default().server(&tls_listener(tls_port, &cert));
    let site = format!(
        "{}[sites.oidc]\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n\
         [[sites.routes]]\nprefix = \"/account\"\naccess = \"login\"\n",
        tls_site("shop", tls_port, &origin.addr(), &cert),
        idp.issuer()
    );
    let gw = cfg.site(&site).start().expect("gateway");
    wait_tls(tls_port).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(gw.admin_url("/readyz"))
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "not ready:\n{}", gw.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let shopper = Shopper::with_ca(&["shop"], &ca.pem).expect("client");
    let start = shopper
        .page(&format!("https://shop.localhost:{tls_port}/account"))
        .await
        .expect("start");
    let flow_cookie = start.headers()["set-cookie"].to_str().expect("cookie").to_string();
    assert!(
        flow_cookie.starts_with("__Host-sso_session_flow_") && flow_cookie.contains("Secure"),
        "{flow_cookie}"
    );
    let stop = shopper
        .walk_until(start, "kim", |u| u.path() == "/login/sso/callback")
        .await
        .expect("walk");
    let resp = shopper.page(stop.url.as_str()).await.expect("callback");
    assert_eq!(resp.status(), 303);
    let session_cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Host-sso_session="))
        .expect("session cookie")
        .to_string();
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session_cookie.contains(attr), "{session_cookie} lacks {attr}");
    }
    assert!(!session_cookie.contains("Domain"), "__Host- cookies carry no Domain");
    let landing = shopper
        .walk(
            shopper
                .page(&format!("https://shop.localhost:{tls_port}/account"))
                .await
                .expect("page"),
            "kim",
        )
        .await
        .expect("walk");
    assert_eq!(landing.status, 200);
    assert_eq!(echo_of(&landing.body).expect("echo")["headers"]["x-customer-id"], "kim");
}

#[tokio::test]
async fn upstream_certificates_are_verified() {
    let ca = TestCa::new("origin").expect("ca");
    let origin_cert = ca.issue("origin", &["localhost"]).expect("cert");
    let origin = Storefront::start_tls(&origin_cert).expect("tls origin");
    let upstream = format!("https://localhost:{}", origin.port);

    // Unknown CA (system roots only): refused with a 502.
    let gw = GatewayConfig::default()
        .plain_site("shop", std::slice::from_ref(&upstream))
        .start()
        .expect("gateway");
    let shopper = Shopper::new(&["shop"]).expect("client");
    assert_eq!(
        shopper.api(&gw.site_url("shop", "/")).await.expect("request").status(),
        502
    );
    drop(gw);

    // The CA configured: served.
    let cfg = GatewayConfig::default().server(&format!("upstream_ca_file = \"{}\"\n", ca.pem_path.display()));
    let gw = cfg
        .plain_site("shop", std::slice::from_ref(&upstream))
        .start()
        .expect("gateway");
    let resp = shopper.api(&gw.site_url("shop", "/verified")).await.expect("request");
    assert_eq!(resp.status(), 200, "{}", gw.log());
    drop(gw);

    // Explicitly insecure: served, and the log says so.
    let cfg = GatewayConfig::default();
    let port = cfg.port;
    let site = format!(
        "name = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"{upstream}\"]\npublic_url = \"http://shop.localhost:{port}\"\nupstream_insecure_skip_verify = true\n"
    );
    let gw = cfg.site(&site).start().expect("gateway");
    assert_eq!(
        shopper.api(&gw.site_url("shop", "/")).await.expect("request").status(),
        200
    );
    assert!(gw.log().contains("NOT verified"), "{}", gw.log());
}

#[tokio::test]
async fn a_site_added_by_reload_gets_its_certificate_and_its_https_redirect() {
    let ca = TestCa::new("reload").expect("ca");
    let default = ca.issue("default", &["default.localhost"]).expect("cert");
    let a = ca.issue("shop-a", &["shop-a.localhost"]).expect("cert");
    let b = ca.issue("shop-b", &["shop-b.localhost"]).expect("cert");
    let origin = Storefront::start().expect("origin");
    let (tls_port, http_port) = (free_port(), free_port());
    let one = GatewayConfig::default()
        .server(&format!(
            "redirect_listen = [\"127.0.0.1:{http_port}\"]\n{}",
            tls_listener(tls_port, &default)
        ))
        .site(&tls_site("shop-a", tls_port, &origin.addr(), &a));
    let two = one.clone().site(&tls_site("shop-b", tls_port, &origin.addr(), &b));
    let gw = one.start().expect("gateway");
    wait_tls(tls_port).await;
    let fresh = || Shopper::with_ca(&["shop-a", "shop-b"], &ca.pem).expect("client");
    let b_url = format!("https://shop-b.localhost:{tls_port}/");
    assert!(fresh().api(&b_url).await.is_err(), "no certificate for shop-b yet");
    let plain = Shopper::new(&["shop-b"]).expect("client");
    let redirect = format!("http://shop-b.localhost:{http_port}/x");
    assert_eq!(plain.page(&redirect).await.expect("redirect").status(), 421);

    gw.rewrite_config(&two.render()).expect("rewrite");
    let (code, answer) = gw.reload(None).await.expect("POST /reload");
    assert_eq!(code, 200, "{answer}");
    let resp = fresh().api(&b_url).await.expect("shop-b over TLS");
    assert_eq!(resp.status(), 200);
    assert_eq!(peer_cert(&resp), b.der, "SNI finds the new site's certificate");
    let a_resp = fresh()
        .api(&format!("https://shop-a.localhost:{tls_port}/"))
        .await
        .expect("shop-a");
    assert_eq!(peer_cert(&a_resp), a.der);
    let resp = plain.page(&redirect).await.expect("redirect");
    assert_eq!(resp.status(), 308, "the redirect listener follows the reload");
    assert_eq!(
        resp.headers()["location"],
        format!("https://shop-b.localhost:{tls_port}/x")
    );
}
