//! The access gate: runs after the identity is known, before proxying.
//!
//! `public` routes always continue. On `login` routes an anonymous page load (a
//! top-level `GET` navigation, see [`crate::navigation`]) is sent straight to the
//! IdP — the flow starts here, returning to the same path — within the client's
//! login rate limit (on a site with several IdPs, to the chooser page, which starts
//! nothing and costs no budget); anything else (images, scripts, XHR/JSON, `HEAD`, prefetches)
//! gets a 401 and starts nothing. On `api` routes anonymous calls always get a 401
//! JSON with `WWW-Authenticate`, never a redirect.

use super::{Identity, SiteAuth};
use crate::navigation::{is_navigation, is_page_request};
use crate::rate_limit::Endpoint;
use crate::reply::Reply;
use crate::return_to::return_to_or_root;
use crate::Flow;
use sso_config::Access;
use std::net::IpAddr;

impl SiteAuth {
    /// `client` is the shopper's address as the gateway believes it (for rate limits).
    pub async fn gate(
        &self,
        access: Access,
        req: &http::request::Parts,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
    ) -> Flow<Reply> {
        if access == Access::Public || identity.is_some() {
            return Flow::Continue;
        }
        if access == Access::Api {
            return Flow::Respond(self.login_required(true));
        }
        if !is_navigation(&req.method, &req.headers) {
            return Flow::Respond(self.login_required(!is_page_request(&req.headers)));
        }
        let here = req.uri.path_and_query().map_or("/", |p| p.as_str());
        if let Some(moved) = self.to_public_host(req) {
            return Flow::Respond(moved);
        }
        let return_to = return_to_or_root(Some(here));
        let several = self.idps.only().is_none() && !self.idps.is_empty();
        if several && self.site.merchant_login.is_none() {
            // Several IdPs: to the chooser, which starts nothing (and costs no budget).
            return Flow::Respond(self.start_login(&req.headers, &return_to).await);
        }
        // A linked site asks the group's auth host first: no form with an SSO session.
        if let Some(ask) = self.login_via_auth_host(&req.headers, &return_to, None) {
            return Flow::Respond(ask);
        }
        if let Some(limited) = self.over_limit(Endpoint::Login, client, false) {
            return Flow::Respond(limited);
        }
        if let Some(merchant) = self.merchant_login(&return_to) {
            return Flow::Respond(merchant);
        }
        Flow::Respond(self.start_login(&req.headers, &return_to).await)
    }

    /// The 401 for an anonymous request that may not start a login (JSON, or a
    /// short page for a non-`GET` page request such as a form post).
    pub(crate) fn login_required(&self, json: bool) -> Reply {
        Reply::error(401, "login_required", "Sign in to use this.", json)
            .header("www-authenticate", format!("Bearer realm=\"{}\"", self.site.name))
    }

    /// Counts a request from `client` on `endpoint`; the 429 reply (and a
    /// `rate_limited` event) when it is over the limit.
    pub(crate) fn over_limit(&self, endpoint: Endpoint, client: Option<IpAddr>, json: bool) -> Option<Reply> {
        let limited = self.rate_limits.check(endpoint, client).err()?;
        self.events.rate_limited(&self.site.name, endpoint.as_str());
        // Counted, not logged at info: a flood must not become a log flood.
        tracing::debug!(site = %self.site.name, endpoint = endpoint.as_str(), client = ?client, "rate limited");
        Some(limited.reply(json))
    }

    /// A login must run on the `public_url` host (the callback and the flow cookie
    /// live there): a request on another of the site's hosts is first sent to the
    /// same path on the public host.
    pub fn to_public_host(&self, req: &http::request::Parts) -> Option<Reply> {
        let host = crate::site_router::host_without_port(crate::site_router::request_authority(req)?)?;
        let public = self.site.public_url.host_str()?;
        if host.eq_ignore_ascii_case(public) {
            return None;
        }
        let here = req.uri.path_and_query().map_or("/", |p| p.as_str());
        let target = self.site.public_url.join(&return_to_or_root(Some(here))).ok()?;
        Some(Reply::redirect(302, target.to_string()))
    }

    /// A redirect that starts a login returning to `return_to` (already checked): to
    /// the site's IdP, or, when it has several, to the chooser page
    /// (`<sso_prefix>/login?return_to=…`), where the shopper names their organisation.
    pub async fn start_login(&self, headers: &http::HeaderMap, return_to: &str) -> Reply {
        if let Some(idp) = self.idps.only() {
            return self.start_login_with(idp, headers, return_to).await;
        }
        if self.idps.is_empty() {
            return Reply::error(
                404,
                "login_not_configured",
                "Sign-in is not available on this site.",
                false,
            );
        }
        let mut chooser = format!("{}/login", self.site.sso_prefix);
        if return_to != "/" {
            chooser.push_str("?return_to=");
            chooser.extend(url::form_urlencoded::byte_serialize(return_to.as_bytes()));
        }
        Reply::redirect(302, chooser)
    }

    /// A redirect that starts a login at `idp` returning to `return_to` (already
    /// checked). The flow cookie is set; when the request already carries
    /// [`MAX_FLOW_COOKIES`](crate::sessions::cookie::MAX_FLOW_COOKIES) or more, the
    /// oldest are deleted so that no more than that remain.
    pub async fn start_login_with(&self, idp: &super::idps::Idp, headers: &http::HeaderMap, return_to: &str) -> Reply {
        match idp.flow.start(return_to.to_string()).await {
            Ok(start) => self.cookies.evict_old_flows(headers).into_iter().fold(
                Reply::redirect(302, start.authorize_url.to_string()).header("set-cookie", start.flow_cookie),
                |reply, gone| reply.header("set-cookie", gone),
            ),
            Err(e) => {
                let (status, code, message) = e.response();
                Reply::error(status, code, message, false)
            }
        }
    }
}
