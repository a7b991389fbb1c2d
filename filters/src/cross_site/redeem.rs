//! Redeeming a one-time token at a linked site: a new session here, linked to the
//! group's SSO session, as the customer this site knows the shopper as.

use super::cookies::Intent;
use super::group::OttError;
use super::records::SsoSession;
use crate::auth::{Identity, SiteAuth};
use crate::connectors::provisioning::HookRequest;
use crate::reply::Reply;
use crate::secret::Sid;
use crate::sessions::LoginMethod;
use std::net::IpAddr;

impl SiteAuth {
    /// Redeems a one-time token: a new session here, linked to the SSO session.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn redeem(
        &self,
        token: &str,
        state: &str,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
        return_to: &str,
        intent: Intent,
        login_query: Option<String>,
    ) -> Reply {
        let Some(group) = &self.cross_site else {
            return Reply::redirect(303, return_to.to_string());
        };
        let method = LoginMethod::Ott.as_str();
        let failed = |code: &str| {
            self.events.login(&self.site.name, method, code);
            self.events.one_time_token(&self.site.name, "refused");
            self.events.rejected(&self.site.name, "bad_ott");
            tracing::info!(site = %self.site.name, reason = code, "one-time token refused");
            self.no_sso_session(intent, return_to, login_query.as_deref())
        };
        let (grant, sso) = match group.redeem(token, &self.site.name, state).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => return failed(e.code()),
            Err(e) => {
                tracing::warn!(site = %self.site.name, error = %e, "one-time token not redeemed: store unavailable");
                self.events.login(&self.site.name, method, "store_unavailable");
                return crate::auth::store_unavailable(false);
            }
        };
        let (customer, namespace) = match self.customer_of(group, &sso).await {
            Ok(found) => found,
            Err(code) => return failed(code),
        };
        self.end_previous(identity).await;
        let customer_id = customer.id.clone();
        let data = self
            .new_session_data(customer, sso.login_source().in_namespace(namespace))
            .linked_to(Some(grant.handle.clone()));
        let (login, expires_at) = (data.login.clone(), data.expires_at);
        let id = match self.stores.sessions.create(data).await {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(site = %self.site.name, error = %e, "one-time token sign-in failed: store unavailable");
                self.events.login(&self.site.name, method, "store_unavailable");
                return crate::auth::store_unavailable(false);
            }
        };
        let sid = Sid::of(&id);
        match group.link(&grant.handle, &self.site.name, &sid).await {
            Ok(true) => {}
            other => {
                // Ended meanwhile (a global logout), full, or not recorded: this
                // session must not outlive the SSO session it came from.
                if let Err(e) = self.stores.sessions.remove(&sid).await {
                    tracing::warn!(site = %self.site.name, error = %e, "unlinked session not removed");
                }
                return match other {
                    Err(_) => crate::auth::store_unavailable(false),
                    _ => failed(OttError::SessionEnded.code()),
                };
            }
        }
        // An IdP's back-channel logout of the first sign-in reaches this session too,
        // and support's `DELETE /sessions` of this customer here, the SSO session.
        self.index_for_backchannel(&sid, &login, expires_at).await;
        group.index(&grant.handle, &sso, &self.site.name, &customer_id).await;
        self.events.login(&self.site.name, method, "success");
        self.events.one_time_token(&self.site.name, "redeemed");
        tracing::info!(site = %self.site.name, origin = %sso.origin_site, first_method = sso.first_method(), "signed in by one-time token");
        let target = self
            .platform_handoff(&customer_id, return_to, client)
            .unwrap_or_else(|| return_to.to_string());
        Reply::redirect(303, target)
            .header("set-cookie", self.cookies.set_session(&id))
            .header("set-cookie", self.cookies.set_link("off", "", 0))
    }

    /// The customer this site knows an SSO session's shopper as, and the namespace of
    /// its id: its provisioning hook's answer (method `ott`) when it has one, else the
    /// customer as the first site signed them in, but only when that id means the
    /// same customer here (the namespaces of `sso_config::namespaces`; `check`
    /// refuses a group where it would not, and this is the second line). `Err` is a
    /// metric code.
    async fn customer_of(
        &self,
        group: &super::SsoGroup,
        sso: &SsoSession,
    ) -> Result<(crate::identity::Customer, String), &'static str> {
        let mut customer = sso.customer();
        let Some(hook) = self.site.hook_namespace() else {
            return match group.namespace_for(&self.site, sso) {
                Ok(namespace) => Ok((customer, namespace)),
                Err(e) => {
                    tracing::warn!(site = %self.site.name, origin = %sso.origin_site, "one-time token refused: the SSO session's customer id is of another customer namespace");
                    Err(e.code())
                }
            };
        };
        if let Some(provisioner) = &self.connectors.provisioner {
            let issuer = sso
                .issuer
                .clone()
                .unwrap_or_else(|| format!("site:{}", sso.origin_site));
            let who = HookRequest {
                site: &self.site.name,
                method: LoginMethod::Ott.as_str(),
                issuer: &issuer,
                subject: &sso.subject,
                email: sso.email.as_deref(),
                email_verified: None,
                name: sso.name.as_deref(),
                groups: &sso.groups,
                idp: None,
            };
            match provisioner.provision(&who).await {
                Ok(found) => {
                    customer.id = found.customer_id;
                    customer.groups = found.groups;
                }
                Err(e) => {
                    tracing::warn!(site = %self.site.name, error = %e, "one-time token sign-in: provisioning failed");
                    return Err(e.code());
                }
            }
            if customer.groups.is_empty() {
                customer.groups = self
                    .site
                    .provisioning
                    .iter()
                    .filter_map(|p| p.default_group.clone())
                    .collect();
            }
        }
        Ok((customer, hook))
    }
}
