//! The admin listener: `/healthz`, `/readyz`, `/metrics`, `POST /reload` and
//! `GET`/`DELETE /sessions`. Never on the storefront listener. Actions and session
//! data (`/reload`, `/sessions`) need `Authorization: Bearer <server.admin_token>`
//! when a token is configured ([`AdminApp::authorized`]).

use crate::metrics::Metrics;
use crate::readiness::{Check, Readiness};
use crate::reload::Reloader;
use crate::snapshot::CurrentSnapshot;
use async_trait::async_trait;
use http::{Method, Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::http::RequestHeader;
use pingora::protocols::http::ServerSession;
use sha2::{Digest, Sha256};
use sso_filters::store::Stores;
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub struct AdminApp {
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<Readiness>,
    pub stores: Stores,
    /// The running configuration: its IdPs for `/readyz`, its `admin_token`.
    pub current: CurrentSnapshot,
    pub reloader: Arc<Reloader>,
}

fn reply(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp.headers_mut()
        .insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    let len = resp.body().len();
    resp.headers_mut().insert(http::header::CONTENT_LENGTH, len.into());
    resp
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Vec<u8>> {
    reply(status, "application/json", body.to_string().into_bytes())
}

/// True when `presented` is `Bearer <expected>`. Both sides are hashed first, so
/// the comparison takes the same time whatever the length or content of a guess.
pub fn bearer_matches(presented: Option<&http::HeaderValue>, expected: &str) -> bool {
    let Some(token) = presented
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
    else {
        return false;
    };
    let (a, b) = (
        Sha256::digest(token.trim().as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.ct_eq(&b).into()
}

impl AdminApp {
    /// May this request use the admin actions? Always without a configured
    /// `server.admin_token`; else only with `Authorization: Bearer <token>`
    /// (compared in constant time). The token is the running configuration's, so a
    /// reload can rotate it.
    pub fn authorized(&self, req: &RequestHeader) -> bool {
        match &self.current.load().admin_token {
            None => true,
            Some(token) => bearer_matches(req.headers.get(http::header::AUTHORIZATION), token.expose()),
        }
    }

    async fn reload(&self, req: &RequestHeader) -> Response<Vec<u8>> {
        if req.method != Method::POST {
            let mut resp = json(
                StatusCode::METHOD_NOT_ALLOWED,
                serde_json::json!({ "error": "method_not_allowed", "message": "use POST /reload" }),
            );
            resp.headers_mut()
                .insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
            return resp;
        }
        if !self.authorized(req) {
            return unauthorized("POST /reload");
        }
        let outcome = self.reloader.reload("admin").await;
        let status = if outcome.is_applied() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        reply(status, "application/json", outcome.json().into_bytes())
    }

    /// `GET`/`DELETE /sessions?site=&customer=`, for a site of the running configuration.
    async fn sessions(&self, req: &RequestHeader) -> Response<Vec<u8>> {
        if !self.authorized(req) {
            return unauthorized("/sessions");
        }
        let snapshot = self.current.load_full();
        let known = |site: &str| snapshot.sites.iter().any(|s| s.name == site);
        let group = snapshot.auth_host.as_ref().map(|a| &a.group);
        let (status, body) =
            crate::admin_sessions::answer(&self.stores, group, &req.method, req.uri.query(), known).await;
        json(status, body)
    }
}

/// 401 for an admin request without the right token (logged, without the token).
fn unauthorized(what: &str) -> Response<Vec<u8>> {
    tracing::warn!(what, "admin request refused: missing or wrong admin token");
    let mut resp = json(
        StatusCode::UNAUTHORIZED,
        serde_json::json!({ "error": "unauthorized", "message": "Authorization: Bearer <server.admin_token> required" }),
    );
    resp.headers_mut()
        .insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
    resp
}

/// The IdP checks of `/readyz`: each IdP is listed. A site with one IdP needs it; a
/// site with several (each often run by a customer organisation) needs one of them,
/// so no single organisation's IdP can hold every replica out of the load balancer:
/// `oidc:<site>` says whether any is loaded, the `oidc:<site>/<idp>` entries are
/// shown but do not count. An IdP without metadata says why its last discovery
/// failed, naming its key path (`sites[0].oidc.issuer: ...`).
fn idp_checks(snapshot: &crate::snapshot::Snapshot) -> Vec<Check> {
    let mut checks = Vec::new();
    for site in &snapshot.sites {
        let providers: Vec<_> = site.pipeline.core.providers().collect();
        if providers.len() > 1 {
            let any = providers.iter().any(|p| p.current().is_some());
            checks.push(Check::new(format!("oidc:{}", site.name), any, true));
        }
        for p in &providers {
            let mut check = Check::new(p.label(), p.current().is_some(), providers.len() == 1);
            if !check.ok {
                check.reason = p.last_error().map(|e| match snapshot.key_path_of(p) {
                    Some(at) => e.at(&at),
                    None => e.to_string(),
                });
            }
            checks.push(check);
        }
    }
    checks
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let req = session.req_header();
        match req.uri.path() {
            "/healthz" => reply(StatusCode::OK, "text/plain", b"ok\n".to_vec()),
            "/readyz" => {
                let snapshot = self.current.load();
                let report = self.readiness.report(idp_checks(&snapshot));
                let status = if report.ready {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                reply(status, "application/json", report.json.into_bytes())
            }
            "/sessions" => self.sessions(req).await,
            "/metrics" => {
                // Exact at scrape time: the store applies pending expiries and evictions first.
                self.metrics.sessions_active.set(self.stores.sessions.len() as i64);
                let certs = self.current.load().certs.as_ref().map(|c| c.expiries());
                self.metrics.set_certificates(certs.unwrap_or_default());
                reply(StatusCode::OK, "text/plain; version=0.0.4", self.metrics.render())
            }
            "/reload" => self.reload(req).await,
            _ => reply(
                StatusCode::NOT_FOUND,
                "text/plain",
                b"not found: the admin listener serves /healthz, /readyz, /metrics, POST /reload and /sessions\n"
                    .to_vec(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str) -> http::HeaderValue {
        http::HeaderValue::from_str(s).expect("header value")
    }

    #[test]
    fn only_the_exact_bearer_token_matches() {
        let token = "a-long-enough-admin-token";
        assert!(bearer_matches(Some(&value("Bearer a-long-enough-admin-token")), token));
        assert!(bearer_matches(Some(&value("bearer a-long-enough-admin-token")), token));
        for wrong in [
            "Bearer a-long-enough-admin-toke",
            "Bearer a-long-enough-admin-tokenX",
            "Bearer ",
            "Basic a-long-enough-admin-token",
            "a-long-enough-admin-token",
            "Bearer A-LONG-ENOUGH-ADMIN-TOKEN",
        ] {
            assert!(!bearer_matches(Some(&value(wrong)), token), "{wrong}");
        }
        assert!(!bearer_matches(None, token));
    }
}
