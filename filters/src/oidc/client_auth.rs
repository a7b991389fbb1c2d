//! How the gateway proves it is the IdP's client at the token endpoint (code
//! exchange and refresh), the revocation endpoint and the PAR endpoint:
//! `client_secret_basic`, `client_secret_post` or `private_key_jwt` (RFC 7523 §2.2,
//! OIDC Core §9).
//!
//! A `private_key_jwt` assertion is signed with the key of `client_assertion_key_file`
//! (PKCS#8 PEM, RSA → RS256, P-256 → ES256, told apart by the key itself). Its `kid`
//! is the RFC 7638 thumbprint of the public key, so the operator registers exactly
//! what `sso-gateway client-jwks` prints; each assertion has a fresh `jti` and lives
//! [`ASSERTION_LIFETIME`]. Its `aud` is the IdP's issuer for every call (token,
//! revocation, PAR), never an endpoint URL an IdP's metadata could point elsewhere.

use crate::secret::random_token;
use crate::sessions::now_secs;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openidconnect::{AuthType, ClientSecret};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sso_config::{Secret, TokenEndpointAuthMethod};
use std::sync::Arc;
use std::time::Duration;

/// How long a client assertion is valid: one call's worth, with room for clock skew.
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);
/// `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Smallest RSA key accepted for assertions (NIST SP 800-131A).
const MIN_RSA_BITS: usize = 2048;

/// A `private_key_jwt` signing key and its public JWK.
pub struct AssertionKey {
    alg: Algorithm,
    key: EncodingKey,
    /// The public key as a JWK (with `kid`, `alg`, `use`).
    jwk: Value,
    kid: String,
}

impl std::fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AssertionKey({:?}, kid {})", self.alg, self.kid)
    }
}

impl AssertionKey {
    /// Reads a PKCS#8 PEM private key: P-256 (ES256) or RSA of at least 2048 bits (RS256).
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        if let Ok(secret) = p256::SecretKey::from_pkcs8_pem(pem) {
            let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&secret.public_key(), false);
            let (Some(x), Some(y)) = (point.x(), point.y()) else {
                return Err("the P-256 public key cannot be encoded".into());
            };
            let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
            // RFC 7638 §3.2: the required members, in lexicographic order, no spaces.
            let kid = thumbprint(&format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#));
            let der = secret.to_pkcs8_der().map_err(|e| e.to_string())?;
            return Ok(AssertionKey {
                alg: Algorithm::ES256,
                key: EncodingKey::from_ec_der(der.as_bytes()),
                jwk: json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig"}),
                kid,
            });
        }
        let rsa = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|_| "is not a PKCS#8 PEM private key (\"BEGIN PRIVATE KEY\") of type RSA or P-256".to_string())?;
        if rsa.size() * 8 < MIN_RSA_BITS {
            return Err(format!("the RSA key has fewer than {MIN_RSA_BITS} bits"));
        }
        let n = URL_SAFE_NO_PAD.encode(rsa.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(rsa.e().to_bytes_be());
        let kid = thumbprint(&format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#));
        let der = rsa.to_pkcs1_der().map_err(|e| e.to_string())?;
        Ok(AssertionKey {
            alg: Algorithm::RS256,
            key: EncodingKey::from_rsa_der(der.as_bytes()),
            jwk: json!({"kty": "RSA", "n": n, "e": e, "kid": kid, "alg": "RS256", "use": "sig"}),
            kid,
        })
    }

    /// The RFC 7638 thumbprint of the public key: the assertions' `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// `ES256` or `RS256`.
    pub fn alg(&self) -> &'static str {
        match self.alg {
            Algorithm::ES256 => "ES256",
            _ => "RS256",
        }
    }

    /// The JWKS to register with the IdP (`jwks`, or published at its `jwks_uri`).
    pub fn public_jwks(&self) -> Value {
        json!({ "keys": [self.jwk.clone()] })
    }

    /// A fresh assertion for `client_id`, addressed to `audience`.
    pub fn assertion(&self, client_id: &str, audience: &str) -> Result<String, String> {
        let now = now_secs();
        let claims = json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": random_token(),
            "iat": now,
            "exp": now.saturating_add(ASSERTION_LIFETIME.as_secs()),
        });
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| format!("signing the client assertion: {e}"))
    }
}

