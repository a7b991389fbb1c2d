//! The storefront connectors on a site's request path: customer-login JWTs arriving
//! from the merchant's website (`GET {customer_login.path}{jwt}`), the merchant's own
//! login page as the sign-in entry, the provisioning step of an IdP sign-in, and the
//! hand-off to a platform origin's customer-login endpoint after it.

use super::{AuthEvents, Identity, SiteAuth};
use crate::connectors::customer_login::{mint, CustomerLoginError, CustomerLoginVerifier, FUTURE_SKEW};
use crate::connectors::provisioning::{HookRequest, HookTimer, ProvisionError, Provisioner};
use crate::identity::Customer;
use crate::oidc::flow::LoginDone;
use crate::reply::Reply;
use crate::sessions::{now_secs, LoginMethod, LoginSource};
use crate::store::hashed_key;
use sso_config::connectors::{MAX_CUSTOMER_LOGIN_AGE, RETURN_TO_PLACEHOLDER};
use sso_config::{Config, SiteConfig};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// The [`Records`](crate::store::Records) kind of spent customer-login `jti`s.
const SPENT_JTI: &str = "customer-login-jti";

/// A site's connectors, built from its configuration.
#[derive(Default)]
pub struct Connectors {
    pub customer_login: Option<CustomerLoginVerifier>,
    pub provisioner: Option<Provisioner>,
}

impl Connectors {
    /// `events` hear of every call of the provisioning hook.
    pub fn from_config(
        config: &Config,
        site: &SiteConfig,
        stores: &crate::store::Stores,
        events: Arc<dyn AuthEvents>,
    ) -> Result<Self, String> {
        let seal = crate::store::record::Seal::from_secret(&config.sessions.cookie_secret);
        let name = site.name.clone();
        let timer: HookTimer =
            Arc::new(move |took: Duration, outcome| events.provisioning_hook(&name, took.as_secs_f64(), outcome));
        let provisioner = match &site.provisioning {
            Some(p) => Provisioner::new(p, stores.records.clone(), seal, timer)?,
            None => None,
        };
        Ok(Connectors {
            customer_login: site.customer_login.as_ref().map(CustomerLoginVerifier::new),
            provisioner,
        })
    }

    /// The token in `path` when it is a customer-login path (`{path}{jwt}`).
    pub fn customer_login_token<'a>(&self, path: &'a str) -> Option<&'a str> {
        path.strip_prefix(self.customer_login.as_ref()?.config().path.as_str())
    }

    /// True when `path` is the customer-login path written another way — another
    /// case, or with `;parameters` — which the gateway neither reads a token from nor
    /// passes on (an origin that folds case or drops parameters would be handed a live
    /// token).
    pub fn is_customer_login_variant(&self, path: &str) -> bool {
        let Some(c) = &self.customer_login else { return false };
        starts_with_folded(path, &c.config().path)
    }
}

/// True when `a` and `b` are one path written two ways: letter case, `;parameters`,
/// a trailing `/`.
/// Compares segment by segment without allocating: it runs on every request of a
/// site with an IdP.
pub(crate) fn same_path_folded(a: &str, b: &str) -> bool {
    let (mut x, mut y) = (folded_segments(a), folded_segments(b));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p.eq_ignore_ascii_case(q) => {}
            _ => return false,
        }
    }
}

/// The segments of `path` without a trailing `/`, each without its `;parameters`.
fn folded_segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_end_matches('/').split('/').map(without_parameters)
}

/// A path segment without its `;parameters`.
fn without_parameters(segment: &str) -> &str {
    segment.split(';').next().unwrap_or("")
}

/// True when `path`, read segment by segment in any case and without `;parameters`,
/// starts with the token path `prefix` (which ends with `/`: a token follows).
/// Allocates nothing: it runs on every request of a site with a token path.
fn starts_with_folded(path: &str, prefix: &str) -> bool {
    let mut segments = path.split('/').map(without_parameters);
    let whole = prefix.trim_end_matches('/').split('/');
    for want in whole {
        match segments.next() {
            Some(got) if got.eq_ignore_ascii_case(want) => {}
            _ => return false,
        }
    }
    segments.next().is_some_and(|token| !token.is_empty())
}

/// A path lower-cased with every segment's `;parameters` dropped.
#[cfg(test)]
fn fold_path(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').map(|s| s.split(';').next().unwrap_or("")).collect();
    segments.join("/").to_ascii_lowercase()
}

