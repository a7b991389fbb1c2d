//! A sign-in on a linked site starts the group's SSO session and hands it to the auth
//! host through the binding round (see [`super`] and docs/cross-site-sso.md).

use super::cookies::Intent;
use super::records::SsoSession;
use crate::auth::SiteAuth;
use crate::reply::Reply;
use crate::secret::Sid;
use crate::sessions::{LoginMethod, SessionData};

impl SiteAuth {
    /// On a linked site, a sign-in here starts an SSO session: its record (who, how,
    /// where), then the handle for the new session's record. The SSO cookie waits in
    /// the store for the binding round ([`Self::link_started`]). `None` on other
    /// sites, or when the store refused (the shopper is signed in here only).
    pub(crate) async fn start_sso(&self, data: &SessionData) -> Option<(super::tokens::SsoSessionId, String)> {
        let group = self.cross_site.as_ref()?;
        let c = &data.customer;
        let record = SsoSession {
            customer_id: c.id.clone(),
            email: c.email.clone(),
            name: c.name.clone(),
            groups: c.groups.clone(),
            method: data.login.method.as_u8(),
            issuer: data.login.issuer.clone().or_else(|| self.default_issuer(data)),
            subject: data.login.subject.clone(),
            idp_session: data.login.idp_session.clone(),
            origin_site: self.site.name.clone(),
            created_at: 0,
            expires_at: 0,
        };
        match group.create(record.clone()).await {
            Ok((id, handle)) => {
                group.index(&handle, &record, &self.site.name, &c.id).await;
                Some((id, handle))
            }
            Err(e) => {
                tracing::warn!(site = %self.site.name, error = %e, "SSO session not started: store unavailable");
                None
            }
        }
    }

    /// The issuer of a sign-in through the site's single `[sites.oidc]`.
    fn default_issuer(&self, data: &SessionData) -> Option<String> {
        (data.login.method == LoginMethod::Oidc)
            .then(|| self.site.oidc.as_ref().map(|o| o.issuer.as_str().to_string()))
            .flatten()
    }

    /// After the session `sid` of a sign-in here was stored with the SSO handle of
    /// [`Self::start_sso`]: link it and keep the SSO cookie for the binding round.
    /// True when the browser should now do that round.
    pub(crate) async fn link_started(&self, sid: &Sid, started: (super::tokens::SsoSessionId, String)) -> bool {
        let Some(group) = &self.cross_site else {
            return false;
        };
        let (id, handle) = started;
        let linked = group.link(&handle, &self.site.name, sid).await;
        let stashed = match linked {
            Ok(true) => group.stash_pending(sid, &id).await,
            Ok(false) => return false,
            Err(e) => Err(e),
        };
        match stashed {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(site = %self.site.name, error = %e, "SSO session not linked: store unavailable");
                false
            }
        }
    }

    /// Where the browser goes after a sign-in here that started an SSO session: the
    /// auth host's binding round, then on to `target`.
    pub(crate) fn through_auth_host(&self, target: &str) -> Reply {
        self.to_auth_host(None, Intent::Bind, target, None)
            .header("set-cookie", self.cookies.set_link("off", "", 0))
            .header("set-cookie", self.cookies.set_link("checked", "", 0))
    }
}
