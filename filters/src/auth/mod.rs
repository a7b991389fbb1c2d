//! The small core a site's features share ([`SiteAuth`]): the site's configuration,
//! the stores, the cookie codec, the token signer, the IdPs, the rate limits and the
//! events; who a request is ([`SiteAuth::identify`]); and the primitives features
//! build on ([`core_ops`]: sessions, sign-in redirects, identity for the origin).
//! What the site *does* with them is its features (`crate::features`); nothing here
//! knows of any feature.

pub mod chooser;
pub mod core_ops;
pub mod idps;

pub use crate::events::AuthEvents;
pub use crate::reply::store_unavailable;

use crate::identity::Customer;
use crate::oidc::flow::IdpTimer;
use crate::oidc::pending::PendingLogins;
use crate::oidc::revocation::RevocationReport;
use crate::oidc::{LoginFlow, OidcProvider};
use crate::secret::{SessionId, Sid};
use crate::sessions::cookie::CookieCodec;
use crate::sessions::{LoginSource, SessionData};
use crate::store::{StoreError, Stores};
use crate::tokens::{SiteTokens, TokenSigner};
use idps::{Idp, Idps};
use sso_config::{Config, SiteConfig};
use std::sync::Arc;
use std::time::Duration;

/// The identity a request carries, once verified: always a live session, found by
/// its handle whichever credential the request showed.
#[derive(Debug, Clone)]
pub struct Identity {
    pub session: Arc<SessionData>,
    /// The session's public handle (the store key, the tokens' `sid`).
    pub sid: Sid,
    /// Which credential proved it.
    pub via: Via,
    /// `Set-Cookie` that signs the session cookie again with the current secret,
    /// when a previous secret of the key ring signed the one the request showed: sent
    /// with whatever answers the request (key rotation without sign-outs).
    pub renewed_cookie: Option<String>,
}

/// The credential an identity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The session cookie (a browser).
    Cookie,
    /// An API token (`/_sso/token`) in `Authorization: Bearer`. The request's
    /// `Authorization` header is the gateway's own credential and is not proxied.
    Bearer,
}

impl Via {
    pub fn is_bearer(self) -> bool {
        self == Via::Bearer
    }
}

impl Identity {
    pub fn customer(&self) -> &Customer {
        &self.session.customer
    }

    /// True when the request showed the session cookie (not an API token).
    pub fn from_cookie(&self) -> bool {
        self.via == Via::Cookie
    }
}

pub struct SiteAuth {
    pub site: SiteConfig,
    /// Sessions, pending logins and locks: shared by every site, kept across reloads.
    pub stores: Stores,
    pub cookies: CookieCodec,
    /// The site's IdPs (none, the single `[sites.oidc]`, or `[[sites.idps]]`).
    pub idps: Idps,
    pub signer: Arc<TokenSigner>,
    /// Mints `X-Customer-Token` and API tokens, verifies API tokens.
    pub tokens: SiteTokens,
    pub events: Arc<dyn AuthEvents>,
    /// The site name, shared by all its sessions.
    site_name: Arc<str>,
    /// Identity header names (id, email, name, groups, token, auth time, acr, login
    /// method), parsed once.
    header_names: [http::HeaderName; 8],
    /// The claims some route of the configuration requires (`require_claims`): a
    /// sign-in keeps these, on every site, so a one-time-token session has them too.
    pub claims_kept: Vec<String>,
    absolute_ttl: u64,
    /// How often a session whose access token has no stated lifetime is refreshed.
    revalidate: Duration,
    /// Keep the ID token with the session for `id_token_hint` at logout.
    keep_id_token: bool,
    /// Per-client limits on login, callback, token and logout (`server.rate_limits`),
    /// counted in Redis with a Redis store.
    pub rate_limits: crate::rate_limit::RateLimiter,
}

