//! Redeeming a one-time token at a linked site: a new session here, linked to the
//! group's SSO session, as the customer this site knows the shopper as.

use super::CrossSite;
use crate::auth::Identity;
use crate::connectors::provisioning::HookRequest;
use crate::cross_site::cookies::Intent;
use crate::cross_site::group::OttError;
use crate::cross_site::records::{SsoSession, SsoSource};
use crate::cross_site::SsoGroup;
use crate::features::{SignIn, SitePipeline};
use crate::reply::{store_unavailable, Reply};
use crate::secret::Sid;
use crate::sessions::LoginMethod;
use std::net::IpAddr;

/// A link round that came back with a one-time token.
pub struct Round<'a> {
    pub token: &'a str,
    /// The state this browser holds for the round.
    pub state: &'a str,
    pub client: Option<IpAddr>,
    pub return_to: &'a str,
    pub intent: Intent,
    /// The `/login` query to go on with when the token does not sign in.
    pub login_query: Option<String>,
}

/// Redeems a one-time token: a new session here, linked to the SSO session.
pub async fn redeem(
    cross_site: &CrossSite,
    site: &SitePipeline,
    identity: Option<&Identity>,
    round: Round<'_>,
) -> Reply {
    let core = &site.core;
    let group = &cross_site.group;
    let Round {
        token,
        state,
        client,
        return_to,
        intent,
        login_query,
    } = round;
    {
        let method = LoginMethod::Ott.as_str();
        let failed = |code: &str| {
            core.events.login(&core.site.name, method, code);
            core.events.one_time_token(&core.site.name, "refused");
            core.events.rejected(&core.site.name, "bad_ott");
            tracing::info!(site = %core.site.name, reason = code, "one-time token refused");
            cross_site.no_sso_session(core, intent, return_to, login_query.as_deref())
        };
        let (grant, sso) = match group.redeem(token, &core.site.name, state).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => return failed(e.code()),
            Err(e) => {
                tracing::warn!(site = %core.site.name, error = %e, "one-time token not redeemed: store unavailable");
                core.events.login(&core.site.name, method, "store_unavailable");
                return store_unavailable(false);
            }
        };
        // The IdP grant the SSO session follows must still be good (revoked, gone or
        // long overdue: no sign-in without the IdP).
        let Ok(source) = group.source(&grant.handle).await else {
            return store_unavailable(false);
        };
        let next_check = match cross_site.grant_live_of(site, source.as_ref()).await {
            Ok(Some(next)) => next,
            Ok(None) => return failed("sso_grant_ended"),
            Err(_) => return store_unavailable(false),
        };
        let (customer, namespace) = match customer_of(site, group, source.as_ref(), &sso).await {
            Ok(found) => found,
            Err(code) => return failed(code),
        };
        core.end_previous(identity).await;
        let customer_id = customer.id.clone();
        // How the shopper authenticated, as the first sign-in recorded it.
        let from_sso = sso.login_source().in_namespace(namespace);
        let login = match source {
            Some(s) => crate::sessions::LoginSource {
                acr: s.acr,
                amr: s.amr,
                // The sign-in it came from, when that was recorded.
                auth_time: if s.auth_time == 0 {
                    from_sso.auth_time
                } else {
                    s.auth_time
                },
                email_verified: s.email_verified,
                claims: s.claims,
                ..from_sso
            },
            None => from_sso,
        };
        let data = core
            .new_session_data(customer, login)
            .linked_to(Some(grant.handle.clone()));
        let (customer, email_verified) = (data.customer.clone(), data.login.email_verified);
        // Checked again when the grant's holder is due next, if that comes first.
        data.refresh.retry_in(next_check.min(data.refresh.revalidate_secs()));
        let (login, expires_at) = (data.login.clone(), data.expires_at);
        let id = match core.stores.sessions.create(data).await {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(site = %core.site.name, error = %e, "one-time token sign-in failed: store unavailable");
                core.events.login(&core.site.name, method, "store_unavailable");
                return store_unavailable(false);
            }
        };
        let sid = Sid::of(&id);
        match group.link(&grant.handle, &core.site.name, &sid).await {
            Ok(true) => {}
            other => {
                // Ended meanwhile (a global logout), full, or not recorded: this
                // session must not outlive the SSO session it came from.
                if let Err(e) = core.stores.sessions.remove(&sid).await {
                    tracing::warn!(site = %core.site.name, error = %e, "unlinked session not removed");
                }
                return match other {
                    Err(_) => store_unavailable(false),
                    _ => failed(OttError::SessionEnded.code()),
                };
            }
        }
        // An IdP's back-channel logout of the first sign-in reaches this session too,
        // and support's `DELETE /sessions` of this customer here, the SSO session.
        let signed_in = SignIn {
            sid,
            login,
            customer_id: customer_id.clone(),
            expires_at,
            sso: Some(grant.handle.clone()),
            holds_grant: false,
        };
        site.announce_sign_in(&signed_in).await;
        group.index(&grant.handle, &sso, &core.site.name, &customer_id).await;
        core.events.login(&core.site.name, method, "success");
        core.events.one_time_token(&core.site.name, "redeemed");
        tracing::info!(site = %core.site.name, origin = %sso.origin_site, first_method = sso.first_method(), "signed in by one-time token");
        // On a site with a platform hand-off, the shopper goes on to the platform.
        site.landing(&crate::features::Landing {
            customer: &customer,
            email_verified,
            method: LoginMethod::Ott,
            return_to,
            client,
            json: false,
        })
        .header("set-cookie", core.cookies.set_session(&id))
        .header("set-cookie", core.cookies.set_link("off", "", 0))
    }
}

