//! `forward_idp_access_token` on a route: the origin gets the IdP's access token.
//!
//! Only where there is one to give and someone to give it for: the site signs in
//! with `[sites.oidc]` (a customer-login JWT brings no IdP token), and the route is
//! not `public` (a public route lets anonymous requests through, and the token must
//! never be confused with whatever `Authorization` an anonymous client sends).

use crate::model::Access;
use crate::raw::RawRoute;
use crate::validator::Validator;

/// The route's `forward_idp_access_token` (default false), checked against the
/// route's access and the site's IdP.
pub(crate) fn idp_token_forwarding(
    v: &mut Validator<'_>,
    rp: &str,
    raw: &RawRoute,
    access: Access,
    has_idp: bool,
) -> bool {
    if raw.forward_idp_access_token != Some(true) {
        return false;
    }
    let key = format!("{rp}.forward_idp_access_token");
    if !has_idp {
        v.errors
            .push(&key, "needs an IdP whose access token to forward: add [sites.oidc]");
    }
    if access == Access::Public {
        v.errors.push(
            &key,
            "only on a \"login\" or \"api\" route: a public route lets anonymous requests through",
        );
    }
    true
}
