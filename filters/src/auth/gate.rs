//! The access gate: runs after the identity is known, before proxying.
//!
//! `public` routes always continue. On `login` routes an anonymous browser is sent
//! straight to the IdP (the flow starts here, returning to the same path) and an
//! API call (JSON or XHR) gets 401. On `api` routes anonymous calls always get a 401
//! JSON with `WWW-Authenticate`, never a redirect.

use super::{Identity, SiteAuth};
use crate::reply::{wants_json, Reply};
use crate::return_to::return_to_or_root;
use crate::Flow;
use sso_config::Access;

impl SiteAuth {
    pub fn gate(&self, access: Access, req: &http::request::Parts, identity: Option<&Identity>) -> Flow<Reply> {
        if access == Access::Public || identity.is_some() {
            return Flow::Continue;
        }
        if access == Access::Api || wants_json(&req.headers) {
            let reply = Reply::error(401, "login_required", "Sign in to use this.", true)
                .header("www-authenticate", format!("Bearer realm=\"{}\"", self.site.name));
            return Flow::Respond(reply);
        }
        let here = req.uri.path_and_query().map_or("/", |p| p.as_str());
        if let Some(moved) = self.to_public_host(req) {
            return Flow::Respond(moved);
        }
        Flow::Respond(self.start_login(&return_to_or_root(Some(here))))
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

    /// A redirect that starts a login returning to `return_to` (already checked).
    pub fn start_login(&self, return_to: &str) -> Reply {
        let Some(flow) = &self.flow else {
            return Reply::error(
                404,
                "login_not_configured",
                "Sign-in is not available on this site.",
                false,
            );
        };
        match flow.start(return_to.to_string()) {
            Ok(start) => Reply::redirect(302, start.authorize_url.to_string()).header("set-cookie", start.flow_cookie),
            Err(e) => {
                let (status, code, message) = e.response();
                Reply::error(status, code, message, false)
            }
        }
    }
}
