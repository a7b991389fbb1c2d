//! The primitives a site's features build on, beside [`SiteAuth`]'s constructor and
//! lookups in `mod.rs`: rate limits and the answers of an anonymous request, the
//! redirects that start a sign-in, what a session keeps of the IdP's access token,
//! and the identity for the origin (header values and the gateway-signed
//! `X-Customer-Token`).
//!
//! The gateway strips incoming identity headers first, then sets these. Customer
//! fields were cleaned of control characters when the session was created. Whether
//! the request showed the session cookie or an API token, the origin gets the same
//! thing: the session's identity and an `X-Customer-Token` minted for the session —
//! never the credential the request showed.

use super::{Identity, SiteAuth};
use crate::rate_limit::Endpoint;
use crate::reply::Reply;
use crate::return_to::return_to_or_root;
use crate::sessions::now_secs;
use crate::tokens::TokenPurpose;
use http::{HeaderName, HeaderValue};
use sso_config::Secret;
use std::net::IpAddr;
use std::sync::Arc;

impl SiteAuth {
    /// The 401 for an anonymous request that may not start a login (JSON, or a
    /// short page for a non-`GET` page request such as a form post).
    pub fn login_required(&self, json: bool) -> Reply {
        Reply::error(401, "login_required", "Sign in to use this.", json)
            .header("www-authenticate", format!("Bearer realm=\"{}\"", self.site.name))
    }

    /// Counts a request from `client` on `endpoint`; the 429 reply (and a
    /// `rate_limited` event) when it is over the limit.
    pub async fn over_limit(&self, endpoint: Endpoint, client: Option<IpAddr>, json: bool) -> Option<Reply> {
        let limited = self.rate_limits.check(endpoint, client).await.err()?;
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
        self.start_flow(idp, headers, return_to, None).await
    }

