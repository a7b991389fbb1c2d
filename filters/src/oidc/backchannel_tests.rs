//! Every logout-token check of Back-Channel Logout 1.0 §2.6, one refusal at a time,
//! against keys made here (the real provider's tokens are in the integration test).

use super::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::json;

const ISSUER: &str = "http://idp.test";
const CLIENT: &str = "storefront";
const NOW: u64 = 1_800_000_000;

struct Keys {
    key: EncodingKey,
    jwk: Value,
}

/// A P-256 key pair with its public JWK (`kid`).
fn keys(kid: &str) -> Keys {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let pem = secret.to_pkcs8_pem(LineEnding::LF).expect("pem");
    let point = p256::EncodedPoint::from(secret.public_key());
    Keys {
        key: EncodingKey::from_ec_pem(pem.as_bytes()).expect("key"),
        jwk: json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
            "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
        }),
    }
}

fn jwks(keys: &[&Keys]) -> CoreJsonWebKeySet {
    let list: Vec<Value> = keys.iter().map(|k| k.jwk.clone()).collect();
    serde_json::from_value(json!({ "keys": list })).expect("jwks")
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "aud": CLIENT, "iat": NOW, "exp": NOW + 120, "jti": "j-1",
        "sub": "alice", "sid": "idp-session-1",
        "events": { LOGOUT_EVENT: {} },
    })
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

fn without(mut base: Value, key: &str) -> Value {
    base.as_object_mut().expect("object").remove(key);
    base
}

impl Keys {
    /// `claims` signed ES256 with `typ: logout+jwt` and this key's `kid`.
    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = self.jwk["kid"].as_str().map(str::to_string);
        header.typ = Some("logout+jwt".into());
        self.sign_with(header, claims)
    }

    fn sign_with(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign")
    }
}

/// A token with this raw header and `claims`, signed by `keys` over exactly that.
fn raw_header(keys: &Keys, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    // jsonwebtoken's `encode` writes its own header: sign ours with its crypto.
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &keys.key, Algorithm::ES256).expect("sign");
    format!("{input}.{signature}")
}

fn check(keys: &CoreJsonWebKeySet, token: &str) -> Result<LogoutClaims, LogoutTokenError> {
    verify(token, ISSUER, CLIENT, keys, NOW)
}

#[test]
fn a_logout_token_of_the_idp_passes() {
    let k = keys("k1");
    let found = check(&jwks(&[&k]), &k.sign(&claims())).expect("valid");
    assert_eq!(found.subject.as_deref(), Some("alice"));
    assert_eq!(found.session.as_deref(), Some("idp-session-1"));
    assert_eq!((found.jti.as_str(), found.issued_at), ("j-1", NOW));
    assert_eq!(found.issuer, ISSUER);
}

#[test]
fn what_the_spec_leaves_optional_may_be_absent() {
    let k = keys("k1");
    let set = jwks(&[&k]);
    let ok = |c: Value| check(&set, &k.sign(&c));
    assert!(ok(without(claims(), "sid")).is_ok(), "sub alone");
    assert!(ok(without(claims(), "sub")).is_ok(), "sid alone");
    assert!(ok(without(claims(), "exp")).is_ok(), "no exp");
    assert!(ok(with(claims(), "aud", json!(["other", CLIENT]))).is_ok(), "aud list");
    assert!(
        ok(with(claims(), "iat", json!(NOW + 30))).is_ok(),
        "iat within the skew"
    );
    assert!(ok(with(claims(), "iat", json!(NOW - 300))).is_ok(), "iat at the oldest");
    let events = json!({ LOGOUT_EVENT: {}, "https://example.com/other": {"x": 1} });
    assert!(ok(with(claims(), "events", events)).is_ok(), "other events beside");
    // `typ` absent, or as a full media type, in any case.
    let untyped = {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some("k1".into());
        h.typ = None;
        k.sign_with(h, &claims())
    };
    assert!(check(&set, &untyped).is_ok(), "no typ");
    let media = {
        let mut h = Header::new(Algorithm::ES256);
        h.typ = Some("Application/Logout+JWT".into());
        k.sign_with(h, &claims())
    };
    assert!(check(&set, &media).is_ok(), "typ as a media type, no kid with one key");
}

