//! `POST <sso_prefix>/backchannel-logout`: OpenID Connect Back-Channel Logout 1.0.
//!
//! The IdP posts a logout token (`application/x-www-form-urlencoded`,
//! `logout_token=<jwt>`) when a shopper's IdP session ends. The token is checked
//! ([`crate::oidc::backchannel`]) against the site's IdP its `iss` names, with that
//! IdP's keys only; then the sessions it names end on every replica: those the IdP
//! session (`sid`) signed in, or all of the subject's (`sub` alone). They are found
//! through two indexes in [`Sets`](crate::store::Sets), written when a session is
//! created (the feature's [`Feature::signed_in`]). Everything derived from an ended
//! session (on a linked site, the SSO session and the sessions other sites made from
//! it) ends with it ([`SitePipeline::revoked`]).
//!
//! Server to server: no cookie, no fetch metadata, no rate limit (every request comes
//! from the IdP's few addresses, and a limit would drop real logouts). Answers: 200
//! (`Cache-Control: no-store`) for a valid token, whether or not a session matched;
//! 400 JSON `invalid_request` for a bad one (counted as
//! `sso_gateway_rejected_total{reason="logout_token_…"}`); 503 when the store or the
//! IdP's keys cannot be reached, with nothing spent, so the IdP may send it again.

use super::{Feature, GatewayPath, SignIn, SignInNote, SitePipeline, SiteRequest};
use crate::auth::idps::Idp;
use crate::auth::SiteAuth;
use crate::oidc::backchannel::{LogoutClaims, LogoutToken, LogoutTokenError, JTI_MARK_TTL};
use crate::reply::Reply;
use crate::secret::Sid;
use crate::sessions::{now_secs, LoginMethod, LoginSource, SessionData};
use crate::store::{hashed_key, StoreError};
use std::time::{Duration, Instant};

/// The endpoint's path under `sso_prefix`.
pub const PATH: &str = "/backchannel-logout";
/// Largest request body read for it (a logout token is at most 8 KiB).
pub const MAX_BODY: usize = 16 * 1024;
/// [`Sets`](crate::store::Sets) kind: the sessions one IdP session signed in.
const SID_INDEX: &str = "bcl-sid";
/// [`Sets`](crate::store::Sets) kind: the sessions of one IdP subject.
const SUB_INDEX: &str = "bcl-sub";
/// [`Records`](crate::store::Records) kind of spent logout-token `jti`s.
const JTI_KIND: &str = "bcl-jti";
/// Most sessions one index line holds (one IdP session, or one subject, on one site;
/// a customer holds at most `max_per_customer` live ones, ended ones are pruned).
const MAX_INDEXED: usize = 64;

/// The issuer as the indexes key it: without a trailing `/` (a configured
/// `http://idp` reads back as `http://idp/`; the IdP's metadata says `http://idp`).
fn issuer_key(issuer: &str) -> &str {
    issuer.trim_end_matches('/')
}

/// Ends sessions on the IdP's word (registered on a site with an IdP).
pub struct BackchannelLogout;

impl BackchannelLogout {
    pub fn from_config(site: &sso_config::SiteConfig) -> Option<Self> {
        site.has_idp().then_some(BackchannelLogout)
    }
}

#[async_trait::async_trait]
impl Feature for BackchannelLogout {
    fn name(&self) -> &'static str {
        "backchannel_logout"
    }

    fn paths(&self) -> Vec<GatewayPath> {
        vec![GatewayPath::UnderPrefix(PATH)]
    }

    fn body_limit(&self, req: &http::request::Parts, _under_prefix: &str) -> Option<usize> {
        (req.method == http::Method::POST).then_some(MAX_BODY)
    }

    async fn answer(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Reply {
        Run {
            core: &site.core,
            pipeline: site,
        }
        .logout(r.req, r.body)
        .await
    }

    async fn signed_in(&self, site: &SitePipeline, s: &SignIn, _note: &mut SignInNote) {
        Run {
            core: &site.core,
            pipeline: site,
        }
        .index(&s.sid, &s.login, s.expires_at)
        .await;
    }
}

/// One back-channel request or sign-in, with the site it happens on.
struct Run<'a> {
    core: &'a SiteAuth,
    pipeline: &'a SitePipeline,
}

