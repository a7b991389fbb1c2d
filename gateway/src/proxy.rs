//! The Pingora `ProxyHttp` implementation. It only sequences: each phase asks the
//! filters (`sso-filters`) for a decision and applies it. Each request loads the
//! current configuration snapshot once (`new_ctx`) and uses that one to the end,
//! whatever a reload swaps in meanwhile.

use crate::log_fields::{OrDash, PrintablePath};
use crate::metrics::{Metrics, SiteMetrics};
use crate::request_ctx::RequestCtx;
use crate::respond::write_reply;
use crate::shutdown::InFlight;
use crate::snapshot::{CurrentSnapshot, Snapshot};
use async_trait::async_trait;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{ErrorSource, ErrorType};
use sso_filters::cache_control::{cdn_cache_fields, private_cache_control, EXPIRED};
use sso_filters::forwarded::Forwarded;
use sso_filters::reply::wants_json;
use sso_filters::request_id::{RequestId, REQUEST_ID};
use sso_filters::request_path::{RequestPath, TargetError, TargetForm};
use sso_filters::site_router::checked_authority;
use sso_filters::Reply;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

pub struct GatewayProxy {
    current: CurrentSnapshot,
    unknown_host_metrics: SiteMetrics,
    /// The group's auth host (cross-site sign-on) counts as `site="auth-host"`.
    auth_host_metrics: SiteMetrics,
    metrics: Arc<Metrics>,
    /// The storefront requests in flight (a `SIGTERM` waits for them).
    in_flight: InFlight,
}

impl GatewayProxy {
    pub fn new(current: CurrentSnapshot, metrics: Arc<Metrics>, in_flight: InFlight) -> Self {
        GatewayProxy {
            current,
            in_flight,
            unknown_host_metrics: SiteMetrics::new(&metrics, "-"),
            auth_host_metrics: SiteMetrics::new(&metrics, sso_filters::cross_site::auth_host::AUTH_HOST_LABEL),
            metrics,
        }
    }

    /// 400 for a request-target the gateway will not read as a path; counted.
    pub(crate) async fn refuse_target(&self, session: &mut Session, ctx: &RequestCtx, e: TargetError) -> Result<bool> {
        let json = wants_json(&session.req_header().headers);
        self.metrics
            .rejected
            .with_label_values(&[ctx.site_label(), e.code()])
            .inc();
        tracing::info!(site = ctx.site_label(), reason = e.code(), "refused a request-target");
        let reply = Reply::error(400, e.code(), "The address of this request is not valid.", json);
        let reply = ctx.stamp(reply, session.req_header());
        write_reply(session, reply).await?;
        Ok(true)
    }

