//! Customer-login JWTs from the merchant's website (`GET {customer_login.path}{jwt}`,
//! docs/customer-login.md), the page of a refused one (`<sso_prefix>/login?sso_error=`),
//! and the merchant's own login page as the sign-in entry (`[sites.login]`).
//!
//! Only a page load spends a token: a `HEAD`, a prefetch, a link checker's fetch or
//! an image tag would burn the customer's one-time link. The token path written
//! another way (case, `;parameters`) is neither read nor passed on (404): an origin
//! that folds case or drops parameters would be handed a live token.

use super::handoff_return::HandoffReturn;
use super::{Feature, GatewayPath, Landing, SitePipeline, SiteRequest};
use crate::auth::{Identity, SiteAuth};
use crate::connectors::customer_login::{CustomerLoginError, CustomerLoginVerifier, FUTURE_SKEW};
use crate::identity::Customer;
use crate::navigation::is_navigation;
use crate::rate_limit::Endpoint;
use crate::reply::{store_unavailable, Reply};
use crate::sessions::{now_secs, LoginMethod, LoginSource};
use crate::store::hashed_key;
use sso_config::connectors::{MAX_CUSTOMER_LOGIN_AGE, RETURN_TO_PLACEHOLDER};
use sso_config::SiteConfig;
use std::net::IpAddr;

/// The [`Records`](crate::store::Records) kind of spent customer-login `jti`s.
const SPENT_JTI: &str = "customer-login-jti";

/// Signs customers in with the merchant's customer-login JWTs.
pub struct CustomerLogin {
    verifier: CustomerLoginVerifier,
}

impl CustomerLogin {
    pub fn from_config(site: &SiteConfig) -> Option<Self> {
        site.customer_login.as_ref().map(|c| CustomerLogin {
            verifier: CustomerLoginVerifier::new(c),
        })
    }

    /// The token path (`{path}`, ending with `/`).
    pub fn path(&self) -> &str {
        &self.verifier.config().path
    }

    /// `GET {customer_login.path}{jwt}`: verified, its `jti` spent once in the shared
    /// store, then a new session for its `customer_id` and a 303 to its `redirect_to`
    /// (or `default_redirect`); a `redirect_to` equal to `logout_redirect` signs the
    /// browser out instead. Any failure: a 303 to the sign-in entry with
    /// `?sso_error=<code>`, and no session.
    async fn sign_in(
        &self,
        site: &SitePipeline,
        r: &SiteRequest<'_>,
        token: &str,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
    ) -> Reply {
        let core = &site.core;
        let config = self.verifier.config();
        let login = match self.verifier.verify(token, now_secs(), client) {
            Ok(login) => login,
            Err(e) => return failed(core, e),
        };
        // Kept past the last second the token could pass the `iat` check under any
        // `max_age` (a reload may raise it; a mark must not expire before its token).
        let ttl = MAX_CUSTOMER_LOGIN_AGE + FUTURE_SKEW * 2;
        match core
            .stores
            .spent
            .put_new(SPENT_JTI, &self.jti_key(&login.jti), vec![1], ttl)
            .await
        {
            Ok(true) => {}
            Ok(false) => return failed(core, CustomerLoginError::Replayed),
            Err(e) => return store_down(core, &e),
        }
        if login.redirect_to.as_deref() == Some(config.logout_redirect.as_str()) {
            tracing::info!(site = %core.site.name, customer = %login.customer_id, "signed out by a customer-login token");
            core.events
                .login(&core.site.name, LoginMethod::CustomerLogin.as_str(), "logout");
            // A link another site's page set off ends only this site's session, as a
            // `/logout` would (logout CSRF must not end the whole group).
            let from_elsewhere = crate::navigation::from_another_site(&r.req.headers);
            return super::logout::sign_out(site, identity, false, from_elsewhere).await;
        }
        let landing = login
            .redirect_to
            .clone()
            .unwrap_or_else(|| config.default_redirect.clone());
        let customer_id = login.customer_id.clone();
        // The merchant's website vouches for the address by signing it.
        let email_verified = login.email.is_some();
        let customer = Customer {
            id: login.customer_id.clone(),
            email: login.email.clone(),
            groups: super::provisioning::default_groups(&core.site),
            ..Customer::default()
        }
        .sanitized();
        let source = LoginSource {
            method: LoginMethod::CustomerLogin,
            idp: None,
            subject: login.customer_id,
            issuer: None,
            idp_session: None,
            namespace: sso_config::namespaces::customer_login(&config.client_id, &config.store_hash),
            // When the merchant's website signed the customer in (`iat`, at most
            // `max_age` old and never ahead of this clock).
            auth_time: login.iat.min(now_secs()),
            acr: None,
            amr: Vec::new(),
            email_verified,
            claims: Vec::new(),
        };
        core.end_previous(identity).await;
        let method = LoginMethod::CustomerLogin;
        match site.sign_in(core.new_session_data(customer.clone(), source)).await {
            Ok(new) => {
                tracing::info!(site = %core.site.name, customer = %customer_id, "customer login succeeded");
                core.events.login(&core.site.name, method.as_str(), "success");
                // A hand-off (Multipass) follows the auth host's binding round, at
                // `<sso_prefix>/handoff`, so its token never travels through the auth host.
                let next = match (new.sso_pending, &site.features.cross_site) {
                    (true, Some(cross_site)) if site.hands_off(method) => cross_site
                        .through_auth_host(core, &HandoffReturn::after_binding(&core.site.sso_prefix, &landing)),
                    (true, Some(cross_site)) => cross_site.through_auth_host(core, &landing),
                    _ => site.landing(&Landing {
                        customer: &customer,
                        email_verified,
                        method,
                        return_to: &landing,
                        client,
                        json: false,
                    }),
                };
                next.header("set-cookie", new.cookie)
            }
            Err(e) => store_down(core, &e),
        }
    }

