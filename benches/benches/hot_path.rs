//! Micro benchmarks of what an authenticated request costs the gateway:
//! session lookup at 1 k / 100 k / 1 M sessions (by handle: the store's own cost),
//! cookie verification, identify from a cookie (verify + handle hash + lookup), identity
//! header strip and inject, gateway-token signing (and the per-session cache), and
//! ID-token validation, and the gateway's own pages (rendered error page, JSON). Run: `cargo bench -p sso-benches --bench hot_path`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, Nonce};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use sso_benches::{config, customer, identify_now, populated_store, site_auth};
use sso_filters::identity_headers::IdentityHeaderStrip;
use sso_filters::oidc::id_token_policy::harden_verifier;
use sso_filters::secret::{SessionId, Sid};
use sso_filters::sessions::cookie::CookieCodec;
use sso_filters::sessions::now_secs;
use sso_filters::store::SessionStore;
use sso_filters::tokens::{TokenPurpose, TokenSigner};
use std::str::FromStr;

fn session_lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("session_lookup");
    for n in [1_000usize, 100_000, 1_000_000] {
        let (store, ids) = populated_store(n);
        let sids: Vec<Sid> = ids.iter().map(Sid::of).collect();
        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                i = (i + 7919) % sids.len();
                black_box(store.cached(&sids[i]))
            })
        });
    }
    group.finish();
}

fn cookie_and_identity(c: &mut Criterion) {
    let cfg = config();
    let site = &cfg.sites[0];
    let (store, ids) = populated_store(1_000);
    let codec = CookieCodec::from_config(&cfg.sessions, site);
    let cookie = codec.encode(&ids[0]);
    c.bench_function("cookie_verify", |b| {
        b.iter(|| black_box(codec.decode(black_box(&cookie))))
    });

    let auth = site_auth(&cfg, store);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "cookie",
        format!("_ga=GA1.2.3; sso_session={cookie}; theme=dark")
            .parse()
            .expect("value"),
    );
    headers.insert("accept", "text/html".parse().expect("value"));
    headers.insert(
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) Chrome/156".parse().expect("value"),
    );
    c.bench_function("identify_from_cookie", |b| {
        b.iter(|| black_box(identify_now(&auth, black_box(&headers))))
    });

    let identity = identify_now(&auth, &headers).expect("identity");
    c.bench_function("identity_headers_with_cached_token", |b| {
        b.iter(|| black_box(auth.identity_headers(black_box(&identity))))
    });

    let strip = IdentityHeaderStrip::from_config(&site.identity_headers);
    let mut spoofy = headers.clone();
    spoofy.insert("x-customer-id", "admin".parse().expect("value"));
    c.bench_function("strip_scan_clean_request", |b| {
        b.iter(|| black_box(strip.spoofed(black_box(&headers))))
    });
    c.bench_function("strip_scan_spoofed_request", |b| {
        b.iter(|| black_box(strip.spoofed(black_box(&spoofy))))
    });
}

fn token_signing(c: &mut Criterion) {
    let signer = TokenSigner::new(None).expect("signer");
    let who = customer(1);
    let sid = Sid::of(&SessionId::random());
    c.bench_function("token_sign_es256", |b| {
        b.iter(|| {
            let claims = TokenSigner::claims_for(
                TokenPurpose::Customer,
                &who,
                &sid,
                "http://shop.localhost:8080",
                "shop",
                now_secs(),
                300,
            );
            black_box(signer.sign(TokenPurpose::Customer, &claims))
        })
    });
}

fn id_token_validation(c: &mut Criterion) {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let pem = secret.to_pkcs8_pem(LineEnding::LF).expect("pem");
    let point = p256::EncodedPoint::from(secret.public_key());
    let jwks: CoreJsonWebKeySet = serde_json::from_value(serde_json::json!({"keys": [{
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "k1",
        "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
        "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
    }]}))
    .expect("jwks");
    let now = now_secs();
    let claims = serde_json::json!({
        "iss": "http://idp.test", "sub": "alice", "aud": "storefront", "iat": now, "exp": now + 3600,
        "nonce": "n", "email": "alice@example.com", "name": "Alice"
    });
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k1".into());
    let jwt = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ec_pem(pem.as_bytes()).expect("key"),
    )
    .expect("jwt");
    let verifier = harden_verifier(CoreIdTokenVerifier::new_confidential_client(
        ClientId::new("storefront".into()),
        ClientSecret::new("s".into()),
        IssuerUrl::new("http://idp.test".into()).expect("issuer"),
        jwks,
    ));
    let nonce = Nonce::new("n".into());
    c.bench_function("id_token_validate_es256", |b| {
        b.iter(|| {
            let token = CoreIdToken::from_str(black_box(&jwt)).expect("parse");
            black_box(
                token
                    .claims(&verifier, &nonce)
                    .map(|c| c.subject().to_string())
                    .expect("valid"),
            )
        })
    });
}

/// What a page of the gateway's own costs when it is written: the shipped error page
/// rendered in German, the same answer as JSON (translated message), and a reply
/// without a page (a redirect: what every other reply pays, one check).
fn gateway_pages(c: &mut Criterion) {
    let cfg = config();
    let pages = sso_filters::pages::Pages::for_site(&cfg.sites[0]).expect("pages");
    c.bench_function("page_render_html_404_de", |b| {
        b.iter(|| {
            let reply = sso_filters::Reply::error(404, "not_found", "There is nothing here.", false);
            black_box(pages.render(reply, Some("de-DE,de;q=0.9,en;q=0.8"), Some("0f4febd3ceb7fb6b")))
        })
    });
    c.bench_function("page_render_json_404_de", |b| {
        b.iter(|| {
            let reply = sso_filters::Reply::error(404, "not_found", "There is nothing here.", true);
            black_box(pages.render(reply, Some("de-DE,de;q=0.9,en;q=0.8"), None))
        })
    });
    c.bench_function("page_render_redirect_passes", |b| {
        b.iter(|| black_box(pages.render(sso_filters::Reply::redirect(303, "/x"), Some("de"), None)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = session_lookup, cookie_and_identity, token_signing, id_token_validation, gateway_pages
}
criterion_main!(benches);
