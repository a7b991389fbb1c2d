//! IdP token forwarding: on a route with `forward_idp_access_token`, the origin gets
//! `Authorization: Bearer <the IdP's access token>` (see `crate::idp_access_token`
//! for when a token is usable and what is answered when it is not). Registered on a
//! site where some route forwards it. Upstream only.

use super::{Feature, SitePipeline, SiteRequest, UpstreamEdits};
use crate::auth::Identity;
use crate::idp_access_token::{unusable_reply, usable, AccessTokenUnusable};
use crate::reply::Reply;
use crate::sessions::now_secs;
use http::HeaderValue;
use sso_config::SiteConfig;

/// Sends the session's IdP access token to the origin on forwarding routes.
pub struct IdpTokenForwarding;

impl IdpTokenForwarding {
    pub fn from_config(site: &SiteConfig) -> Option<Self> {
        site.routes
            .iter()
            .any(|r| r.forward_idp_access_token)
            .then_some(IdpTokenForwarding)
    }

    /// The `Authorization` value for the origin, or the answer to give instead
    /// (nothing is forwarded then). The value is marked sensitive.
    fn header(site: &SitePipeline, identity: &Identity, json: bool) -> Result<HeaderValue, Reply> {
        let core = &site.core;
        let refresh = &identity.session.refresh;
        let token = match usable(refresh.access(), refresh.token().is_some(), now_secs()) {
            Ok(token) => token,
            Err(e) => {
                core.events.rejected(&core.site.name, "idp_token_unavailable");
                tracing::info!(site = %core.site.name, reason = %e, "IdP access token not forwarded");
                return Err(unusable_reply(e, json));
            }
        };
        match HeaderValue::try_from(format!("Bearer {}", token.expose())) {
            Ok(mut value) => {
                value.set_sensitive(true);
                Ok(value)
            }
            Err(_) => {
                tracing::error!(site = %core.site.name, "the IdP access token is not a header value; not forwarded");
                Err(unusable_reply(AccessTokenUnusable::Missing, json))
            }
        }
    }
}

#[async_trait::async_trait]
impl Feature for IdpTokenForwarding {
    fn name(&self) -> &'static str {
        "idp_token_forwarding"
    }

    fn roles(&self) -> super::Roles {
        super::Roles {
            upstream: true,
            ..super::Roles::default()
        }
    }

    fn upstream(&self, site: &SitePipeline, r: &SiteRequest<'_>, edits: &mut UpstreamEdits) -> Result<(), Reply> {
        if !r.route.forwards_idp_token {
            return Ok(());
        }
        // Whatever `Authorization` the client sent never reaches the origin here: only
        // the gateway sets it.
        edits.remove.push(http::header::AUTHORIZATION);
        let Some(identity) = r.identity else {
            return Ok(());
        };
        if r.route.route_key_differs {
            // The rule matched a reading of the path (case folded, `;` parameters
            // dropped) the origin may not share: it could route the request to a
            // handler that is not the forwarding route. The token is not risked.
            site.core.events.rejected(&site.core.site.name, "ambiguous_path");
            return Err(Reply::error(
                400,
                "ambiguous_path",
                "This address is not valid here. Check the link you followed.",
                r.json,
            ));
        }
        let value = Self::header(site, identity, r.json)?;
        edits.set.push((http::header::AUTHORIZATION, value));
        Ok(())
    }
}
