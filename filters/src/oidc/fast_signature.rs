//! A fast path for the RSA signature of an ID token: ring checks it with the IdP's
//! key, and openidconnect then checks everything else (`iss`, `aud`, `exp`, `nonce`,
//! the JOSE header) without checking the signature a second time.
//!
//! openidconnect verifies RS*/PS* signatures with the pure-Rust `rsa` crate, about
//! 2.4 million instructions per ID token: 70 % of a whole sign-in once the gateway's
//! own token was signed by ring. ring does the same check in a small fraction of that.
//!
//! The fast path only ever *spares* openidconnect's signature check, it never decides
//! a refusal: anything it does not positively verify (another algorithm, a `kid` that
//! names no key or several, a key for encryption, a header it does not read, a bad
//! signature) goes to openidconnect's own full verification, which refuses or accepts
//! by its rules as before. So it verifies a token only when:
//! - the token is a three-part JWS whose header has a string `alg` among the
//!   algorithms the verifier allows, RS256/384/512 or PS256/384/512, and no `crit`;
//! - exactly one RSA key of the IdP's JWKS fits: the token's `kid` when it has one
//!   (else any key), `use` absent or `sig`, `alg` absent or the token's. Keys whose
//!   `n` or `e` cannot be read count too, as openidconnect counts them (two fitting
//!   keys are its "ambiguous key" refusal), and no key of the set may be unreadable;
//! - ring verifies the signature over `header.payload` with that key's `n` and `e`
//!   (2048 to 8192 bits).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use ring::signature::{self, RsaParameters, RsaPublicKeyComponents};
use serde::Deserialize;

/// An RSA signing key of the IdP, as ring takes it: `n` and `e` are `None` when
/// they cannot be read, and such a key still counts when keys are counted (as
/// openidconnect counts it), but never verifies.
#[derive(Debug, Clone)]
pub struct RsaKey {
    kid: Option<String>,
    alg: Option<String>,
    n: Option<Vec<u8>>,
    e: Option<Vec<u8>>,
}

/// The RSA signing keys of a JWKS; `unread` when a key could not be read at all (its
/// `kid` and type unknown, it might fit any token): nothing is then verified here.
#[derive(Debug, Clone, Default)]
pub struct RsaKeys {
    keys: Vec<RsaKey>,
    unread: bool,
}

/// The JWK fields read here (the rest of a key is openidconnect's business).
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(rename = "use")]
    use_: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// The RSA signing keys of `jwks`, read once per key set. Every RSA key for signing
/// is listed, readable or not, so a token's fitting keys are counted as openidconnect
/// counts them.
pub fn rsa_keys(jwks: &CoreJsonWebKeySet) -> RsaKeys {
    let mut out = RsaKeys::default();
    for key in jwks.keys() {
        let Some(jwk) = serde_json::to_value(key)
            .ok()
            .and_then(|v| serde_json::from_value::<Jwk>(v).ok())
        else {
            out.unread = true;
            continue;
        };
        if jwk.kty != "RSA" || jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            continue;
        }
        let decode = |v: Option<String>| v.and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
        out.keys.push(RsaKey {
            kid: jwk.kid,
            alg: jwk.alg,
            n: decode(jwk.n),
            e: decode(jwk.e),
        });
    }
    out
}

impl RsaKeys {
    /// How many RSA signing keys are listed.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

/// ring's parameters for a JWS algorithm, with its name.
fn parameters(alg: &CoreJwsSigningAlgorithm) -> Option<(&'static str, &'static RsaParameters)> {
    Some(match alg {
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256 => ("RS256", &signature::RSA_PKCS1_2048_8192_SHA256),
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384 => ("RS384", &signature::RSA_PKCS1_2048_8192_SHA384),
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512 => ("RS512", &signature::RSA_PKCS1_2048_8192_SHA512),
        CoreJwsSigningAlgorithm::RsaSsaPssSha256 => ("PS256", &signature::RSA_PSS_2048_8192_SHA256),
        CoreJwsSigningAlgorithm::RsaSsaPssSha384 => ("PS384", &signature::RSA_PSS_2048_8192_SHA384),
        CoreJwsSigningAlgorithm::RsaSsaPssSha512 => ("PS512", &signature::RSA_PSS_2048_8192_SHA512),
        _ => return None,
    })
}

/// True only when ring verified `token`'s signature with the one key of `keys` that
/// fits it, under an algorithm of `allowed` (see the module documentation); false
/// means "let openidconnect check it", never "refuse".
pub fn verified(token: &str, keys: &RsaKeys, allowed: &[CoreJwsSigningAlgorithm]) -> bool {
    if keys.unread {
        return false;
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some(jose) = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice::<JoseHeader>(&h).ok())
    else {
        return false;
    };
    if jose.crit.is_some() {
        return false;
    }
    let Some((name, params)) = allowed
        .iter()
        .filter_map(parameters)
        .find(|(name, _)| *name == jose.alg)
    else {
        return false;
    };
    let mut fitting = keys.keys.iter().filter(|k| {
        jose.kid.as_ref().is_none_or(|kid| k.kid.as_ref() == Some(kid)) && k.alg.as_deref().is_none_or(|a| a == name)
    });
    let (Some(key), None) = (fitting.next(), fitting.next()) else {
        return false;
    };
    let (Some(n), Some(e), Ok(sig)) = (&key.n, &key.e, URL_SAFE_NO_PAD.decode(sig)) else {
        return false;
    };
    let signed = &token.as_bytes()[..header.len() + 1 + payload.len()];
    RsaPublicKeyComponents { n, e }.verify(params, signed, &sig).is_ok()
}

#[cfg(test)]
#[path = "fast_signature_tests.rs"]
mod tests;
