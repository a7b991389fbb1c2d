//! The Pingora `ProxyHttp` implementation. It only sequences: each phase asks the
//! filters (`sso-filters`) for a decision and applies it. Each request loads the
//! current configuration snapshot once (`new_ctx`) and uses that one to the end,
//! whatever a reload swaps in meanwhile.

use crate::log_fields::{OrDash, PrintablePath};
use crate::metrics::{AccessLabel, Metrics, SiteMetrics};
use crate::request_ctx::RequestCtx;
use crate::respond::write_reply;
use crate::snapshot::{CurrentSnapshot, Snapshot};
use async_trait::async_trait;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{ErrorSource, ErrorType};
use sso_filters::cache_control::private_cache_control;
use sso_filters::forwarded::{unbelieved_headers, Forwarded};
use sso_filters::reply::wants_json;
use sso_filters::request_id::{RequestId, REQUEST_ID};
use sso_filters::request_path::{RequestPath, TargetError, TargetForm};
use sso_filters::site_router::checked_authority;
use sso_filters::{Flow, Reply};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

pub struct GatewayProxy {
    current: CurrentSnapshot,
    unknown_host_metrics: SiteMetrics,
    /// The group's auth host (cross-site sign-on) counts as `site="auth-host"`.
    auth_host_metrics: SiteMetrics,
    metrics: Arc<Metrics>,
}

impl GatewayProxy {
    pub fn new(current: CurrentSnapshot, metrics: Arc<Metrics>) -> Self {
        GatewayProxy {
            current,
            unknown_host_metrics: SiteMetrics::new(&metrics, "-"),
            auth_host_metrics: SiteMetrics::new(&metrics, sso_filters::cross_site::auth_host::AUTH_HOST_LABEL),
            metrics,
        }
    }

    /// 400 for a request-target the gateway will not read as a path; counted.
    async fn refuse_target(&self, session: &mut Session, ctx: &RequestCtx, e: TargetError) -> Result<bool> {
        let json = wants_json(&session.req_header().headers);
        self.metrics
            .rejected
            .with_label_values(&[ctx.site_label(), e.code()])
            .inc();
        tracing::info!(site = ctx.site_label(), reason = e.code(), "refused a request-target");
        let reply = Reply::error(400, e.code(), "The address of this request is not valid.", json);
        write_reply(session, ctx.stamp(reply)).await?;
        Ok(true)
    }

    /// Strip, before anything reads the request: identity headers of every site, any
    /// case, `_` or `-`. (Pingora drops `Connection`-nominated headers before
    /// `upstream_request_filter`, so a `Connection: X-Customer-Id` cannot remove the
    /// identity the gateway sets there.)
    fn strip_identity_headers(&self, snapshot: &Snapshot, req: &mut RequestHeader, site: &str) {
        let spoofed = snapshot.strip.spoofed(&req.headers);
        if spoofed.is_empty() {
            return;
        }
        tracing::info!(site, headers = ?spoofed, "removed incoming identity headers");
        self.metrics
            .spoofed_headers
            .with_label_values(&[site])
            .inc_by(spoofed.len() as u64);
        for name in spoofed {
            req.remove_header(&name);
        }
    }

