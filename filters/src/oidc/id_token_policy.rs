//! What the gateway checks on top of openidconnect's ID-token and token-response
//! handling: the allowed algorithms, `iat` not in the future, `azp`, and how a failed
//! token-endpoint call is classified (IdP answered vs unreachable; invalid ID token vs
//! failed exchange).

use super::outcomes::CallbackError;
use super::provider::{error_chain, ALLOWED_ALGS};
use crate::sessions::now_secs;
use openidconnect::core::{CoreIdTokenClaims, CoreIdTokenVerifier};
use openidconnect::RequestTokenError;

/// The gateway's ID-token policy on top of openidconnect's checks (signature, `iss`,
/// `aud`, `azp`, `exp`, `nonce`): asymmetric algorithms only — the client secret is
/// never accepted as an HMAC key — and `iat` no more than five minutes in the future.
pub fn harden_verifier(verifier: CoreIdTokenVerifier<'_>) -> CoreIdTokenVerifier<'_> {
    verifier
        .set_allowed_algs(ALLOWED_ALGS)
        .set_issue_time_verifier_fn(|iat| {
            if iat.timestamp() > now_secs() as i64 + 300 {
                Err("issued in the future".to_string())
            } else {
                Ok(())
            }
        })
}

/// Checks openidconnect leaves out: an `azp` claim, when present, must be this
/// client even with a single audience (OIDC Core 3.1.3.7, step 5).
pub fn check_authorized_party(claims: &CoreIdTokenClaims, client_id: &str) -> Result<(), String> {
    match claims.authorized_party() {
        Some(azp) if azp.as_str() != client_id => Err(format!("azp {:?} is not this client", azp.as_str())),
        _ => Ok(()),
    }
}

/// A failed code exchange. openidconnect parses the ID token's claims while it reads
/// the token response, so a token without `sub` or `iat` fails here: a well-formed
/// JSON response that carries an `id_token` but cannot be read is an invalid ID
/// token (forged or broken), not an IdP outage.
/// True when a token-endpoint call got the IdP's answer, a success or an OAuth error
/// (`invalid_grant`, ...); false when it could not be reached or answered garbage.
pub(super) fn idp_answered<R, RE, T>(result: &Result<R, RequestTokenError<RE, T>>) -> bool
where
    RE: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
{
    matches!(result, Ok(_) | Err(RequestTokenError::ServerResponse(_)))
}

pub(super) fn token_response_error<RE, T>(e: RequestTokenError<RE, T>) -> CallbackError
where
    RE: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
{
    if let RequestTokenError::Parse(_, body) = &e {
        let has_id_token = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .is_some_and(|v| v.get("id_token").is_some_and(serde_json::Value::is_string));
        if has_id_token {
            return CallbackError::IdTokenInvalid(error_chain(&e));
        }
    }
    CallbackError::TokenExchange(error_chain(&e))
}
