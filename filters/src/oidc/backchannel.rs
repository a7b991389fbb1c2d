//! OpenID Connect Back-Channel Logout 1.0: reading and checking a logout token.
//!
//! The IdP POSTs a logout token (a JWT it signs like an ID token) to the site's
//! `<sso_prefix>/backchannel-logout` when a shopper's IdP session ends. This module
//! is pure: it parses the token ([`LogoutToken::parse`]), verifies its signature
//! against one IdP's JWKS ([`LogoutToken::verify_signature`]) and checks its claims
//! ([`LogoutToken::claims`]) at a given time. Choosing the IdP, refetching its keys
//! and spending the `jti` are the caller's (`crate::auth::backchannel`).
//!
//! What a token must be (Back-Channel Logout 1.0 §2.4, §2.6):
//! - at most [`MAX_LOGOUT_TOKEN`] bytes; a compact JWS (a JWE is refused);
//! - `alg` one of the ID-token algorithms ([`ALLOWED_ALGS`]: never `none`, never HS*),
//!   and one the IdP signs its ID tokens with ([`LogoutToken::check_algorithm`]);
//!   a JOSE `typ`, when present, `logout+jwt`; no `crit` header;
//! - signed by a key of the IdP its `iss` names, chosen by `kid` and algorithm exactly
//!   as for ID tokens;
//! - `aud` contains that IdP's client id; `iat` at most [`FUTURE_SKEW`] ahead and at
//!   most [`MAX_AGE`] old; `exp`, when present, not passed (with [`FUTURE_SKEW`]);
//! - a `jti` (spent once by the caller); an `events` object whose member
//!   [`LOGOUT_EVENT`] is a JSON object; no `nonce` (so an ID token never passes);
//!   `sub` or `sid`, or both.

use super::provider::ALLOWED_ALGS;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyUse, JwsSigningAlgorithm};
use serde_json::{Map, Value};
use std::time::Duration;

/// Longest logout token read (a real one is about 1 KiB).
pub const MAX_LOGOUT_TOKEN: usize = 8 * 1024;
/// How far ahead of the gateway's clock an `iat` may be, and how long after `exp` a
/// token still counts (the IdP's clock and the gateway's disagree a little).
pub const FUTURE_SKEW: Duration = Duration::from_secs(30);
/// Oldest `iat` accepted. An IdP sends the token when the session ends; one it kept
/// for longer is refused (and a captured one cannot be used later).
pub const MAX_AGE: Duration = Duration::from_secs(300);
/// How long a spent `jti` is remembered: longer than any token is accepted
/// ([`MAX_AGE`] + [`FUTURE_SKEW`]), so a replay is refused by its `jti` or its `iat`.
pub const JTI_MARK_TTL: Duration = Duration::from_secs(600);
/// The member of `events` that makes a JWT a logout token.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Longest `sub`, `sid` and `jti` accepted (they are only compared and hashed).
const MAX_CLAIM_LEN: usize = 1024;

