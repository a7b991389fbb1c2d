//! Customer-login JWTs (BigCommerce's Customer Login API format): reading one that the
//! merchant's website signed ([`CustomerLoginVerifier`]), and minting one for a
//! platform origin ([`mint`]).
//!
//! A token is HS256 and nothing else (`none`, RS*, ES*, and unknown algorithms are
//! refused before any claim is read), with `iss` = the client id, `operation` =
//! `customer_login`, the store hash, a `customer_id`, an `iat` no older than
//! `max_age` and at most [`FUTURE_SKEW`] ahead, a `jti`, and, when present or
//! configured, `channel_id`, `request_ip`, `redirect_to` and `email` (the customer's
//! address, which the merchant's website vouches for by signing: an extension of
//! this gateway, not of BigCommerce's format). The `jti` is spent by the caller in a
//! shared store: this module only reads.

use crate::return_to::safe_return_to;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sso_config::{CustomerLoginConfig, PlatformLoginConfig};
use std::net::IpAddr;
use std::time::Duration;

/// How far in the future an `iat` may be (clocks of two machines disagree a little).
pub const FUTURE_SKEW: Duration = Duration::from_secs(5);
/// Longest token read; a real one is well under 1 KiB.
pub const MAX_TOKEN_LEN: usize = 4096;
/// Longest `jti` and `customer_id` accepted.
const MAX_CLAIM_LEN: usize = 256;
/// The only `operation` this gateway acts on.
const OPERATION: &str = "customer_login";

/// Why a customer-login JWT was refused. Each maps to a `sso_error` code and a metric
/// label, from this bounded set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CustomerLoginError {
    #[error("the token is not a readable JWT")]
    Malformed,
    #[error("the token is not signed with HS256 under this site's secret")]
    Signature,
    #[error("iss is not this site's client id")]
    WrongIssuer,
    #[error("operation is not customer_login")]
    WrongOperation,
    #[error("store_hash is not this store's")]
    WrongStore,
    #[error("channel_id is not this site's channel")]
    WrongChannel,
    #[error("customer_id is missing or unusable")]
    NoCustomer,
    #[error("jti is missing or unusable")]
    NoJti,
    #[error("iat is older than max_age")]
    Expired,
    #[error("iat is in the future")]
    FromFuture,
    #[error("request_ip is not the address the request came from")]
    IpMismatch,
    #[error("redirect_to is not a path on this site")]
    BadRedirect,
    #[error("email is not an e-mail address")]
    BadEmail,
    #[error("the token was already used")]
    Replayed,
}

impl CustomerLoginError {
    /// The `sso_error` code and metric label.
    pub fn code(self) -> &'static str {
        use CustomerLoginError::*;
        match self {
            Malformed => "token_malformed",
            Signature => "token_signature",
            WrongIssuer => "token_issuer",
            WrongOperation => "token_operation",
            WrongStore => "token_store",
            WrongChannel => "token_channel",
            NoCustomer => "token_customer",
            NoJti => "token_jti",
            Expired => "token_expired",
            FromFuture => "token_from_future",
            IpMismatch => "token_ip",
            BadRedirect => "token_redirect",
            BadEmail => "token_email",
            Replayed => "token_replayed",
        }
    }

    /// Every code, for the error page (an unknown `sso_error` shows a generic text).
    pub const ALL: [CustomerLoginError; 14] = {
        use CustomerLoginError::*;
        [
            Malformed,
            Signature,
            WrongIssuer,
            WrongOperation,
            WrongStore,
            WrongChannel,
            NoCustomer,
            NoJti,
            Expired,
            FromFuture,
            IpMismatch,
            BadRedirect,
            BadEmail,
            Replayed,
        ]
    };

    /// The sentence shown to the shopper.
    pub fn message(self) -> &'static str {
        use CustomerLoginError::*;
        match self {
            Expired | Replayed => "This sign-in link has expired or was already used. Please sign in again.",
            FromFuture => "This sign-in link is not valid yet. Check the clock and sign in again.",
            IpMismatch => "This sign-in link was made for another network connection. Please sign in again.",
            _ => "This sign-in link is not valid. Please sign in again.",
        }
    }
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerLogin {
    /// The shop's customer id (a number in BigCommerce; any short printable text here).
    pub customer_id: String,
    /// Spent once in the shared store.
    pub jti: String,
    /// The same-site path to land on, if the token named one.
    pub redirect_to: Option<String>,
    pub iat: u64,
    /// The customer's e-mail address, when the token carried one: the merchant's
    /// website vouches for it by signing (see docs/customer-login.md).
    pub email: Option<String>,
}

/// The claims as they may arrive: every one optional, so each missing one gets its
/// own error instead of "malformed".
#[derive(Deserialize)]
struct Incoming {
    iss: Option<Value>,
    iat: Option<Value>,
    jti: Option<Value>,
    operation: Option<Value>,
    store_hash: Option<Value>,
    customer_id: Option<Value>,
    channel_id: Option<Value>,
    redirect_to: Option<Value>,
    request_ip: Option<Value>,
    email: Option<Value>,
}

/// Checks customer-login JWTs for one site.
pub struct CustomerLoginVerifier {
    config: CustomerLoginConfig,
    key: DecodingKey,
    validation: Validation,
}