    /// Strip, before anything reads the request: identity headers of every site, any
    /// case, `_` or `-`. (Pingora drops `Connection`-nominated headers before
    /// `upstream_request_filter`, so a `Connection: X-Customer-Id` cannot remove the
    /// identity the gateway sets there.)
    pub(crate) fn strip_identity_headers(&self, snapshot: &Snapshot, req: &mut RequestHeader, site: &str) {
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
    /// target that is not a path, 421 for a host no site serves), then the group's
    /// auth host, or the site's own phase ([`Self::site_request`]). The first that
    /// answers ends the request.
    async fn filter_request(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let req = session.req_header();
        let form = TargetForm::classify(req.raw_path(), req.method == http::Method::OPTIONS);
        let authority = form.as_ref().map_err(|e| *e).and_then(|f| checked_authority(req, f));
        let (form, authority) = match (form, authority) {
            (Ok(form), Ok(authority)) => (form, authority),
            (Err(e), _) | (_, Err(e)) => return self.refuse_target(session, ctx, e).await,
        };
        ctx.site = authority.and_then(|h| ctx.snapshot.route(h));
        if let Some(paths) = ctx.site.and_then(|i| ctx.snapshot.sites.get(i)).map(|s| s.paths) {
            let target = match RequestPath::canonical(&form, paths) {
                Ok(path) => crate::site_phase::Target::of(&path),
                Err(e) => return self.refuse_target(session, ctx, e).await,
            };
            return self.site_request(session, ctx, target).await;
        }
        let snapshot = ctx.snapshot.clone();
        if let Some(auth) = snapshot
            .auth_host
            .as_ref()
            .filter(|a| authority.is_some_and(|h| a.serves(h)))
        {
            // The group's auth host: the gateway answers, nothing is proxied.
            ctx.auth_host = true;
            let client = Self::forwarded(&ctx.snapshot, session).client_ip;
            let reply = match RequestPath::canonical(&form, sso_config::PathPolicy::default()) {
                Ok(path) => auth.handle(session.req_header(), &path.path, client).await,
                Err(e) => return self.refuse_target(session, ctx, e).await,
            };
            let reply = ctx.stamp(reply, session.req_header());
            write_reply(session, reply).await?;
            return Ok(true);
        }
        let reply = Reply::error(
            421,
            "unknown_host",
            "This address is not served here. Check the link you followed.",
            wants_json(&session.req_header().headers),
        );
        let reply = ctx.stamp(reply, session.req_header());
        write_reply(session, reply).await?;
        Ok(true)
    }

    /// The forwarded headers and client address, from the peer and (when trusted)
    /// every line of its `X-Forwarded-*` headers.
    pub(crate) fn forwarded(snapshot: &Snapshot, session: &Session) -> Forwarded {
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
        Some(site) => site.pipeline.loggable_path(path),
        None => sso_filters::path_folding::loggable_path(path),
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
        RequestCtx::new(self.current.load_full(), self.in_flight.enter())
    }

    /// Decides the request id first (a trusted proxy's `X-Request-Id`, else a new
    /// one); every log line of the request filters carries it
    /// ([`crate::request_scope`]).
    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let trusted = peer_ip(session).is_some_and(|ip| ctx.snapshot.trusted.trusts(ip));
        let id = RequestId::decide(&session.req_header().headers, trusted);
        ctx.request_id = Some(id.clone());
        crate::request_scope::within(id, self.filter_request(session, ctx)).await
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
            for (name, value) in site.pipeline.core.identity_headers(identity) {
                upstream.insert_header(name, value)?;
            }
            ctx.identity_sent = true;
        }
        // What the features set (the IdP access token on a forwarding route). Cloned,
        // not taken: a retry on another origin runs this filter again.
        for (name, value) in &ctx.upstream_set {
            upstream.insert_header(name.clone(), value.clone())?;
        }
        Ok(())
    }

    /// The origin's latency; HSTS on https sites; responses to requests that carried
    /// an identity are personal: `Cache-Control: private`, no field a CDN honours
    /// first, `Expires: 0` ([`sso_filters::cache_control`]). (The origin's answer does
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
        if let Some(renewed) = ctx.renewed_cookie() {
            // Signed with a previous secret of the key ring: the browser gets it
            // signed with the current one before that secret is removed.
            upstream.append_header(http::header::SET_COOKIE, renewed)?;
        }
        if ctx.identity_sent {
            let existing = upstream
                .headers
                .get(http::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok());
            if let Some(value) = private_cache_control(existing) {
                upstream.insert_header(http::header::CACHE_CONTROL, value)?;
            }
            // A CDN honours these before Cache-Control (RFC 9213); HTTP/1.0 caches read Expires.
            for name in cdn_cache_fields(upstream.headers.keys()) {
                upstream.remove_header(&name);
            }
            if upstream.headers.contains_key(http::header::EXPIRES) {
                upstream.insert_header(http::header::EXPIRES, EXPIRED)?;
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
            let reply = ctx.stamp(reply, session.req_header());
            if let Err(err) = write_reply(session, reply).await {
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
        if !crate::access_log::enabled() {
            return;
        }
        let req = session.req_header();
        crate::access_log::write(&crate::access_log::AccessLine {
            request_id: ctx.request_id(),
            site,
            method: req.method.as_str(),
            path: &loggable_path(ctx, req.uri.path()),
            status,
            duration: elapsed,
            upstream: ctx.upstream,
            client: ctx.client_ip.or_else(|| peer_ip(session)),
            customer: ctx.identity.as_ref().map(|i| i.customer().id.as_str()),
        });
    }
}
