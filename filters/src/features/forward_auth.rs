//! Forward-auth: `GET <sso_prefix>/auth` (and `HEAD`) makes the gateway the auth
//! service of an existing proxy — nginx `auth_request`, Traefik `forwardAuth`, Caddy
//! `forward_auth` — on a site with `[sites.forward_auth] enabled = true`
//! (docs/forward-auth.md).
//!
//! The proxy asks about the request it holds, named by its forwarding headers
//! ([`crate::forwarded_url`]), believed only from `server.trusted_proxies`. The URL's
//! host must be one of this site's (no site answers for another's); its path is
//! read exactly as the gateway reads a request's (ambiguous: 400), and the site's
//! route table picks the rule. The decision is the site's own: a request with the
//! forwarded method, path and query and this request's headers (the browser's
//! `Cookie`, `Sec-Fetch-*`, `Accept`) goes through the site's gates and upstream
//! edits, so every route policy applies as if the gateway were the proxy.
//!
//! One exception: an anonymous page load on a `login` or `api` route is answered
//! here, without the gates — a sign-in is never started from a subrequest (it keeps
//! a pending login and sets a cookie each time). On a `login` route: 401 with the
//! sign-in address in `X-Sso-Redirect` (`mode = "status"`, for nginx's
//! `error_page 401`), or a 302 to it (`mode = "redirect"`, for Traefik and Caddy);
//! on an `api` route, 401 JSON.
//!
//! The answers: 200 carries every identity header of the site, empty when unknown
//! (Caddy 2.6's `copy_headers` would otherwise pass a literal placeholder to the
//! origin), and whatever else the features set upstream; a gate's answer (403 for a
//! failed requirement, a step-up challenge) passes as the gate made it, except that in
//! status mode a redirect becomes 401 + `X-Sso-Redirect` (nginx accepts no 3xx from
//! an auth subrequest). Every answer is `Cache-Control: no-store`.

use super::{Feature, GatewayPath, SitePipeline, SiteRequest, UpstreamEdits};
use crate::forwarded_url::{forwarded_url, ForwardedUrl};
use crate::navigation::{is_navigation, is_page_request};
use crate::reply::{store_unavailable, wants_json, Reply};
use crate::request_path::RequestPath;
use crate::return_to::return_to_or_root;
use crate::Flow;
use http::{HeaderName, HeaderValue};
use sso_config::{Access, ForwardAuthMode, SiteConfig};

/// Where the browser should go instead, in a status-mode 401.
pub const REDIRECT_HEADER: &str = "x-sso-redirect";

/// `<sso_prefix>/auth`.
pub struct ForwardAuth {
    mode: ForwardAuthMode,
    /// Every identity header name of the site, answered on each 200.
    names: Vec<HeaderName>,
}

impl ForwardAuth {
    pub fn from_config(site: &SiteConfig) -> Option<Self> {
        let mode = site.forward_auth?;
        let names = site
            .identity_headers
            .all()
            .into_iter()
            .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
            .collect();
        Some(ForwardAuth { mode, names })
    }
}

#[async_trait::async_trait]
impl Feature for ForwardAuth {
    fn name(&self) -> &'static str {
        "forward_auth"
    }

    fn paths(&self) -> Vec<GatewayPath> {
        vec![GatewayPath::UnderPrefix("/auth")]
    }

    async fn answer(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Reply {
        let reply = match self.check(site, r).await {
            Ok(reply) | Err(reply) => reply,
        };
        no_store(reply)
    }
}

impl ForwardAuth {
    /// The answer to the proxy; `Err` for a request that names nothing to decide.
    async fn check(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Result<Reply, Reply> {
        let core = &site.core;
        let refuse = |status: u16, code: &'static str, message: &str| {
            core.events.rejected(&core.site.name, code);
            tracing::info!(site = %core.site.name, reason = code, "forward-auth request refused");
            Reply::error(status, code, message, r.json)
        };
        if !r.is_get() {
            return Err(Reply::error(
                405,
                "method_not_allowed",
                "This method is not allowed here.",
                r.json,
            ));
        }
        if !r.peer_trusted {
            return Err(refuse(
                403,
                "forward_auth_untrusted",
                "Only the site's proxy (server.trusted_proxies) may ask here.",
            ));
        }
        let asked = forwarded_url(&r.req.headers).map_err(|e| refuse(400, e.code(), &e.to_string()))?;
        if !core.site.hosts.contains(&asked.host) {
            return Err(refuse(
                403,
                "forward_auth_foreign_host",
                "The forwarded host is not one of this site's hosts.",
            ));
        }
        let path = RequestPath::canonical(&asked.form, core.site.paths)
            .map_err(|e| refuse(400, e.code(), "The forwarded address is not valid."))?;
        if site.under_prefix(&path.path).is_some()
            || site.is_prefix_variant(&path.path)
            || site.features.for_path(&path.path, None).is_some()
        {
            // The gateway's own paths (sign-in, callbacks, one-time tokens) are routed
            // to the gateway, never through forward-auth to the origin.
            return Err(refuse(
                404,
                "forward_auth_gateway_path",
                "This address belongs to the gateway: route it to the gateway, not through forward-auth.",
            ));
        }
        let parts = synthetic(r, &asked, &path)
            .ok_or_else(|| refuse(400, "forwarded_url_invalid", "The forwarded address is not valid."))?;
        let forwarded = SiteRequest {
            req: &parts,
            path: &path.path,
            under_prefix: None,
            identity: r.identity,
            client: r.client,
            peer_trusted: r.peer_trusted,
            store_down: r.store_down,
            body: None,
            json: wants_json(&parts.headers),
            route: site.route(path.route_key(), &path.path),
        };
        Ok(self.decide(site, &forwarded).await)
    }

