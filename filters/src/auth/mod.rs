//! Per-site authentication: the session store, cookies, the login flow and the
//! gateway token, and the three request filters built on them —
//! [`endpoints`] (gateway-owned paths), [`gate`] (route access) and [`inject`]
//! (identity for the origin).

pub mod endpoints;
pub mod gate;
pub mod inject;

use crate::identity::Customer;
use crate::oidc::flow::IdpTimer;
use crate::oidc::{LoginFlow, OidcProvider};
use crate::secret::SessionId;
use crate::sessions::cookie::{CookieCodec, CookieError};
use crate::sessions::{SessionData, SessionStore};
use crate::tokens::{TokenClaims, TokenSigner};
use sso_config::{Config, SiteConfig};
use std::sync::Arc;

/// What the auth filters report, for metrics. The gateway implements it.
pub trait AuthEvents: Send + Sync {
    /// A login ended: `outcome` is `success` or an error code (`state_unknown`, ...).
    fn login(&self, site: &str, outcome: &str);
    /// Bad input was rejected (`bad_cookie`, `open_redirect`, `bad_token`, ...).
    fn rejected(&self, site: &str, reason: &str);
    /// A session cookie lookup: `hit`, `miss`, `invalid`.
    fn session_lookup(&self, result: &'static str);
    /// A call to the IdP took `seconds`.
    fn idp_call(&self, site: &str, endpoint: &str, seconds: f64);
}

/// The identity a request carries, once verified.
#[derive(Debug, Clone)]
pub struct Identity {
    pub session: Arc<SessionData>,
    /// Set when the identity comes from a session cookie.
    pub session_id: Option<SessionId>,
    /// Set when the identity comes from a gateway-signed bearer token.
    pub bearer: Option<Arc<str>>,
}

impl Identity {
    pub fn customer(&self) -> &Customer {
        &self.session.customer
    }
}

pub struct SiteAuth {
    pub site: SiteConfig,
    pub store: Arc<dyn SessionStore>,
    pub cookies: CookieCodec,
    pub flow: Option<LoginFlow>,
    pub signer: Arc<TokenSigner>,
    pub events: Arc<dyn AuthEvents>,
    /// `iss` of gateway tokens: the site's public URL without trailing slash.
    pub issuer: String,
    /// The site name, shared by all its sessions.
    site_name: Arc<str>,
    /// Identity header names (id, email, name, groups, token), parsed once.
    header_names: [http::HeaderName; 5],
    absolute_ttl: u64,
    token_ttl: u64,
    bearer_validation: jsonwebtoken::Validation,
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
}

impl SiteAuth {
    pub fn from_config(
        config: &Config,
        site: &SiteConfig,
        store: Arc<dyn SessionStore>,
        events: Arc<dyn AuthEvents>,
    ) -> Result<Self, AuthSetupError> {
        let signer = Arc::new(TokenSigner::new(site.token.signing_key_file.as_deref())?);
        let cookies = CookieCodec::from_config(&config.sessions, site);
        let flow = match &site.oidc {
            Some(oidc) => {
                let provider = Arc::new(OidcProvider::from_config(site, oidc)?);
                let ev = events.clone();
                let name = site.name.clone();
                let timer: IdpTimer = Arc::new(move |endpoint, d| ev.idp_call(&name, endpoint, d.as_secs_f64()));
                Some(LoginFlow::new(provider, cookies.clone(), timer))
            }
            None => None,
        };
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
        ];
        let mut bearer_validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        bearer_validation.set_audience(&[&site.name]);
        bearer_validation.set_issuer(&[&issuer]);
        bearer_validation.leeway = 5;
        Ok(SiteAuth {
            site: site.clone(),
            store,
            cookies,
            flow,
            signer,
            events,
            issuer,
            site_name: site.name.as_str().into(),
            header_names,
            absolute_ttl: config.sessions.absolute_timeout.as_secs(),
            token_ttl: site.token.ttl.as_secs(),
            bearer_validation,
        })
    }

    pub fn provider(&self) -> Option<&Arc<OidcProvider>> {
        self.flow.as_ref().map(|f| &f.provider)
    }