    /// The request filters, in order: the request-target and its authority (400 for a
    /// target that is not a path, 421 for a host no site serves), the canonical path
    /// (400 when ambiguous; the origin is sent this path), identity headers stripped,
    /// the body of a gateway-owned request that needs it (bounded), identity (session
    /// cookie or gateway bearer token), gateway-owned endpoints, then the route's
    /// access rule on the route key. The first that answers ends the request.
    async fn filter_request(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let req = session.req_header();
        let form = TargetForm::classify(req.raw_path(), req.method == http::Method::OPTIONS);
        let authority = form.as_ref().map_err(|e| *e).and_then(|f| checked_authority(req, f));
        let (form, authority) = match (form, authority) {
            (Ok(form), Ok(authority)) => (form, authority),
            (Err(e), _) | (_, Err(e)) => return self.refuse_target(session, ctx, e).await,
        };
        ctx.site = authority.and_then(|h| ctx.snapshot.route(h));
        if ctx.site.is_none() {
            let auth_host = ctx.snapshot.auth_host.as_ref();
            if let Some(auth) = auth_host.filter(|a| authority.is_some_and(|h| a.serves(h))) {
                // The group's auth host: the gateway answers, nothing is proxied.
                ctx.auth_host = true;
                let client = Self::forwarded(&ctx.snapshot, session).client_ip;
                let reply = match RequestPath::canonical(&form, sso_config::PathPolicy::default()) {
                    Ok(path) => auth.handle(session.req_header(), &path.path, client).await,
                    Err(e) => return self.refuse_target(session, ctx, e).await,
                };
                write_reply(session, ctx.stamp(reply)).await?;
                return Ok(true);
            }
        }
        let snapshot = &ctx.snapshot;
        let Some(site) = ctx.site.and_then(|i| snapshot.sites.get(i)) else {
            let reply = Reply::error(
                421,
                "unknown_host",
                "This address is not served here. Check the link you followed.",
                wants_json(&req.headers),
            );
            write_reply(session, ctx.stamp(reply)).await?;
            return Ok(true);
        };
        let path = match RequestPath::canonical(&form, site.paths) {
            Ok(path) => path,
            Err(e) => return self.refuse_target(session, ctx, e).await,
        };
        let rewrite = path.rewritten.then(|| path.target());
        let route_key = (path.route_key() != path.path).then(|| path.route_key().to_string());
        let forwarded = Self::forwarded(snapshot, session);
        ctx.client_ip = forwarded.client_ip;
        let peer_trusted = forwarded.peer_trusted;
        ctx.forwarded = Some(forwarded);

        let req = session.req_header_mut();
        if let Some(target) = rewrite {
            let mut parts = req.uri.clone().into_parts();
            parts.path_and_query = http::uri::PathAndQuery::try_from(target).ok();
            match http::Uri::from_parts(parts) {
                Ok(uri) => req.set_uri(uri),
                Err(_) => return self.refuse_target(session, ctx, TargetError::BadCharacter).await,
            }
        }
        self.strip_identity_headers(snapshot, req, &site.name);
        for name in unbelieved_headers(&req.headers, peer_trusted) {
            req.remove_header(&name);
        }
        // A gateway-owned request that needs its body (a back-channel logout token)
        // has it read here, bounded in size and time; no other body is touched.
        let body = match site.auth.body_limit(session.req_header()) {
            Some(limit) => match crate::request_body::read_limited(session, limit).await {
                Ok(body) => Some(body),
                Err(reply) => {
                    write_reply(session, ctx.stamp(reply)).await?;
                    return Ok(true);
                }
            },
            None => None,
        };

        let req: &http::request::Parts = session.req_header();
        let route_key = route_key.as_deref().unwrap_or(req.uri.path());
        let (identity, store_down) = match site.auth.identify(&req.headers).await {
            Ok(Some(found)) => (site.auth.refresh_if_due(found).await, false),
            Ok(None) => (None, false),
            Err(e) => {
                tracing::warn!(site = %site.name, error = %e, "cannot check the session: store unavailable");
                (None, true)
            }
        };
        let mut flow = site
            .auth
            .endpoints(req, identity.as_ref(), ctx.client_ip, store_down, body.as_deref())
            .await;
        let access = site.routes.access(route_key);
        ctx.access = match flow {
            Flow::Continue => AccessLabel::from(access),
            Flow::Respond(_) => AccessLabel::Gateway,
        };
        if let Flow::Continue = flow {
            // An `auto` site sends an anonymous page load to the group's auth host first.
            if let Some(link) = site.auth.auto_link(req, identity.as_ref(), store_down) {
                flow = Flow::Respond(link);
            }
        }
        if let Flow::Continue = flow {
            flow = if store_down && access != sso_config::Access::Public {
                // The credential could not be checked: neither let it through nor
                // send a shopper who may be signed in to log in again.
                Flow::Respond(sso_filters::auth::store_unavailable(wants_json(&req.headers)))
            } else {
                site.auth.gate(access, req, identity.as_ref(), ctx.client_ip).await
            };
        }
        // A route that forwards the IdP access token sends it, or answers instead.
        let forwards_idp_token = site.routes.forwards_idp_access_token(route_key);
        if let (Flow::Continue, true, Some(identity)) = (&flow, forwards_idp_token, identity.as_ref()) {
            if route_key != req.uri.path() {
                // The rule matched a reading of the path (case folded, `;` parameters
                // dropped) the origin may not share: it could route the request to a
                // handler that is not the forwarding route. The token is not risked.
                self.metrics
                    .rejected
                    .with_label_values(&[site.name.as_str(), "ambiguous_path"])
                    .inc();
                let reply = Reply::error(
                    400,
                    "ambiguous_path",
                    "This address is not valid here. Check the link you followed.",
                    wants_json(&req.headers),
                );
                flow = Flow::Respond(reply);
            } else {
                match site.auth.idp_access_token_header(identity, wants_json(&req.headers)) {
                    Ok(value) => ctx.idp_access_token = Some(value),
                    Err(reply) => flow = Flow::Respond(reply),
                }
            }
        }
        ctx.identity = identity;
        match flow {
            Flow::Continue => {
                let bearer_used = ctx.identity.as_ref().is_some_and(|i| i.via.is_bearer());
                let strip = site.auth.gateway_credentials(&req.headers, bearer_used);
                let req = session.req_header_mut();
                // On a forwarding route, whatever `Authorization` the client sent never
                // reaches the origin: only the gateway sets it there.
                if strip.authorization || forwards_idp_token {
                    req.remove_header(&http::header::AUTHORIZATION);
                }
                if let Some(kept) = strip.cookies {
                    req.remove_header(&http::header::COOKIE);
                    for value in kept {
                        req.append_header(http::header::COOKIE, value)?;
                    }
                }
                Ok(false)
            }
            Flow::Respond(reply) => {
                let reply = match &site.hsts {
                    Some(hsts) => reply.header("strict-transport-security", hsts.clone()),
                    None => reply,
                };
                write_reply(session, ctx.stamp(reply)).await?;
                Ok(true)
            }
        }
    }