    /// The site's decision on the forwarded request.
    async fn decide(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Reply {
        let access = r.route.access;
        if r.identity.is_none() && access != Access::Public && is_navigation(&r.req.method, &r.req.headers) {
            if r.store_down {
                return store_unavailable(r.json);
            }
            return match access {
                Access::Login => self.to_sign_in(site, r),
                _ => site.core.login_required(true),
            };
        }
        // Undecorated: the endpoint dispatch adds what features add to an answer
        // (CORS headers) to this one, once.
        if let Flow::Respond(reply) = site.gate_decision(r).await {
            return self.passed_on(reply, site, r);
        }
        match site.upstream_edits(r) {
            Ok(edits) => self.granted(site, r, edits),
            Err(reply) => self.passed_on(reply, site, r),
        }
    }

    /// An anonymous page load on a `login` route: to `<sso_prefix>/login`, which
    /// starts the sign-in and comes back to the forwarded URL.
    fn to_sign_in(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Reply {
        let here = r.req.uri.path_and_query().map_or("/", |p| p.as_str());
        let return_to = return_to_or_root(Some(here));
        let mut login = format!("{}/login", site.core.site.sso_prefix);
        if return_to != "/" {
            login.push_str("?return_to=");
            login.extend(url::form_urlencoded::byte_serialize(return_to.as_bytes()));
        }
        match self.mode {
            ForwardAuthMode::Redirect => Reply::redirect(302, login),
            ForwardAuthMode::Status => site
                .core
                .login_required(!is_page_request(&r.req.headers))
                .header(REDIRECT_HEADER, login),
        }
    }

    /// A gate's (or an upstream edit's) answer, for the proxy: as it is, except a
    /// redirect in status mode, which becomes 401 + `X-Sso-Redirect` with the same
    /// cookies.
    fn passed_on(&self, reply: Reply, site: &SitePipeline, r: &SiteRequest<'_>) -> Reply {
        let redirect = (300..400).contains(&reply.status);
        if self.mode == ForwardAuthMode::Redirect || !redirect {
            return reply;
        }
        let mut status = site.core.login_required(!is_page_request(&r.req.headers));
        for (name, value) in reply.headers {
            match name {
                "location" => status.headers.push((REDIRECT_HEADER, value)),
                "set-cookie" | "referrer-policy" => status.headers.push((name, value)),
                _ => {}
            }
        }
        status
    }

    /// 200: every identity header (empty when unknown) and the features' upstream
    /// headers, for the proxy to copy onto the request it sends the origin.
    fn granted(&self, site: &SitePipeline, r: &SiteRequest<'_>, edits: UpstreamEdits) -> Reply {
        let mut set: Vec<(HeaderName, HeaderValue)> = match r.identity {
            Some(identity) => site.core.identity_headers(identity),
            None => Vec::new(),
        };
        // What the features set wins, as it does on a proxied request.
        for (name, value) in edits.set {
            set.retain(|(n, _)| *n != name);
            set.push((name, value));
        }
        let mut reply = Reply::with_body(200, "text/plain; charset=utf-8", String::new());
        for name in &self.names {
            let value = set
                .iter()
                .position(|(n, _)| n == name)
                .map(|i| set.swap_remove(i).1)
                .unwrap_or_else(|| HeaderValue::from_static(""));
            reply = reply.named_header(name.clone(), value);
        }
        set.into_iter()
            .fold(reply, |reply, (name, value)| reply.named_header(name, value))
    }
}

/// The forwarded request as the site's gates read it: its method and canonical
/// target, its host, and this request's headers (the browser's).
fn synthetic(r: &SiteRequest<'_>, asked: &ForwardedUrl<'_>, path: &RequestPath<'_>) -> Option<http::request::Parts> {
    let (mut parts, ()) = http::Request::builder()
        .method(asked.method.clone())
        .uri(path.target())
        .body(())
        .ok()?
        .into_parts();
    parts.headers = r.req.headers.clone();
    parts
        .headers
        .insert(http::header::HOST, HeaderValue::from_str(asked.authority).ok()?);
    Some(parts)
}

/// Every forward-auth answer is `Cache-Control: no-store`: it is about one request
/// of one browser.
fn no_store(mut reply: Reply) -> Reply {
    reply.headers.retain(|(name, _)| *name != "cache-control");
    reply.header("cache-control", "no-store")
}