/// Why a logout token was refused. Each has a short code for the metric label
/// (`sso_gateway_rejected_total{reason}`) and the 400 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogoutTokenError {
    /// The token is longer than [`MAX_LOGOUT_TOKEN`] bytes.
    #[error("the logout token is too long")]
    TooLarge,
    /// Not a compact JWS with a JSON header and a JSON object as claims.
    #[error("the logout token is not a signed JWT")]
    Malformed,
    /// `alg` is not one of the ID-token algorithms (`none`, HS*, unknown).
    #[error("the logout token's algorithm is not accepted")]
    Algorithm,
    /// The JOSE `typ` is present and is not `logout+jwt`.
    #[error("the logout token's typ is not logout+jwt")]
    WrongType,
    /// The header has `crit`: extensions this gateway does not understand.
    #[error("the logout token has critical header extensions")]
    CriticalHeader,
    /// `iss` is missing or names none of the site's IdPs.
    #[error("the logout token's issuer is not an IdP of this site")]
    UnknownIssuer,
    /// The IdP's keys are not loaded yet (its discovery has not succeeded).
    #[error("the IdP's signing keys are not loaded")]
    KeysUnavailable,
    /// No key of the IdP fits the token's `kid` and algorithm, even after a refetch.
    #[error("no signing key of the IdP matches the logout token")]
    NoMatchingKey,
    /// Several keys of the IdP fit and the token names none (`kid`).
    #[error("several signing keys of the IdP match the logout token")]
    AmbiguousKey,
    /// The signature does not verify under the IdP's key.
    #[error("the logout token's signature is invalid")]
    BadSignature,
    /// `aud` does not contain the IdP's client id.
    #[error("the logout token is not for this client")]
    WrongAudience,
    /// `iat` is missing or not a number of seconds.
    #[error("the logout token has no iat")]
    NoIssuedAt,
    /// `iat` is older than [`MAX_AGE`].
    #[error("the logout token is too old")]
    TooOld,
    /// `iat` is more than [`FUTURE_SKEW`] ahead of the gateway's clock.
    #[error("the logout token is issued in the future")]
    FromTheFuture,
    /// `exp` is present and has passed (or is not a number).
    #[error("the logout token has expired")]
    Expired,
    /// `jti` is missing or unusable.
    #[error("the logout token has no jti")]
    NoJti,
    /// The `jti` was already used (spent by the caller in the shared store).
    #[error("the logout token was already used")]
    Replayed,
    /// `events` is not an object holding the back-channel logout event as an object.
    #[error("the logout token has no back-channel logout event")]
    NoLogoutEvent,
    /// `nonce` is present: an ID token must never pass as a logout token.
    #[error("the logout token carries a nonce")]
    Nonce,
    /// Neither a usable `sub` nor a usable `sid`.
    #[error("the logout token names neither sub nor sid")]
    NoSubject,
}

impl LogoutTokenError {
    /// The metric label (from this bounded set).
    pub fn code(self) -> &'static str {
        use LogoutTokenError::*;
        match self {
            TooLarge => "logout_token_too_large",
            Malformed => "logout_token_malformed",
            Algorithm => "logout_token_alg",
            WrongType => "logout_token_typ",
            CriticalHeader => "logout_token_crit",
            UnknownIssuer => "logout_token_issuer",
            KeysUnavailable => "logout_token_keys_unavailable",
            NoMatchingKey => "logout_token_no_key",
            AmbiguousKey => "logout_token_ambiguous_key",
            BadSignature => "logout_token_signature",
            WrongAudience => "logout_token_audience",
            NoIssuedAt => "logout_token_iat",
            TooOld => "logout_token_too_old",
            FromTheFuture => "logout_token_from_future",
            Expired => "logout_token_expired",
            NoJti => "logout_token_jti",
            Replayed => "logout_token_replayed",
            NoLogoutEvent => "logout_token_events",
            Nonce => "logout_token_nonce",
            NoSubject => "logout_token_subject",
        }
    }
}

/// What a verified logout token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutClaims {
    /// The issuer, as the token (and the IdP's metadata) say it.
    pub issuer: String,
    /// The IdP subject whose sessions end (all of them when there is no `sid`).
    pub subject: Option<String>,
    /// The IdP session that ended (`sid`): only the sessions it signed in end.
    pub session: Option<String>,
    /// Spent once by the caller.
    pub jti: String,
    pub issued_at: u64,
}

/// A logout token read but not yet trusted: the header checked, the claims parsed.
#[derive(Debug)]
pub struct LogoutToken<'a> {
    /// `<header>.<payload>`: what the signature covers.
    signing_input: &'a str,
    signature: Vec<u8>,
    alg: CoreJwsSigningAlgorithm,
    kid: Option<String>,
    claims: Map<String, Value>,
}