/// A session just stored for a sign-in: its id, its `Set-Cookie`, and whether the
/// browser should now hand the new SSO session to the group's auth host.
pub struct NewSession {
    pub id: SessionId,
    pub cookie: String,
    pub sso_pending: bool,
}

impl NewSession {
    /// The stored session's public handle.
    pub fn sid(&self) -> Sid {
        Sid::of(&self.id)
    }
}

/// Why a site's auth could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthSetupError {
    /// The token signing key is unusable.
    #[error("token.signing_key_file: {0}")]
    Signer(#[from] crate::tokens::signer::SignerError),
    /// An identity header name is not a valid HTTP header name.
    #[error("identity_headers: {0}")]
    HeaderName(String),
    /// The OpenID settings cannot be used.
    #[error("oidc: {0}")]
    Oidc(#[from] crate::oidc::ProviderError),
    /// A feature (the provisioning hook's HTTP client) cannot be set up.
    #[error("provisioning: {0}")]
    Connectors(String),
    /// Two features would answer one gateway path.
    #[error("sso_prefix: {0}")]
    PathTaken(String),
    /// The site's page templates or texts (`[sites.pages] dir`) cannot be used.
    #[error("pages: {0}")]
    Pages(String),
}

impl SiteAuth {
    /// Builds a site's auth from the configuration. The long-lived pieces come from
    /// outside: the session `store`, and the site's IdP `provider` (from the
    /// [`ProviderRegistry`](crate::oidc::registry::ProviderRegistry), so a reload
    /// that keeps the IdP settings keeps its metadata). `providers` are the site's
    /// IdPs, one per [`SiteConfig::identity_providers`] entry (`None` or an empty list
    /// for a site without an IdP, `Some(p)` for the single `[sites.oidc]`).
    pub fn from_config(
        config: &Config,
        site: &SiteConfig,
        stores: &Stores,
        providers: impl IntoIterator<Item = Arc<OidcProvider>>,
        events: Arc<dyn AuthEvents>,
    ) -> Result<Self, AuthSetupError> {
        let signer = Arc::new(TokenSigner::with_previous(
            site.token.signing_key_file.as_deref(),
            &site.token.previous_signing_key_files,
        )?);
        let cookies = CookieCodec::from_config(&config.sessions, site);
        let idps = providers
            .into_iter()
            .map(|provider| {
                let ev = events.clone();
                let name = site.name.clone();
                let timer: IdpTimer =
                    Arc::new(move |endpoint, d, answered| ev.idp_call(&name, endpoint, d.as_secs_f64(), answered));
                let display_name = match provider.idp.as_deref() {
                    Some(n) => site
                        .idps
                        .iter()
                        .find(|i| i.name == n)
                        .map_or_else(|| n.to_string(), |i| i.display_name.clone()),
                    None => provider.config.issuer.host_str().unwrap_or("sign in").to_string(),
                };
                // Every IdP of the site shares the site's pending logins: each login
                // records its IdP, and only that IdP's callback may finish it.
                let pending = PendingLogins::new(
                    stores.single_use.clone(),
                    &site.name,
                    crate::store::seal::Seal::from_config(&config.sessions),
                );
                let (ev, name) = (events.clone(), site.name.clone());
                let idp_label = provider.idp.clone().unwrap_or_default();
                let revocations: RevocationReport =
                    Arc::new(move |outcome, _| ev.idp_revocation(&name, &idp_label, outcome.as_str()));
                Idp {
                    display_name,
                    flow: LoginFlow::new(provider, cookies.clone(), timer, pending).with_revocation_report(revocations),
                }
            })
            .collect();
        let issuer = site.public_url.as_str().trim_end_matches('/').to_string();
        let names = &site.identity_headers;
        let parse = |n: &str| {
            http::HeaderName::from_bytes(n.as_bytes()).map_err(|e| AuthSetupError::HeaderName(format!("{n:?}: {e}")))
        };
        let header_names = [
            parse(&names.id)?,
            parse(&names.email)?,
            parse(&names.name)?,
            parse(&names.groups)?,
            parse(&names.token)?,
            parse(&names.auth_time)?,
            parse(&names.acr)?,
            parse(&names.login_method)?,
        ];
        let mut claims_kept: Vec<String> = config
            .sites
            .iter()
            .flat_map(|s| &s.routes)
            .flat_map(|r| r.policy.require_claims.iter().map(|(name, _)| name.clone()))
            .collect();
        claims_kept.sort();
        claims_kept.dedup();
        let tokens = SiteTokens::new(signer.clone(), &issuer, &site.name, site.token.ttl);
        let rate_limits = crate::rate_limit::RateLimiter::new(
            &config.server.rate_limits,
            crate::rate_limit::Scope::site(&site.name),
            stores.rate_counts.clone(),
            events.clone(),
        );
        Ok(SiteAuth {
            site: site.clone(),
            stores: stores.clone(),
            cookies,
            idps: Idps::new(idps),
            signer,
            tokens,
            events,
            site_name: site.name.as_str().into(),
            header_names,
            claims_kept,
            // Sealed in each new session: a reload never lengthens a session made before it.
            absolute_ttl: site.session.absolute_timeout(&config.sessions).as_secs(),
            // Without OpenID Connect there are no refresh tokens to revalidate.
            revalidate: site.oidc.as_ref().map_or(Duration::ZERO, |o| o.revalidate_interval),
            keep_id_token: site
                .oidc
                .as_ref()
                .is_some_and(|o| o.logout_id_token_hint && o.logout_url.is_none()),
            rate_limits,
        })
    }

    /// The providers of the site's IdPs (for readiness and background refresh).
    pub fn providers(&self) -> impl Iterator<Item = &Arc<OidcProvider>> {
        self.idps.iter().map(|i| &i.flow.provider)
    }

    /// The verified identity of a request: its session cookie, else an API token in
    /// `Authorization: Bearer`. Either way the identity is the live session the
    /// credential names, found by its handle with one store lookup, so a logout or a
    /// refused refresh ends both at once. A bad cookie or token counts as anonymous
    /// (and is counted); so does a session cookie sent twice (cookie tossing).
    /// `Err` only when the store could not be asked (Redis down, nothing in L1): the
    /// caller decides what may go on without knowing.
    pub async fn identify(&self, headers: &http::HeaderMap) -> Result<Option<Identity>, StoreError> {
        match self.cookies.session_from_headers(headers) {
            Ok(Some(cookie)) => {
                if let Some(mut found) = self.session(Sid::of(&cookie.id), Via::Cookie).await? {
                    if cookie.stale {
                        found.renewed_cookie = Some(self.cookies.set_session(&cookie.id));
                    }
                    return Ok(Some(found));
                }
            }
            Ok(None) => {}
            Err(e) => {
                self.events.session_lookup("invalid");
                self.events.rejected(&self.site.name, "bad_cookie");
                tracing::debug!(site = %self.site.name, error = ?e, "session cookie refused");
            }
        }
        let bearer = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
        let Some(bearer) = bearer.map(str::trim) else {
            return Ok(None);
        };
        // Each API call that shows a token counts as a `bearer` sign-in, by outcome.
        let site = &self.site.name;
        let token = match self.tokens.verify_api(bearer) {
            Ok(token) => token,
            Err(e) => {
                self.events.login(site, "bearer", "bad_token");
                self.events.rejected(site, "bad_token");
                // `?`: the error may quote the token's own header (`alg`), which anyone writes.
                tracing::debug!(site = %site, error = ?e, "bearer token refused");
                return Ok(None);
            }
        };
        let Some(found) = self.session(token.sid, Via::Bearer).await? else {
            self.events.login(site, "bearer", "session_ended");
            return Ok(None);
        };
        if found.customer().id != token.sub {
            // Signed by this site for this session, yet naming someone else: refuse.
            self.events.login(site, "bearer", "bad_token");
            self.events.rejected(site, "bad_token");
            return Ok(None);
        }
        self.events.login(site, "bearer", "success");
        Ok(Some(found))
    }

    /// The live session `sid` of this site, counted as a hit or a miss: from this
    /// process's cache without waiting when it holds it, else from the store.
    async fn session(&self, sid: Sid, via: Via) -> Result<Option<Identity>, StoreError> {
        let found = match self.stores.sessions.cached(&sid) {
            Some(hit) => Some(hit),
            None => self.stores.sessions.get(&sid).await.inspect_err(|_| {
                self.events.session_lookup("error");
            })?,
        };
        match found {
            Some(session) if *session.site == *self.site_name => {
                self.events.session_lookup("hit");
                Ok(Some(Identity {
                    session,
                    sid,
                    via,
                    renewed_cookie: None,
                }))
            }
            _ => {
                self.events.session_lookup("miss");
                Ok(None)
            }
        }
    }

    /// The session of a completed IdP sign-in (not stored yet): the IdP's tokens as
    /// its settings say to keep them, `login` as its provenance.
    pub fn oidc_session_data(&self, done: crate::oidc::flow::LoginDone, login: LoginSource) -> SessionData {
        // Per IdP when the site has several: each has its own logout and refresh settings.
        let (keep_id_token, revalidate) = match done.idp.as_deref().and_then(|n| self.idps.by_name(n)) {
            Some(idp) => {
                let o = &idp.flow.provider.config;
                (o.logout_id_token_hint && o.logout_url.is_none(), o.revalidate_interval)
            }
            None => (self.keep_id_token, self.revalidate),
        };
        let refresh = crate::sessions::RefreshState::new(done.refresh_token, done.access_lifetime, revalidate);
        refresh.set_access(self.kept_access_token(done.access_token, done.access_lifetime, refresh.revalidate_secs()));
        SessionData::new(
            self.site_name.clone(),
            done.customer,
            keep_id_token.then_some(done.id_token),
            refresh,
            self.absolute_ttl,
        )
        .with_login(login)
    }

    /// A new session of this site without IdP tokens.
    pub fn new_session_data(&self, customer: crate::identity::Customer, login: LoginSource) -> SessionData {
        let refresh = match login.method {
            // Derived from an SSO session: checked against it every interval.
            crate::sessions::LoginMethod::Ott => {
                crate::sessions::RefreshState::checking_every(self.sso_check_interval())
            }
            _ => crate::sessions::RefreshState::new(None, None, self.revalidate),
        };
        SessionData::new(self.site_name.clone(), customer, None, refresh, self.absolute_ttl).with_login(login)
    }

    /// How often a session made from a one-time token checks its SSO session: the
    /// site's `oidc.revalidate_interval`, or a minute on a site without an IdP.
    fn sso_check_interval(&self) -> Duration {
        match self.revalidate {
            Duration::ZERO => Duration::from_secs(60),
            every => every,
        }
    }

    /// After a configuration reload, takes over from the same site's auth in the
    /// running configuration what must not change under a shopper's feet: a
    /// *generated* token signing key, when this site still has no
    /// `token.signing_key_file` (API tokens and `X-Customer-Token`s already handed out
    /// keep verifying; a configured key file is read anew). Sessions and the logins
    /// waiting for their callback need nothing: they are in the process's stores,
    /// which outlive every configuration, keyed by site name.
    pub fn carry_over(&mut self, previous: &SiteAuth) {
        if self.signer.generated && previous.signer.generated {
            self.signer = previous.signer.clone();
            let issuer = self.site.public_url.as_str().trim_end_matches('/').to_string();
            self.tokens = SiteTokens::new(self.signer.clone(), &issuer, &self.site.name, self.site.token.ttl);
        }
    }
}

#[cfg(test)]
mod carry_over_tests;
#[cfg(test)]
mod idps_tests;