#[test]
fn each_claim_failure_has_its_own_refusal() {
    use LogoutTokenError::*;
    let k = keys("k1");
    let set = jwks(&[&k]);
    let cases = [
        (
            "another issuer",
            with(claims(), "iss", json!("http://evil.test")),
            UnknownIssuer,
        ),
        ("no issuer", without(claims(), "iss"), UnknownIssuer),
        (
            "another audience",
            with(claims(), "aud", json!("other-client")),
            WrongAudience,
        ),
        ("no audience", without(claims(), "aud"), WrongAudience),
        ("no iat", without(claims(), "iat"), NoIssuedAt),
        ("iat as text", with(claims(), "iat", json!("1800000000")), NoIssuedAt),
        ("iat too old", with(claims(), "iat", json!(NOW - 301)), TooOld),
        ("iat far in the past", with(claims(), "iat", json!(0)), TooOld),
        (
            "iat in the future",
            with(claims(), "iat", json!(NOW + 31)),
            FromTheFuture,
        ),
        ("expired", with(claims(), "exp", json!(NOW - 30)), Expired),
        ("exp not a number", with(claims(), "exp", json!("soon")), Expired),
        ("no jti", without(claims(), "jti"), NoJti),
        ("empty jti", with(claims(), "jti", json!("")), NoJti),
        ("jti a number", with(claims(), "jti", json!(7)), NoJti),
        ("no events", without(claims(), "events"), NoLogoutEvent),
        (
            "events a list",
            with(claims(), "events", json!([LOGOUT_EVENT])),
            NoLogoutEvent,
        ),
        (
            "another event",
            with(claims(), "events", json!({"x": {}})),
            NoLogoutEvent,
        ),
        (
            "event not an object",
            with(claims(), "events", json!({ LOGOUT_EVENT: "yes" })),
            NoLogoutEvent,
        ),
        ("a nonce", with(claims(), "nonce", json!("n")), Nonce),
        ("a null nonce", with(claims(), "nonce", Value::Null), Nonce),
        (
            "neither sub nor sid",
            without(without(claims(), "sub"), "sid"),
            NoSubject,
        ),
        (
            "sub not text",
            with(without(claims(), "sid"), "sub", json!(42)),
            NoSubject,
        ),
        ("sid with a newline", with(claims(), "sid", json!("a\nb")), NoSubject),
        ("empty sub", with(claims(), "sub", json!("")), NoSubject),
    ];
    for (what, c, expected) in cases {
        assert_eq!(check(&set, &k.sign(&c)), Err(expected), "{what}");
    }
}

#[test]
fn an_id_token_is_no_logout_token() {
    let k = keys("k1");
    let id_token = json!({
        "iss": ISSUER, "aud": CLIENT, "iat": NOW, "exp": NOW + 300, "sub": "alice",
        "nonce": "n", "sid": "idp-session-1",
    });
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some("k1".into());
    assert!(check(&jwks(&[&k]), &k.sign_with(h, &id_token)).is_err());
    let mut h = Header::new(Algorithm::ES256);
    h.typ = Some("JWT".into());
    assert_eq!(
        check(&jwks(&[&k]), &k.sign_with(h, &claims())),
        Err(LogoutTokenError::WrongType),
        "typ JWT"
    );
}