/// `path` as logged: every segment holding something shaped like a JWT (`eyJ…` — the
/// base64 of `{"` — followed by a `.`) is replaced by `[redacted]`, on every site and on unknown hosts alike:
/// customer-login and platform-login links sign a customer in, whatever host or
/// letter case they arrived with.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    let jwt_like = |s: &str| s.find("eyJ").is_some_and(|i| s[i..].contains('.'));
    if !path.split('/').any(jwt_like) {
        return path.into();
    }
    let redacted: Vec<&str> = path
        .split('/')
        .map(|s| if jwt_like(s) { "[redacted]" } else { s })
        .collect();
    redacted.join("/").into()
}

impl SiteAuth {
    /// `path` as logged on this site: whatever follows the customer-login or
    /// platform-login path (in any case, with any `;parameters`) is replaced, and so
    /// is every JWT-shaped segment ([`loggable_path`]).
    pub fn loggable_path<'a>(&self, path: &'a str) -> std::borrow::Cow<'a, str> {
        let prefixes = [
            self.connectors
                .customer_login
                .as_ref()
                .map(|c| c.config().path.as_str()),
            self.site.platform_login.as_ref().map(|c| c.path.as_str()),
        ];
        for prefix in prefixes.into_iter().flatten() {
            if starts_with_folded(path, prefix) {
                return format!("{prefix}[redacted]").into();
            }
        }
        loggable_path(path)
    }

    /// `GET {customer_login.path}{jwt}`: a customer-login JWT from the merchant's
    /// website. Verified, its `jti` spent once in the shared store, then a new session
    /// for its `customer_id` and a 303 to its `redirect_to` (or `default_redirect`);
    /// a `redirect_to` equal to `logout_redirect` signs the browser out instead. Any
    /// failure: a 303 to the sign-in entry with `?sso_error=<code>`, and no session.
    pub(super) async fn customer_login(
        &self,
        token: &str,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
    ) -> Reply {
        let Some(verifier) = &self.connectors.customer_login else {
            return Reply::error(404, "not_found", "There is nothing here.", false);
        };
        let config = verifier.config();
        let login = match verifier.verify(token, now_secs(), client) {
            Ok(login) => login,
            Err(e) => return self.customer_login_failed(e),
        };
        // Kept past the last second the token could pass the `iat` check under any
        // `max_age` (a reload may raise it; a mark must not expire before its token).
        let ttl = MAX_CUSTOMER_LOGIN_AGE + FUTURE_SKEW * 2;
        match self
            .stores
            .spent
            .put_new(SPENT_JTI, &self.jti_key(&login.jti), vec![1], ttl)
            .await
        {
            Ok(true) => {}
            Ok(false) => return self.customer_login_failed(CustomerLoginError::Replayed),
            Err(e) => {
                tracing::warn!(site = %self.site.name, error = %e, "customer login refused: store unavailable");
                self.events.login(
                    &self.site.name,
                    LoginMethod::CustomerLogin.as_str(),
                    "store_unavailable",
                );
                return super::store_unavailable(false);
            }
        }
        if login.redirect_to.as_deref() == Some(config.logout_redirect.as_str()) {
            tracing::info!(site = %self.site.name, customer = %login.customer_id, "signed out by a customer-login token");
            self.events
                .login(&self.site.name, LoginMethod::CustomerLogin.as_str(), "logout");
            return self.logout(identity, false, false).await;
        }
        let landing = login
            .redirect_to
            .clone()
            .unwrap_or_else(|| config.default_redirect.clone());
        let customer_id = login.customer_id.clone();
        let customer = Customer {
            id: login.customer_id.clone(),
            groups: self.default_groups(),
            ..Customer::default()
        };
        let source = LoginSource {
            method: LoginMethod::CustomerLogin,
            idp: None,
            subject: login.customer_id,
            issuer: None,
            idp_session: None,
            namespace: sso_config::namespaces::customer_login(&config.client_id, &config.store_hash),
        };
        self.end_previous(identity).await;
        match self.create_session_for(customer, source).await {
            Ok(new) => {
                tracing::info!(site = %self.site.name, customer = %customer_id, "customer login succeeded");
                self.events
                    .login(&self.site.name, LoginMethod::CustomerLogin.as_str(), "success");
                let next = match new.sso_pending {
                    true => self.through_auth_host(&landing),
                    false => Reply::redirect(303, landing),
                };
                next.header("set-cookie", new.cookie)
            }
            Err(e) => {
                tracing::warn!(site = %self.site.name, error = %e, "customer login refused: store unavailable");
                self.events.login(
                    &self.site.name,
                    LoginMethod::CustomerLogin.as_str(),
                    "store_unavailable",
                );
                super::store_unavailable(false)
            }
        }
    }

    /// Where a spent `jti` is marked: SHA-256 of the issuer, the store and the `jti`
    /// — not the site, so several sites sharing one merchant app accept a token once
    /// between them.
    fn jti_key(&self, jti: &str) -> String {
        let (issuer, store) = self.connectors.customer_login.as_ref().map_or(("", ""), |c| {
            (c.config().client_id.as_str(), c.config().store_hash.as_str())
        });
        hashed_key(&[issuer, store, jti])
    }

    /// The groups of a customer nobody named a group for: `provisioning.default_group`.
    fn default_groups(&self) -> Vec<String> {
        self.site
            .provisioning
            .iter()
            .filter_map(|p| p.default_group.clone())
            .collect()
    }

    fn customer_login_failed(&self, e: CustomerLoginError) -> Reply {
        self.events
            .login(&self.site.name, LoginMethod::CustomerLogin.as_str(), e.code());
        // The token itself is never logged: it signs a customer in.
        // `?`: the error may quote parts of the token, which anyone can write.
        tracing::info!(site = %self.site.name, reason = e.code(), error = ?e, "customer login refused");
        Reply::redirect(303, format!("{}/login?sso_error={}", self.site.sso_prefix, e.code()))
    }

    /// The page of `<sso_prefix>/login?sso_error=<code>`: what went wrong and a link to
    /// sign in again (no automatic redirect, so a failing merchant link cannot loop).
    pub(super) fn sso_error_page(&self, code: &str, json: bool) -> Reply {
        let known = CustomerLoginError::ALL.into_iter().find(|e| e.code() == code);
        let (code, message) = match known {
            Some(e) => (e.code(), e.message()),
            None => ("login_failed", "Signing in did not work. Please sign in again."),
        };
        let again = format!("{}/login", self.site.sso_prefix);
        Reply::error_with_link(400, code, message, json, Some((&again, "Sign in again")))
            .header("cache-control", "no-store")
    }

    /// The merchant's login page for a sign-in that returns to `return_to` (already
    /// checked), when the site has one.
    pub(super) fn merchant_login(&self, return_to: &str) -> Option<Reply> {
        let merchant = self.site.merchant_login.as_ref()?;
        let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
        let target = merchant.url.replace(RETURN_TO_PLACEHOLDER, &encoded);
        Some(Reply::redirect(302, target).header("cache-control", "no-store"))
    }

    /// The provisioning step of an IdP sign-in: the shop's customer id and groups
    /// from the hook (when the site has one), else the IdP's; the default group when
    /// nobody named one.
    pub(super) async fn provision(&self, done: &mut LoginDone) -> Result<(), ProvisionError> {
        // With several IdPs, each run by an organisation that can put any groups in
        // its tokens, the IdP's groups grant nothing: only the hook's or the default.
        let idp_groups = match &done.idp {
            Some(_) => std::mem::take(&mut done.customer.groups),
            None => Vec::new(),
        };
        // Nor an address outside the domains its configuration lets it speak for.
        let idp_config = done
            .idp
            .as_deref()
            .and_then(|n| self.site.idps.iter().find(|i| i.name == n));
        if let (Some(idp), Some(email)) = (idp_config, done.customer.email.as_deref()) {
            if !idp.may_assert_email(email) {
                tracing::info!(site = %self.site.name, idp = %idp.name, "email outside the IdP's email_domains not passed on");
                done.customer.email = None;
            }
        }
        if let Some(provisioner) = &self.connectors.provisioner {
            let c = &done.customer;
            let who = HookRequest {
                site: &self.site.name,
                method: LoginMethod::Oidc.as_str(),
                issuer: &done.issuer,
                subject: &c.id,
                email: c.email.as_deref(),
                email_verified: done.email_verified,
                name: c.name.as_deref(),
                groups: if done.idp.is_some() { &idp_groups } else { &c.groups },
                idp: done.idp.as_deref(),
            };
            let found = provisioner.provision(&who).await?;
            tracing::info!(site = %self.site.name, customer = %found.customer_id, created = found.created, "customer provisioned");
            done.customer.id = found.customer_id;
            if !found.groups.is_empty() {
                done.customer.groups = found.groups;
            }
        } else if let Some(idp) = &done.idp {
            // Several IdPs and no hook: each IdP names its own people (an organisation
            // running its own IdP can issue any subject), so the id says which IdP.
            done.customer.id = format!("{idp}:{}", done.customer.id);
        }
        if done.customer.groups.is_empty() {
            done.customer.groups = self.default_groups();
        }
        Ok(())
    }

    /// After an IdP sign-in on a site with `[sites.platform_login]`: the browser goes
    /// through the origin's `{path}{jwt}` (a token minted now, for this redirect
    /// only), which signs the customer in at the platform and lands on `return_to`.
    pub(crate) fn platform_handoff(
        &self,
        customer_id: &str,
        return_to: &str,
        client: Option<IpAddr>,
    ) -> Option<String> {
        let platform = self.site.platform_login.as_ref()?;
        match mint(platform, customer_id, return_to, client, now_secs()) {
            Ok(jwt) => Some(format!("{}{jwt}", platform.path)),
            Err(e) => {
                tracing::error!(site = %self.site.name, error = %e, "platform login token not minted; the shopper lands without it");
                None
            }
        }
    }

    /// `GET <sso_prefix>/handoff?return_to=/p` on a platform-login site: the browser
    /// that holds a session here goes on to the platform's customer-login endpoint
    /// with a fresh token for its customer (where a sign-in here lands after the
    /// auth host's binding round). Anything else goes to `return_to` as it is: no
    /// session, an API token, or not a page load (a prefetch must not spend a token).
    pub(crate) fn handoff_endpoint(
        &self,
        req: &http::request::Parts,
        query: &str,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
    ) -> Reply {
        let return_to = crate::request_parts::query_param(query, "return_to")
            .and_then(|r| crate::return_to::safe_return_to(&r).map(str::to_string))
            .unwrap_or_else(|| "/".to_string());
        let from_cookie = identity.filter(|i| i.from_cookie());
        let target = match from_cookie {
            Some(i) if crate::navigation::is_navigation(&req.method, &req.headers) => self
                .platform_handoff(&i.customer().id, &return_to, client)
                .unwrap_or(return_to),
            _ => return_to,
        };
        Reply::redirect(303, target)
            .header("cache-control", "no-store")
            .header("referrer-policy", "no-referrer")
    }

    /// Ends the browser's current session before a new one starts (never reuse a
    /// pre-login session).
    pub(crate) async fn end_previous(&self, identity: Option<&Identity>) {
        if let Some(old) = identity.filter(|i| i.from_cookie()) {
            if let Err(e) = self.stores.sessions.remove(&old.sid).await {
                tracing::warn!(site = %self.site.name, error = %e, "pre-login session not removed");
            }
        }
    }
}

