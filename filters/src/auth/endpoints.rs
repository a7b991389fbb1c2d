//! Gateway-owned paths: `<sso_prefix>/login`, `/logout`, `/session`, `/token`,
//! `/jwks.json`, and the IdP callbacks (`oidc.callback_path`, one per IdP).
//!
//! Runs after the site is known and the identity looked up, before the access gate.
//! Returns [`Flow::Continue`] for every other path.

use super::chooser::{chooser_page, LoginQuery};
use super::idps::Idp;
use super::{Identity, SiteAuth};
use crate::navigation::{is_navigation, is_page_request};
use crate::rate_limit::Endpoint;
use crate::reply::{wants_json, Reply};
use crate::return_to::safe_return_to;
use crate::Flow;
use http::Method;
use std::net::IpAddr;

impl SiteAuth {
    /// `client` is the shopper's address as the gateway believes it: login starts,
    /// callbacks, `/token` and `/logout` count against its `server.rate_limits` (429
    /// with `Retry-After` past them). `store_down`: the request's credential could not
    /// be checked (session store unreachable); `/logout`, `/session` and `/token` then
    /// answer 503 instead of pretending the shopper is anonymous.
    pub async fn endpoints(
        &self,
        req: &http::request::Parts,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
        store_down: bool,
    ) -> Flow<Reply> {
        let path = req.uri.path();
        let query = req.uri.query().unwrap_or("");
        let json = wants_json(&req.headers);
        if let Some(idp) = self.idps.by_callback(path) {
            if let Some(limited) = self.over_limit(Endpoint::Callback, client, json) {
                return Flow::Respond(limited);
            }
            return Flow::Respond(self.callback(req, identity, idp).await);
        }
        let Some(rest) = path.strip_prefix(self.site.sso_prefix.as_str()) else {
            return Flow::Continue;
        };
        if !(rest.is_empty() || rest.starts_with('/')) {
            return Flow::Continue;
        }
        let get = req.method == Method::GET || req.method == Method::HEAD;
        let limited = |endpoint, json| self.over_limit(endpoint, client, json);
        let reply = match rest {
            "/login" if get => match self.to_public_host(req) {
                Some(moved) => moved,
                None => self.login(req, query, identity, client).await,
            },
            "/logout" | "/session" | "/token" if store_down => store_unavailable(json || rest != "/logout"),
            "/logout" if get || req.method == Method::POST => match limited(Endpoint::Logout, json) {
                Some(limited) => limited,
                None => self.logout(identity, json).await,
            },
            "/session" if get => self.session_json(identity),
            "/token" if get || req.method == Method::POST => {
                limited(Endpoint::Token, true).unwrap_or_else(|| self.token_json(identity))
            }
            "/jwks.json" if get => Reply::json(200, &self.signer.jwks).header("cache-control", "public, max-age=300"),
            "/login" | "/logout" | "/session" | "/token" | "/jwks.json" => {
                Reply::error(405, "method_not_allowed", "This method is not allowed here.", json)
            }
            _ => Reply::error(404, "not_found", "There is nothing here.", json),
        };
        Flow::Respond(reply)
    }

