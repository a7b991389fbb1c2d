//! `<sso_prefix>/sso-data` on a linked site (docs/cross-site-sso.md, "SSO data"): a
//! small JSON document stored with the SSO session, so every linked site of the
//! group reads (`GET`) and writes (`PUT`) the same one. Personal: `no-store`, and no
//! other origin may load it (CORP); a request another site's page made is refused.

use super::{Feature, GatewayPath, SitePipeline, SiteRequest};
use crate::auth::Identity;
use crate::cross_site::data::parse_sso_data;
use crate::cross_site::group::MAX_DATA;
use crate::cross_site::SsoGroup;
use crate::navigation::from_another_site;
use crate::reply::{store_unavailable, wants_json, Reply};
use crate::store::StoreError;
use http::Method;

/// The SSO data endpoint, on a linked site.
pub struct SsoData;

impl SsoData {
    pub fn from_config(site: &sso_config::SiteConfig) -> Option<Self> {
        site.sso.linked().then_some(SsoData)
    }
}

#[async_trait::async_trait]
impl Feature for SsoData {
    fn name(&self) -> &'static str {
        "sso_data"
    }

    fn paths(&self) -> Vec<GatewayPath> {
        vec![GatewayPath::UnderPrefix("/sso-data")]
    }

    fn body_limit(&self, req: &http::request::Parts, _under_prefix: &str) -> Option<usize> {
        // The shared document (a longer body is refused with 413).
        (req.method == Method::PUT).then_some(MAX_DATA)
    }

    async fn answer(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Reply {
        if r.store_down {
            return store_unavailable(true);
        }
        let reply = match &r.req.method {
            &Method::PUT => Self::put(site, r.req, r.identity, r.body.unwrap_or_default()).await,
            _ if r.is_get() => Self::get(site, r.req, r.identity).await,
            _ => return Reply::error(405, "method_not_allowed", "This method is not allowed here.", r.json),
        };
        reply
            .header("cache-control", "no-store")
            .header("cross-origin-resource-policy", "same-origin")
    }
}

impl SsoData {
    /// `GET <sso_prefix>/sso-data`: the SSO session's shared document.
    async fn get(site: &SitePipeline, req: &http::request::Parts, identity: Option<&Identity>) -> Reply {
        let (group, handle) = match Self::target(site, req, identity) {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        match group.get(handle).await {
            Ok(Some(_)) => {}
            Ok(None) => return Reply::error(404, "sso_session_ended", "The shared sign-in has ended.", true),
            Err(_) => return store_unavailable(true),
        }
        match group.data(handle).await {
            Ok(doc) => Reply::json(200, &doc),
            Err(StoreError::Unavailable(_)) => store_unavailable(true),
            Err(_) => Reply::json(200, &serde_json::json!({})),
        }
    }

    /// `PUT <sso_prefix>/sso-data`: replaces the shared document with `body`, a JSON
    /// object of at most 4 KiB sent as `application/json`.
    async fn put(site: &SitePipeline, req: &http::request::Parts, identity: Option<&Identity>, body: &[u8]) -> Reply {
        let (group, handle) = match Self::target(site, req, identity) {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        if !crate::request_parts::has_media_type(&req.headers, "application/json") {
            return Reply::error(
                415,
                "unsupported_media_type",
                "Send the data as application/json.",
                true,
            );
        }
        let doc = match parse_sso_data(body) {
            Ok(doc) => doc,
            Err(reply) => {
                site.core.events.rejected(&site.core.site.name, "bad_sso_data");
                return reply;
            }
        };
        let session = match group.get(handle).await {
            Ok(Some(s)) => s,
            Ok(None) => return Reply::error(404, "sso_session_ended", "The shared sign-in has ended.", true),
            Err(_) => return store_unavailable(true),
        };
        match group.put_data(&session, handle, &doc).await {
            Ok(()) => Reply::json(200, &doc),
            Err(_) => store_unavailable(true),
        }
    }

    /// The SSO session a `sso-data` request is about, or the reply refusing it.
    fn target<'a>(
        site: &'a SitePipeline,
        req: &http::request::Parts,
        identity: Option<&'a Identity>,
    ) -> Result<(&'a SsoGroup, &'a str), Reply> {
        let core = &site.core;
        let Some(group) = site.features.cross_site.as_ref().map(|c| &c.group) else {
            return Err(Reply::error(
                404,
                "not_found",
                "There is nothing here.",
                wants_json(&req.headers),
            ));
        };
        if from_another_site(&req.headers) {
            core.events.rejected(&core.site.name, "cross_site_request");
            return Err(Reply::error(403, "cross_site_request", "Not from another site.", true));
        }
        let Some(identity) = identity else {
            return Err(core.login_required(true));
        };
        match identity.session.sso.as_deref() {
            Some(handle) => Ok((group, handle)),
            None => Err(Reply::error(
                404,
                "not_linked",
                "This sign-in is not shared with the other shops.",
                true,
            )),
        }
    }
}
