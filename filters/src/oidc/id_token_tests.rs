//! Every ID-token validation failure of OIDC Core 3.1.3.7, against the verifier the
//! gateway uses (openidconnect's checks plus [`harden_verifier`]).

use super::id_token_policy::{check_authorized_party, harden_verifier};
use crate::sessions::now_secs;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet};
use openidconnect::{ClaimsVerificationError, ClientId, ClientSecret, IssuerUrl, Nonce, SignatureVerificationError};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{json, Value};
use std::str::FromStr;

const ISSUER: &str = "http://idp.test";
const CLIENT: &str = "storefront";
const SECRET: &str = "client-secret-used-as-hmac-key!!";
const NONCE: &str = "the-nonce";

struct Idp {
    key: EncodingKey,
    jwks: CoreJsonWebKeySet,
    kid: &'static str,
}

fn idp(kid: &'static str) -> Idp {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let pem = secret.to_pkcs8_pem(LineEnding::LF).expect("pem");
    let point = p256::EncodedPoint::from(secret.public_key());
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
        "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
    }]});
    Idp {
        key: EncodingKey::from_ec_pem(pem.as_bytes()).expect("key"),
        jwks: serde_json::from_value(jwks).expect("jwks"),
        kid,
    }
}

fn claims() -> Value {
    let now = now_secs();
    json!({ "iss": ISSUER, "sub": "alice", "aud": CLIENT, "iat": now, "exp": now + 300, "nonce": NONCE })
}

impl Idp {
    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.into());
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign")
    }

    fn verifier(&self) -> CoreIdTokenVerifier<'static> {
        harden_verifier(CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(CLIENT.into()),
            ClientSecret::new(SECRET.into()),
            IssuerUrl::new(ISSUER.into()).expect("issuer"),
            self.jwks.clone(),
        ))
    }

    fn check(&self, jwt: &str) -> Result<(), ClaimsVerificationError> {
        let token = CoreIdToken::from_str(jwt).map_err(|e| ClaimsVerificationError::Other(e.to_string()))?;
        let claims = token.claims(&self.verifier(), &Nonce::new(NONCE.into()))?;
        check_authorized_party(claims, CLIENT).map_err(ClaimsVerificationError::Other)
    }
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

#[test]
fn a_valid_token_passes() {
    let idp = idp("k1");
    assert!(idp.check(&idp.sign(&claims())).is_ok());
}

#[test]
fn claim_failures_are_rejected() {
    let idp = idp("k1");
    let now = now_secs();
    let cases = [
        ("wrong nonce", with(claims(), "nonce", json!("other"))),
        ("missing nonce", {
            let mut c = claims();
            c.as_object_mut().expect("object").remove("nonce");
            c
        }),
        ("wrong issuer", with(claims(), "iss", json!("http://evil.test"))),
        ("wrong audience", with(claims(), "aud", json!("another-client"))),
        (
            "untrusted extra audience",
            with(claims(), "aud", json!([CLIENT, "another-client"])),
        ),
        (
            "azp of another client",
            with(with(claims(), "aud", json!([CLIENT])), "azp", json!("another-client")),
        ),
        ("expired", with(claims(), "exp", json!(now - 60))),
        ("issued in the future", with(claims(), "iat", json!(now + 3600))),
    ];
    for (what, c) in cases {
        assert!(idp.check(&idp.sign(&c)).is_err(), "{what} was accepted");
    }
}

#[test]
fn signature_failures_are_rejected() {
    let idp_a = idp("k1");
    // Signed by another key that claims the same kid.
    let impostor = idp("k1");
    assert!(matches!(
        idp_a.check(&impostor.sign(&claims())),
        Err(ClaimsVerificationError::SignatureVerification(_))
    ));

    // An unknown kid is reported as such, so the gateway refetches the JWKS.
    let rotated = idp("k2");
    assert!(matches!(
        idp_a.check(&rotated.sign(&claims())),
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey
        ))
    ));

    // alg=none.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    assert!(
        idp_a.check(&format!("{header}.{payload}.")).is_err(),
        "alg=none accepted"
    );

    // HS256 keyed with the client secret: valid HMAC, but not an allowed algorithm.
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("hs256");
    assert!(idp_a.check(&hs).is_err(), "HS256 with the client secret accepted");

    // A tampered payload.
    let good = idp_a.sign(&claims());
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(with(claims(), "sub", json!("mallory")).to_string());
    assert!(idp_a.check(&parts.join(".")).is_err(), "tampered payload accepted");
}