    /// `<sso_prefix>/login?return_to=…&org=…`: a signed-in browser goes straight back;
    /// an anonymous page load starts a login (within the client's rate limit) — at the
    /// IdP named by `org` on a site with `[[sites.idps]]`, else at the chooser page
    /// when there are several; anything that is not a top-level `GET` navigation gets
    /// a 401 and starts nothing. The chooser page itself keeps no state and costs no
    /// rate-limit budget (staff of one company often share an address); an unknown
    /// `org` does, so names cannot be probed faster than logins started.
    async fn login(
        &self,
        req: &http::request::Parts,
        query: &str,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
    ) -> Reply {
        let asked = LoginQuery::parse(query);
        let return_to = match asked.return_to.as_deref() {
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
        if identity.is_some_and(Identity::from_cookie) {
            return Reply::redirect(303, return_to);
        }
        if !is_navigation(&req.method, &req.headers) {
            return self.login_required(!is_page_request(&req.headers));
        }
        // `org` chooses among named IdPs; a site with one `[sites.oidc]` ignores it.
        let named = self.idps.iter().any(|i| i.name().is_some());
        let chosen = match asked.org {
            Some(org) if named => Some(self.idps.by_name(&org)),
            _ if self.idps.only().is_none() && !self.idps.is_empty() => {
                return chooser_page(&self.site.sso_prefix, &self.idps.choices(), &return_to, false);
            }
            _ => None,
        };
        if let Some(limited) = self.over_limit(Endpoint::Login, client, false) {
            return limited;
        }
        match chosen {
            Some(Some(idp)) => self.start_login_with(idp, &req.headers, &return_to).await,
            Some(None) => {
                self.events.rejected(&self.site.name, "unknown_org");
                tracing::info!(site = %self.site.name, "login for an unknown organisation");
                chooser_page(&self.site.sso_prefix, &self.idps.choices(), &return_to, true)
            }
            None => self.start_login(&req.headers, &return_to).await,
        }
    }

    /// The callback of `idp` (the one whose redirect URI this path is).
    async fn callback(&self, req: &http::request::Parts, identity: Option<&Identity>, idp: &Idp) -> Reply {
        let flow = &idp.flow;
        let query = req.uri.query().unwrap_or("");
        let clear_flow = flow.clear_flow_cookie(query);
        let reply = match flow.finish(query, &req.headers).await {
            Ok(done) => {
                // Never reuse a pre-login session id.
                if let Some(old) = identity.filter(|i| i.from_cookie()) {
                    if let Err(e) = self.stores.sessions.remove(&old.sid).await {
                        tracing::warn!(site = %self.site.name, error = %e, "pre-login session not removed");
                    }
                }
                // Checked again: the pending login came back from a store.
                let return_to = safe_return_to(&done.return_to).unwrap_or("/").to_string();
                let subject = done.customer.id.clone();
                match self.create_session(done).await {
                    Ok((_, cookie)) => {
                        tracing::info!(site = %self.site.name, idp = idp.name().unwrap_or(""), %subject, "login succeeded");
                        self.events.login(&self.site.name, "oidc", "success");
                        Reply::redirect(303, return_to).header("set-cookie", cookie)
                    }
                    Err(e) => self.callback_failed(req, crate::oidc::flow::CallbackError::Store(e)),
                }
            }
            Err(e) => {
                tracing::debug!(site = %self.site.name, idp = idp.name().unwrap_or(""), "callback refused");
                self.callback_failed(req, e)
            }
        };
        match clear_flow {
            Some(c) => reply.header("set-cookie", c),
            None => reply,
        }
    }

    /// The error page of a failed callback, with a link to start again.
    fn callback_failed(&self, req: &http::request::Parts, e: crate::oidc::flow::CallbackError) -> Reply {
        let (status, code, message) = e.response();
        self.events.login(&self.site.name, "oidc", code);
        tracing::warn!(site = %self.site.name, error = %e, "login failed");
        let retry = format!("{}/login", self.site.sso_prefix);
        Reply::error(status, code, message, wants_json(&req.headers)).header("x-sso-retry", retry)
    }

    async fn logout(&self, identity: Option<&Identity>, json: bool) -> Reply {
        // Only the browser's own cookie ends the session (and every API token minted
        // from it); an API token cannot sign its browser out.
        let ending = identity.filter(|i| i.from_cookie());
        let id_token = ending.and_then(|i| i.session.id_token.clone());
        if let Some(i) = ending {
            // The session must be gone everywhere before the shopper is told so.
            if let Err(e) = self.stores.sessions.remove(&i.sid).await {
                tracing::warn!(site = %self.site.name, error = %e, "logout failed: session store unavailable");
                return store_unavailable(json);
            }
        }
        // The IdP that signed this session in, and no other (see `Idps::for_logout`).
        let target = match self.idps.for_logout(ending.map(|i| &*i.session)) {
            Some(idp) => idp.flow.logout_target(id_token.as_deref()),
            None => "/".to_string(),
        };
        Reply::redirect(303, target).header("set-cookie", self.cookies.clear_session())
    }

    fn session_json(&self, identity: Option<&Identity>) -> Reply {
        let value = match identity {
            Some(i) => serde_json::json!({
                "authenticated": true,
                "customer": i.customer(),
                "expires_at": crate::sessions::rfc3339(i.session.expires_at),
            }),
            None => serde_json::json!({ "authenticated": false, "customer": null, "expires_at": null }),
        };
        Reply::json(200, &value)
    }

    /// A fresh API token (`typ: at+jwt`, `aud` `<site>:api`) for the session of the
    /// browser's cookie, in the OAuth 2.0 token response shape (RFC 6749 §5.1). An API
    /// token cannot get another: its holder never outlives its `token.ttl` without the
    /// cookie.
    fn token_json(&self, identity: Option<&Identity>) -> Reply {
        let token = identity.filter(|i| i.from_cookie()).and_then(|i| self.api_token(i));
        match token {
            Some((token, exp)) => Reply::json(
                200,
                &serde_json::json!({
                    "access_token": token,
                    "token_type": "Bearer",
                    "expires_in": exp.saturating_sub(crate::sessions::now_secs()),
                }),
            ),
            None => Reply::error(401, "login_required", "Sign in to get a token.", true)
                .header("www-authenticate", format!("Bearer realm=\"{}\"", self.site.name)),
        }
    }
}

/// 503 while the session store cannot be reached.
pub fn store_unavailable(json: bool) -> Reply {
    Reply::error(
        503,
        "store_unavailable",
        "Signing in and out is temporarily unavailable. Please try again in a few minutes.",
        json,
    )
    .header("retry-after", "5")
}