    /// A redirect that starts a login at `idp` returning to `return_to`, asking for
    /// a step-up when `step_up` says so (see [`Self::start_login_with`]).
    pub async fn start_flow(
        &self,
        idp: &super::idps::Idp,
        headers: &http::HeaderMap,
        return_to: &str,
        step_up: Option<crate::oidc::step_up::StepUpAsk>,
    ) -> Reply {
        match idp.flow.start(return_to.to_string(), step_up).await {
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

    /// The customer namespace of a sign-in through the IdP named `idp` (`None`: the
    /// site's single `[sites.oidc]`) with `issuer`: the provisioning hook's when the
    /// site has one, else the IdP's own.
    pub fn idp_namespace(&self, idp: Option<&str>, issuer: &str) -> String {
        self.site.hook_namespace().unwrap_or_else(|| match idp {
            Some(name) => sso_config::namespaces::named_idp(name, issuer),
            None => sso_config::namespaces::oidc(issuer),
        })
    }

    /// True when a route of this site forwards the IdP access token, so sessions
    /// keep it.
    pub fn keeps_idp_access_token(&self) -> bool {
        !self.idps.is_empty() && self.site.routes.iter().any(|r| r.forward_idp_access_token)
    }

    /// What a session keeps of an access token the IdP just issued: the token and its
    /// expiry, or nothing on a site that never forwards it. A token whose lifetime the
    /// IdP did not state counts as good for `oidc.revalidate_interval` (when the
    /// session refreshes next), never for the whole session.
    /// `revalidate_secs` is the session's own interval (its IdP's).
    pub fn kept_access_token(
        &self,
        token: Secret,
        lifetime: Option<u64>,
        revalidate_secs: u64,
    ) -> Option<(Secret, u64)> {
        let lifetime = lifetime.unwrap_or(revalidate_secs.max(1));
        let expires = now_secs().saturating_add(lifetime).max(1);
        self.keeps_idp_access_token().then_some((token, expires))
    }

    /// `(header name, value)` pairs to set on the upstream request.
    pub fn identity_headers(&self, identity: &Identity) -> Vec<(HeaderName, HeaderValue)> {
        let [id, email, name, groups, token, auth_time, acr, method] = &self.header_names;
        let c = identity.customer();
        let login = &identity.session.login;
        let value = |s: &str| HeaderValue::from_bytes(s.as_bytes()).ok();
        let mut out = Vec::with_capacity(8);
        out.push((auth_time.clone(), HeaderValue::from(identity.session.signed_in_at())));
        out.extend(login.acr.as_deref().and_then(value).map(|v| (acr.clone(), v)));
        let how = match identity.via.is_bearer() {
            true => "api_token",
            false => login.method.as_str(),
        };
        out.push((method.clone(), HeaderValue::from_static(how)));
        out.extend(value(&c.id).map(|v| (id.clone(), v)));
        out.extend(c.email.as_deref().and_then(value).map(|v| (email.clone(), v)));
        out.extend(c.name.as_deref().and_then(value).map(|v| (name.clone(), v)));
        if !c.groups.is_empty() {
            out.extend(value(&c.groups.join(",")).map(|v| (groups.clone(), v)));
        }
        out.extend(self.customer_token(identity).map(|(v, _)| (token.clone(), v)));
        out
    }

    /// The `X-Customer-Token` for this identity's session and its expiry (Unix
    /// seconds): cached on the session and re-minted when less than half its lifetime
    /// is left. The header value is marked sensitive (kept out of HPACK/QPACK tables).
    pub fn customer_token(&self, identity: &Identity) -> Option<(HeaderValue, u64)> {
        let now = now_secs();
        let session = &identity.session;
        if let Some(cached) = session.token_cache.load().as_deref() {
            let (token, exp) = cached;
            if *exp > now.saturating_add(self.tokens.ttl_secs() / 2) {
                return Some((token.clone(), *exp));
            }
        }
        let minted = self.tokens.mint(TokenPurpose::Customer, session, &identity.sid, now);
        match minted.map(|(t, exp)| (HeaderValue::try_from(t), exp)) {
            Ok((Ok(mut token), exp)) => {
                token.set_sensitive(true);
                session.token_cache.store(Some(Arc::new((token.clone(), exp))));
                Some((token, exp))
            }
            Ok((Err(e), _)) => {
                tracing::error!(site = %self.site.name, error = %e, "the signed token is not a header value");
                None
            }
            Err(e) => {
                tracing::error!(site = %self.site.name, error = %e, "cannot sign the customer token");
                None
            }
        }
    }

    /// A fresh API token for this identity's session (`/_sso/token`) and its expiry.
    pub fn api_token(&self, identity: &Identity) -> Option<(String, u64)> {
        match self
            .tokens
            .mint(TokenPurpose::Api, &identity.session, &identity.sid, now_secs())
        {
            Ok(minted) => Some(minted),
            Err(e) => {
                tracing::error!(site = %self.site.name, error = %e, "cannot sign the API token");
                None
            }
        }
    }

    /// Ends the browser's current session before a new one starts (never reuse a
    /// pre-login session).
    pub async fn end_previous(&self, identity: Option<&Identity>) {
        if let Some(old) = identity.filter(|i| i.from_cookie()) {
            if let Err(e) = self.stores.sessions.remove(&old.sid).await {
                tracing::warn!(site = %self.site.name, error = %e, "pre-login session not removed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AuthEvents, Via};
    use crate::identity::Customer;
    use crate::sessions::SessionData;
    use crate::store::memory_sessions::MemorySessionStore;
    use crate::store::Stores;
    use crate::tokens::TokenClaims;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// Counts events by name.
    #[derive(Default)]
    struct Events(Mutex<Vec<String>>);

    impl AuthEvents for Events {
        fn login(&self, _: &str, _: &str, outcome: &str) {
            self.push(format!("login:{outcome}"));
        }
        fn rejected(&self, _: &str, reason: &str) {
            self.push(format!("rejected:{reason}"));
        }
        fn session_lookup(&self, result: &'static str) {
            self.push(format!("lookup:{result}"));
        }
        fn idp_call(&self, _: &str, _: &str, _: f64, _: bool) {}
    }

    impl Events {
        fn push(&self, event: String) {
            if let Ok(mut v) = self.0.lock() {
                v.push(event);
            }
        }
        fn take(&self) -> Vec<String> {
            self.0.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default()
        }
    }

    struct Fixture {
        auth: SiteAuth,
        store: Arc<MemorySessionStore>,
        events: Arc<Events>,
    }

    fn fixture() -> Fixture {
        let config = sso_config::parse(
            "[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n[[sites]]\nname = \"shop\"\n\
             hosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\npublic_url = \"http://shop.localhost\"\n",
            &|_| None,
        )
        .expect("config");
        let store = Arc::new(MemorySessionStore::new(Duration::from_secs(600), 100));
        let stores = Stores {
            sessions: store.clone(),
            ..Stores::memory(MemorySessionStore::new(Duration::from_secs(1), 1), 100)
        };
        let events = Arc::new(Events::default());
        let auth = SiteAuth::from_config(&config, &config.sites[0], &stores, None, events.clone()).expect("auth");
        Fixture { auth, store, events }
    }

    fn sign_in(f: &Fixture, who: &str) -> http::HeaderMap {
        let id = f.store.insert(SessionData::new(
            "shop".into(),
            Customer {
                id: who.into(),
                email: Some(format!("{who}@example.com")),
                ..Customer::default()
            },
            None,
            Default::default(),
            3600,
        ));
        let mut h = http::HeaderMap::new();
        let cookie = format!("{}={}", f.auth.cookies.session_name, f.auth.cookies.encode(&id));
        h.insert("cookie", cookie.parse().expect("header"));
        h
    }

    fn bearer(token: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("authorization", format!("Bearer {token}").parse().expect("header"));
        h
    }

    fn token_header(f: &Fixture, identity: &Identity) -> HeaderValue {
        let name = &f.auth.header_names[4];
        let headers = f.auth.identity_headers(identity);
        headers
            .into_iter()
            .find_map(|(n, v)| (n == name).then_some(v))
            .expect("token header")
    }

    async fn identify(f: &Fixture, headers: &http::HeaderMap) -> Option<Identity> {
        f.auth.identify(headers).await.expect("the memory store always answers")
    }

    #[tokio::test]
    async fn the_customer_token_is_refused_as_a_bearer_and_the_api_token_accepted() {
        let f = fixture();
        let by_cookie = identify(&f, &sign_in(&f, "alice")).await.expect("cookie identity");
        assert_eq!(by_cookie.via, Via::Cookie);
        let customer_token = token_header(&f, &by_cookie);
        assert!(customer_token.is_sensitive());
        f.events.take();

        assert!(identify(&f, &bearer(customer_token.to_str().expect("text")))
            .await
            .is_none());
        assert_eq!(f.events.take(), vec!["login:bad_token", "rejected:bad_token"]);

        let (api, _) = f.auth.api_token(&by_cookie).expect("api token");
        let by_bearer = identify(&f, &bearer(&api)).await.expect("bearer identity");
        assert_eq!(f.events.take(), vec!["lookup:hit", "login:success"]);
        assert_eq!(by_bearer.via, Via::Bearer);
        assert_eq!(by_bearer.sid, by_cookie.sid);
        assert!(Arc::ptr_eq(&by_bearer.session, &by_cookie.session), "the same session");
        // The origin gets the session's token, not the bearer.
        let to_origin = token_header(&f, &by_bearer);
        assert_ne!(to_origin.to_str().ok(), Some(api.as_str()));
        assert_eq!(to_origin, customer_token, "cached per session");
        let claims: TokenClaims =
            jsonwebtoken::decode(to_origin.to_str().expect("text"), f.auth.signer.decoding_key(), &{
                let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
                v.set_audience(&["shop"]);
                v
            })
            .expect("customer token")
            .claims;
        assert_eq!(claims.sid, by_cookie.sid.encode());
        assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
    }

    #[tokio::test]
    async fn an_api_token_dies_with_its_session() {
        let f = fixture();
        let identity = identify(&f, &sign_in(&f, "bob")).await.expect("identity");
        let (api, _) = f.auth.api_token(&identity).expect("api token");
        assert!(identify(&f, &bearer(&api)).await.is_some());
        assert!(f.store.delete(&identity.sid), "logout");
        f.events.take();
        assert!(identify(&f, &bearer(&api)).await.is_none());
        assert_eq!(f.events.take(), vec!["lookup:miss", "login:session_ended"]);
    }

    #[tokio::test]
    async fn a_tossed_session_cookie_makes_the_request_anonymous() {
        let f = fixture();
        let mine = sign_in(&f, "carol");
        let theirs = sign_in(&f, "mallory");
        let both = format!(
            "{}; {}",
            theirs["cookie"].to_str().expect("text"),
            mine["cookie"].to_str().expect("text")
        );
        let mut h = http::HeaderMap::new();
        h.insert("cookie", both.parse().expect("header"));
        f.events.take();
        assert!(identify(&f, &h).await.is_none());
        assert_eq!(f.events.take(), vec!["lookup:invalid", "rejected:bad_cookie"]);
    }
}