impl CustomerLoginVerifier {
    pub fn new(config: &CustomerLoginConfig) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // The token's lifetime is `iat` + `max_age`, checked here; it has no `exp`
        // or `aud` to require.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        CustomerLoginVerifier {
            key: DecodingKey::from_secret(config.client_secret.expose().as_bytes()),
            config: config.clone(),
            validation,
        }
    }

    pub fn config(&self) -> &CustomerLoginConfig {
        &self.config
    }

    /// Verifies `token` at `now` (Unix seconds) for a request from `client` (as seen
    /// through trusted proxies). The `jti` is not spent here.
    pub fn verify(&self, token: &str, now: u64, client: Option<IpAddr>) -> Result<CustomerLogin, CustomerLoginError> {
        use CustomerLoginError::*;
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(Malformed);
        }
        // `alg: none`, RS*, ES*, HS384... are refused by name before anything else.
        if header_alg(token).ok_or(Malformed)? != "HS256" {
            return Err(Signature);
        }
        let data = jsonwebtoken::decode::<Incoming>(token, &self.key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidSignature | K::InvalidAlgorithm | K::InvalidAlgorithmName | K::InvalidKeyFormat => Signature,
                _ => Malformed,
            }
        })?;
        let c = data.claims;
        if text(&c.iss) != Some(self.config.client_id.as_str()) {
            return Err(WrongIssuer);
        }
        if text(&c.operation) != Some(OPERATION) {
            return Err(WrongOperation);
        }
        if text(&c.store_hash) != Some(self.config.store_hash.as_str()) {
            return Err(WrongStore);
        }
        if let Some(channel) = self.config.channel_id {
            if number(&c.channel_id) != Some(channel) {
                return Err(WrongChannel);
            }
        }
        let customer_id = identifier(&c.customer_id).ok_or(NoCustomer)?;
        let jti = identifier(&c.jti).ok_or(NoJti)?;
        let iat = number(&c.iat).ok_or(Malformed)?;
        if iat > now.saturating_add(FUTURE_SKEW.as_secs()) {
            return Err(FromFuture);
        }
        if now.saturating_sub(iat) > self.config.max_age.as_secs() {
            return Err(Expired);
        }
        if let Some(ip) = &c.request_ip {
            let claimed = ip
                .as_str()
                .and_then(|s| s.trim().parse::<IpAddr>().ok())
                .ok_or(IpMismatch)?;
            if client.map(|c| c.to_canonical()) != Some(claimed.to_canonical()) {
                return Err(IpMismatch);
            }
        }
        let redirect_to = match &c.redirect_to {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(safe_return_to(s).ok_or(BadRedirect)?.to_string()),
            Some(_) => return Err(BadRedirect),
        };
        let email = match &c.email {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if is_email_address(s) => Some(s.clone()),
            Some(_) => return Err(BadEmail),
        };
        Ok(CustomerLogin {
            customer_id,
            jti,
            redirect_to,
            iat,
            email,
        })
    }
}

/// The `alg` of a compact JWS header, if it decodes.
fn header_alg(token: &str) -> Option<String> {
    use base64::Engine;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.get("alg")?.as_str().map(str::to_string)
}

/// A string claim.
fn text(v: &Option<Value>) -> Option<&str> {
    v.as_ref().and_then(Value::as_str)
}

/// A non-negative integer claim, written as a JSON number or a string of digits.
fn number(v: &Option<Value>) -> Option<u64> {
    match v.as_ref()? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    }
}

/// An id claim (`customer_id`, `jti`): a non-negative integer, or short text of
/// printable ASCII without spaces (no control, format or separator characters an
/// origin might trim or fold differently).
fn identifier(v: &Option<Value>) -> Option<String> {
    match v.as_ref()? {
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        Value::String(s) if is_plain_id(s) => Some(s.clone()),
        _ => None,
    }
}

/// A plain e-mail address: `local@domain`, at most 254 bytes, the local part at most
/// 64 bytes of printable ASCII without spaces, quotes, brackets or `@`, the domain
/// dot-separated labels of letters, digits and `-` (at least two labels). Stricter
/// than RFC 5321 (no quoted local parts, no address literals, no internationalised
/// addresses): an address a shop will key a customer by.
pub fn is_email_address(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"(),:;<>@[\\]".contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    s.len() <= 254 && local_ok && domain_ok
}

/// Non-empty, at most 256 bytes of printable ASCII without spaces.
pub fn is_plain_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_CLAIM_LEN && s.bytes().all(|b| b.is_ascii_graphic())
}

/// The claims of a token minted for a platform origin.
#[derive(Serialize)]
struct Outgoing<'a> {
    iss: &'a str,
    iat: u64,
    jti: String,
    operation: &'static str,
    store_hash: &'a str,
    customer_id: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel_id: Option<u64>,
    redirect_to: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_ip: Option<String>,
}

/// A fresh customer-login JWT for the platform origin: HS256 under its secret, a new
/// random `jti`, `iat` = `now`. A customer id made of digits is sent as a number (the
/// platform's customer ids are numbers). Minted per redirect; never cached or logged.
pub fn mint(
    config: &PlatformLoginConfig,
    customer_id: &str,
    redirect_to: &str,
    client: Option<IpAddr>,
    now: u64,
) -> Result<String, jsonwebtoken::errors::Error> {
    // Only the canonical form of a number goes as a number: "007" stays text.
    let customer_id = match customer_id.parse::<u64>() {
        Ok(n) if n.to_string() == customer_id => Value::from(n),
        _ => Value::from(customer_id),
    };
    let claims = Outgoing {
        iss: &config.client_id,
        iat: now,
        jti: crate::secret::random_token(),
        operation: OPERATION,
        store_hash: &config.store_hash,
        customer_id,
        channel_id: config.channel_id,
        redirect_to,
        request_ip: client.map(|ip| ip.to_canonical().to_string()),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(config.client_secret.expose().as_bytes()),
    )
}

#[cfg(test)]
#[path = "customer_login_tests.rs"]
mod tests;