impl<'a> LogoutToken<'a> {
    /// Reads `raw`: its size, three base64url parts, a header whose `alg` is allowed
    /// (`typ` and `crit` checked), and claims that are a JSON object. Nothing is
    /// trusted yet.
    pub fn parse(raw: &'a str) -> Result<Self, LogoutTokenError> {
        use LogoutTokenError::*;
        if raw.len() > MAX_LOGOUT_TOKEN {
            return Err(TooLarge);
        }
        let mut parts = raw.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Malformed);
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| Malformed);
        let header: Map<String, Value> = serde_json::from_slice(&decode(header)?).map_err(|_| Malformed)?;
        let alg = header.get("alg").and_then(Value::as_str).ok_or(Malformed)?;
        let alg: CoreJwsSigningAlgorithm =
            serde_json::from_value(Value::String(alg.to_string())).map_err(|_| Algorithm)?;
        if !ALLOWED_ALGS.contains(&alg) {
            return Err(Algorithm);
        }
        match header.get("typ") {
            None => {}
            Some(Value::String(t)) if is_logout_type(t) => {}
            Some(_) => return Err(WrongType),
        }
        if header.contains_key("crit") {
            return Err(CriticalHeader);
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => return Err(Malformed),
        };
        let claims: Map<String, Value> = serde_json::from_slice(&decode(payload)?).map_err(|_| Malformed)?;
        let signature = decode(signature)?;
        if signature.is_empty() {
            return Err(BadSignature);
        }
        let signing_input = raw.rsplit_once('.').map_or("", |(input, _)| input);
        Ok(LogoutToken {
            signing_input,
            signature,
            alg,
            kid,
            claims,
        })
    }

    /// Refuses a token signed with another algorithm than the IdP's ID tokens are
    /// (`algs`: `id_token_signed_response_alg`, else discovery's
    /// `id_token_signing_alg_values_supported`): a key of the IdP used with an
    /// algorithm the client never agreed to is not the IdP speaking as it does.
    pub fn check_algorithm(&self, algs: &[CoreJwsSigningAlgorithm]) -> Result<(), LogoutTokenError> {
        if algs.contains(&self.alg) {
            Ok(())
        } else {
            Err(LogoutTokenError::Algorithm)
        }
    }

    /// The `iss` claim as written (not yet trusted): which IdP's keys to check.
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// The audiences as written (not yet trusted): a string or an array of strings.
    pub fn audiences(&self) -> Vec<&str> {
        match self.claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// Verifies the signature with one IdP's `keys`, choosing the key as for ID tokens:
    /// the `kid` when the token names one, a key type and `use` that fit the algorithm,
    /// and exactly one such key. [`LogoutTokenError::NoMatchingKey`] means "refetch
    /// the keys and try once more".
    pub fn verify_signature(&self, keys: &CoreJsonWebKeySet) -> Result<(), LogoutTokenError> {
        let fitting: Vec<&CoreJsonWebKey> = keys
            .keys()
            .iter()
            .filter(|k| self.kid.is_none() || k.key_id().map(|id| id.as_str()) == self.kid.as_deref())
            .filter(|k| key_fits(k, &self.alg))
            .collect();
        let key = match fitting.as_slice() {
            [] => return Err(LogoutTokenError::NoMatchingKey),
            [key] => key,
            _ => return Err(LogoutTokenError::AmbiguousKey),
        };
        key.verify_signature(&self.alg, self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| LogoutTokenError::BadSignature)
    }

    /// Checks the claims for the IdP `issuer` with `client_id` at `now` (Unix
    /// seconds). Call it only once [`Self::verify_signature`] succeeded. The `jti` is
    /// not spent here.
    pub fn claims(&self, issuer: &str, client_id: &str, now: u64) -> Result<LogoutClaims, LogoutTokenError> {
        use LogoutTokenError::*;
        let c = &self.claims;
        if self.issuer() != Some(issuer) {
            return Err(UnknownIssuer);
        }
        if !self.audiences().contains(&client_id) {
            return Err(WrongAudience);
        }
        let skew = FUTURE_SKEW.as_secs();
        let issued_at = c.get("iat").and_then(seconds).ok_or(NoIssuedAt)?;
        if issued_at > now.saturating_add(skew) {
            return Err(FromTheFuture);
        }
        if now.saturating_sub(issued_at) > MAX_AGE.as_secs() {
            return Err(TooOld);
        }
        if let Some(exp) = c.get("exp") {
            let exp = seconds(exp).ok_or(Expired)?;
            if now >= exp.saturating_add(skew) {
                return Err(Expired);
            }
        }
        let jti = c.get("jti").and_then(usable_text).ok_or(NoJti)?;
        let event = c
            .get("events")
            .and_then(Value::as_object)
            .and_then(|events| events.get(LOGOUT_EVENT));
        if !event.is_some_and(Value::is_object) {
            return Err(NoLogoutEvent);
        }
        if c.contains_key("nonce") {
            return Err(Nonce);
        }
        let text_claim = |name: &str| match c.get(name) {
            None => Ok(None),
            Some(v) => usable_text(v).map(Some).ok_or(NoSubject),
        };
        let subject = text_claim("sub")?;
        let session = text_claim("sid")?;
        if subject.is_none() && session.is_none() {
            return Err(NoSubject);
        }
        Ok(LogoutClaims {
            issuer: issuer.to_string(),
            subject,
            session,
            jti,
            issued_at,
        })
    }
}

