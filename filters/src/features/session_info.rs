//! What a storefront's own pages and scripts ask of the session:
//! `<sso_prefix>/session` (JSON about the session, with what features add, e.g. the
//! sites linked by cross-site sign-on), `<sso_prefix>/token` (a short-lived API token
//! for the browser's session) and `<sso_prefix>/jwks.json` (the keys origins verify
//! the gateway's tokens with). The first two are personal: no other origin may load
//! them (CORP), and a page of another site that makes the browser ask gets no token.

use super::{Feature, GatewayPath, SitePipeline, SiteRequest};
use crate::auth::{Identity, SiteAuth};
use crate::rate_limit::Endpoint;
use crate::reply::{store_unavailable, Reply};

/// `/session`, `/token` and `/jwks.json`.
pub struct SessionInfo;

#[async_trait::async_trait]
impl Feature for SessionInfo {
    fn name(&self) -> &'static str {
        "session_info"
    }

    fn paths(&self) -> Vec<GatewayPath> {
        vec![
            GatewayPath::UnderPrefix("/session"),
            GatewayPath::UnderPrefix("/token"),
            GatewayPath::UnderPrefix("/jwks.json"),
        ]
    }

    async fn answer(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Reply {
        let core = &site.core;
        let path = r.under_prefix.unwrap_or_default();
        let allowed = r.is_get() || (path == "/token" && r.req.method == http::Method::POST);
        if !allowed {
            return Reply::error(405, "method_not_allowed", "This method is not allowed here.", r.json);
        }
        match path {
            "/jwks.json" => Reply::json(200, &core.signer.jwks).header("cache-control", "public, max-age=300"),
            _ if r.store_down => store_unavailable(true),
            "/session" => session_json(site, r.identity)
                .await
                .header("cross-origin-resource-policy", "same-origin"),
            _ => {
                let asked_cross_site = crate::navigation::from_another_site(&r.req.headers);
                let identity = r.identity.filter(|_| !asked_cross_site);
                core.over_limit(Endpoint::Token, r.client, true)
                    .await
                    .unwrap_or_else(|| token_json(core, identity))
                    .header("cross-origin-resource-policy", "same-origin")
            }
        }
    }
}

/// `{"authenticated", "customer", "expires_at", "idle_expires_at"}` and what the
/// features add. `expires_at`: when the session ends however it is used (its
/// absolute end); `idle_expires_at`: when it ends if it is not used again (its idle
/// deadline as the store holds it, never after `expires_at`; asking here is a use
/// like any other request, so it may have just moved). `null` when not known.
async fn session_json(site: &SitePipeline, identity: Option<&Identity>) -> Reply {
    use crate::sessions::rfc3339;
    let mut value = match identity {
        Some(i) => {
            let login = &i.session.login;
            let sessions = &site.core.stores.sessions;
            let ends_at = sessions.timeouts().of(&i.session.site).ends_at(&i.session);
            let idle_until = sessions.idle_until(&i.sid).await.ok().flatten();
            serde_json::json!({
                "authenticated": true,
                "customer": i.customer(),
                "expires_at": rfc3339(ends_at),
                "idle_expires_at": idle_until.map(|t| rfc3339(t.min(ends_at))),
                "auth_time": rfc3339(i.session.signed_in_at()),
                "method": login.method.as_str(),
            })
        }
        None => serde_json::json!({
            "authenticated": false,
            "customer": null,
            "expires_at": null,
            "idle_expires_at": null,
        }),
    };
    for feature in site.features.iter() {
        if let (Some((key, extra)), Some(obj)) = (feature.session_info(site, identity).await, value.as_object_mut()) {
            obj.insert(key.into(), extra);
        }
    }
    Reply::json(200, &value)
}

/// A fresh API token (`typ: at+jwt`, `aud` `<site>:api`) for the session of the
/// browser's cookie, in the OAuth 2.0 token response shape (RFC 6749 §5.1). An API
/// token cannot get another: its holder never outlives its `token.ttl` without the
/// cookie.
fn token_json(core: &SiteAuth, identity: Option<&Identity>) -> Reply {
    let token = identity.filter(|i| i.from_cookie()).and_then(|i| core.api_token(i));
    match token {
        Some((token, exp)) => Reply::json(
            200,
            &serde_json::json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": exp.saturating_sub(crate::sessions::now_secs()),
            }),
        ),
        None => Reply::error(401, "login_required", "Sign in to get a token.", true)
            .header("www-authenticate", format!("Bearer realm=\"{}\"", core.site.name)),
    }
}