/// The customer this site knows an SSO session's shopper as, and the namespace of
/// its id: its provisioning hook's answer (method `ott`) when it has one, else the
/// customer as the first site signed them in, but only when that id means the
/// same customer here (the namespaces of `sso_config::namespaces`; `check`
/// refuses a group where it would not, and this is the second line). `Err` is a
/// metric code.
async fn customer_of(
    site: &SitePipeline,
    group: &SsoGroup,
    source: Option<&SsoSource>,
    sso: &SsoSession,
) -> Result<(crate::identity::Customer, String), &'static str> {
    let core = &site.core;
    let mut customer = sso.customer();
    let Some(hook) = core.site.hook_namespace() else {
        return match group.namespace_for(&core.site, group.namespace_of(source, sso)) {
            Ok(namespace) => Ok((customer, namespace)),
            Err(e) => {
                tracing::warn!(site = %core.site.name, origin = %sso.origin_site, "one-time token refused: the SSO session's customer id is of another customer namespace");
                Err(e.code())
            }
        };
    };
    if let Some(provisioner) = &site.features.provisioning {
        let issuer = sso
            .issuer
            .clone()
            .unwrap_or_else(|| format!("site:{}", sso.origin_site));
        let who = HookRequest {
            site: &core.site.name,
            method: LoginMethod::Ott.as_str(),
            issuer: &issuer,
            subject: &sso.subject,
            email: sso.email.as_deref(),
            email_verified: None,
            name: sso.name.as_deref(),
            groups: &sso.groups,
            idp: None,
        };
        match provisioner.map(&who).await {
            Ok(found) => {
                customer.id = found.customer_id;
                customer.groups = found.groups;
            }
            Err(e) => {
                tracing::warn!(site = %core.site.name, error = %e, "one-time token sign-in: provisioning failed");
                return Err(e.code());
            }
        }
        if customer.groups.is_empty() {
            customer.groups = core
                .site
                .provisioning
                .iter()
                .filter_map(|p| p.default_group.clone())
                .collect();
        }
    }
    Ok((customer, hook))
}
