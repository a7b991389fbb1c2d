use super::*;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;
use sso_config::Secret;

const SECRET: &str = "merchant-secret-0123456789abcdef0123";
const NOW: u64 = 1_800_000_000;

fn config() -> CustomerLoginConfig {
    CustomerLoginConfig {
        client_id: "merchant".into(),
        client_secret: Secret::new(SECRET),
        store_hash: "abc123".into(),
        channel_id: None,
        path: "/login/token/".into(),
        max_age: Duration::from_secs(30),
        default_redirect: "/account".into(),
        logout_redirect: "/login.php?action=logout".into(),
    }
}

fn claims() -> Value {
    json!({
        "iss": "merchant",
        "iat": NOW - 2,
        "jti": "j-1",
        "operation": "customer_login",
        "store_hash": "abc123",
        "customer_id": 42,
        "redirect_to": "/cart?x=1",
    })
}

fn sign(claims: &Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signs")
}

fn with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut c = claims();
    if let Value::Object(m) = &mut c {
        change(m);
    }
    sign(&c, SECRET)
}

fn verify(token: &str) -> Result<CustomerLogin, CustomerLoginError> {
    CustomerLoginVerifier::new(&config()).verify(token, NOW, Some("192.0.2.7".parse().expect("ip")))
}

#[test]
fn a_good_token_names_the_customer_and_the_landing_path() {
    let ok = verify(&sign(&claims(), SECRET)).expect("accepted");
    assert_eq!(ok.customer_id, "42");
    assert_eq!(ok.jti, "j-1");
    assert_eq!(ok.redirect_to.as_deref(), Some("/cart?x=1"));
    let text_id = verify(&with(|m| {
        m.insert("customer_id".into(), json!("cust-7"));
        m.remove("redirect_to");
    }))
    .expect("accepted");
    assert_eq!((text_id.customer_id.as_str(), text_id.redirect_to), ("cust-7", None));
}

#[test]
fn only_hs256_under_this_secret_is_accepted() {
    use CustomerLoginError::*;
    assert_eq!(
        verify(&sign(&claims(), "another-secret-0123456789abcdef0123")),
        Err(Signature)
    );
    let hs384 = encode(
        &Header::new(Algorithm::HS384),
        &claims(),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("signs");
    assert_eq!(verify(&hs384), Err(Signature));
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims()));
    assert_eq!(verify(&unsigned), Err(Signature));
    let rs = format!("{}.{}.c2ln", b64(&json!({"alg": "RS256"})), b64(&claims()));
    assert_eq!(verify(&rs), Err(Signature));
    let es = format!("{}.{}.c2ln", b64(&json!({"alg": "ES256"})), b64(&claims()));
    assert_eq!(verify(&es), Err(Signature));
    let signed = sign(&claims(), SECRET);
    let mut parts: Vec<&str> = signed.split('.').collect();
    let tampered = b64(&json!({"iss": "merchant", "customer_id": 1}));
    parts[1] = &tampered;
    assert_eq!(verify(&parts.join(".")), Err(Signature));
    for junk in ["", "a", "a.b", "a.b.c", "...", &"x".repeat(MAX_TOKEN_LEN + 1)] {
        assert_eq!(verify(junk), Err(Malformed), "{junk:.20}");
    }
}

#[test]
fn every_claim_is_checked() {
    use CustomerLoginError::*;
    let cases: Vec<(String, CustomerLoginError)> = vec![
        (with(|m| drop(m.insert("iss".into(), json!("other")))), WrongIssuer),
        (with(|m| drop(m.remove("iss"))), WrongIssuer),
        (
            with(|m| drop(m.insert("operation".into(), json!("customer_logout")))),
            WrongOperation,
        ),
        (with(|m| drop(m.insert("store_hash".into(), json!("zzz")))), WrongStore),
        (with(|m| drop(m.remove("customer_id"))), NoCustomer),
        (with(|m| drop(m.insert("customer_id".into(), json!(-1)))), NoCustomer),
        (
            with(|m| drop(m.insert("customer_id".into(), json!("a\nb")))),
            NoCustomer,
        ),
        (with(|m| drop(m.insert("customer_id".into(), json!("")))), NoCustomer),
        (
            with(|m| drop(m.insert("customer_id".into(), json!("\u{feff}1001")))),
            NoCustomer,
        ),
        (with(|m| drop(m.insert("customer_id".into(), json!("a b")))), NoCustomer),
        (with(|m| drop(m.remove("jti"))), NoJti),
        (with(|m| drop(m.insert("jti".into(), json!({"a": 1})))), NoJti),
        (with(|m| drop(m.insert("iat".into(), json!(NOW - 31)))), Expired),
        (with(|m| drop(m.insert("iat".into(), json!(NOW - 60)))), Expired),
        (with(|m| drop(m.insert("iat".into(), json!(NOW + 6)))), FromFuture),
        (with(|m| drop(m.remove("iat"))), Malformed),
        (with(|m| drop(m.insert("iat".into(), json!(1.5)))), Malformed),
        (
            with(|m| drop(m.insert("request_ip".into(), json!("198.51.100.1")))),
            IpMismatch,
        ),
        (
            with(|m| drop(m.insert("request_ip".into(), json!("not an ip")))),
            IpMismatch,
        ),
        (
            with(|m| drop(m.insert("redirect_to".into(), json!("https://evil.example/")))),
            BadRedirect,
        ),
        (
            with(|m| drop(m.insert("redirect_to".into(), json!("//evil.example/")))),
            BadRedirect,
        ),
        (
            with(|m| drop(m.insert("redirect_to".into(), json!("/\\evil.example")))),
            BadRedirect,
        ),
        (
            with(|m| drop(m.insert("redirect_to".into(), json!("/%2F%2Fevil.example")))),
            BadRedirect,
        ),
        (with(|m| drop(m.insert("redirect_to".into(), json!(7)))), BadRedirect),
    ];
    for (token, want) in cases {
        assert_eq!(verify(&token), Err(want), "{want:?}");
    }
    // Within the window and the skew: accepted.
    assert!(verify(&with(|m| drop(m.insert("iat".into(), json!(NOW - 30))))).is_ok());
    assert!(verify(&with(|m| drop(m.insert("iat".into(), json!(NOW + 5))))).is_ok());
    // The client's address, IPv4 or IPv4-mapped IPv6.
    assert!(verify(&with(|m| drop(m.insert("request_ip".into(), json!("192.0.2.7"))))).is_ok());
    assert!(verify(&with(|m| drop(
        m.insert("request_ip".into(), json!("::ffff:192.0.2.7"))
    )))
    .is_ok());
    let unknown_client = CustomerLoginVerifier::new(&config()).verify(
        &with(|m| drop(m.insert("request_ip".into(), json!("192.0.2.7")))),
        NOW,
        None,
    );
    assert_eq!(unknown_client, Err(IpMismatch));
}

