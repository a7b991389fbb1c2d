//! The per-request state the proxy's phases share.

use crate::metrics::AccessLabel;
use crate::shutdown::InFlightGuard;
use crate::site::Site;
use crate::snapshot::Snapshot;
use sso_filters::auth::Identity;
use sso_filters::forwarded::Forwarded;
use sso_filters::request_id::{RequestId, REQUEST_ID_HEADER};
use sso_filters::Reply;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

pub struct RequestCtx {
    pub started: Instant,
    /// The configuration this request started with.
    pub snapshot: Arc<Snapshot>,
    /// The request's id (see [`RequestId`]), decided first thing in `request_filter`.
    pub request_id: Option<RequestId>,
    /// Index of the request's site in `snapshot.sites`.
    pub site: Option<usize>,
    /// Which access rule answered, for the request metrics.
    pub access: AccessLabel,
    pub upstream: Option<SocketAddr>,
    /// When the current origin was chosen (reset on a retry).
    pub upstream_started: Option<Instant>,
    pub connect_failures: usize,
    pub client_ip: Option<IpAddr>,
    /// The forwarded headers decided for this request.
    pub forwarded: Option<Forwarded>,
    /// The verified identity of the request, if any.
    pub identity: Option<Identity>,
    /// True once identity headers were set on the upstream request.
    pub identity_sent: bool,
    /// Headers the site's features set on the upstream request (the IdP access token
    /// on a route with `forward_idp_access_token`: a sensitive header value).
    pub upstream_set: Vec<(http::HeaderName, http::HeaderValue)>,
    /// The request is for the group's auth host (answered by the gateway).
    pub auth_host: bool,
    /// Counts this request as in flight until the context is dropped (shutdown waits).
    pub _in_flight: InFlightGuard,
}

impl RequestCtx {
    pub fn new(snapshot: Arc<Snapshot>, in_flight: InFlightGuard) -> Self {
        RequestCtx {
            started: Instant::now(),
            snapshot,
            request_id: None,
            site: None,
            access: AccessLabel::None,
            upstream: None,
            upstream_started: None,
            connect_failures: 0,
            client_ip: None,
            forwarded: None,
            identity: None,
            identity_sent: false,
            upstream_set: Vec::new(),
            auth_host: false,
            _in_flight: in_flight,
        }
    }

    /// The request's site, in the snapshot it started with.
    pub fn site(&self) -> Option<&Site> {
        self.site.and_then(|i| self.snapshot.sites.get(i))
    }

    /// The site's metric and log label: its name, `auth-host`, or `-`.
    pub fn site_label(&self) -> &str {
        match self.site() {
            Some(s) => s.name.as_str(),
            None if self.auth_host => sso_filters::cross_site::auth_host::AUTH_HOST_LABEL,
            None => "-",
        }
    }

    /// `reply` with the request id, so a shopper can quote it to support, and the
    /// session cookie signed again when a previous secret signed the one shown
    /// ([`Identity::renewed_cookie`]), unless the reply sets that cookie itself (a
    /// sign-in, a logout).
    /// Its page, if it has one, is rendered in the site's design and the language of
    /// `req`'s `Accept-Language` (a request no site answers: by `write_reply`, in the
    /// shipped design).
    pub fn stamp(&self, reply: Reply, req: &pingora::http::RequestHeader) -> Reply {
        let reply = match self.site.and_then(|i| self.snapshot.sites.get(i)) {
            Some(site) if reply.page.is_some() => site.pipeline.pages.render(
                reply,
                crate::respond::accept_language(&req.headers),
                self.request_id.as_ref().map(RequestId::as_str),
            ),
            _ => reply,
        };
        let reply = match self.renewed_cookie() {
            Some(renewed) if !sets_same_cookie(&reply, renewed) => reply.header("set-cookie", renewed),
            _ => reply,
        };
        match &self.request_id {
            Some(id) => reply.header(REQUEST_ID_HEADER, id.as_str()),
            None => reply,
        }
    }

    /// The `Set-Cookie` renewing the session cookie, if this request's needs one.
    pub fn renewed_cookie(&self) -> Option<&str> {
        self.identity.as_ref()?.renewed_cookie.as_deref()
    }

    pub fn request_id(&self) -> &str {
        self.request_id.as_ref().map_or("-", RequestId::as_str)
    }

    /// The id for a header (`-` before one was decided, which never reaches a header).
    pub fn request_id_value(&self) -> http::HeaderValue {
        self.request_id
            .as_ref()
            .map_or_else(|| http::HeaderValue::from_static("-"), RequestId::header_value)
    }
}

/// True when `reply` already sets the cookie `set_cookie` sets (same name).
fn sets_same_cookie(reply: &Reply, set_cookie: &str) -> bool {
    let name = |v: &str| v.split_once('=').map(|(n, _)| n.trim().to_string());
    let wanted = name(set_cookie);
    reply
        .headers
        .iter()
        .any(|(h, v)| h.eq_ignore_ascii_case("set-cookie") && name(v) == wanted)
}
