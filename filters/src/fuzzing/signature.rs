//! The ID token's signature fast path ([`crate::oidc::fast_signature`]).

use crate::oidc::fast_signature::{rsa_keys, verified};
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm as Alg};

/// The RSA-2048 test key of `fast_signature_tests.rs` (public half).
const N: &str = "ttGYYY-xt1DXk6W39tvatb0ZYWk5pF5RXQuH9k8cmjILVTphvDZ7UJ1sbI1LIJamtLG_REf8tKYVA99De2WoN3LibJhuVNZkiJTnac00-RrDlHD0aMCw-MygFh79NnD49IXKq8NkIsxknJ4Nc_NXmrCPXomBArNPo0O1fKHS2x75SJMKGHq354y8y18kb4DMwg6UuywgPpvUkd8xBj7UVHHzTGsgIhr-NH6uo-Yit3XYgB6653mnwY6yVbQx_cTMo8AFx9iWbuV_mmv4s5cN2qMoQlSibzH9w_hx79lWEI5YYM_7HeyR7HzFcQy7rAWOeDkeJQJS1FR-tlgiaTbxCw";

/// An ID token as the IdP's token endpoint sends it (untrusted text), checked against
/// a JWKS of two RSA keys (`kid` `k1`, and one without a `kid`). No panic; a
/// token is only ever verified under an allowed RS*/PS* algorithm, in three parts.
pub fn id_token_signature(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let jwks: CoreJsonWebKeySet = match serde_json::from_value(serde_json::json!({ "keys": [
        { "kty": "RSA", "kid": "k1", "n": N, "e": "AQAB", "use": "sig" },
        { "kty": "RSA", "n": N, "e": "AQAB", "alg": "PS256" },
    ]})) {
        Ok(jwks) => jwks,
        Err(e) => panic!("the fixed JWKS: {e}"),
    };
    let keys = rsa_keys(&jwks);
    assert_eq!(keys.len(), 2);
    let allowed = [Alg::RsaSsaPkcs1V15Sha256, Alg::RsaSsaPssSha256, Alg::EcdsaP256Sha256];
    if verified(token, &keys, &allowed) {
        assert_eq!(token.split('.').count(), 3, "{token:?}");
    }
    assert!(!verified(token, &keys, &[Alg::EcdsaP256Sha256]), "{token:?}");
}
