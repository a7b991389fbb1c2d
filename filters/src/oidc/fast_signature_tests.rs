//! The fast path verifies exactly the tokens it should and hands everything else to
//! openidconnect. The key is a throw-away RSA-2048 test key (made for this file).

use super::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEugIBADANBgkqhkiG9w0BAQEFAASCBKQwggSgAgEAAoIBAQC20Zhhj7G3UNeT\npbf229q1vRlhaTmkXlFdC4f2TxyaMgtVOmG8NntQnWxsjUsglqa0sb9ER/y0phUD\n30N7Zag3cuJsmG5U1mSIlOdpzTT5GsOUcPRowLD4zKAWHv02cPj0hcqrw2QizGSc\nng1z81easI9eiYECs0+jQ7V8odLbHvlIkwoYerfnjLzLXyRvgMzCDpS7LCA+m9SR\n3zEGPtRUcfNMayAiGv40fq6j5iK3ddiAHrrneafBjrJVtDH9xMyjwAXH2JZu5X+a\na/izlw3aoyhCVKJvMf3D+HHv2VYQjlhgz/sd7JHsfMVxDLusBY54OR4lAlLUVH62\nWCJpNvELAgMBAAECgf8+UtiImHP9UEwtrFEKv7n+OtYPGXMYxFRs2DuwGXa+Awur\ndsdPM/2+w47tFZsSmEklUIpvdtU7HZHd7pv7dTgSDC+BkBhp6ttDtJbSY3+rmuiG\nPfuf6PmDHbN1egPBRarfJaXx/5MMSed3H97qkSHX93Aum8kCOfAyFW6yJY/q9D5K\nj73nk54DSdShZBcHZz3Boq6lr79sH7Ld+nHkZLxDcoghojgaXTgFHIpB9oE6FI2u\nPMxozokpEqDGiiSiv6hgnXU6gE8BQ5k8y+qPgRNsSMCXLMSQ6lE5U1cTavMc//zN\ne7X1G6V4KroehW36otXWkGOrcWF5t++fAz+wNgECgYEA8oEnJdmPPdcavxakbgCv\nFG2M1FuGTZJPb+0+9idVFzsGZeNW9pBvvdUQpXWKWsBQ7txkyxScUzSv9JLP3G8V\neKBlTmY1P3/oHMnnkReISE16X3ZMoVU3N3H5e5UL+SC40jqhwlSTmvjqiu2x2yj3\nc+0DOgQTF+kXcSoaT8Qhs4UCgYEAwP4gmDZAnN5Sc0cDRCJwZO2rIa1/3Ul5o1Yb\nUJWFOywVfINCmc7kLJRT3BkmWDVtjpuKIajSjseeS4oiLD4zzPoFVSxssoP6BAKO\n4xhso11vvKGUBQ+1hE/X+XGlScdy1A+7pikUQpdRpwHTqschDFpOSmBcJhd7C8Bk\nVnSIz08CgYBLFQfM5T4/VFE4pscEM/wBJCX9PdUoQUuNCPR8fBMRXToO48NyFagz\nKzu7LthGXtLwEZa3dcssy9xKqgXnZxFLxsV275g+79gqyayDtLiCQlLIKbVyIhM1\nfHlU9QG/AY2XsYWRyGPnEHh1yUBO7bEn2FMubEKJHacfZ3y8A6q3jQKBgA7OcGm9\nH8/pLqIxfIqpqb3UjiCTUxADJxXk8UuJbSNRCoT2/REX0mGpL5XfSBXUY4dhX4Od\nlCnoHrjk7CJA03CSbf5O3jgD8BaGq7e4k/0kmgH604Rf5Ck2hvdYRLoYVzL10gu5\ncxh4y4bomPitNlfgRclnAyrY+lO4evo3Dpf5AoGATDObW0QFDQ9RRlPv+8x//XdW\n+Zz1yyNPMP9cnh0ZdpMDAFv+Z/6Y2aiaTF14pjajKtgU1EOJl6e4RLZdHTAbS1Ls\nWEqPHkoM0G6/uY8phA98eNXd2wa/RIeYFSEjygTXG6ZGhYZPhHANiYPJh2a6MtKO\n8D4Kf7HfDBsTN9PGxdU=\n-----END PRIVATE KEY-----";
const N: &str = "ttGYYY-xt1DXk6W39tvatb0ZYWk5pF5RXQuH9k8cmjILVTphvDZ7UJ1sbI1LIJamtLG_REf8tKYVA99De2WoN3LibJhuVNZkiJTnac00-RrDlHD0aMCw-MygFh79NnD49IXKq8NkIsxknJ4Nc_NXmrCPXomBArNPo0O1fKHS2x75SJMKGHq354y8y18kb4DMwg6UuywgPpvUkd8xBj7UVHHzTGsgIhr-NH6uo-Yit3XYgB6653mnwY6yVbQx_cTMo8AFx9iWbuV_mmv4s5cN2qMoQlSibzH9w_hx79lWEI5YYM_7HeyR7HzFcQy7rAWOeDkeJQJS1FR-tlgiaTbxCw";

