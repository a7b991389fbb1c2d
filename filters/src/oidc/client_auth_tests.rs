use super::*;
use jsonwebtoken::{DecodingKey, Validation};
use p256::pkcs8::LineEnding;

fn ec_pem() -> String {
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    key.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string()
}

fn rsa_pem(bits: usize) -> String {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).expect("rsa");
    key.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string()
}

/// The RFC 7638 thumbprint computed independently: the required members of the
/// public JWK, serialised with sorted keys (serde_json's map is ordered).
fn expected_thumbprint(jwk: &Value, members: &[&str]) -> String {
    let required: serde_json::Map<String, Value> = members.iter().map(|m| (m.to_string(), jwk[*m].clone())).collect();
    let canonical = serde_json::to_string(&required).expect("json");
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn verify(key: &AssertionKey, assertion: &str, audience: &str) -> Value {
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwks()["keys"][0].clone()).expect("jwk");
    let header = jsonwebtoken::decode_header(assertion).expect("header");
    assert_eq!(header.kid.as_deref(), Some(key.kid()));
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&["storefront"]);
    let data = jsonwebtoken::decode::<Value>(assertion, &DecodingKey::from_jwk(&jwk).expect("key"), &validation)
        .expect("verifies with the published key");
    data.claims
}

#[test]
fn p256_keys_sign_es256_assertions() {
    let key = AssertionKey::from_pem(&ec_pem()).expect("key");
    assert_eq!(key.alg(), "ES256");
    let jwk = &key.public_jwks()["keys"][0];
    assert_eq!(key.kid(), expected_thumbprint(jwk, &["crv", "kty", "x", "y"]));
    assert!(jwk.get("d").is_none(), "no private part is published");
    let a = key
        .assertion("storefront", "https://idp.example/token")
        .expect("assertion");
    let claims = verify(&key, &a, "https://idp.example/token");
    assert_eq!(claims["sub"], "storefront");
    let b = key
        .assertion("storefront", "https://idp.example/token")
        .expect("assertion");
    let other = verify(&key, &b, "https://idp.example/token");
    assert_ne!(claims["jti"], other["jti"], "a fresh jti each time");
    let lifetime = claims["exp"].as_u64().unwrap_or(0) - claims["iat"].as_u64().unwrap_or(0);
    assert_eq!(lifetime, ASSERTION_LIFETIME.as_secs());
}

#[test]
fn rsa_keys_sign_rs256_assertions() {
    let key = AssertionKey::from_pem(&rsa_pem(2048)).expect("key");
    assert_eq!(key.alg(), "RS256");
    let jwk = &key.public_jwks()["keys"][0];
    assert_eq!(key.kid(), expected_thumbprint(jwk, &["e", "kty", "n"]));
    assert!(jwk.get("d").is_none() && jwk.get("p").is_none());
    let a = key
        .assertion("storefront", "https://idp.example/token")
        .expect("assertion");
    verify(&key, &a, "https://idp.example/token");
}

#[test]
fn other_keys_are_refused() {
    assert!(AssertionKey::from_pem(&rsa_pem(1024)).is_err(), "short RSA");
    assert!(AssertionKey::from_pem("not a key").is_err());
    let sec1 = p256::SecretKey::random(&mut rand::rngs::OsRng)
        .to_sec1_pem(LineEnding::LF)
        .expect("pem")
        .to_string();
    assert!(AssertionKey::from_pem(&sec1).is_err(), "SEC1 is refused: PKCS#8 only");
    let pkcs1 = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .expect("rsa")
        .to_pkcs1_pem(LineEnding::LF)
        .expect("pem")
        .to_string();
    assert!(
        AssertionKey::from_pem(&pkcs1).is_err(),
        "PKCS#1 is refused: PKCS#8 only"
    );
}

#[test]
fn secret_methods_send_the_secret_their_way() {
    let secret = Secret::new("s3cret");
    let basic = ClientAuth::resolve(None, &secret, None, false).expect("basic");
    assert!(matches!(basic.openid_client_parts(), (Some(_), AuthType::BasicAuth)));
    let post = ClientAuth::resolve(None, &secret, None, true).expect("post when discovery lists only post");
    assert!(matches!(post.openid_client_parts(), (Some(_), AuthType::RequestBody)));
    let forced =
        ClientAuth::resolve(Some(TokenEndpointAuthMethod::ClientSecretBasic), &secret, None, true).expect("basic");
    assert!(
        matches!(forced, ClientAuth::SecretBasic(_)),
        "an explicit method wins over discovery"
    );
    assert!(basic.assertion_params("c", "a").expect("params").is_empty());
    assert!(ClientAuth::resolve(Some(TokenEndpointAuthMethod::PrivateKeyJwt), &secret, None, false).is_err());
    let key = Arc::new(AssertionKey::from_pem(&ec_pem()).expect("key"));
    let jwt =
        ClientAuth::resolve(Some(TokenEndpointAuthMethod::PrivateKeyJwt), &secret, Some(&key), false).expect("jwt");
    assert!(matches!(jwt.openid_client_parts(), (None, AuthType::RequestBody)));
    let params = jwt.assertion_params("c", "https://idp/token").expect("params");
    assert_eq!(params[0], ("client_assertion_type", ASSERTION_TYPE.to_string()));
}
