//! `<sso_prefix>/logout` (`GET` or `POST`): ends the browser's session, what the
//! features keep with it (on a linked site the SSO session, or only the link), and
//! the IdP session where configured. Only the browser's own cookie ends the session
//! (and every API token minted from it); an API token cannot sign its browser out. A
//! prefetch never signs out; a logout another site's page set off ends only this
//! site's session. Within `server.rate_limits.logout`.

use super::{Feature, GatewayPath, SitePipeline, SiteRequest};
use crate::auth::Identity;
use crate::rate_limit::Endpoint;
use crate::reply::{store_unavailable, Reply};

/// The logout endpoint.
pub struct Logout;

#[async_trait::async_trait]
impl Feature for Logout {
    fn name(&self) -> &'static str {
        "logout"
    }

    fn paths(&self) -> Vec<GatewayPath> {
        vec![GatewayPath::UnderPrefix("/logout")]
    }

    async fn answer(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Reply {
        if r.store_down {
            return store_unavailable(r.json);
        }
        if !(r.is_get() || r.req.method == http::Method::POST) {
            return Reply::error(405, "method_not_allowed", "This method is not allowed here.", r.json);
        }
        if let Some(limited) = site.core.over_limit(Endpoint::Logout, r.client, r.json).await {
            return limited;
        }
        // A prefetch (speculation rules, `<link rel=prefetch>`) never signs out.
        if crate::navigation::is_prefetch(&r.req.headers) {
            return Reply::error(400, "not_a_page_load", "Open this link in the browser.", r.json);
        }
        let from_elsewhere = crate::navigation::from_another_site(&r.req.headers);
        sign_out(site, r.identity, r.json, from_elsewhere).await
    }
}

/// `from_elsewhere`: the browser says another site sent it here (a logout there
/// ends only this site's session, not the group's).
pub async fn sign_out(site: &SitePipeline, identity: Option<&Identity>, json: bool, from_elsewhere: bool) -> Reply {
    let core = &site.core;
    // Only the browser's own cookie ends the session (and every API token minted
    // from it); an API token cannot sign its browser out.
    let ending = identity.filter(|i| i.from_cookie());
    let id_token = ending.and_then(|i| i.session.id_token.clone());
    let mut linked_cookies = Vec::new();
    if let Some(i) = ending {
        // The session must be gone everywhere before the shopper is told so.
        if let Err(e) = core.stores.sessions.remove(&i.sid).await {
            tracing::warn!(site = %core.site.name, error = %e, "logout failed: session store unavailable");
            return store_unavailable(json);
        }
        // And what the features keep with it (on a linked site, the SSO session
        // or only the link).
        match site.signing_out(i, from_elsewhere).await {
            Ok(cookies) => linked_cookies = cookies,
            Err(e) => {
                tracing::warn!(site = %core.site.name, error = %e, "logout failed: the linked sessions could not be ended");
                return store_unavailable(json);
            }
        }
        // The session is gone here: its IdP token is revoked at the IdP that issued
        // it, in the background (RFC 7009, best effort; `oidc::revocation`).
        if let Some(idp) = core.idps.of_session(&i.session) {
            idp.flow.revoke_at_logout(&i.session);
        }
    }
    // A session a customer-login JWT started has nothing to end at the IdP; an IdP
    // session ends at the IdP that signed it in and no other (`Idps::for_logout`);
    // a session of cross-site sign-on ends at this site's IdP only when that is the
    // IdP the shopper signed in with on the first shop (without `id_token_hint`: the
    // IdP may ask to confirm).
    // A logout another site's page set off on a linked site stays on the site: the
    // IdP's end-session would end the group's sign-in (back-channel logout).
    let ends_at = |idp: &crate::auth::idps::Idp| match ending.map(|i| &i.session.login) {
        _ if from_elsewhere && site.features.cross_site.is_some() => false,
        Some(l) if l.method == crate::sessions::LoginMethod::CustomerLogin => false,
        // A site-only logout of such a session must not end the group's IdP session.
        Some(l) if l.method == crate::sessions::LoginMethod::Ott => {
            core.site.sso.logout_scope == sso_config::sso::LogoutScope::Global
                && !from_elsewhere
                && l.issuer
                    .as_deref()
                    .is_some_and(|iss| iss == idp.flow.provider.config.issuer.as_str())
        }
        _ => true,
    };
    let target = match core.idps.for_logout(ending.map(|i| &*i.session)) {
        Some(idp) if ends_at(idp) => idp.flow.logout_target(id_token.as_deref()),
        Some(idp) => idp.flow.provider.config.post_logout_path.clone(),
        // No IdP to end (several IdPs and none signed this visitor in): the
        // platform's logout page when the site has one, else the home page.
        None => core
            .site
            .platform_login
            .as_ref()
            .map_or_else(|| "/".to_string(), |p| p.logout_path.clone()),
    };
    linked_cookies.into_iter().fold(
        Reply::redirect(303, target).header("set-cookie", core.cookies.clear_session()),
        |reply, cookie| reply.header("set-cookie", cookie),
    )
}