    /// The verified identity of a request: its session cookie, else a gateway bearer
    /// token. A bad cookie or token counts as anonymous (and is counted).
    pub fn identify(&self, headers: &http::HeaderMap) -> Option<Identity> {
        match self.cookies.session_from_headers(headers) {
            Ok(Some(id)) => match self.store.get(&id) {
                Some(session) if *session.site == *self.site_name => {
                    self.events.session_lookup("hit");
                    return Some(Identity {
                        session,
                        session_id: Some(id),
                        bearer: None,
                    });
                }
                _ => self.events.session_lookup("miss"),
            },
            Ok(None) => {}
            Err(CookieError::Malformed | CookieError::BadSignature) => {
                self.events.session_lookup("invalid");
                self.events.rejected(&self.site.name, "bad_cookie");
            }
        }
        let bearer = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))?
            .trim();
        match jsonwebtoken::decode::<TokenClaims>(bearer, self.signer.decoding_key(), &self.bearer_validation) {
            Ok(data) => {
                let c = data.claims;
                let customer = Customer {
                    id: c.sub,
                    email: c.email,
                    name: c.name,
                    groups: c.groups,
                };
                let session = SessionData::new(
                    self.site_name.clone(),
                    customer,
                    None,
                    crate::sessions::RefreshState::default(),
                    // The session lives exactly as long as the token.
                    c.exp.saturating_sub(crate::sessions::now_secs()),
                );
                Some(Identity {
                    session: Arc::new(session),
                    session_id: None,
                    bearer: Some(bearer.into()),
                })
            }
            Err(_) => {
                self.events.rejected(&self.site.name, "bad_token");
                None
            }
        }
    }

    /// Refreshes the IdP tokens of a session when they are due (one request per
    /// session does it; the others go on). A refresh the IdP refuses (`invalid_grant`:
    /// the account was revoked or the IdP session ended) ends the session, and the
    /// request goes on anonymous; an IdP that cannot be reached keeps the session and
    /// is tried again in 30 s.
    pub async fn refresh_if_due(&self, identity: Identity) -> Option<Identity> {
        let (Some(flow), Some(id)) = (&self.flow, identity.session_id) else {
            return Some(identity);
        };
        let refresh = &identity.session.refresh;
        if !refresh.is_due(crate::sessions::now_secs()) {
            return Some(identity);
        }
        let Some(token) = refresh.begin() else {
            return Some(identity);
        };
        match flow.refresh(&token).await {
            Ok(r) => {
                refresh.finish(r.refresh_token, r.lifetime);
                self.events.login(&self.site.name, "refreshed");
                Some(identity)
            }
            Err(crate::oidc::flow::RefreshError::Refused(reason)) => {
                self.store.remove(&id);
                self.events.login(&self.site.name, "refresh_refused");
                tracing::info!(site = %self.site.name, subject = %identity.customer().id, %reason, "refresh refused by the IdP; session ended");
                None
            }
            Err(crate::oidc::flow::RefreshError::Unavailable(e)) => {
                refresh.retry_in(30);
                tracing::warn!(site = %self.site.name, error = %e, "token refresh failed; keeping the session, retrying in 30 s");
                Some(identity)
            }
        }
    }

    /// Creates a session for a completed login; returns its `Set-Cookie`.
    pub fn create_session(&self, done: crate::oidc::flow::LoginDone) -> (SessionId, String) {
        let data = SessionData::new(
            self.site_name.clone(),
            done.customer,
            Some(done.id_token),
            crate::sessions::RefreshState::new(done.refresh_token, done.access_lifetime),
            self.absolute_ttl,
        );
        let id = self.store.create(data);
        (id, self.cookies.set_session(&id))
    }
}

impl SiteAuth {
    /// A closure that drops this site's expired pending logins (for the sweeper).
    pub fn pending_sweeper(self: &SiteAuth) -> Arc<dyn Fn() + Send + Sync> {
        let pending = self.flow.as_ref().map(|f| f.pending.clone());
        Arc::new(move || {
            if let Some(p) = &pending {
                p.sweep();
            }
        })
    }
}