impl Run<'_> {
    /// Handles a request to [`PATH`]: only `POST` with a form body holding exactly
    /// one `logout_token`. `body` is what the gateway read (at most [`MAX_BODY`]
    /// bytes, see [`Feature::body_limit`]).
    async fn logout(&self, req: &http::request::Parts, body: Option<&[u8]>) -> Reply {
        if req.method != http::Method::POST {
            return Reply::error(405, "method_not_allowed", "This method is not allowed here.", true)
                .header("allow", "POST");
        }
        if !crate::request_parts::has_media_type(&req.headers, "application/x-www-form-urlencoded") {
            return self.bad_request("logout_request_content_type", "expected a form body with logout_token");
        }
        let mut tokens = url::form_urlencoded::parse(body.unwrap_or_default())
            .filter(|(k, _)| k == "logout_token")
            .map(|(_, v)| v);
        let token = match (tokens.next(), tokens.next()) {
            (Some(token), None) => token,
            _ => return self.bad_request("logout_request_token", "expected exactly one logout_token"),
        };
        let (idp, claims) = match self.verify_logout_token(&token).await {
            Ok(found) => found,
            Err(LogoutTokenError::KeysUnavailable) => {
                tracing::warn!(site = %self.core.site.name, "back-channel logout refused for now: the IdP's keys are not loaded");
                return unavailable();
            }
            Err(e) => return self.refused(e),
        };
        match self.end_for_logout_token(&claims).await {
            Ok(ended) => {
                tracing::info!(site = %self.core.site.name, idp = idp.name().unwrap_or("oidc"), ended, by_sid = claims.session.is_some(), "back-channel logout");
                self.core
                    .events
                    .login(&self.core.site.name, "oidc", "backchannel_logout");
                Reply {
                    status: 200,
                    headers: vec![("cache-control", "no-store".into())],
                    named: Vec::new(),
                    body: String::new(),
                    page: None,
                }
            }
            Err(EndError::Replayed) => self.refused(LogoutTokenError::Replayed),
            Err(EndError::Store(e)) => {
                tracing::warn!(site = %self.core.site.name, error = %e, "back-channel logout failed: session store unavailable");
                unavailable()
            }
        }
    }

    /// Parses `raw`, picks the site's IdP its `iss` names (and, among IdPs sharing an
    /// issuer, the one its `aud` names), verifies the signature with that IdP's keys
    /// only — refetching them once, rate-limited, for an unknown `kid`, as for ID
    /// tokens — and checks the claims now. The `jti` is not spent here.
    async fn verify_logout_token(&self, raw: &str) -> Result<(&Idp, LogoutClaims), LogoutTokenError> {
        let token = LogoutToken::parse(raw)?;
        let issuer = token.issuer().ok_or(LogoutTokenError::UnknownIssuer)?;
        let audiences = token.audiences();
        let of_issuer: Vec<&Idp> = self
            .core
            .idps
            .iter()
            .filter(|i| issuer_key(i.flow.provider.config.issuer.as_str()) == issuer_key(issuer))
            .collect();
        let first = of_issuer.first().ok_or(LogoutTokenError::UnknownIssuer)?;
        let idp = of_issuer
            .iter()
            .find(|i| audiences.contains(&i.flow.provider.config.client_id.as_str()))
            .unwrap_or(first);
        let provider = &idp.flow.provider;
        let mut state = provider.current().ok_or(LogoutTokenError::KeysUnavailable)?;
        // Exactly the issuer the IdP's metadata names (as an ID token's `iss` must be).
        if state.metadata.issuer().as_str() != issuer {
            return Err(LogoutTokenError::UnknownIssuer);
        }
        token.check_algorithm(&state.id_token_algs)?;
        if let Err(LogoutTokenError::NoMatchingKey) = token.verify_signature(state.metadata.jwks()) {
            let started = Instant::now();
            let refetched = provider.refetch_jwks(state.jwks_generation).await;
            self.core.events.idp_call(
                &self.core.site.name,
                "jwks",
                started.elapsed().as_secs_f64(),
                refetched.is_ok(),
            );
            if !matches!(refetched, Ok(true)) {
                return Err(LogoutTokenError::NoMatchingKey);
            }
            state = provider.current().ok_or(LogoutTokenError::KeysUnavailable)?;
        }
        token.verify_signature(state.metadata.jwks())?;
        let claims = token.claims(issuer, &provider.config.client_id, now_secs())?;
        Ok((idp, claims))
    }

    /// Ends the sessions a verified token names, then spends its `jti`. A token seen
    /// before ends nothing. The `jti` is spent only once the sessions are gone: a
    /// store failure half-way leaves it unspent, so the IdP's retry is no "replay"
    /// (ending a session twice is harmless; a concurrent duplicate finds the mark
    /// taken and is answered as a replay).
    ///
    /// A token with `sid` ends the sessions that IdP session signed in; with `sub`
    /// too, also the subject's sessions for which the IdP never said its session (an
    /// ID token without `sid`): they cannot be told apart, and keeping them would keep
    /// alive what the IdP ended. A token with only `sub` ends all of the subject's.
    async fn end_for_logout_token(&self, claims: &LogoutClaims) -> Result<usize, EndError> {
        let issuer = issuer_key(&claims.issuer);
        let mark = hashed_key(&[issuer, &claims.jti]);
        if self.core.stores.spent.get(JTI_KIND, &mark).await?.is_some() {
            return Err(EndError::Replayed);
        }
        let mut ended = 0;
        if let Some(sid) = &claims.session {
            let key = hashed_key(&[&self.core.site.name, issuer, sid]);
            ended += self.end_indexed(SID_INDEX, &key, claims, false).await?;
        }
        if let Some(sub) = &claims.subject {
            let key = hashed_key(&[&self.core.site.name, issuer, sub]);
            ended += self
                .end_indexed(SUB_INDEX, &key, claims, claims.session.is_some())
                .await?;
        }
        // The group's SSO sessions that came from this IdP session end too, with every
        // session linked to them, even when no session of this site is left.
        if let Some(group) = self.pipeline.features.cross_site.as_ref().map(|c| &c.group) {
            let sso = group
                .end_by_idp(issuer, claims.session.as_deref(), claims.subject.as_deref())
                .await?;
            if sso > 0 {
                tracing::info!(site = %self.core.site.name, sso_sessions = sso, "back-channel logout: SSO sessions ended");
            }
        }
        if !self
            .core
            .stores
            .spent
            .put_new(JTI_KIND, &mark, vec![1], JTI_MARK_TTL)
            .await?
        {
            return Err(EndError::Replayed);
        }
        Ok(ended)
    }

    /// Ends the sessions of one index line that `claims` name (`only_without_sid`:
    /// only those with no IdP session recorded) and takes them, and those already
    /// gone, off the line — one by one, not the whole set, so a session indexed
    /// meanwhile stays indexed. How many ended.
    async fn end_indexed(
        &self,
        kind: &str,
        key: &str,
        claims: &LogoutClaims,
        only_without_sid: bool,
    ) -> Result<usize, StoreError> {
        let mut ended = 0;
        for member in self.core.stores.sets.members(kind, key).await? {
            if let Some(sid) = Sid::parse(&member) {
                match self.core.stores.sessions.fresh(&sid).await? {
                    // Another IdP session of the subject, or (never expected) a
                    // session indexed here that is not the token's: left alone.
                    Some(session) if !self.named_by(&session, claims, only_without_sid) => continue,
                    Some(session) => {
                        // Gone from the shared store and from every replica's memory.
                        self.core.stores.sessions.remove(&sid).await?;
                        self.pipeline.revoked(&session).await?;
                        ended += 1;
                    }
                    None => {}
                }
            }
            self.core.stores.sets.remove(kind, key, &member).await?;
        }
        Ok(ended)
    }

    /// Defence in depth: the session is this site's, was signed in by the token's
    /// issuer, is the token's subject when it names one, and is the token's IdP
    /// session when it names one (`only_without_sid`: has no IdP session recorded).
    fn named_by(&self, session: &SessionData, claims: &LogoutClaims, only_without_sid: bool) -> bool {
        let login = &session.login;
        let idp_session = match (&claims.session, only_without_sid) {
            (_, true) => login.idp_session.is_none(),
            (Some(s), false) => login.idp_session.as_ref() == Some(s),
            (None, false) => true,
        };
        *session.site == *self.core.site.name
            && self.backchannel_issuer(login) == Some(issuer_key(&claims.issuer))
            && claims.subject.as_ref().is_none_or(|s| *s == login.subject)
            && idp_session
    }

    /// The issuer whose logout tokens may end a session signed in by `login`: the one
    /// it records (several IdPs, cross-site sign-on), else the site's single
    /// `[sites.oidc]` for a session it signed in; `None` for sessions without an IdP.
    fn backchannel_issuer<'a>(&'a self, login: &'a LoginSource) -> Option<&'a str> {
        match (&login.issuer, login.method, &login.idp) {
            (Some(issuer), _, _) => Some(issuer_key(issuer)),
            (None, LoginMethod::Oidc, None) => self.core.site.oidc.as_ref().map(|o| issuer_key(o.issuer.as_str())),
            _ => None,
        }
    }

    /// Records a new session (handle `sid`, signed in by `login`, ending at
    /// `expires_at`) where a back-channel logout looks: under its IdP session
    /// (`login.idp_session`, when the IdP gave one) and its IdP subject, each for the
    /// session's lifetime. Called for every session an IdP signed in — the code flow
    /// here, cross-site sign-on elsewhere (its `LoginSource` carries the issuer,
    /// subject and IdP session). Never fails the sign-in: a full index is pruned of
    /// ended sessions first, and what cannot be written is logged (that session then
    /// ends only by logout, expiry or the admin API).
    async fn index(&self, sid: &Sid, login: &LoginSource, expires_at: u64) {
        let Some(issuer) = self.backchannel_issuer(login) else {
            return;
        };
        let ttl = Duration::from_secs(expires_at.saturating_sub(now_secs()));
        if ttl.is_zero() {
            return;
        }
        let member = sid.encode();
        if let Some(idp_session) = &login.idp_session {
            let key = hashed_key(&[&self.core.site.name, issuer, idp_session]);
            self.add_to_index(SID_INDEX, &key, &member, ttl).await;
        }
        let key = hashed_key(&[&self.core.site.name, issuer, &login.subject]);
        self.add_to_index(SUB_INDEX, &key, &member, ttl).await;
    }

    /// Adds `member` to an index line; when the line is full, first drops the members
    /// whose session has ended (logout, expiry, the per-customer cap) and tries again.
    async fn add_to_index(&self, kind: &str, key: &str, member: &str, ttl: Duration) {
        let sets = &self.core.stores.sets;
        let added = match sets.add(kind, key, member, ttl, MAX_INDEXED).await {
            Ok(false) => match self.prune_index(kind, key).await {
                Ok(()) => sets.add(kind, key, member, ttl, MAX_INDEXED).await,
                Err(e) => Err(e),
            },
            other => other,
        };
        match added {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(site = %self.core.site.name, index = kind, "back-channel logout index full; this session is not indexed");
            }
            Err(e) => {
                tracing::warn!(site = %self.core.site.name, index = kind, error = %e, "back-channel logout index not written");
            }
        }
    }

    /// Removes the members of an index line whose session no longer exists.
    async fn prune_index(&self, kind: &str, key: &str) -> Result<(), StoreError> {
        for member in self.core.stores.sets.members(kind, key).await? {
            let live = match Sid::parse(&member) {
                Some(sid) => self.core.stores.sessions.fresh(&sid).await?.is_some(),
                None => false,
            };
            if !live {
                self.core.stores.sets.remove(kind, key, &member).await?;
            }
        }
        Ok(())
    }

    /// 400 for a refused token, counted by its code.
    fn refused(&self, e: LogoutTokenError) -> Reply {
        tracing::info!(site = %self.core.site.name, reason = e.code(), "back-channel logout token refused");
        self.bad_request(e.code(), &e.to_string())
    }

    /// 400 `invalid_request` (Back-Channel Logout 1.0 §2.8), counted as `code`.
    fn bad_request(&self, code: &str, description: &str) -> Reply {
        self.core.events.rejected(&self.core.site.name, code);
        let body = serde_json::json!({ "error": "invalid_request", "error_description": description });
        Reply::json(400, &body).header("cache-control", "no-store")
    }
}

/// Why ending a token's sessions did not complete.
#[derive(Debug, thiserror::Error)]
enum EndError {
    /// The token's `jti` was already spent.
    #[error("replayed")]
    Replayed,
    /// The store could not be reached; nothing was spent.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// 503 while the store or the IdP's keys cannot be reached: the IdP may try again.
fn unavailable() -> Reply {
    let body = serde_json::json!({
        "error": "temporarily_unavailable",
        "error_description": "the logout cannot be processed right now",
    });
    Reply::json(503, &body)
        .header("cache-control", "no-store")
        .header("retry-after", "5")
}