#[test]
fn a_configured_channel_must_match() {
    let verifier = CustomerLoginVerifier::new(&CustomerLoginConfig {
        channel_id: Some(2),
        ..config()
    });
    let check = |t: &str| verifier.verify(t, NOW, None);
    assert_eq!(check(&sign(&claims(), SECRET)), Err(CustomerLoginError::WrongChannel));
    assert_eq!(
        check(&with(|m| drop(m.insert("channel_id".into(), json!(1))))),
        Err(CustomerLoginError::WrongChannel)
    );
    assert!(check(&with(|m| drop(m.insert("channel_id".into(), json!(2))))).is_ok());
}

#[test]
fn a_minted_token_verifies_with_the_platform_secret() {
    let platform = PlatformLoginConfig {
        client_id: "merchant".into(),
        client_secret: Secret::new(SECRET),
        store_hash: "abc123".into(),
        channel_id: Some(1),
        path: "/login/token/".into(),
        logout_path: "/login.php?action=logout".into(),
    };
    let client: IpAddr = "192.0.2.7".parse().expect("ip");
    let a = mint(&platform, "42", "/cart", Some(client), NOW).expect("mints");
    let b = mint(&platform, "42", "/cart", Some(client), NOW).expect("mints");
    assert_ne!(a, b, "a fresh jti each time");
    let verifier = CustomerLoginVerifier::new(&CustomerLoginConfig {
        channel_id: Some(1),
        ..config()
    });
    let back = verifier.verify(&a, NOW, Some(client)).expect("verifies");
    assert_eq!(
        (back.customer_id.as_str(), back.redirect_to.as_deref()),
        ("42", Some("/cart"))
    );
    let payload: Value = jsonwebtoken::dangerous::insecure_decode::<Value>(&a)
        .expect("decodes")
        .claims;
    assert_eq!(payload["customer_id"], json!(42), "digits go as a number");
    assert_eq!(payload["request_ip"], json!("192.0.2.7"));
    let padded = mint(&platform, "007", "/", None, NOW).expect("mints");
    let padded: Value = jsonwebtoken::dangerous::insecure_decode::<Value>(&padded)
        .expect("decodes")
        .claims;
    assert_eq!(padded["customer_id"], json!("007"), "leading zeros stay text");
}

#[test]
fn an_email_claim_is_kept_when_it_is_an_address_and_refuses_the_token_otherwise() {
    assert_eq!(verify(&sign(&claims(), SECRET)).expect("accepted").email, None);
    let ok = verify(&with(|m| {
        m.insert("email".into(), json!("olga.petrova+shop@mail.example.com"));
    }))
    .expect("accepted");
    assert_eq!(ok.email.as_deref(), Some("olga.petrova+shop@mail.example.com"));
    let null = verify(&with(|m| {
        m.insert("email".into(), Value::Null);
    }));
    assert_eq!(null.map(|l| l.email), Ok(None));
    for bad in [
        json!(""),
        json!("olga"),
        json!("olga@"),
        json!("@example.com"),
        json!("olga@localhost"),
        json!("olga@example..com"),
        json!("olga@-example.com"),
        json!("ol ga@example.com"),
        json!("olga@exa mple.com"),
        json!("olga@@example.com"),
        json!("\"olga\"@example.com"),
        json!("olga@example.com\r\nX-Customer-Id: 1"),
        json!("olga@[192.0.2.1]"),
        json!(".olga@example.com"),
        json!("o..lga@example.com"),
        json!("ölga@example.com"),
        json!(format!("{}@example.com", "a".repeat(65))),
        json!(format!("a@{}.com", "b".repeat(250))),
        json!(42),
        json!(["olga@example.com"]),
    ] {
        let token = with(|m| {
            m.insert("email".into(), bad.clone());
        });
        assert_eq!(verify(&token), Err(CustomerLoginError::BadEmail), "{bad}");
    }
}
