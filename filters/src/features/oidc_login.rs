//! Signing in with the site's IdPs: `<sso_prefix>/login` (start a login, the IdP
//! chooser of a site with several, the page of a refused customer-login JWT) and the
//! IdP callbacks (`oidc.callback_path`, one per IdP). A callback path written another
//! way (case, `;parameters`, a trailing `/`) is neither a callback nor passed on: the
//! origin would get the code (404).
//!
//! A completed sign-in is provisioned (`super::provisioning`), stored through the
//! pipeline (every feature hears of it), and lands on its return path: through the
//! group's auth host first when it started an SSO session, and on a site with a
//! platform hand-off through the platform's sign-in (`super::platform_handoff`,
//! `super::multipass`).

use super::handoff_return::HandoffReturn;
use super::way_back;
use super::{Feature, GatewayPath, Landing, SitePipeline, SiteRequest};
use crate::auth::chooser::{chooser_page, LoginQuery};
use crate::auth::idps::Idp;
use crate::auth::{Identity, SiteAuth};
use crate::navigation::{is_navigation, is_page_request};
use crate::oidc::flow::CallbackError;
use crate::rate_limit::Endpoint;
use crate::reply::{wants_json, Reply};
use crate::return_to::safe_return_to;
use crate::sessions::LoginMethod;
use std::net::IpAddr;

/// The IdP sign-in: `<sso_prefix>/login` and the callbacks.
pub struct OidcLogin {
    /// The callback path of each of the site's IdPs.
    callbacks: Vec<String>,
}

#[async_trait::async_trait]
impl Feature for OidcLogin {
    fn name(&self) -> &'static str {
        "oidc_login"
    }

    fn paths(&self) -> Vec<GatewayPath> {
        let callbacks = self.callbacks.iter().map(|c| GatewayPath::Folded(c.clone()));
        std::iter::once(GatewayPath::UnderPrefix("/login"))
            .chain(callbacks)
            .collect()
    }

    async fn answer(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Reply {
        let core = &site.core;
        if let Some(idp) = core.idps.by_callback(r.path) {
            if let Some(limited) = core.over_limit(Endpoint::Callback, r.client, r.json).await {
                return limited;
            }
            return Self::callback(site, r.req, r.identity, r.client, idp).await;
        }
        if r.under_prefix != Some("/login") {
            // A callback path written another way.
            return Reply::error(404, "not_found", "There is nothing here.", r.json);
        }
        if !r.is_get() {
            return Reply::error(405, "method_not_allowed", "This method is not allowed here.", r.json);
        }
        match core.to_public_host(r.req) {
            Some(moved) => moved,
            None => Self::login(site, r.req, r.query(), r.identity, r.client).await,
        }
    }
}

impl OidcLogin {
    /// The sign-in of `core`'s IdPs.
    pub fn from_core(core: &SiteAuth) -> Self {
        let callbacks = core
            .idps
            .iter()
            .map(|i| i.flow.provider.config.callback_path.clone())
            .collect();
        OidcLogin { callbacks }
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
        site: &SitePipeline,
        req: &http::request::Parts,
        query: &str,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
    ) -> Reply {
        let core = &site.core;
        let param = |name: &str| crate::request_parts::query_param(query, name);
        if let Some(code) = param("sso_error") {
            return super::customer_login::sso_error_page(&core.site.sso_prefix, &code, wants_json(&req.headers));
        }
        let via_idp = param("via").is_some_and(|v| v == "idp");
        let asked = LoginQuery::parse(query);
        let return_to = match asked.return_to.as_deref() {
            None => "/".to_string(),
            Some(r) => match safe_return_to(r) {
                Some(ok) => ok.to_string(),
                None => {
                    core.events.rejected(&core.site.name, "open_redirect");
                    tracing::info!(site = %core.site.name, "refused a return_to outside this site");
                    "/".to_string()
                }
            },
        };
        if identity.is_some_and(Identity::from_cookie) {
            return Reply::redirect(303, return_to);
        }
        if !is_navigation(&req.method, &req.headers) {
            return core.login_required(!is_page_request(&req.headers));
        }
        // `org` chooses among named IdPs (a site with one `[sites.oidc]` ignores it).
        let named = core.idps.iter().any(|i| i.name().is_some());
        // A page of another site may not pick the IdP: an organisation that runs its
        // own IdP could sign a visitor in as one of its own people without a click
        // (login CSRF). Such a request gets the chooser, and the visitor chooses.
        let from_elsewhere = crate::navigation::from_another_site(&req.headers);
        let chosen = match asked.org {
            Some(org) if named && !from_elsewhere => Some(core.idps.by_name(&org)),
            _ => None,
        };
        let merchant_first = chosen.is_none() && !via_idp && core.site.merchant_login.is_some();
        let several = core.idps.only().is_none() && !core.idps.is_empty();
        if chosen.is_none() && several && !merchant_first {
            return chooser_page(&core.site.sso_prefix, &core.idps.choices(), &return_to, false);
        }
        // A linked site asks the group's auth host first (one click with an SSO
        // session); it comes back to this same login when there is none.
        // (`via=idp` asks for the IdP itself.)
        let ask = match (&site.features.cross_site, via_idp) {
            (Some(cross_site), false) => cross_site.login_via_auth_host(core, &req.headers, &return_to, Some(query)),
            _ => None,
        };
        if let Some(ask) = ask {
            return ask;
        }
        if let Some(limited) = core.over_limit(Endpoint::Login, client, false).await {
            return limited;
        }
        match chosen {
            Some(Some(idp)) => core.start_login_with(idp, &req.headers, &return_to).await,
            Some(None) => {
                core.events.rejected(&core.site.name, "unknown_org");
                tracing::info!(site = %core.site.name, "login for an unknown organisation");
                chooser_page(&core.site.sso_prefix, &core.idps.choices(), &return_to, true)
            }
            None => {
                if !via_idp {
                    if let Some(merchant) = super::customer_login::merchant_login(&core.site, &return_to) {
                        return merchant;
                    }
                }
                core.start_login(&req.headers, &return_to).await
            }
        }
    }