/// The gateway path (after `sso_prefix`) that hands a signed-in shopper on to the
/// platform: see [`SiteAuth::handoff_endpoint`].
pub const HANDOFF_PATH: &str = "/handoff";

/// `<sso_prefix>/handoff?return_to=…` for `return_to` (already checked).
pub fn handoff_path(sso_prefix: &str, return_to: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    format!("{sso_prefix}{HANDOFF_PATH}?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_shaped_segments_never_reach_a_log_line() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln";
        assert_eq!(loggable_path(&format!("/login/token/{jwt}")), "/login/token/[redacted]");
        assert_eq!(
            loggable_path(&format!("/LOGIN/Token;x=1/{jwt}")),
            "/LOGIN/Token;x=1/[redacted]"
        );
        assert_eq!(loggable_path(&format!("/a/x;p={jwt}/b")), "/a/[redacted]/b");
        assert_eq!(loggable_path("/catalog/shoes.html"), "/catalog/shoes.html");
        assert_eq!(loggable_path("/eyJust-a-word"), "/eyJust-a-word");
    }

    #[test]
    fn token_path_variants_are_recognised_without_allocating() {
        assert!(starts_with_folded("/LOGIN;x=1/Token/eyJ", "/login/token/"));
        assert!(starts_with_folded("/login/token/abc", "/login/token/"));
        assert!(!starts_with_folded("/login/token/", "/login/token/"), "no token");
        assert!(!starts_with_folded("/login/tokens/x", "/login/token/"));
        assert!(!starts_with_folded("/login", "/login/token/"));
        assert!(same_path_folded(
            "/login/sso/callback/ACME/",
            "/login/sso/callback/acme"
        ));
        assert!(same_path_folded(
            "/login/sso/callback/acme;x",
            "/login/sso/callback/acme"
        ));
        assert!(!same_path_folded(
            "/login/sso/callback/acme/x",
            "/login/sso/callback/acme"
        ));
        assert!(!same_path_folded("/login/sso/callback", "/login/sso/callback/acme"));
    }

    #[test]
    fn case_and_parameter_variants_of_a_path_fold_together() {
        assert_eq!(fold_path("/Login;x=1/TOKEN/abc"), "/login/token/abc");
        assert!(fold_path("/LOGIN/token/x").starts_with(&fold_path("/login/token/")));
        assert!(!fold_path("/login/tokens/x").starts_with(&fold_path("/login/token/")));
    }
}
