//! Fuzzing entry point of back-channel logout tokens. See [`super`] for how it runs.

use crate::oidc::backchannel::{verify, LogoutClaims, FUTURE_SKEW, LOGOUT_EVENT, MAX_AGE};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::CoreJsonWebKeySet;
use serde_json::Value;
use std::sync::OnceLock;

const ISSUER: &str = "http://idp.fuzz";
const CLIENT: &str = "storefront";
const NOW: u64 = 1_800_000_000;

/// The IdP's fixed key (so committed seeds stay valid) and an impostor's, same `kid`.
struct Fixture {
    key: jsonwebtoken::EncodingKey,
    keys: CoreJsonWebKeySet,
    impostor: CoreJsonWebKeySet,
}

/// A P-256 key from fixed bytes: its signing key and a JWKS with its public half.
fn key_from(seed: u8) -> (jsonwebtoken::EncodingKey, CoreJsonWebKeySet) {
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let secret = p256::SecretKey::from_slice(&[seed; 32]).unwrap_or_else(|e| panic!("fuzz key: {e}"));
    let pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap_or_else(|e| panic!("fuzz key: {e}"));
    let point = p256::EncodedPoint::from(secret.public_key());
    let coordinate = |c: Option<&p256::FieldBytes>| URL_SAFE_NO_PAD.encode(c.map_or(&[][..], |c| c.as_slice()));
    let jwks = serde_json::json!({"keys": [{
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "k1",
        "x": coordinate(point.x()), "y": coordinate(point.y()),
    }]});
    let key = jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).unwrap_or_else(|e| panic!("fuzz key: {e}"));
    let keys = serde_json::from_value(jwks).unwrap_or_else(|e| panic!("fuzz jwks: {e}"));
    (key, keys)
}

/// The keys, made once per process.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (key, keys) = key_from(7);
        let (_, impostor) = key_from(8);
        Fixture { key, keys, impostor }
    })
}

/// Logout tokens through [`verify`] (the IdP `http://idp.fuzz`, client `storefront`,
/// a fixed clock). The first byte picks the mode:
/// - `0`: the rest is the token as it arrives in the form;
/// - `1`: the rest is a claims document, signed here (ES256, `kid` `k1`,
///   `typ: logout+jwt`), so the claim checks are reached;
/// - `2`: the rest is `header\nclaims` (two JSON documents), signed here exactly as
///   written, so the header checks are reached with a good signature.
///
/// Accepted means: the claims are those of a logout token for this client (issuer,
/// audience, `iat` within the window, `exp` not passed, a `jti`, the logout event as
/// an object, no `nonce`, `sub` or `sid`), the header's `alg` is an ID-token
/// algorithm and its `typ`, if any, `logout+jwt`; and the same token is refused
/// under an impostor's key with the same `kid`, and for another client.
pub fn logout_token(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let token = match mode {
        0 => text.to_string(),
        1 => {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            header.kid = Some("k1".into());
            header.typ = Some("logout+jwt".into());
            let Ok(claims) = serde_json::from_str::<Value>(text) else {
                return;
            };
            match jsonwebtoken::encode(&header, &claims, &f.key) {
                Ok(t) => t,
                Err(_) => return,
            }
        }
        2 => {
            let (header, claims) = text.split_once('\n').unwrap_or((text, "{}"));
            let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
            match jsonwebtoken::crypto::sign(input.as_bytes(), &f.key, jsonwebtoken::Algorithm::ES256) {
                Ok(signature) => format!("{input}.{signature}"),
                Err(_) => return,
            }
        }
        _ => return,
    };
    let Ok(found) = verify(&token, ISSUER, CLIENT, &f.keys, NOW) else {
        return;
    };
    check_accepted(&token, &found);
    assert!(
        verify(&token, ISSUER, CLIENT, &f.impostor, NOW).is_err(),
        "accepted under an impostor's key"
    );
    assert!(
        verify(&token, ISSUER, "another-client", &f.keys, NOW).is_err(),
        "accepted for another client"
    );
}

/// The invariants of an accepted token, read back from its own parts.
fn check_accepted(token: &str, found: &LogoutClaims) {
    let part = |i: usize| -> Value {
        let bytes = URL_SAFE_NO_PAD
            .decode(token.split('.').nth(i).unwrap_or_default())
            .unwrap_or_else(|e| panic!("accepted token part {i} is not base64url: {e}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("accepted token part {i} is not JSON: {e}"))
    };
    let (header, claims) = (part(0), part(1));
    let alg = header["alg"].as_str().unwrap_or_default();
    assert!(
        ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"].contains(&alg),
        "alg {alg:?}"
    );
    if let Some(typ) = header.get("typ") {
        let typ = typ.as_str().unwrap_or_default().to_ascii_lowercase();
        assert!(typ == "logout+jwt" || typ == "application/logout+jwt", "typ {typ:?}");
    }
    assert!(header.get("crit").is_none());
    assert_eq!(found.issuer, ISSUER);
    assert_eq!(claims["iss"].as_str(), Some(ISSUER));
    let aud = &claims["aud"];
    assert!(
        aud.as_str() == Some(CLIENT) || aud.as_array().is_some_and(|a| a.iter().any(|v| v == CLIENT)),
        "aud {aud}"
    );
    assert!(found.issued_at <= NOW + FUTURE_SKEW.as_secs() && NOW - found.issued_at.min(NOW) <= MAX_AGE.as_secs());
    if let Some(exp) = claims.get("exp") {
        assert!(
            exp.as_u64()
                .is_some_and(|e| e.saturating_add(FUTURE_SKEW.as_secs()) > NOW),
            "exp {exp}"
        );
    }
    assert!(!found.jti.is_empty());
    assert!(claims["events"][LOGOUT_EVENT].is_object());
    assert!(claims.get("nonce").is_none(), "a nonce passed");
    assert!(found.subject.is_some() || found.session.is_some());
    for text in [&found.subject, &found.session].into_iter().flatten() {
        assert!(!text.is_empty() && !text.chars().any(char::is_control), "{text:?}");
    }
}
