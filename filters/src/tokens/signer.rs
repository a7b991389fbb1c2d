//! ES256 signing of the gateway tokens, with the key from a PEM file or generated at
//! start-up. One key signs both purposes; the JOSE `typ` and the audience keep them
//! apart ([`TokenPurpose`]).
//!
//! Rotation: the keys of `token.previous_signing_key_files` sign nothing, but are
//! published in the JWKS and verify the gateway's own tokens (picked by `kid`). The
//! same list publishes a next key before any replica signs with it.

use super::TokenPurpose;
use crate::identity::Customer;
use crate::secret::Sid;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use p256::SecretKey;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
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

/// Claims of a gateway token (either [`TokenPurpose`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenClaims {
    pub iss: String,
    /// The site name (`X-Customer-Token`) or `<site name>:api` (API token).
    pub aud: String,
    pub sub: String,
    /// The session's public handle ([`crate::secret::Sid`]): an API token is honoured
    /// only while this session lives, and stands for its current identity.
    pub sid: String,
    pub iat: u64,
    pub exp: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// When the customer signed in, and how (`X-Customer-Token` only): the origin can
    /// ask for a recent or strong sign-in itself.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acr: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub amr: Vec<String>,
}

pub struct TokenSigner {
    /// The private key as ring holds it: what signs (see [`Self::sign`]).
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    /// The same key for jsonwebtoken (tests sign tokens this signer never writes).
    #[cfg_attr(not(test), allow(dead_code))]
    key: EncodingKey,
    /// The public half, for verifying gateway tokens presented as bearer tokens.
    public: DecodingKey,
    /// The previous (or announced) keys' `kid`s and public halves: they verify.
    previous: Vec<(String, DecodingKey)>,
    /// The JOSE header of each purpose (ES256, this key's `kid`, the purpose's `typ`),
    /// base64url-encoded once: the first part of every token.
    customer_header: String,
    api_header: String,
    /// Every public key (the current one first) as a JWK set, served at `/_sso/jwks.json`.
    pub jwks: serde_json::Value,
    pub kid: String,
    /// True when the key was generated at start-up (not shared between replicas).
    pub generated: bool,
}

/// A P-256 private key from a PEM file (PKCS#8 or SEC1).
fn read_key(path: &Path) -> Result<SecretKey, SignerError> {
    let shown = path.display().to_string();
    let pem = std::fs::read_to_string(path).map_err(|source| SignerError::Read {
        path: shown.clone(),
        source,
    })?;
    SecretKey::from_pkcs8_pem(&pem)
        .or_else(|_| SecretKey::from_sec1_pem(&pem))
        .map_err(|_| SignerError::NotP256 { path: shown })
}

/// A key's public half: its `kid`, its JWK and the key that verifies with it.
fn public_half(secret: &SecretKey) -> Result<(String, serde_json::Value, DecodingKey), SignerError> {
    let point = p256::EncodedPoint::from(secret.public_key());
    let (x, y) = match (point.x(), point.y()) {
        (Some(x), Some(y)) => (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y)),
        _ => return Err(SignerError::Encode("public key has no coordinates".into())),
    };
    let public = DecodingKey::from_ec_components(&x, &y).map_err(|e| SignerError::Encode(e.to_string()))?;
    let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(point.as_bytes())[..12]);
    let jwk =
        serde_json::json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y, "use": "sig", "alg": "ES256", "kid": kid });
    Ok((kid, jwk, public))
}

impl TokenSigner {
    /// Loads the key from `path`, or generates one when `path` is `None`.
    pub fn new(path: Option<&Path>) -> Result<Self, SignerError> {
        Self::with_previous(path, &[])
    }

