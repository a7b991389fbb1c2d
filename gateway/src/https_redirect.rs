//! The optional plain-HTTP listener of a TLS deployment (`server.redirect_listen`):
//! every request is answered with `308` to the same path on the site's https
//! `public_url`, except ACME HTTP-01 challenges (`/.well-known/acme-challenge/`),
//! which are proxied to `server.acme_upstream` so existing certificate automation
//! keeps working. Unknown hosts get 421. The path is canonicalised first, exactly as on
//! the storefront listener (400 when ambiguous): the ACME match and the redirect use
//! that path, and a proxied challenge goes out without identity headers and with
//! `X-Forwarded-*` rewritten like any route.

use crate::respond::write_reply;
use crate::snapshot::{CurrentSnapshot, Snapshot};
use async_trait::async_trait;
use pingora::http::RequestHeader;
use pingora::prelude::*;
use pingora::proxy::{ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::ErrorType;
use sso_config::PathPolicy;
use sso_filters::reply::wants_json;
use sso_filters::request_path::{RequestPath, TargetForm};
use sso_filters::site_router::checked_authority;
use sso_filters::Reply;
use std::sync::Arc;

const ACME_PREFIX: &str = "/.well-known/acme-challenge/";

/// The listener's service. Hosts, targets, trusted proxies and the ACME upstream
/// come from the current configuration snapshot, loaded once per request.
pub struct HttpsRedirect {
    pub current: CurrentSnapshot,
}

/// The redirect (or refusal) for a request, or `Ok(target)` when it is an ACME
/// challenge to proxy with this canonical target.
fn decide(snapshot: &Snapshot, req: &RequestHeader) -> Result<String, Reply> {
    let json = wants_json(&req.headers);
    let refuse = |code: &str| Reply::error(400, code, "The address of this request is not valid.", json);
    let form =
        TargetForm::classify(req.raw_path(), req.method == http::Method::OPTIONS).map_err(|e| refuse(e.code()))?;
    let authority = checked_authority(req, &form).map_err(|e| refuse(e.code()))?;
    let path = RequestPath::canonical(&form, PathPolicy::default()).map_err(|e| refuse(e.code()))?;
    let target = path.target();
    let Some(base) = authority
        .and_then(|h| snapshot.route(h))
        .and_then(|i| snapshot.redirect.bases.get(i))
    else {
        return Err(Reply::error(
            421,
            "unknown_host",
            "This address is not served here.",
            json,
        ));
    };
    if snapshot.redirect.acme.is_some()
        && path.route_key().starts_with(ACME_PREFIX)
        && path.path.starts_with(ACME_PREFIX)
    {
        return Ok(target);
    }
    // Concatenated, not joined: the canonical path never starts with `//`.
    let reply = Reply::redirect(308, format!("{base}{target}"));
    Err(reply)
}

#[async_trait]
impl ProxyHttp for HttpsRedirect {
    /// The snapshot this request started with.
    type CTX = Arc<Snapshot>;

    fn new_ctx(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    async fn request_filter(&self, session: &mut Session, snapshot: &mut Arc<Snapshot>) -> Result<bool> {
        let target = match decide(snapshot, session.req_header()) {
            Ok(target) => target,
            Err(reply) => {
                write_reply(session, reply).await?;
                return Ok(true);
            }
        };
        let req = session.req_header_mut();
        let uri = http::Uri::try_from(target).or_err(ErrorType::InvalidHTTPHeader, "canonical ACME target")?;
        req.set_uri(uri);
        for name in snapshot.strip.spoofed(&req.headers) {
            req.remove_header(&name);
        }
        let peer = session.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip());
        let trusted = peer.is_some_and(|p| snapshot.trusted.trusts(p));
        let req = session.req_header_mut();
        for name in sso_filters::forwarded::unbelieved_headers(&req.headers, trusted, false) {
            req.remove_header(&name);
        }
        Ok(false)
    }

    /// A challenge goes to the ACME upstream with `X-Forwarded-*` decided as on the
    /// storefront listener (believed only from trusted proxies).
    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream: &mut RequestHeader,
        snapshot: &mut Arc<Snapshot>,
    ) -> Result<()> {
        let headers = &session.req_header().headers;
        let peer = session.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip());
        let host = headers.get(http::header::HOST).and_then(|v| v.to_str().ok());
        let forwarded = snapshot.trusted.decide_for(headers, peer, host, "http");
        upstream.insert_header("x-forwarded-for", forwarded.for_chain)?;
        upstream.insert_header("x-forwarded-proto", forwarded.proto)?;
        upstream.insert_header("x-forwarded-host", forwarded.host)?;
        Ok(())
    }

    async fn upstream_peer(&self, _session: &mut Session, snapshot: &mut Arc<Snapshot>) -> Result<Box<HttpPeer>> {
        let pool = snapshot
            .redirect
            .acme
            .as_ref()
            .ok_or_else(|| Error::explain(ErrorType::ConnectNoRoute, "no ACME upstream"))?;
        let (_, peer) = pool
            .select()
            .ok_or_else(|| Error::explain(ErrorType::ConnectNoRoute, "ACME upstream unavailable"))?;
        Ok(peer)
    }
}