#[test]
fn signatures_and_keys_are_those_of_the_idp() {
    use LogoutTokenError::*;
    let k = keys("k1");
    let set = jwks(&[&k]);
    assert_eq!(check(&set, &keys("k1").sign(&claims())), Err(BadSignature), "impostor");
    assert_eq!(
        check(&set, &keys("k2").sign(&claims())),
        Err(NoMatchingKey),
        "unknown kid"
    );

    let good = k.sign(&claims());
    let parts: Vec<&str> = good.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(with(claims(), "sub", json!("mallory")).to_string());
    assert_eq!(
        check(&set, &format!("{}.{forged}.{}", parts[0], parts[2])),
        Err(BadSignature)
    );
    assert_eq!(check(&set, &format!("{}.{}.", parts[0], parts[1])), Err(BadSignature));

    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"logout+jwt"}"#),
        URL_SAFE_NO_PAD.encode(claims().to_string())
    );
    assert_eq!(check(&set, &none), Err(Algorithm), "alg none");
    let hs = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(b"the client secret as an hmac key"),
    )
    .expect("hs256");
    assert_eq!(check(&set, &hs), Err(Algorithm), "HS256");
    let unknown = raw_header(&k, &json!({"alg": "ES257", "kid": "k1"}), &claims());
    assert_eq!(check(&set, &unknown), Err(Algorithm));
    let crit = raw_header(&k, &json!({"alg": "ES256", "kid": "k1", "crit": ["exp"]}), &claims());
    assert_eq!(check(&set, &crit), Err(CriticalHeader));
    let raw_ok = raw_header(
        &k,
        &json!({"alg": "ES256", "kid": "k1", "typ": "logout+jwt"}),
        &claims(),
    );
    assert!(check(&set, &raw_ok).is_ok(), "the raw-header helper signs correctly");

    // Two keys that fit and no kid: refused, as for ID tokens.
    let mut h = Header::new(jsonwebtoken::Algorithm::ES256);
    h.typ = Some("logout+jwt".into());
    let no_kid = k.sign_with(h, &claims());
    assert_eq!(check(&jwks(&[&k, &keys("k2")]), &no_kid), Err(AmbiguousKey));
    // An RSA algorithm named against an EC key: no key fits.
    let rs = raw_header(&k, &json!({"alg": "RS256", "kid": "k1"}), &claims());
    assert_eq!(check(&set, &rs), Err(NoMatchingKey));
}

#[test]
fn what_is_not_a_signed_jwt_is_malformed() {
    use LogoutTokenError::*;
    let k = keys("k1");
    let set = jwks(&[&k]);
    let good = k.sign(&claims());
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    let cases = [
        String::new(),
        "abc".into(),
        "a.b".into(),
        format!("{good}.x.y"),
        format!("{good}="),
        good.replacen('.', "..", 1),
        format!("{}.{}.c2ln", b64("not json"), b64("{}")),
        format!("{}.{}.c2ln", b64(r#"{"alg":"ES256"}"#), b64("[1,2]")),
        format!("{}.{}.c2ln", b64(r#"{"typ":"logout+jwt"}"#), b64("{}")),
        format!("{}.{}.c2ln", b64(r#"{"alg":"ES256","kid":7}"#), b64("{}")),
    ];
    for token in cases {
        assert_eq!(check(&set, &token), Err(Malformed), "{token:?}");
    }
    let huge = k.sign(&with(claims(), "pad", json!("x".repeat(MAX_LOGOUT_TOKEN))));
    assert_eq!(check(&set, &huge), Err(TooLarge));
}

#[test]
fn codes_are_distinct() {
    use LogoutTokenError::*;
    let all = [
        TooLarge,
        Malformed,
        Algorithm,
        WrongType,
        CriticalHeader,
        UnknownIssuer,
        KeysUnavailable,
        NoMatchingKey,
        AmbiguousKey,
        BadSignature,
        WrongAudience,
        NoIssuedAt,
        TooOld,
        FromTheFuture,
        Expired,
        NoJti,
        Replayed,
        NoLogoutEvent,
        Nonce,
        NoSubject,
    ];
    let codes: std::collections::HashSet<&str> = all.iter().map(|e| e.code()).collect();
    assert_eq!(codes.len(), all.len());
}

#[test]
fn a_logout_token_with_an_algorithm_the_idp_does_not_use_for_id_tokens_is_refused() {
    use openidconnect::core::CoreJwsSigningAlgorithm as Alg;
    let k = keys("k1");
    let set = jwks(&[&k]);
    let token = k.sign(&claims());
    // The same well-signed ES256 token: accepted where the IdP signs ID tokens with
    // ES256, refused where it uses RS256 only.
    verify_with_algs(
        &token,
        ISSUER,
        CLIENT,
        &set,
        &[Alg::RsaSsaPkcs1V15Sha256, Alg::EcdsaP256Sha256],
        NOW,
    )
    .expect("ES256 is one of the IdP's");
    assert_eq!(
        verify_with_algs(&token, ISSUER, CLIENT, &set, &[Alg::RsaSsaPkcs1V15Sha256], NOW),
        Err(LogoutTokenError::Algorithm)
    );
    assert_eq!(
        verify_with_algs(&token, ISSUER, CLIENT, &set, &[], NOW),
        Err(LogoutTokenError::Algorithm),
        "an IdP listing no usable algorithm accepts no logout token"
    );
}