    /// Loads the key from `path` (or generates one), and the keys that only verify
    /// and are published from `previous`. A previous file holding the current key
    /// adds nothing.
    pub fn with_previous(path: Option<&Path>, previous: &[std::path::PathBuf]) -> Result<Self, SignerError> {
        let (secret, generated) = match path {
            Some(path) => (read_key(path)?, false),
            None => (SecretKey::random(&mut rand::rngs::OsRng), true),
        };
        let pem = secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| SignerError::Encode(e.to_string()))?;
        let key = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| SignerError::Encode(e.to_string()))?;
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &secret.to_bytes(),
            p256::EncodedPoint::from(secret.public_key()).as_bytes(),
            &rng,
        )
        .map_err(|e| SignerError::Encode(e.to_string()))?;
        let (kid, jwk, public) = public_half(&secret)?;
        let mut keys = vec![jwk];
        let mut verifying: Vec<(String, DecodingKey)> = Vec::new();
        for path in previous {
            let (old_kid, old_jwk, old_public) = public_half(&read_key(path)?)?;
            if old_kid != kid && !verifying.iter().any(|(k, _)| *k == old_kid) {
                keys.push(old_jwk);
                verifying.push((old_kid, old_public));
            }
        }
        let jwks = serde_json::json!({ "keys": keys });
        let header = |purpose: TokenPurpose| -> Result<String, SignerError> {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some(kid.clone());
            header.typ = Some(purpose.typ().into());
            let json = serde_json::to_vec(&header).map_err(|e| SignerError::Encode(e.to_string()))?;
            Ok(URL_SAFE_NO_PAD.encode(json))
        };
        Ok(TokenSigner {
            pair,
            rng,
            key,
            public,
            previous: verifying,
            customer_header: header(TokenPurpose::Customer)?,
            api_header: header(TokenPurpose::Api)?,
            jwks,
            kid,
            generated,
        })
    }

    /// The key that verifies this signer's new tokens.
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.public
    }

    /// The key of the ring whose `kid` is `kid` (the current one's or a previous
    /// one's): what verifies a token of this gateway, whichever key signed it.
    pub fn decoding_key_for(&self, kid: Option<&str>) -> Option<&DecodingKey> {
        let kid = kid?;
        if kid == self.kid {
            return Some(&self.public);
        }
        self.previous.iter().find(|(k, _)| k == kid).map(|(_, key)| key)
    }

    /// True when `kid` names a key of this signer (current or previous).
    pub fn knows_kid(&self, kid: Option<&str>) -> bool {
        self.decoding_key_for(kid).is_some()
    }

    /// The private key, for tests that sign tokens with headers this signer never writes.
    #[cfg(test)]
    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.key
    }

    /// Signs `claims` as a token of `purpose` (its JOSE `typ`); the claims' `aud`
    /// must be the purpose's audience ([`TokenPurpose::audience`]).
    ///
    /// A JWS compact serialisation (RFC 7515 §7.1) as `jsonwebtoken::encode` writes
    /// it, signed by ring with the key made once at start: the header is encoded once,
    /// and no key is parsed per token (jsonwebtoken's pure-Rust backend parsed the
    /// PKCS#8 key and derived its public point on every call: 60 % of a sign-in).
    pub fn sign(&self, purpose: TokenPurpose, claims: &TokenClaims) -> Result<String, SignerError> {
        let header = match purpose {
            TokenPurpose::Customer => &self.customer_header,
            TokenPurpose::Api => &self.api_header,
        };
        let payload = serde_json::to_vec(claims).map_err(|e| SignerError::Sign(e.to_string()))?;
        let mut token = String::with_capacity(header.len() + payload.len() * 4 / 3 + 90);
        token.push_str(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = self
            .pair
            .sign(&self.rng, token.as_bytes())
            .map_err(|e| SignerError::Sign(e.to_string()))?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
        Ok(token)
    }

    /// Claims of a `purpose` token for `customer` in session `sid` on `site`, valid
    /// `ttl_secs` from `now`. The API token carries no profile (email, name, groups):
    /// a request it identifies gets the identity from the session.
    pub fn claims_for(
        purpose: TokenPurpose,
        customer: &Customer,
        sid: &Sid,
        issuer: &str,
        site: &str,
        now: u64,
        ttl_secs: u64,
    ) -> TokenClaims {
        let profile = purpose == TokenPurpose::Customer;
        TokenClaims {
            iss: issuer.to_string(),
            aud: purpose.audience(site),
            sub: customer.id.clone(),
            sid: sid.encode(),
            iat: now,
            exp: now.saturating_add(ttl_secs),
            email: customer.email.clone().filter(|_| profile),
            name: customer.name.clone().filter(|_| profile),
            groups: if profile { customer.groups.clone() } else { Vec::new() },
            auth_time: None,
            acr: None,
            amr: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    fn public_key(signer: &TokenSigner) -> DecodingKey {
        let jwk = &signer.jwks["keys"][0];
        DecodingKey::from_ec_components(jwk["x"].as_str().expect("x"), jwk["y"].as_str().expect("y")).expect("key")
    }

    #[test]
    fn tokens_verify_with_the_published_jwk() {
        let signer = TokenSigner::new(None).expect("signer");
        let customer = Customer {
            id: "alice".into(),
            email: Some("alice@example.com".into()),
            ..Customer::default()
        };
        let sid = Sid::of(&crate::secret::SessionId::random());
        let now = crate::sessions::now_secs();
        let claims = TokenSigner::claims_for(
            TokenPurpose::Customer,
            &customer,
            &sid,
            "http://shop.localhost",
            "shop",
            now,
            300,
        );
        let token = signer.sign(TokenPurpose::Customer, &claims).expect("sign");
        let key = public_key(&signer);
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&["shop"]);
        v.set_issuer(&["http://shop.localhost"]);
        let data = jsonwebtoken::decode::<TokenClaims>(&token, &key, &v).expect("verifies");
        assert_eq!(data.claims.sub, "alice");
        assert_eq!(data.claims.sid, sid.encode());
        assert_eq!(data.claims.email.as_deref(), Some("alice@example.com"));
        assert_eq!(data.header.kid.as_deref(), Some(signer.kid.as_str()));
        assert_eq!(data.header.typ.as_deref(), Some("customer+jwt"));
        // Another key does not verify it.
        let other = TokenSigner::new(None).expect("signer");
        assert!(jsonwebtoken::decode::<TokenClaims>(&token, &public_key(&other), &v).is_err());
    }

    #[test]
    fn api_tokens_say_their_type_and_audience_and_carry_no_profile() {
        let signer = TokenSigner::new(None).expect("signer");
        let customer = Customer {
            id: "alice".into(),
            email: Some("alice@example.com".into()),
            name: Some("Alice".into()),
            groups: vec!["vip".into()],
        };
        let sid = Sid::of(&crate::secret::SessionId::random());
        let claims = TokenSigner::claims_for(TokenPurpose::Api, &customer, &sid, "https://s", "shop", 10, u64::MAX);
        assert_eq!(claims.aud, "shop:api");
        assert_eq!(claims.exp, u64::MAX, "saturates");
        assert_eq!((claims.email.as_ref(), claims.name.as_ref()), (None, None));
        assert!(claims.groups.is_empty());
        let token = signer.sign(TokenPurpose::Api, &claims).expect("sign");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.alg, Algorithm::ES256);
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
