//! Gateway-owned paths: `<sso_prefix>/login`, `/logout`, `/session`, `/token`,
//! `/jwks.json`, and the IdP callback (`oidc.callback_path`).
//!
//! Runs after the site is known and the identity looked up, before the access gate.
//! Returns [`Flow::Continue`] for every other path.

use super::{Identity, SiteAuth};
use crate::reply::{wants_json, Reply};
use crate::return_to::safe_return_to;
use crate::Flow;
use http::Method;

impl SiteAuth {
    pub async fn endpoints(&self, req: &http::request::Parts, identity: Option<&Identity>) -> Flow<Reply> {
        let path = req.uri.path();
        let query = req.uri.query().unwrap_or("");
        let is_callback = self
            .flow
            .as_ref()
            .is_some_and(|f| f.provider.config.callback_path == path);
        if is_callback {
            return Flow::Respond(self.callback(req, identity).await);
        }
        let Some(rest) = path.strip_prefix(self.site.sso_prefix.as_str()) else {
            return Flow::Continue;
        };
        if !(rest.is_empty() || rest.starts_with('/')) {
            return Flow::Continue;
        }
        let json = wants_json(&req.headers);
        let get = req.method == Method::GET || req.method == Method::HEAD;
        let reply = match rest {
            "/login" if get => match self.to_public_host(req) {
                Some(moved) => moved,
                None => self.login(query, identity),
            },
            "/logout" if get || req.method == Method::POST => self.logout(identity),
            "/session" if get => self.session_json(identity),
            "/token" if get || req.method == Method::POST => self.token_json(identity),
            "/jwks.json" if get => Reply::json(200, &self.signer.jwks).header("cache-control", "public, max-age=300"),
            "/login" | "/logout" | "/session" | "/token" | "/jwks.json" => {
                Reply::error(405, "method_not_allowed", "This method is not allowed here.", json)
            }
            _ => Reply::error(404, "not_found", "There is nothing here.", json),
        };
        Flow::Respond(reply)
    }

    fn login(&self, query: &str, identity: Option<&Identity>) -> Reply {
        let raw = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "return_to")
            .map(|(_, v)| v);
        let return_to = match raw.as_deref() {
            None => "/".to_string(),
            Some(r) => match safe_return_to(r) {
                Some(ok) => ok.to_string(),
                None => {
                    self.events.rejected(&self.site.name, "open_redirect");
                    tracing::info!(site = %self.site.name, "refused a return_to outside this site");
                    "/".to_string()
                }
            },
        };
        if identity.is_some_and(|i| i.session_id.is_some()) {
            return Reply::redirect(303, return_to);
        }
        self.start_login(&return_to)
    }

    async fn callback(&self, req: &http::request::Parts, identity: Option<&Identity>) -> Reply {
        let Some(flow) = &self.flow else {
            return Reply::error(404, "not_found", "There is nothing here.", false);
        };
        let query = req.uri.query().unwrap_or("");
        let clear_flow = flow.clear_flow_cookie(query);
        let reply = match flow.finish(query, &req.headers).await {
            Ok(done) => {
                // Never reuse a pre-login session id.
                if let Some(old) = identity.and_then(|i| i.session_id) {
                    self.store.remove(&old);
                }
                let return_to = done.return_to.clone();
                tracing::info!(site = %self.site.name, subject = %done.customer.id, "login succeeded");
                let (_, cookie) = self.create_session(done);
                self.events.login(&self.site.name, "success");
                Reply::redirect(303, return_to).header("set-cookie", cookie)
            }
            Err(e) => {
                let (status, code, message) = e.response();
                self.events.login(&self.site.name, code);
                tracing::warn!(site = %self.site.name, error = %e, "login failed");
                let retry = format!("{}/login", self.site.sso_prefix);
                Reply::error(status, code, message, wants_json(&req.headers)).header("x-sso-retry", retry)
            }
        };
        match clear_flow {
            Some(c) => reply.header("set-cookie", c),
            None => reply,
        }
    }

    fn logout(&self, identity: Option<&Identity>) -> Reply {
        let id_token = identity.and_then(|i| i.session.id_token.clone());
        if let Some(id) = identity.and_then(|i| i.session_id) {
            self.store.remove(&id);
        }
        let target = match &self.flow {
            Some(flow) => flow.logout_target(id_token.as_deref()),
            None => "/".to_string(),
        };
        Reply::redirect(303, target).header("set-cookie", self.cookies.clear_session())
    }

    fn session_json(&self, identity: Option<&Identity>) -> Reply {
        let value = match identity {
            Some(i) => serde_json::json!({
                "authenticated": true,
                "customer": i.customer(),
                "expires_at": rfc3339(i.session.expires_at),
            }),
            None => serde_json::json!({ "authenticated": false, "customer": null, "expires_at": null }),
        };
        Reply::json(200, &value)
    }

    fn token_json(&self, identity: Option<&Identity>) -> Reply {
        let token = identity.and_then(|i| self.token_for(i));
        match token.as_ref().and_then(|(t, exp)| Some((t.to_str().ok()?, *exp))) {
            Some((token, exp)) => Reply::json(
                200,
                &serde_json::json!({
                    "token": token,
                    "token_type": "Bearer",
                    "expires_in": exp.saturating_sub(crate::sessions::now_secs()),
                }),
            ),
            None => Reply::error(401, "login_required", "Sign in to get a token.", true)
                .header("www-authenticate", format!("Bearer realm=\"{}\"", self.site.name)),
        }
    }
}

fn rfc3339(unix: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix)).to_string()
}