fn jwks(keys: serde_json::Value) -> CoreJsonWebKeySet {
    serde_json::from_value(json!({ "keys": keys })).expect("jwks")
}

fn key(kid: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut k = json!({ "kty": "RSA", "kid": kid, "n": N, "e": "AQAB" });
    if let (Some(k), Some(extra)) = (k.as_object_mut(), extra.as_object()) {
        k.extend(extra.clone());
    }
    k
}

fn token(alg: Algorithm, kid: Option<&str>) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    let claims = json!({ "iss": "http://idp.test", "sub": "alice", "aud": "storefront", "exp": 4_000_000_000u64 });
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(PEM.as_bytes()).expect("key"),
    )
    .expect("sign")
}

const RS: [CoreJwsSigningAlgorithm; 2] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
];

#[test]
fn a_token_signed_by_the_one_fitting_key_verifies() {
    let keys = rsa_keys(&jwks(json!([key("k1", json!({ "use": "sig", "alg": "RS256" }))])));
    assert_eq!(keys.len(), 1);
    assert!(verified(&token(Algorithm::RS256, Some("k1")), &keys, &RS));
    let keys = rsa_keys(&jwks(json!([key("k1", json!({}))])));
    assert!(verified(&token(Algorithm::PS256, Some("k1")), &keys, &RS), "PS256");
    assert!(verified(&token(Algorithm::RS256, None), &keys, &RS), "no kid, one key");
}

#[test]
fn anything_not_positively_verified_goes_to_openidconnect() {
    let one = rsa_keys(&jwks(json!([key("k1", json!({}))])));
    let good = token(Algorithm::RS256, Some("k1"));
    let parts: Vec<&str> = good.split('.').collect();
    // A payload changed after signing.
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(br#"{"sub":"mallory"}"#),
        parts[2]
    );
    assert!(!verified(&forged, &one, &RS), "changed payload");
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).expect("sig");
    sig[10] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(&sig));
    assert!(!verified(&flipped, &one, &RS), "changed signature");
    assert!(!verified(&format!("{good}.x"), &one, &RS), "four parts");
    assert!(!verified(&format!("{}.{}", parts[0], parts[1]), &one, &RS), "two parts");
    // An algorithm the verifier does not allow, or one the fast path does not do.
    assert!(!verified(&good, &one, &[CoreJwsSigningAlgorithm::EcdsaP256Sha256]));
    assert!(
        !verified(&token(Algorithm::RS384, Some("k1")), &one, &RS),
        "RS384 not allowed"
    );
    let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#), parts[1]);
    assert!(!verified(&none, &one, &RS), "alg none");
    let hs = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","kid":"k1"}"#),
        parts[1],
        parts[2]
    );
    assert!(!verified(&hs, &one, &RS), "HS256 over an RSA key");
    // Key choice: another kid, two candidates, an encryption key, another alg.
    assert!(
        !verified(&token(Algorithm::RS256, Some("k2")), &one, &RS),
        "unknown kid"
    );
    let two = rsa_keys(&jwks(json!([key("k1", json!({})), key("k2", json!({}))])));
    assert!(!verified(&token(Algorithm::RS256, None), &two, &RS), "no kid, two keys");
    assert!(
        verified(&token(Algorithm::RS256, Some("k2")), &two, &RS),
        "kid picks one of two"
    );
    let enc = rsa_keys(&jwks(json!([key("k1", json!({ "use": "enc" }))])));
    assert!(enc.is_empty() && !verified(&good, &enc, &RS), "encryption key");
    let rs384 = rsa_keys(&jwks(json!([key("k1", json!({ "alg": "RS384" }))])));
    assert!(!verified(&good, &rs384, &RS), "key for another alg");
    // A second key that fits but cannot be read still makes two fitting keys (the
    // hostile review's finding: openidconnect refuses these as ambiguous).
    for broken in [
        json!({ "kty": "RSA", "n": "!!not-base64!!", "e": "AQAB" }),
        json!({ "kty": "RSA", "n": N }),
        json!({ "kty": "RSA", "kid": "k1", "n": "!!", "e": "AQAB" }),
    ] {
        let with_broken = rsa_keys(&jwks(json!([key("k1", json!({})), broken.clone()])));
        let no_kid = token(Algorithm::RS256, None);
        assert!(!verified(&no_kid, &with_broken, &RS), "no kid beside {broken}");
        assert!(
            !verified(&good, &with_broken, &RS) || broken.get("kid").is_none(),
            "kid k1 beside {broken}"
        );
    }
    // A critical header parameter the fast path does not read.
    let crit = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k1","crit":["exp"]}"#),
        parts[1],
        parts[2]
    );
    assert!(!verified(&crit, &one, &RS), "crit");
    assert!(!verified("", &one, &RS) && !verified("..", &one, &RS) && !verified("a.b.c", &one, &RS));
}