    /// The forwarded headers and client address, from the peer and (when trusted)
    /// every line of its `X-Forwarded-*` headers.
    fn forwarded(snapshot: &Snapshot, session: &Session) -> Forwarded {
        let req = session.req_header();
        let scheme = if is_tls(session) { "https" } else { "http" };
        let host = sso_filters::site_router::request_authority(req);
        snapshot
            .trusted
            .decide_for(&req.headers, peer_ip(session), host, scheme)
    }
}

/// The request path as logged: no customer-login or platform-login token (they sign
/// a customer in), on a known site or not.
fn loggable_path<'a>(ctx: &RequestCtx, path: &'a str) -> std::borrow::Cow<'a, str> {
    match ctx.site() {
        Some(site) => site.auth.loggable_path(path),
        None => sso_filters::auth::connectors::loggable_path(path),
    }
}

/// True when the shopper's connection to the gateway is TLS.
fn is_tls(session: &Session) -> bool {
    session.digest().is_some_and(|d| d.ssl_digest.is_some())
}

fn peer_ip(session: &Session) -> Option<IpAddr> {
    session.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip())
}

#[async_trait]
impl ProxyHttp for GatewayProxy {
    type CTX = RequestCtx;

    /// No downstream modules: the gateway never compresses, so Pingora's (disabled)
    /// compression module is not even set up per request.
    fn init_downstream_modules(&self, _modules: &mut pingora::modules::http::HttpModules) {}

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new(self.current.load_full())
    }

    /// Decides the request id first (a trusted proxy's `X-Request-Id`, else a new
    /// one); every log line of the request filters carries it, in the `request` span.
    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let trusted = peer_ip(session).is_some_and(|ip| ctx.snapshot.trusted.trusts(ip));
        let id = RequestId::decide(&session.req_header().headers, trusted);
        // At `warn`: the warnings of a request (a failed login) carry its id at the
        // usual `warn,access=info` too.
        let span = tracing::warn_span!("request", request_id = %id);
        ctx.request_id = Some(id);
        if span.is_disabled() {
            // Logging only errors (or nothing): no span to carry, and no wrapper to
            // move the (large) future into.
            return self.filter_request(session, ctx).await;
        }
        self.filter_request(session, ctx).instrument(span).await
    }

    async fn upstream_peer(&self, _session: &mut Session, ctx: &mut RequestCtx) -> Result<Box<HttpPeer>> {
        let site = ctx
            .site()
            .ok_or_else(|| Error::explain(ErrorType::InternalError, "no site chosen"))?;
        let (addr, peer) = site
            .upstreams
            .select()
            .ok_or_else(|| Error::explain(ErrorType::ConnectNoRoute, "no upstream available"))?;
        ctx.upstream = Some(addr);
        ctx.upstream_started = Some(Instant::now());
        Ok(peer)
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        ctx.connect_failures += 1;
        if let (Some(site), Some(addr)) = (ctx.site(), ctx.upstream) {
            site.upstreams.mark_failed(&addr);
            // Try each other origin once before giving up.
            e.set_retry(ctx.connect_failures < site.upstreams.len());
        }
        e
    }

    /// Strip, then set: identity headers the client sent are removed on every route,
    /// the forwarded headers are rewritten, and the verified identity is added.
    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let Some(site) = ctx.site() else { return Ok(()) };
        upstream.insert_header(REQUEST_ID, ctx.request_id_value())?;
        if let Some(forwarded) = &ctx.forwarded {
            upstream.insert_header("x-forwarded-for", forwarded.for_chain.as_str())?;
            upstream.insert_header("x-forwarded-proto", forwarded.proto.as_str())?;
            upstream.insert_header("x-forwarded-host", forwarded.host.as_str())?;
        }
        if let Some(identity) = &ctx.identity {
            for (name, value) in site.auth.identity_headers(identity) {
                upstream.insert_header(name, value)?;
            }
            ctx.identity_sent = true;
        }
        // Cloned, not taken: a retry on another origin runs this filter again.
        if let Some(token) = &ctx.idp_access_token {
            upstream.insert_header(http::header::AUTHORIZATION, token.clone())?;
        }
        Ok(())
    }

    /// The origin's latency; HSTS on https sites; responses to requests that carried
    /// an identity are personal: `Cache-Control: private`. (The origin's answer does
    /// not get the request id: the origin has it, and adding a header costs every
    /// response a header-map grow; the gateway's own answers carry it.)
    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let (Some(site), Some(started)) = (ctx.site(), ctx.upstream_started) {
            site.metrics.observe_upstream(started.elapsed().as_secs_f64());
        }
        if let Some(hsts) = ctx.site().and_then(|s| s.hsts.as_ref()) {
            upstream.insert_header("strict-transport-security", hsts.as_str())?;
        }
        if ctx.identity_sent {
            let existing = upstream
                .headers
                .get(http::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok());
            if let Some(value) = private_cache_control(existing) {
                upstream.insert_header(http::header::CACHE_CONTROL, value)?;
            }
        }
        Ok(())
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut RequestCtx) -> FailToProxy {
        let code = match e.etype() {
            ErrorType::HTTPStatus(code) => *code,
            _ => match e.esource() {
                ErrorSource::Upstream => 502,
                ErrorSource::Downstream => match e.etype() {
                    ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed => 0,
                    _ => 400,
                },
                ErrorSource::Internal | ErrorSource::Unset => 500,
            },
        };
        if code == 502 {
            self.metrics
                .upstream_errors
                .with_label_values(&[ctx.site_label()])
                .inc();
            tracing::warn!(request_id = %ctx.request_id(), site = ctx.site_label(), upstream = %OrDash(ctx.upstream), error = %e, "upstream failed");
        }
        if code > 0 && session.response_written().is_none() {
            // Pingora drops the connection after a failed proxy attempt: say so, so
            // clients do not reuse it.
            session.set_keepalive(None);
            let json = wants_json(&session.req_header().headers);
            let reply = match code {
                502 => Reply::error(
                    502,
                    "upstream_unavailable",
                    "The shop is not answering right now. Please try again in a moment.",
                    json,
                ),
                400 => Reply::error(400, "bad_request", "The request could not be understood.", json),
                c => Reply::error(
                    c,
                    "gateway_error",
                    "Something went wrong on our side. Please try again.",
                    json,
                ),
            };
            if let Err(err) = write_reply(session, ctx.stamp(reply)).await {
                tracing::debug!(error = %err, "could not write the error page");
            }
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    /// What Pingora prints about a failed request: no query string, which may carry
    /// an authorization code or a token, and no customer-login token in the path.
    fn request_summary(&self, session: &Session, ctx: &RequestCtx) -> String {
        let req = session.req_header();
        format!(
            "{} {} site={} request_id={}",
            req.method,
            PrintablePath(&loggable_path(ctx, req.uri.path())),
            ctx.site_label(),
            ctx.request_id()
        )
    }

    /// One access line per request and the request metrics.
    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let elapsed = ctx.started.elapsed();
        let per_site = match ctx.site() {
            Some(s) => &s.metrics,
            None if ctx.auth_host => &self.auth_host_metrics,
            None => &self.unknown_host_metrics,
        };
        let site = ctx.site_label();
        per_site.observe(ctx.access, status, elapsed.as_secs_f64());
        let req = session.req_header();
        tracing::info!(
            target: "access",
            request_id = %ctx.request_id(),
            site,
            method = %req.method,
            path = %PrintablePath(&loggable_path(ctx, req.uri.path())),
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            upstream = %OrDash(ctx.upstream),
            client = %OrDash(ctx.client_ip.or_else(|| peer_ip(session))),
            customer = ctx.identity.as_ref().map(|i| i.customer().id.as_str()),
        );
    }
}
