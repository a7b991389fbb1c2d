//! ES256 signing of the gateway token, with the key from a PEM file or generated at
//! start-up.

use crate::identity::Customer;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use p256::SecretKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Why the signing key could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The key file could not be read.
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    /// The file is not a PKCS#8 PEM P-256 private key.
    #[error(
        "{path} is not a PKCS#8 PEM P-256 private key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)"
    )]
    NotP256 { path: String },
    /// The key could not be encoded for signing.
    #[error("cannot use the signing key: {0}")]
    Encode(String),
    /// Signing failed.
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

/// Claims of the gateway token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

pub struct TokenSigner {
    key: EncodingKey,
    /// The public half, for verifying gateway tokens presented as bearer tokens.
    public: DecodingKey,
    header: Header,
    /// The public key as a JWK set, served at `/_sso/jwks.json`.
    pub jwks: serde_json::Value,
    pub kid: String,
    /// True when the key was generated at start-up (not shared between replicas).
    pub generated: bool,
}

impl TokenSigner {
    /// Loads the key from `path`, or generates one when `path` is `None`.
    pub fn new(path: Option<&Path>) -> Result<Self, SignerError> {
        let (secret, generated) = match path {
            Some(path) => {
                let shown = path.display().to_string();
                let pem = std::fs::read_to_string(path).map_err(|source| SignerError::Read {
                    path: shown.clone(),
                    source,
                })?;
                let key = SecretKey::from_pkcs8_pem(&pem)
                    .or_else(|_| SecretKey::from_sec1_pem(&pem))
                    .map_err(|_| SignerError::NotP256 { path: shown })?;
                (key, false)
            }
            None => (SecretKey::random(&mut rand::rngs::OsRng), true),
        };
        let pem = secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| SignerError::Encode(e.to_string()))?;
        let key = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| SignerError::Encode(e.to_string()))?;
        let point = p256::EncodedPoint::from(secret.public_key());
        let (x, y) = match (point.x(), point.y()) {
            (Some(x), Some(y)) => (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y)),
            _ => return Err(SignerError::Encode("public key has no coordinates".into())),
        };
        let public = DecodingKey::from_ec_components(&x, &y).map_err(|e| SignerError::Encode(e.to_string()))?;
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(point.as_bytes())[..12]);
        let jwks = serde_json::json!({
            "keys": [{ "kty": "EC", "crv": "P-256", "x": x, "y": y, "use": "sig", "alg": "ES256", "kid": kid }]
        });
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.clone());
        header.typ = Some("JWT".into());
        Ok(TokenSigner {
            key,
            public,
            header,
            jwks,
            kid,
            generated,
        })
    }

    /// The key that verifies this signer's tokens.
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.public
    }

    pub fn sign(&self, claims: &TokenClaims) -> Result<String, SignerError> {
        jsonwebtoken::encode(&self.header, claims, &self.key).map_err(|e| SignerError::Sign(e.to_string()))
    }

    /// Claims for `customer` on a site, valid `ttl_secs` from `now`.
    pub fn claims_for(customer: &Customer, issuer: &str, audience: &str, now: u64, ttl_secs: u64) -> TokenClaims {
        TokenClaims {
            iss: issuer.to_string(),
            aud: audience.to_string(),
            sub: customer.id.clone(),
            iat: now,
            exp: now + ttl_secs,
            email: customer.email.clone(),
            name: customer.name.clone(),
            groups: customer.groups.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn tokens_verify_with_the_published_jwk() {
        let signer = TokenSigner::new(None).expect("signer");
        let customer = Customer {
            id: "alice".into(),
            email: Some("alice@example.com".into()),
            ..Customer::default()
        };
        let now = crate::sessions::now_secs();
        let token = signer
            .sign(&TokenSigner::claims_for(
                &customer,
                "http://shop.localhost",
                "shop",
                now,
                300,
            ))
            .expect("sign");
        let jwk = &signer.jwks["keys"][0];
        let key =
            DecodingKey::from_ec_components(jwk["x"].as_str().expect("x"), jwk["y"].as_str().expect("y")).expect("key");
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&["shop"]);
        v.set_issuer(&["http://shop.localhost"]);
        let data = jsonwebtoken::decode::<TokenClaims>(&token, &key, &v).expect("verifies");
        assert_eq!(data.claims.sub, "alice");
        assert_eq!(data.header.kid.as_deref(), Some(signer.kid.as_str()));
        // Another key does not verify it.
        let other = TokenSigner::new(None).expect("signer");
        let jwk = &other.jwks["keys"][0];
        let key =
            DecodingKey::from_ec_components(jwk["x"].as_str().expect("x"), jwk["y"].as_str().expect("y")).expect("key");
        assert!(jsonwebtoken::decode::<TokenClaims>(&token, &key, &v).is_err());
    }

    #[test]
    fn a_bad_key_file_is_a_clear_error() {
        let path = std::env::temp_dir().join(format!("not-a-key-{}.pem", std::process::id()));
        std::fs::write(&path, "hello").expect("write");
        let err = TokenSigner::new(Some(&path)).err().expect("rejected").to_string();
        assert!(err.contains("not a PKCS#8 PEM P-256 private key"), "{err}");
        assert!(TokenSigner::new(Some(Path::new("/nonexistent/key.pem"))).is_err());
    }
}