    /// The callback of `idp` (the one whose redirect URI this path is): the code flow
    /// finished, the customer provisioned, a new session, then the return path
    /// (through the platform's customer-login endpoint first, when the site has one).
    /// A sign-in cancelled at the IdP goes back to the shop, and a finished one's
    /// callback opened again sends a signed-in shopper on (`super::way_back`).
    async fn callback(
        site: &SitePipeline,
        req: &http::request::Parts,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
        idp: &Idp,
    ) -> Reply {
        let core = &site.core;
        let flow = &idp.flow;
        let query = req.uri.query().unwrap_or("");
        // Every answer but a replay's ends this state's flow cookie: a sign-in leaves
        // its finished marker in it, anything else deletes it.
        let mut flow_cookie = flow.clear_flow_cookie(query);
        let reply = match flow.finish(query, &req.headers).await {
            Ok(mut done) => {
                let subject = done.customer.id.clone();
                match super::provisioning::provision(site, &mut done).await {
                    Ok(()) => {
                        let finished = way_back::finished_cookie(core, query, &done.return_to);
                        let reply = Self::signed_in(site, done, subject, identity, client).await;
                        if (300..400).contains(&reply.status) {
                            flow_cookie = finished.or(flow_cookie);
                        }
                        reply
                    }
                    Err(e) => Self::provisioning_failed(core, req, e),
                }
            }
            Err(CallbackError::Cancelled { return_to, step_up }) => {
                core.events.login(&core.site.name, "oidc", "sign_in_cancelled");
                tracing::info!(site = %core.site.name, idp = idp.name().unwrap_or("oidc"), step_up, "login cancelled at the identity provider");
                match way_back::after_cancel(site, &return_to, step_up) {
                    Some(back) => Reply::redirect(303, back),
                    // Nothing public to go back to: a page, whose link signs in again.
                    None => Reply::error_with_link(
                        200,
                        way_back::SIGN_IN_CANCELLED,
                        "You cancelled the sign-in. You are not signed in.",
                        false,
                        Some(("/", "sign_in_again")),
                    ),
                }
            }
            Err(CallbackError::StateUnknown) => {
                let finished = way_back::finished_return_to(core, query, &req.headers);
                match finished {
                    // The Back button to this browser's own finished sign-in: nothing
                    // is exchanged or stored, the session stays as it is.
                    Some(page) if identity.is_some_and(Identity::from_cookie) => {
                        tracing::info!(site = %core.site.name, "a finished sign-in's callback again: sent on to its page");
                        flow_cookie = None;
                        Reply::redirect(303, page)
                    }
                    // Anyone else (a forged or unknown state, another browser's
                    // callback, a signed-out browser) gets the refusal, with a way back.
                    _ => {
                        let reply = Self::callback_failed(core, &req.headers, CallbackError::StateUnknown);
                        match finished {
                            Some(page) => reply.with_back(way_back::shop_page(site, &page)),
                            None => reply,
                        }
                    }
                }
            }
            Err(e) => {
                tracing::debug!(site = %core.site.name, idp = idp.name().unwrap_or("oidc"), "callback refused");
                let back = match &e {
                    CallbackError::IdpError { return_to, .. } => Some(way_back::shop_page(site, return_to)),
                    _ => None,
                };
                let reply = Self::callback_failed(core, &req.headers, e);
                match back {
                    Some(back) => reply.with_back(back),
                    None => reply,
                }
            }
        };
        match flow_cookie {
            Some(c) => reply.header("set-cookie", c),
            None => reply,
        }
    }

