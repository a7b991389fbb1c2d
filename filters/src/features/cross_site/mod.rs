//! Cross-site sign-on on a linked site (`[sites.sso]` mode `auto` or `opt_in`,
//! docs/cross-site-sso.md). The group's building blocks (SSO records, one-time
//! tokens, the auth host) are `crate::cross_site`; this feature is the site's side:
//!
//! - `<sso_prefix>/ott` and the link rounds ([`link`]), redemption ([`redeem`]);
//! - at the gate: an anonymous page load on an `auto` site goes to the auth host;
//! - a sign-in here starts the SSO session and hands it to the auth host;
//! - a logout ends the SSO session (global) or only the link (site);
//! - a revoked source ends the SSO session and every session derived from it, and a
//!   session made from a one-time token checks that its SSO session still lives.

pub mod link;
pub mod redeem;

use super::{Feature, GatewayPath, SignIn, SignInNote, SitePipeline, SiteRequest};
use crate::auth::{Identity, SiteAuth, Via};
use crate::secret::Sid;
use std::time::Duration;

/// How long past its refresh an IdP grant held on another site, which this site
/// cannot refresh itself, still counts as good (its holder refreshes on its site's
/// next request).
pub const GRANT_GRACE: Duration = Duration::from_secs(60);
use crate::cross_site::cookies::CHECKED_TTL;
use crate::cross_site::records::{SsoSession, SsoSource};
use crate::cross_site::SsoGroup;
use crate::navigation::is_navigation;
use crate::reply::Reply;
use crate::sessions::{now_secs, LoginMethod, SessionData};
use crate::store::{StoreError, Stores};
use crate::Flow;
use sso_config::sso::{LogoutScope, SiteSsoConfig, SsoMode};
use sso_config::{Config, SiteConfig};

/// The site's side of the group's cross-site sign-on.
pub struct CrossSite {
    pub group: SsoGroup,
    config: SiteSsoConfig,
}

impl CrossSite {
    /// The feature of a linked site, when the configuration has the group's `[sso]`.
    pub fn from_config(config: &Config, site: &SiteConfig, stores: &Stores) -> Option<Self> {
        if !site.sso.linked() {
            return None;
        }
        let group = SsoGroup::from_config(config, stores)?;
        Some(CrossSite {
            group,
            config: site.sso,
        })
    }

    /// Whether the IdP grant SSO session `handle` follows is still good: the site
    /// session that holds it lives and is not overdue for its refresh. A holder due
    /// for its refresh is refreshed here when this site is a client of the same IdP
    /// (the holder's own refresh, under its lock: a refusal revokes everything derived
    /// from it); otherwise it may be overdue by [`GRANT_GRACE`] at most. An SSO session
    /// without a grant (a customer-login sign-in, an IdP without refresh tokens, one
    /// started before this was recorded) follows nothing.
    ///
    /// `Some(secs)`: good, and worth checking again within `secs` (when the holder is
    /// due next), so a derived session follows its source's cadence; `None`: ended.
    pub async fn grant_live(&self, site: &SitePipeline, handle: &str) -> Result<Option<u64>, StoreError> {
        let source = self.group.source(handle).await?;
        self.grant_live_of(site, source.as_ref()).await
    }

    /// [`Self::grant_live`] of an SSO session whose source record was read already.
    pub async fn grant_live_of(
        &self,
        site: &SitePipeline,
        source: Option<&SsoSource>,
    ) -> Result<Option<u64>, StoreError> {
        let Some((origin, holder)) = source.and_then(|s| s.holder.clone()) else {
            return Ok(Some(u64::MAX));
        };
        let Some(sid) = Sid::parse(&holder) else {
            return Ok(None);
        };
        // Gone: signed out on its site, idled out, evicted, or revoked.
        let Some(session) = site.core.stores.sessions.fresh(&sid).await? else {
            return Ok(None);
        };
        let now = now_secs();
        let until_due = |s: &SessionData| match s.refresh.due_at() {
            0 => u64::MAX,
            due => due.saturating_sub(now).max(1),
        };
        if !session.refresh.is_due(now) {
            return Ok(Some(until_due(&session)));
        }
        let overdue_by = now.saturating_sub(session.refresh.due_at());
        if self.same_client(site, &origin, &session) {
            let holder = Identity {
                session,
                sid,
                via: Via::Cookie,
                renewed_cookie: None,
            };
            return Ok(site.refresh_if_due(holder).await.map(|h| until_due(&h.session)));
        }
        let left = GRANT_GRACE.as_secs().checked_sub(overdue_by);
        Ok(left.map(|l| l.max(1)))
    }

