//! Gateway-owned paths: `<sso_prefix>/login`, `/logout`, `/session`, `/token`,
//! `/jwks.json`, `/backchannel-logout`, and the IdP callbacks (`oidc.callback_path`,
//! one per IdP).
//!
//! Runs after the site is known and the identity looked up, before the access gate.
//! Returns [`Flow::Continue`] for every other path.

use super::chooser::{chooser_page, LoginQuery};
use super::connectors::same_path_folded;
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
    /// answer 503 instead of pretending the shopper is anonymous. `body`: the request
    /// body, read by the gateway only where [`Self::body_limit`] asked for it.
    pub async fn endpoints(
        &self,
        req: &http::request::Parts,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
        store_down: bool,
        body: Option<&[u8]>,
    ) -> Flow<Reply> {
        let path = req.uri.path();
        let query = req.uri.query().unwrap_or("");
        let json = wants_json(&req.headers);
        if let Some(idp) = self.idps.by_callback(path) {
            if let Some(limited) = self.over_limit(Endpoint::Callback, client, json) {
                return Flow::Respond(limited);
            }
            return Flow::Respond(self.callback(req, identity, client, idp).await);
        }
        // A callback path written another way (case, `;parameters`, a trailing `/`)
        // is neither a callback nor passed on: the origin would get the code.
        let callback_variant = self
            .idps
            .iter()
            .any(|i| same_path_folded(path, &i.flow.provider.config.callback_path));
        if callback_variant {
            return Flow::Respond(Reply::error(404, "not_found", "There is nothing here.", json));
        }
        if let Some(token) = self.connectors.customer_login_token(path) {
            // Only a page load spends a token: a HEAD, a prefetch, a link checker's
            // fetch or an image tag would burn the customer's one-time link.
            if req.method != Method::GET {
                return Flow::Respond(Reply::error(
                    405,
                    "method_not_allowed",
                    "This method is not allowed here.",
                    json,
                ));
            }
            if !is_navigation(&req.method, &req.headers) {
                return Flow::Respond(Reply::error(
                    400,
                    "not_a_page_load",
                    "Open this sign-in link in the browser.",
                    json,
                ));
            }
            if let Some(limited) = self.over_limit(Endpoint::Callback, client, json) {
                return Flow::Respond(limited);
            }
            return Flow::Respond(self.customer_login(token, identity, client).await);
        }
        if self.connectors.is_customer_login_variant(path) {
            return Flow::Respond(Reply::error(404, "not_found", "There is nothing here.", json));
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
                // A prefetch (speculation rules, `<link rel=prefetch>`) never signs out.
                None if crate::navigation::is_prefetch(&req.headers) => {
                    Reply::error(400, "not_a_page_load", "Open this link in the browser.", json)
                }
                None => {
                    let from_elsewhere = crate::navigation::from_another_site(&req.headers);
                    self.logout(identity, json, from_elsewhere).await
                }
            },
            // Personal answers: no other origin may load them (CORP), and a page of
            // another site that makes the browser ask gets no token.
            "/session" if get => self
                .session_json(identity)
                .await
                .header("cross-origin-resource-policy", "same-origin"),
            "/ott" if req.method == Method::GET && self.cross_site.is_some() => {
                self.ott_endpoint(req, identity, client).await
            }
            "/sso-data" if store_down && self.cross_site.is_some() => store_unavailable(true),
            "/sso-data" if (get || req.method == Method::PUT) && self.cross_site.is_some() => {
                let reply = match req.method == Method::PUT {
                    true => self.sso_data_put(req, identity, body.unwrap_or_default()).await,
                    false => self.sso_data_get(req, identity).await,
                };
                reply
                    .header("cache-control", "no-store")
                    .header("cross-origin-resource-policy", "same-origin")
            }
            "/token" if get || req.method == Method::POST => {
                let asked_cross_site = crate::navigation::from_another_site(&req.headers);
                let identity = identity.filter(|_| !asked_cross_site);
                limited(Endpoint::Token, true)
                    .unwrap_or_else(|| self.token_json(identity))
                    .header("cross-origin-resource-policy", "same-origin")
            }
            "/jwks.json" if get => Reply::json(200, &self.signer.jwks).header("cache-control", "public, max-age=300"),
            super::connectors::HANDOFF_PATH if get && self.site.platform_login.is_some() => {
                match limited(Endpoint::Token, json) {
                    Some(limited) => limited,
                    None => self.handoff_endpoint(req, query, identity, client),
                }
            }
            super::backchannel::PATH if !self.idps.is_empty() => self.backchannel_logout(req, body).await,
            crate::connectors::ecwid::PROFILE_PATH if get => match self.ecwid_script(&req.headers, identity) {
                Some(script) => script,
                None => Reply::error(404, "not_found", "There is nothing here.", json),
            },
            "/ott" | "/sso-data" if self.cross_site.is_some() => {
                Reply::error(405, "method_not_allowed", "This method is not allowed here.", json)
            }
            "/login" | "/logout" | "/session" | "/token" | "/jwks.json" => {
                Reply::error(405, "method_not_allowed", "This method is not allowed here.", json)
            }
            _ => Reply::error(404, "not_found", "There is nothing here.", json),
        };
        Flow::Respond(reply)
    }

    /// Whether `req` is a gateway-owned request that needs its body, and how many
    /// bytes of it at most: the gateway then reads it before [`Self::endpoints`]
    /// (413 past the limit) and hands it over. Only for requests `endpoints` answers
    /// (a body read here never reaches the origin). `POST <sso_prefix>/backchannel-logout`
    /// on a site with an IdP: [`super::backchannel::MAX_BODY`]; `PUT <sso_prefix>/sso-data`
    /// on a linked site: [`crate::cross_site::group::MAX_DATA`].
    pub fn body_limit(&self, req: &http::request::Parts) -> Option<usize> {
        let rest = req.uri.path().strip_prefix(self.site.sso_prefix.as_str())?;
        match rest {
            super::backchannel::PATH if req.method == Method::POST && !self.idps.is_empty() => {
                Some(super::backchannel::MAX_BODY)
            }
            // The shared SSO data document (a longer body is refused with 413).
            "/sso-data" if req.method == Method::PUT && self.cross_site.is_some() => {
                Some(crate::cross_site::group::MAX_DATA)
            }
            _ => None,
        }
    }

    /// `<sso_prefix>/login?return_to=…`: a signed-in browser goes straight back; an
    /// anonymous page load starts a login (within the client's rate limit) — at the
    /// merchant's login page when the site has one, unless `via=idp` or `org=…` — and
    /// anything that is not a top-level `GET` navigation gets a 401 and starts nothing.
    /// With `sso_error=<code>` (a refused customer-login JWT) it shows what went wrong.
    ///
    /// On a site with `[[sites.idps]]`, `org=NAME` starts the login at that IdP (an
    /// unknown name gets the chooser page with a notice, 404); without `org` a site
    /// with several IdPs shows the chooser page. The chooser page keeps no state and
    /// costs no rate-limit budget (staff of one company often share an address); an
    /// unknown `org` does, so names cannot be probed faster than logins started.
    async fn login(
        &self,
        req: &http::request::Parts,
        query: &str,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
    ) -> Reply {
        let param = |name: &str| crate::request_parts::query_param(query, name);
        if let Some(code) = param("sso_error") {
            return self.sso_error_page(&code, wants_json(&req.headers));
        }
        let via_idp = param("via").is_some_and(|v| v == "idp");
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
        // `org` chooses among named IdPs (a site with one `[sites.oidc]` ignores it).
        let named = self.idps.iter().any(|i| i.name().is_some());
        // A page of another site may not pick the IdP: an organisation that runs its
        // own IdP could sign a visitor in as one of its own people without a click
        // (login CSRF). Such a request gets the chooser, and the visitor chooses.
        let from_elsewhere = crate::navigation::from_another_site(&req.headers);
        let chosen = match asked.org {
            Some(org) if named && !from_elsewhere => Some(self.idps.by_name(&org)),
            _ => None,
        };
        let merchant_first = chosen.is_none() && !via_idp && self.site.merchant_login.is_some();
        let several = self.idps.only().is_none() && !self.idps.is_empty();
        if chosen.is_none() && several && !merchant_first {
            return chooser_page(&self.site.sso_prefix, &self.idps.choices(), &return_to, false);
        }
        // A linked site asks the group's auth host first (one click with an SSO
        // session); it comes back to this same login when there is none.
        // (`via=idp` asks for the IdP itself.)
        let ask = (!via_idp)
            .then(|| self.login_via_auth_host(&req.headers, &return_to, Some(query)))
            .flatten();
        if let Some(ask) = ask {
            return ask;
        }
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
            None => {
                if !via_idp {
                    if let Some(merchant) = self.merchant_login(&return_to) {
                        return merchant;
                    }
                }
                self.start_login(&req.headers, &return_to).await
            }
        }
    }

    /// The callback of `idp` (the one whose redirect URI this path is): the code flow
    /// finished, the customer provisioned, a new session, then the return path
    /// (through the platform's customer-login endpoint first, when the site has one).
    async fn callback(
        &self,
        req: &http::request::Parts,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
        idp: &Idp,
    ) -> Reply {
        let flow = &idp.flow;
        let query = req.uri.query().unwrap_or("");
        let clear_flow = flow.clear_flow_cookie(query);
        let reply = match flow.finish(query, &req.headers).await {
            Ok(mut done) => {
                let subject = done.customer.id.clone();
                match self.provision(&mut done).await {
                    Ok(()) => self.signed_in(done, subject, identity, client).await,
                    Err(e) => self.provisioning_failed(req, e),
                }
            }
            Err(e) => {
                tracing::debug!(site = %self.site.name, idp = idp.name().unwrap_or(""), "callback refused");
                self.callback_failed(&req.headers, e)
            }
        };
        match clear_flow {
            Some(c) => reply.header("set-cookie", c),
            None => reply,
        }
    }

    /// A completed and provisioned IdP sign-in: a new session (never the pre-login
    /// one), then the return path, through the platform's customer-login endpoint
    /// first when the site has one.
    async fn signed_in(
        &self,
        done: crate::oidc::flow::LoginDone,
        subject: String,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
    ) -> Reply {
        self.end_previous(identity).await;
        // Checked again: the pending login came back from a store.
        let return_to = safe_return_to(&done.return_to).unwrap_or("/").to_string();
        let customer_id = done.customer.id.clone();
        // The session remembers its IdP: refresh and logout go to it and no other.
        let login = crate::sessions::LoginSource {
            idp: done.idp.clone(),
            issuer: done.idp.is_some().then(|| done.issuer.clone()),
            // A back-channel logout naming this IdP session ends this session.
            idp_session: done.idp_session.clone(),
            // A hook's customer id, or the IdP's subject.
            namespace: self
                .site
                .hook_namespace()
                .unwrap_or_else(|| sso_config::namespaces::oidc(&done.issuer)),
            ..crate::sessions::LoginSource::oidc(subject.clone())
        };
        let idp = login.idp.clone().unwrap_or_default();
        match self.create_session(done, login).await {
            Ok(new) => {
                tracing::info!(site = %self.site.name, %idp, %subject, customer = %customer_id, "login succeeded");
                self.events.login(&self.site.name, "oidc", "success");
                // A new SSO session goes to the auth host first, whatever the site: on a
                // platform-login site the hand-off follows the binding round (at
                // `<sso_prefix>/handoff`), so the platform's token never travels
                // through the auth host and a global logout finds this sign-in.
                let next = match new.sso_pending {
                    true if self.site.platform_login.is_some() => {
                        self.through_auth_host(&super::connectors::handoff_path(&self.site.sso_prefix, &return_to))
                    }
                    true => self.through_auth_host(&return_to),
                    false => match self.platform_handoff(&customer_id, &return_to, client) {
                        Some(handoff) => Reply::redirect(303, handoff),
                        None => Reply::redirect(303, return_to),
                    },
                };
                next.header("set-cookie", new.cookie)
            }
            Err(e) => self.callback_failed(&http::HeaderMap::new(), crate::oidc::flow::CallbackError::Store(e)),
        }
    }

    /// The 502 page of a sign-in the provisioning hook did not complete: no session.
    fn provisioning_failed(
        &self,
        req: &http::request::Parts,
        e: crate::connectors::provisioning::ProvisionError,
    ) -> Reply {
        self.events.login(&self.site.name, "oidc", e.code());
        tracing::warn!(site = %self.site.name, code = e.code(), error = %e, "login failed: provisioning");
        let retry = format!("{}/login", self.site.sso_prefix);
        Reply::error(
            502,
            e.code(),
            "Your customer account could not be set up right now. Please try signing in again in a moment.",
            wants_json(&req.headers),
        )
        .header("x-sso-retry", retry)
    }

    /// The error page of a failed callback, with a link to start again.
    fn callback_failed(&self, headers: &http::HeaderMap, e: crate::oidc::flow::CallbackError) -> Reply {
        let (status, code, message) = e.response();
        self.events.login(&self.site.name, "oidc", code);
        tracing::warn!(site = %self.site.name, code, error = %e, "login failed");
        let retry = format!("{}/login", self.site.sso_prefix);
        Reply::error(status, code, message, wants_json(headers)).header("x-sso-retry", retry)
    }

    /// `from_elsewhere`: the browser says another site sent it here (a logout there
    /// ends only this site's session, not the group's).
    pub(super) async fn logout(&self, identity: Option<&Identity>, json: bool, from_elsewhere: bool) -> Reply {
        // Only the browser's own cookie ends the session (and every API token minted
        // from it); an API token cannot sign its browser out.
        let ending = identity.filter(|i| i.from_cookie());
        let id_token = ending.and_then(|i| i.session.id_token.clone());
        let mut linked_cookies = Vec::new();
        if let Some(i) = ending {
            // The session must be gone everywhere before the shopper is told so.
            if let Err(e) = self.stores.sessions.remove(&i.sid).await {
                tracing::warn!(site = %self.site.name, error = %e, "logout failed: session store unavailable");
                return store_unavailable(json);
            }
            // And, on a linked site, the SSO session with it (or only the link).
            match self.end_linked(i, from_elsewhere).await {
                Ok(cookies) => linked_cookies = cookies,
                Err(e) => {
                    tracing::warn!(site = %self.site.name, error = %e, "logout failed: the linked sessions could not be ended");
                    return store_unavailable(json);
                }
            }
        }
        // A session a customer-login JWT started has nothing to end at the IdP; an IdP
        // session ends at the IdP that signed it in and no other (`Idps::for_logout`);
        // a session of cross-site sign-on ends at this site's IdP only when that is the
        // IdP the shopper signed in with on the first shop (without `id_token_hint`: the
        // IdP may ask to confirm).
        // A logout another site's page set off on a linked site stays on the site: the
        // IdP's end-session would end the group's sign-in (back-channel logout).
        let ends_at = |idp: &super::idps::Idp| match ending.map(|i| &i.session.login) {
            _ if from_elsewhere && self.cross_site.is_some() => false,
            Some(l) if l.method == crate::sessions::LoginMethod::CustomerLogin => false,
            // A site-only logout of such a session must not end the group's IdP session.
            Some(l) if l.method == crate::sessions::LoginMethod::Ott => {
                self.site.sso.logout_scope == sso_config::sso::LogoutScope::Global
                    && !from_elsewhere
                    && l.issuer
                        .as_deref()
                        .is_some_and(|iss| iss == idp.flow.provider.config.issuer.as_str())
            }
            _ => true,
        };
        let target = match self.idps.for_logout(ending.map(|i| &*i.session)) {
            Some(idp) if ends_at(idp) => idp.flow.logout_target(id_token.as_deref()),
            Some(idp) => idp.flow.provider.config.post_logout_path.clone(),
            // No IdP to end (several IdPs and none signed this visitor in): the
            // platform's logout page when the site has one, else the home page.
            None => self
                .site
                .platform_login
                .as_ref()
                .map_or_else(|| "/".to_string(), |p| p.logout_path.clone()),
        };
        linked_cookies.into_iter().fold(
            Reply::redirect(303, target).header("set-cookie", self.cookies.clear_session()),
            |reply, cookie| reply.header("set-cookie", cookie),
        )
    }

    async fn session_json(&self, identity: Option<&Identity>) -> Reply {
        let mut value = match identity {
            Some(i) => serde_json::json!({
                "authenticated": true,
                "customer": i.customer(),
                "expires_at": crate::sessions::rfc3339(i.session.expires_at),
            }),
            None => serde_json::json!({ "authenticated": false, "customer": null, "expires_at": null }),
        };
        if let (Some(sso), Some(obj)) = (self.sso_summary(identity).await, value.as_object_mut()) {
            obj.insert("sso".into(), sso);
        }
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
