//! The optional plain-HTTP listener of a TLS deployment (`server.redirect_listen`):
//! every request is answered with `308` to the same path on the site's https
//! `public_url`, except ACME HTTP-01 challenges (`/.well-known/acme-challenge/`),
//! which are proxied to `server.acme_upstream` so existing certificate automation
//! keeps working. Unknown hosts get 421.

use crate::respond::write_reply;
use crate::upstreams::UpstreamPool;
use async_trait::async_trait;
use pingora::prelude::*;
use pingora::proxy::{ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::ErrorType;
use sso_config::Config;
use sso_filters::reply::wants_json;
use sso_filters::site_router::{request_authority, SiteRouter};
use sso_filters::Reply;
use std::sync::Arc;

const ACME_PREFIX: &str = "/.well-known/acme-challenge/";

pub struct HttpsRedirect {
    router: SiteRouter,
    /// Per site: `https://host[:port]` without trailing slash.
    targets: Vec<String>,
    acme: Option<Arc<UpstreamPool>>,
}

impl HttpsRedirect {
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let acme = match &config.server.acme_upstream {
            Some(u) => Some(UpstreamPool::from_config(
                std::slice::from_ref(u),
                &config.server,
                false,
            )?),
            None => None,
        };
        let targets = config
            .sites
            .iter()
            .map(|s| {
                let mut url = s.public_url.clone();
                // A site served over plain http still gets https here: this listener exists to upgrade.
                let _ = url.set_scheme("https");
                url.as_str().trim_end_matches('/').to_string()
            })
            .collect();
        Ok(HttpsRedirect {
            router: SiteRouter::from_config(config),
            targets,
            acme,
        })
    }

    /// The redirect for a request, or `None` when it is an ACME challenge to proxy.
    fn decide(&self, req: &http::request::Parts) -> Option<Reply> {
        let path = req.uri.path_and_query().map_or("/", |p| p.as_str());
        if self.acme.is_some() && req.uri.path().starts_with(ACME_PREFIX) {
            return None;
        }
        let host = request_authority(req);
        let reply = match host
            .and_then(|h| self.router.route(h))
            .and_then(|i| self.targets.get(i))
        {
            // Concatenated, not joined: a path like `//evil.example` stays on this host.
            Some(base) => Reply::redirect(308, format!("{base}{path}")),
            None => Reply::error(
                421,
                "unknown_host",
                "This address is not served here.",
                wants_json(&req.headers),
            ),
        };
        Some(reply)
    }
}

#[async_trait]
impl ProxyHttp for HttpsRedirect {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn request_filter(&self, session: &mut Session, _ctx: &mut ()) -> Result<bool> {
        match self.decide(session.req_header()) {
            Some(reply) => {
                write_reply(session, reply).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        let pool = self
            .acme
            .as_ref()
            .ok_or_else(|| Error::explain(ErrorType::ConnectNoRoute, "no ACME upstream"))?;
        let (_, peer) = pool
            .select()
            .ok_or_else(|| Error::explain(ErrorType::ConnectNoRoute, "ACME upstream unavailable"))?;
        Ok(peer)
    }
}
