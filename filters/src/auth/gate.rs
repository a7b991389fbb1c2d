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
        Flow::Respond(self.start_login(&return_to_or_root(Some(here))))
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