    /// True when this site is a client of the IdP that signed `session` in on
    /// `origin`, with the same `client_id`: its refresh token is good here.
    fn same_client(&self, site: &SitePipeline, origin: &str, session: &SessionData) -> bool {
        let (Some(ours), Some(theirs)) = (site.core.idps.of_session(session), self.group.sites.get(origin)) else {
            return false;
        };
        let c = &ours.flow.provider.config;
        theirs
            .idp_clients
            .iter()
            .any(|(issuer, client)| *issuer == c.issuer.as_str() && *client == c.client_id)
    }

    /// The SSO session handle of `identity`.
    fn handle(identity: Option<&Identity>) -> Option<&str> {
        identity.and_then(|i| i.session.sso.as_deref())
    }

    /// The issuer of a sign-in through the site's single `[sites.oidc]`.
    fn default_issuer(core: &SiteAuth, data: &SessionData) -> Option<String> {
        (data.login.method == LoginMethod::Oidc)
            .then(|| core.site.oidc.as_ref().map(|o| o.issuer.as_str().to_string()))
            .flatten()
    }
}

#[async_trait::async_trait]
impl Feature for CrossSite {
    fn name(&self) -> &'static str {
        "cross_site"
    }

    fn roles(&self) -> super::Roles {
        super::Roles {
            gate: true,
            ..super::Roles::default()
        }
    }

    fn paths(&self) -> Vec<GatewayPath> {
        vec![GatewayPath::UnderPrefix("/ott")]
    }

    async fn answer(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Reply {
        match r.req.method == http::Method::GET {
            true => self.ott_endpoint(site, r.req, r.identity, r.client).await,
            false => Reply::error(405, "method_not_allowed", "This method is not allowed here.", r.json),
        }
    }

    /// `auto` sites: an anonymous top-level `GET` page load (not a crawler).
    fn wants_gate(&self, _site: &SitePipeline, r: &SiteRequest<'_>) -> bool {
        self.config.mode == SsoMode::Auto
            && r.identity.is_none()
            && !r.store_down
            && is_navigation(&r.req.method, &r.req.headers)
    }

    async fn gate(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Flow<Reply> {
        match self.auto_link(&site.core, r.req) {
            Some(reply) => Flow::Respond(reply),
            None => Flow::Continue,
        }
    }

    /// A sign-in here (not one made from a one-time token) starts an SSO session:
    /// its record (who, how, where), and the session is linked to its handle. When the
    /// store refuses, the shopper is signed in here only.
    async fn signing_in(&self, site: &SitePipeline, data: &mut SessionData) {
        // A one-time token's session joins its SSO session at redemption; a step-up
        // stays in the SSO session it was part of (`data.sso` already set).
        if data.login.method == LoginMethod::Ott || data.sso.is_some() {
            return;
        }
        let core = &site.core;
        let c = &data.customer;
        let record = SsoSession {
            customer_id: c.id.clone(),
            email: c.email.clone(),
            name: c.name.clone(),
            groups: c.groups.clone(),
            method: data.login.method.as_u8(),
            issuer: data.login.issuer.clone().or_else(|| Self::default_issuer(core, data)),
            subject: data.login.subject.clone(),
            idp_session: data.login.idp_session.clone(),
            origin_site: core.site.name.clone(),
            created_at: 0,
            expires_at: 0,
        };
        match self.group.create(record.clone()).await {
            Ok((id, handle)) => {
                self.group.index(&handle, &record, &core.site.name, &c.id).await;
                // The SSO cookie waits in the store for the binding round.
                if let Err(e) = self.group.stash_pending(&handle, &id).await {
                    tracing::warn!(site = %core.site.name, error = %e, "SSO session not kept for the binding round");
                }
                data.sso = Some(handle);
            }
            Err(e) => {
                tracing::warn!(site = %core.site.name, error = %e, "SSO session not started: store unavailable");
            }
        }
    }

    /// The stored sign-in joins the SSO session it started; the browser should then
    /// hand that session to the auth host.
    async fn signed_in(&self, site: &SitePipeline, s: &SignIn, note: &mut SignInNote) {
        let (Some(handle), false) = (s.sso.as_deref(), s.login.method == LoginMethod::Ott) else {
            return;
        };
        let source = SsoSource {
            namespace: s.login.namespace.clone(),
            holder: s.holds_grant.then(|| (site.core.site.name.clone(), s.sid.encode())),
            acr: s.login.acr.clone(),
            amr: s.login.amr.clone(),
            auth_time: s.login.auth_time,
            email_verified: s.login.email_verified,
            claims: s.login.claims.clone(),
        };
        if let Err(e) = self.group.set_source(handle, &source).await {
            tracing::warn!(site = %site.core.site.name, error = %e, "where the SSO session came from was not recorded");
        }
        match self.group.link(handle, &site.core.site.name, &s.sid).await {
            Ok(true) => note.through_auth_host = true,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(site = %site.core.site.name, error = %e, "SSO session not linked: store unavailable")
            }
        }
    }

    /// Under `logout_scope = "global"` the SSO session and every linked session end,
    /// on every site and replica; under `site`, only the link goes, and the `off`
    /// marker keeps `auto` from signing the shopper straight back in. A logout the
    /// browser marks as coming from another site (logout CSRF) counts as `site`.
    async fn signing_out(
        &self,
        site: &SitePipeline,
        identity: &Identity,
        from_elsewhere: bool,
    ) -> Result<Vec<String>, StoreError> {
        let core = &site.core;
        let Some(handle) = Self::handle(Some(identity)) else {
            return Ok(Vec::new());
        };
        let scope = match from_elsewhere {
            true => LogoutScope::Site,
            false => self.config.logout_scope,
        };
        match scope {
            LogoutScope::Global => {
                let ended = self.group.end(handle).await?;
                tracing::info!(site = %core.site.name, ended, "global logout: the SSO session and its linked sessions ended");
                Ok(vec![core.cookies.set_link(
                    "checked",
                    "1",
                    CHECKED_TTL.as_secs() as i64,
                )])
            }
            LogoutScope::Site => {
                self.group.unlink(handle, &core.site.name, &identity.sid).await?;
                let off = self.group.config.session_ttl.as_secs() as i64;
                Ok(vec![core.cookies.set_link("off", "1", off)])
            }
        }
    }

    /// The SSO session the revoked session started or came from ends, with every
    /// session linked or chained to it, whatever `logout_scope` (which is about a
    /// shopper's click on one shop).
    async fn revoked(&self, site: &SitePipeline, session: &SessionData) -> Result<usize, StoreError> {
        let Some(handle) = session.sso.as_deref() else {
            return Ok(0);
        };
        let ended = self.group.end(handle).await?;
        tracing::info!(site = %site.core.site.name, ended, "revoked: the SSO session and its linked sessions ended");
        Ok(ended)
    }

    fn revalidate_due(&self, session: &SessionData) -> bool {
        session.login.method == LoginMethod::Ott && session.refresh.is_due(now_secs())
    }

    /// A session made from a one-time token, once per revalidation interval: still
    /// linked to a live SSO session, or ended now.
    async fn revalidate(&self, site: &SitePipeline, identity: Identity) -> Option<Identity> {
        let core = &site.core;
        let refresh = &identity.session.refresh;
        let Some(handle) = Self::handle(Some(&identity)) else {
            return Some(identity);
        };
        if !refresh.claim() {
            return Some(identity);
        }
        let alive = match self.group.get(handle).await {
            Ok(Some(_)) => self.grant_live(site, handle).await,
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        match alive {
            Ok(Some(next)) => {
                refresh.retry_in(next.min(refresh.revalidate_secs()));
                Some(identity)
            }
            Ok(None) => {
                refresh.release();
                if let Err(e) = core.stores.sessions.remove(&identity.sid).await {
                    tracing::warn!(site = %core.site.name, error = %e, "session of an ended SSO session not removed");
                }
                core.events
                    .login(&core.site.name, LoginMethod::Ott.as_str(), "sso_session_ended");
                tracing::info!(site = %core.site.name, "the SSO session this session came from, or the IdP grant it follows, has ended; session ended");
                None
            }
            Err(e) => {
                refresh.retry_in(5);
                tracing::warn!(site = %core.site.name, error = %e, "cannot check the SSO session; keeping the session for now");
                Some(identity)
            }
        }
    }

    /// `sso: { linked_sites: [...] }` for `/_sso/session`, on a linked session.
    async fn session_info(
        &self,
        _site: &SitePipeline,
        identity: Option<&Identity>,
    ) -> Option<(&'static str, serde_json::Value)> {
        let handle = Self::handle(identity)?;
        let sites = self.group.linked_sites(handle).await.ok()?;
        Some(("sso", serde_json::json!({ "linked_sites": sites })))
    }
}

#[cfg(test)]
mod revalidate_tests;