/// Everything at once, against one IdP's `keys` (no key refetch, no replay check):
/// what the fuzz target and the unit tests drive. Any algorithm of [`ALLOWED_ALGS`].
pub fn verify(
    raw: &str,
    issuer: &str,
    client_id: &str,
    keys: &CoreJsonWebKeySet,
    now: u64,
) -> Result<LogoutClaims, LogoutTokenError> {
    verify_with_algs(raw, issuer, client_id, keys, &ALLOWED_ALGS, now)
}

/// [`verify`] for an IdP whose ID tokens are signed with one of `algs`.
pub fn verify_with_algs(
    raw: &str,
    issuer: &str,
    client_id: &str,
    keys: &CoreJsonWebKeySet,
    algs: &[CoreJwsSigningAlgorithm],
    now: u64,
) -> Result<LogoutClaims, LogoutTokenError> {
    let token = LogoutToken::parse(raw)?;
    if token.issuer() != Some(issuer) {
        return Err(LogoutTokenError::UnknownIssuer);
    }
    token.check_algorithm(algs)?;
    token.verify_signature(keys)?;
    token.claims(issuer, client_id, now)
}

/// An IdP session id (`sid`) worth recording from an ID token, by the same rule a
/// logout token's `sid` must follow (so the two always compare).
pub fn usable_session_id(value: &Value) -> Option<String> {
    usable_text(value)
}

/// `typ` of a logout token: `logout+jwt`, or its full media type, in any case.
fn is_logout_type(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    typ == "logout+jwt" || typ == "application/logout+jwt"
}

/// Whether `key` may verify a signature made with `alg` (its `use`, type and `alg`).
fn key_fits(key: &CoreJsonWebKey, alg: &CoreJwsSigningAlgorithm) -> bool {
    if key.key_use().is_some_and(|u| !u.allows_signature()) {
        return false;
    }
    if alg.key_type().as_ref() != Some(key.key_type()) {
        return false;
    }
    match key.signing_alg() {
        JsonWebKeyAlgorithm::Unspecified => true,
        JsonWebKeyAlgorithm::Algorithm(key_alg) => key_alg == alg,
        _ => false,
    }
}

/// A time claim: whole non-negative seconds.
fn seconds(value: &Value) -> Option<u64> {
    value.as_u64()
}

/// A text claim compared or hashed as it is: non-empty, at most [`MAX_CLAIM_LEN`]
/// bytes, no control characters.
fn usable_text(value: &Value) -> Option<String> {
    let s = value.as_str()?;
    (!s.is_empty() && s.len() <= MAX_CLAIM_LEN && !s.chars().any(char::is_control)).then(|| s.to_string())
}

#[cfg(test)]
#[path = "backchannel_tests.rs"]
mod tests;
