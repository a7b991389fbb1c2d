//! The request phase of a request for a known site, in order: the canonical path
//! (400 when ambiguous; the origin is sent this path), the forwarded headers, identity
//! headers stripped, the body of a gateway-owned request that needs it (bounded),
//! identity (session cookie or gateway bearer token, refreshed when due), then the
//! site's pipeline: its endpoints, its gates, and what its features change upstream.
//! The first that answers ends the request. Nothing here names a feature.

use crate::metrics::AccessLabel;
use crate::proxy::GatewayProxy;
use crate::request_ctx::RequestCtx;
use crate::respond::write_reply;
use crate::site::Site;
use pingora::prelude::*;
use pingora::proxy::Session;
use sso_filters::features::{SiteRequest, UpstreamEdits};
use sso_filters::forwarded::unbelieved_headers;
use sso_filters::reply::wants_json;
use sso_filters::request_path::{RequestPath, TargetError};
use sso_filters::{Flow, Reply};

/// What the canonical path of a request changes: the target to rewrite to, and the
/// route key when it differs from the path.
pub(crate) struct Target {
    rewrite: Option<String>,
    route_key: Option<String>,
}

impl Target {
    pub(crate) fn of(path: &RequestPath<'_>) -> Self {
        Target {
            rewrite: path.rewritten.then(|| path.target()),
            route_key: (path.route_key() != path.path).then(|| path.route_key().to_string()),
        }
    }
}

/// What the pipeline decided: proxy with these edits, or answer.
enum Decision {
    Proxy(UpstreamEdits),
    Answer(Reply),
}

impl GatewayProxy {
    /// The phase of a request for the site `ctx.site` names.
    pub(crate) async fn site_request(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        target: Target,
    ) -> Result<bool> {
        let snapshot = ctx.snapshot.clone();
        let Some(site) = ctx.site.and_then(|i| snapshot.sites.get(i)) else {
            return Ok(false);
        };
        if let Err(e) = self.prepare(session, ctx, site, target.rewrite) {
            return self.refuse_target(session, ctx, e).await;
        }
        // A gateway-owned request that needs its body (a back-channel logout token)
        // has it read here, bounded in size and time; no other body is touched.
        let body = match site.pipeline.body_limit(session.req_header()) {
            Some(limit) => match crate::request_body::read_limited(session, limit).await {
                Ok(body) => Some(body),
                Err(reply) => return self.answer(session, ctx, site, reply).await,
            },
            None => None,
        };
        let req: &http::request::Parts = session.req_header();
        let (identity, store_down) = match site.pipeline.identify(&req.headers).await {
            Ok(found) => (found, false),
            Err(e) => {
                tracing::warn!(site = %site.name, error = %e, "cannot check the session: store unavailable");
                (None, true)
            }
        };
        let route_key = target.route_key.as_deref().unwrap_or(req.uri.path());
        let route = site.pipeline.route(route_key, req.uri.path());
        let r = SiteRequest {
            req,
            path: req.uri.path(),
            under_prefix: site.pipeline.under_prefix(req.uri.path()),
            identity: identity.as_ref(),
            client: ctx.client_ip,
            peer_trusted: ctx.forwarded.as_ref().is_some_and(|f| f.peer_trusted),
            store_down,
            body: body.as_deref(),
            json: wants_json(&req.headers),
            route,
        };
        let decided = Self::decide(site, &r, ctx).await;
        ctx.identity = identity;
        match decided {
            Decision::Proxy(edits) => self.apply(session, ctx, edits),
            Decision::Answer(reply) => self.answer(session, ctx, site, reply).await,
        }
    }

    /// Rewrites the target to the canonical path, decides the forwarded headers, and
    /// strips what the client may not send (identity headers, unbelieved forwarding).
    fn prepare(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        site: &Site,
        rewrite: Option<String>,
    ) -> std::result::Result<(), TargetError> {
        let forwarded = Self::forwarded(&ctx.snapshot, session);
        ctx.client_ip = forwarded.client_ip;
        let peer_trusted = forwarded.peer_trusted;
        ctx.forwarded = Some(forwarded);
        let req = session.req_header_mut();
        if let Some(target) = rewrite {
            let mut parts = req.uri.clone().into_parts();
            parts.path_and_query = http::uri::PathAndQuery::try_from(target).ok();
            match http::Uri::from_parts(parts) {
                Ok(uri) => req.set_uri(uri),
                Err(_) => return Err(TargetError::BadCharacter),
            }
        }
        self.strip_identity_headers(&ctx.snapshot, req, &site.name);
        // A request under `sso_prefix` is always the gateway's to answer, never
        // proxied: a trusted proxy's `X-Original-URL` stays there (forward-auth).
        let answered_here = site.pipeline.under_prefix(req.uri.path()).is_some();
        for name in unbelieved_headers(&req.headers, peer_trusted, answered_here) {
            req.remove_header(&name);
        }
        Ok(())
    }

    /// The site's pipeline for a request: its endpoints, then its gates, then what its
    /// features change upstream. Counts which kind of rule answered.
    async fn decide(site: &Site, r: &SiteRequest<'_>, ctx: &mut RequestCtx) -> Decision {
        if let Flow::Respond(reply) = site.pipeline.endpoints(r).await {
            ctx.access = AccessLabel::Gateway;
            return Decision::Answer(reply);
        }
        ctx.access = AccessLabel::from(r.route.access);
        if let Flow::Respond(reply) = site.pipeline.gate(r).await {
            return Decision::Answer(reply);
        }
        match site.pipeline.upstream(r) {
            Ok(edits) => Decision::Proxy(edits),
            Err(reply) => Decision::Answer(reply),
        }
    }

    /// The features' upstream edits: removals and `Cookie` now, the headers they set
    /// in `upstream_request_filter`.
    fn apply(&self, session: &mut Session, ctx: &mut RequestCtx, edits: UpstreamEdits) -> Result<bool> {
        ctx.upstream_set = edits.set;
        let req = session.req_header_mut();
        for name in &edits.remove {
            req.remove_header(name);
        }
        if let Some(kept) = edits.cookies {
            req.remove_header(&http::header::COOKIE);
            for value in kept {
                req.append_header(http::header::COOKIE, value)?;
            }
        }
        Ok(false)
    }

    /// Writes the gateway's own answer (with HSTS on an https site).
    async fn answer(&self, session: &mut Session, ctx: &mut RequestCtx, site: &Site, reply: Reply) -> Result<bool> {
        let reply = match &site.hsts {
            Some(hsts) => reply.header("strict-transport-security", hsts.clone()),
            None => reply,
        };
        let reply = ctx.stamp(reply, session.req_header());
        write_reply(session, reply).await?;
        Ok(true)
    }
}