/// Base64url SHA-256 of a canonical JWK (RFC 7638).
fn thumbprint(canonical: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The client authentication one IdP gets, resolved against its discovery.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    SecretBasic(Secret),
    SecretPost(Secret),
    PrivateKeyJwt(Arc<AssertionKey>),
}

impl ClientAuth {
    /// The method configured, or for an unset one `client_secret_basic` unless
    /// discovery lists only `client_secret_post` (`post_only`).
    pub fn resolve(
        method: Option<TokenEndpointAuthMethod>,
        secret: &Secret,
        key: Option<&Arc<AssertionKey>>,
        post_only: bool,
    ) -> Result<Self, String> {
        Ok(match method {
            Some(TokenEndpointAuthMethod::PrivateKeyJwt) => ClientAuth::PrivateKeyJwt(
                key.cloned()
                    .ok_or("private_key_jwt without client_assertion_key_file")?,
            ),
            Some(TokenEndpointAuthMethod::ClientSecretPost) => ClientAuth::SecretPost(secret.clone()),
            Some(TokenEndpointAuthMethod::ClientSecretBasic) => ClientAuth::SecretBasic(secret.clone()),
            None if post_only => ClientAuth::SecretPost(secret.clone()),
            None => ClientAuth::SecretBasic(secret.clone()),
        })
    }

    /// The secret and the way openidconnect sends it (no secret for `private_key_jwt`:
    /// openidconnect then puts only `client_id` in the body).
    pub fn openid_client_parts(&self) -> (Option<ClientSecret>, AuthType) {
        match self {
            ClientAuth::SecretBasic(s) => (Some(ClientSecret::new(s.expose().to_string())), AuthType::BasicAuth),
            ClientAuth::SecretPost(s) => (Some(ClientSecret::new(s.expose().to_string())), AuthType::RequestBody),
            ClientAuth::PrivateKeyJwt(_) => (None, AuthType::RequestBody),
        }
    }

    /// The form parameters a token-endpoint call made by openidconnect needs on top
    /// of what [`Self::openid_client_parts`] gives it: the assertion, if any.
    pub fn assertion_params(&self, client_id: &str, audience: &str) -> Result<Vec<(&'static str, String)>, String> {
        match self {
            ClientAuth::PrivateKeyJwt(key) => Ok(vec![
                ("client_assertion_type", ASSERTION_TYPE.to_string()),
                ("client_assertion", key.assertion(client_id, audience)?),
            ]),
            _ => Ok(Vec::new()),
        }
    }

    /// Authenticates a form POST the gateway makes itself (revocation, PAR): the
    /// `Authorization` header, or `client_id` and the secret or assertion in `form`.
    pub fn authenticate(
        &self,
        request: openidconnect::reqwest::RequestBuilder,
        form: &mut Vec<(&'static str, String)>,
        client_id: &str,
        audience: &str,
    ) -> Result<openidconnect::reqwest::RequestBuilder, String> {
        match self {
            // RFC 6749 §2.3.1: both are form-encoded before they are joined.
            ClientAuth::SecretBasic(s) => {
                let encode = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
                return Ok(request.basic_auth(encode(client_id), Some(encode(s.expose()))));
            }
            ClientAuth::SecretPost(s) => {
                form.push(("client_id", client_id.to_string()));
                form.push(("client_secret", s.expose().to_string()));
            }
            ClientAuth::PrivateKeyJwt(_) => {
                form.push(("client_id", client_id.to_string()));
                form.extend(self.assertion_params(client_id, audience)?);
            }
        }
        Ok(request)
    }
}

#[cfg(test)]
#[path = "client_auth_tests.rs"]
mod tests;
