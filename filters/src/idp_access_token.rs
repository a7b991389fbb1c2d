//! The IdP's access token for origins that need it (`forward_idp_access_token` on a
//! route): sent upstream as `Authorization: Bearer <IdP access token>`.
//!
//! The token is kept with the session only on a site where some route forwards it
//! (otherwise it never leaves the IdP response), and replaced by every refresh. The
//! refresh runs before any route is served ([`SitePipeline::refresh_if_due`](crate::features::SitePipeline::refresh_if_due), at three
//! quarters of the token's lifetime), so a forwarding route normally finds a live
//! token. When it does not, the request is answered here and nothing is forwarded:
//! - the token has expired and the session can still be refreshed (the IdP could not
//!   be reached, or another replica is refreshing): 503 `idp_unavailable`, try again;
//! - the session has no token to forward (signed in by another method, signed in
//!   before the route forwarded, or expired with no refresh token): 401
//!   `idp_token_unavailable`, sign in again.
//!
//! On a forwarding route the client's own `Authorization` never reaches the origin:
//! the gateway's header replaces it, whatever `forward_gateway_credentials` says.

use crate::reply::Reply;
use sso_config::Secret;

/// Why a session has no access token to forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessTokenUnusable {
    /// No IdP access token is kept with the session.
    #[error("the session holds no IdP access token")]
    Missing,
    /// The token has expired and the session has a refresh token: a refresh is due.
    #[error("the IdP access token has expired and is waiting for a refresh")]
    AwaitingRefresh,
    /// The token has expired and cannot be refreshed.
    #[error("the IdP access token has expired")]
    Expired,
}

/// The kept token if it is still valid at `now`: its expiry (Unix seconds) is in the
/// future, or the IdP stated none (`0`; such a session is revalidated every
/// `oidc.revalidate_interval` instead).
pub fn usable(access: Option<(Secret, u64)>, refreshable: bool, now: u64) -> Result<Secret, AccessTokenUnusable> {
    match access {
        None => Err(AccessTokenUnusable::Missing),
        Some((token, exp)) if exp == 0 || exp > now => Ok(token),
        Some(_) if refreshable => Err(AccessTokenUnusable::AwaitingRefresh),
        Some(_) => Err(AccessTokenUnusable::Expired),
    }
}

/// The answer when a forwarding route has no usable IdP access token.
pub fn unusable_reply(e: AccessTokenUnusable, json: bool) -> Reply {
    match e {
        AccessTokenUnusable::AwaitingRefresh => Reply::error(
            503,
            "idp_unavailable",
            "Your sign-in could not be renewed just now. Please try again in a moment.",
            json,
        )
        .header("retry-after", "5"),
        AccessTokenUnusable::Missing | AccessTokenUnusable::Expired => Reply::error(
            401,
            "idp_token_unavailable",
            "This page needs a fresh sign-in with your identity provider. Please sign out and sign in again.",
            json,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_live_token_is_usable() {
        let t = || Some((Secret::new("at"), 100));
        assert_eq!(usable(t(), true, 99).map(|s| s.expose().to_string()), Ok("at".into()));
        assert_eq!(usable(t(), true, 100).err(), Some(AccessTokenUnusable::AwaitingRefresh));
        assert_eq!(usable(t(), false, 101).err(), Some(AccessTokenUnusable::Expired));
        assert_eq!(usable(None, true, 1).err(), Some(AccessTokenUnusable::Missing));
        assert!(
            usable(Some((Secret::new("at"), 0)), false, u64::MAX).is_ok(),
            "no stated lifetime"
        );
        let (status, retry) = {
            let r = unusable_reply(AccessTokenUnusable::AwaitingRefresh, true);
            (r.status, r.headers.iter().any(|(n, _)| *n == "retry-after"))
        };
        assert_eq!((status, retry), (503, true));
        assert_eq!(unusable_reply(AccessTokenUnusable::Expired, true).status, 401);
    }
}