    /// A completed and provisioned IdP sign-in: a new session (never the pre-login
    /// one), then the return path, through the platform's customer-login endpoint
    /// first when the site has one.
    async fn signed_in(
        site: &SitePipeline,
        done: crate::oidc::flow::LoginDone,
        subject: String,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
    ) -> Reply {
        let core = &site.core;
        // Checked again: the pending login came back from a store. A notice of an
        // earlier cancelled sign-in is not carried to this one's landing.
        let return_to = safe_return_to(&way_back::without_notice(&done.return_to))
            .unwrap_or("/")
            .to_string();
        let customer_id = done.customer.id.clone();
        let namespace = core.idp_namespace(done.idp.as_deref(), &done.issuer);
        // A step-up keeps the customer: another one is refused, the session untouched.
        let stepping_up = match &done.step_up {
            Some(ask) => match super::step_up::same_customer(ask, &namespace, &customer_id, identity) {
                Ok(kept_sso) => Some(kept_sso),
                Err(e) => return Self::callback_failed(core, &http::HeaderMap::new(), e),
            },
            None => None,
        };
        core.end_previous(identity).await;
        // The session remembers its IdP: refresh and logout go to it and no other.
        let login = crate::sessions::LoginSource {
            idp: done.idp.clone(),
            // Always: a reload that puts another IdP behind the site must not be
            // sent this session's refresh token.
            issuer: Some(done.issuer.clone()),
            // A back-channel logout naming this IdP session ends this session.
            idp_session: done.idp_session.clone(),
            // A hook's customer id, or the IdP's subject.
            namespace,
            auth_time: done.auth_time.unwrap_or_else(crate::sessions::now_secs),
            acr: done.acr.clone(),
            amr: done.amr.clone(),
            // Verified is said of the IdP's exact string: an address the session would
            // store changed (control characters removed) is not the one verified.
            email_verified: done.email_verified == Some(true)
                && done
                    .customer
                    .email
                    .as_deref()
                    .is_some_and(|e| !e.chars().any(char::is_control)),
            claims: crate::oidc::claims::kept(&done.stated, &core.claims_kept),
            ..crate::sessions::LoginSource::oidc(subject.clone())
        };
        // The IdP's name in `[[sites.idps]]`; a site's single `[sites.oidc]` is `oidc`,
        // so the log field is never empty.
        let idp = login.idp.clone().unwrap_or_else(|| "oidc".into());
        // A step-up stays in the SSO session it was part of: the group's other sites
        // keep theirs, and learn of the fresher sign-in.
        let data = core.oidc_session_data(done, login);
        let data = match &stepping_up {
            Some(kept_sso) => data.linked_to(kept_sso.clone()),
            None => data,
        };
        let (customer, email_verified) = (data.customer.clone(), data.login.email_verified);
        match site.sign_in(data).await {
            Ok(new) => {
                tracing::info!(site = %core.site.name, %idp, %subject, customer = %customer_id, "login succeeded");
                core.events.login(&core.site.name, "oidc", "success");
                // A new SSO session goes to the auth host first, whatever the site: on a
                // site with a platform hand-off it follows the binding round (at
                // `<sso_prefix>/handoff`), so the platform's token never travels
                // through the auth host and a global logout finds this sign-in.
                let through_auth_host = new.sso_pending && stepping_up.is_none();
                let next = match (through_auth_host, &site.features.cross_site) {
                    (true, Some(cross_site)) if site.hands_off(LoginMethod::Oidc) => cross_site
                        .through_auth_host(core, &HandoffReturn::after_binding(&core.site.sso_prefix, &return_to)),
                    (true, Some(cross_site)) => cross_site.through_auth_host(core, &return_to),
                    _ => site.landing(&Landing {
                        customer: &customer,
                        email_verified,
                        method: LoginMethod::Oidc,
                        return_to: &return_to,
                        client,
                        json: false,
                    }),
                };
                next.header("set-cookie", new.cookie)
            }
            Err(e) => Self::callback_failed(
                core,
                &http::HeaderMap::new(),
                crate::oidc::flow::CallbackError::Store(e),
            ),
        }
    }

    /// The 502 page of a sign-in the provisioning hook did not complete: no session.
    fn provisioning_failed(
        core: &SiteAuth,
        req: &http::request::Parts,
        e: crate::connectors::provisioning::ProvisionError,
    ) -> Reply {
        core.events.login(&core.site.name, "oidc", e.code());
        tracing::warn!(site = %core.site.name, code = e.code(), error = %e, "login failed: provisioning");
        let retry = format!("{}/login", core.site.sso_prefix);
        Reply::error(
            502,
            e.code(),
            "Your customer account could not be set up right now. Please try signing in again in a moment.",
            wants_json(&req.headers),
        )
        .header("x-sso-retry", retry)
    }

    /// The error page of a failed callback, with a link to start again.
    fn callback_failed(core: &SiteAuth, headers: &http::HeaderMap, e: crate::oidc::flow::CallbackError) -> Reply {
        let (status, code, message) = e.response();
        core.events.login(&core.site.name, "oidc", code);
        tracing::warn!(site = %core.site.name, code, error = %e, "login failed");
        let retry = format!("{}/login", core.site.sso_prefix);
        Reply::error(status, code, message, wants_json(headers)).header("x-sso-retry", retry)
    }
}