    /// Where a spent `jti` is marked: SHA-256 of the issuer, the store and the `jti`
    /// — not the site, so several sites sharing one merchant app accept a token once
    /// between them.
    fn jti_key(&self, jti: &str) -> String {
        let c = self.verifier.config();
        hashed_key(&[c.client_id.as_str(), c.store_hash.as_str(), jti])
    }
}

#[async_trait::async_trait]
impl Feature for CustomerLogin {
    fn name(&self) -> &'static str {
        "customer_login"
    }

    fn paths(&self) -> Vec<GatewayPath> {
        vec![GatewayPath::FoldedPrefix(self.path().to_string())]
    }

    async fn answer(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Reply {
        let Some(token) = r.path.strip_prefix(self.path()) else {
            // The token path written another way.
            return Reply::error(404, "not_found", "There is nothing here.", r.json);
        };
        if r.req.method != http::Method::GET {
            return Reply::error(405, "method_not_allowed", "This method is not allowed here.", r.json);
        }
        if !is_navigation(&r.req.method, &r.req.headers) {
            return Reply::error(400, "not_a_page_load", "Open this sign-in link in the browser.", r.json);
        }
        if let Some(limited) = site.core.over_limit(Endpoint::Callback, r.client, r.json).await {
            return limited;
        }
        self.sign_in(site, r, token, r.identity, r.client).await
    }
}

/// The answer to a refused token: counted, logged without the token, and the sign-in
/// entry with `?sso_error=<code>`.
fn failed(core: &SiteAuth, e: CustomerLoginError) -> Reply {
    core.events
        .login(&core.site.name, LoginMethod::CustomerLogin.as_str(), e.code());
    // The token itself is never logged: it signs a customer in. The error is one of
    // fixed sentences (it quotes nothing of the token).
    tracing::info!(site = %core.site.name, reason = e.code(), error = %e, "customer login refused");
    Reply::redirect(303, format!("{}/login?sso_error={}", core.site.sso_prefix, e.code()))
}

/// The 503 of a sign-in the store could not record: counted and logged.
fn store_down(core: &SiteAuth, e: &crate::store::StoreError) -> Reply {
    tracing::warn!(site = %core.site.name, error = %e, "customer login refused: store unavailable");
    core.events.login(
        &core.site.name,
        LoginMethod::CustomerLogin.as_str(),
        "store_unavailable",
    );
    store_unavailable(false)
}

/// The page of `<sso_prefix>/login?sso_error=<code>`: what went wrong and a link to
/// sign in again (no automatic redirect, so a failing merchant link cannot loop).
pub fn sso_error_page(sso_prefix: &str, code: &str, json: bool) -> Reply {
    let known = CustomerLoginError::ALL.into_iter().find(|e| e.code() == code);
    let (code, message) = match known {
        Some(e) => (e.code(), e.message()),
        None => ("login_failed", "Signing in did not work. Please sign in again."),
    };
    let again = format!("{sso_prefix}/login");
    Reply::error_with_link(400, code, message, json, Some((&again, "sign_in_again")))
        .header("cache-control", "no-store")
}

/// The merchant's login page (`[sites.login]`) for a sign-in that returns to
/// `return_to` (already checked), when the site has one.
pub fn merchant_login(site: &SiteConfig, return_to: &str) -> Option<Reply> {
    let merchant = site.merchant_login.as_ref()?;
    let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    let target = merchant.url.replace(RETURN_TO_PLACEHOLDER, &encoded);
    Some(Reply::redirect(302, target).header("cache-control", "no-store"))
}
