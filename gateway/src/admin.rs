//! The admin listener: `/healthz`, `/readyz`, `/metrics`, `/sessions`. Never on the
//! storefront listener.

use crate::metrics::Metrics;
use crate::readiness::Readiness;
use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use sso_filters::store::Stores;
use std::sync::Arc;

pub struct AdminApp {
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<Readiness>,
    pub stores: Stores,
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

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path();
        match path {
            "/healthz" => reply(StatusCode::OK, "text/plain", b"ok\n".to_vec()),
            "/readyz" => {
                let report = self.readiness.report();
                let status = if report.ready {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                reply(status, "application/json", report.json.into_bytes())
            }
            "/sessions" => {
                let req = session.req_header();
                let (method, query) = (req.method.clone(), req.uri.query().map(str::to_string));
                let (status, body) = crate::admin_sessions::answer(&self.stores, &method, query.as_deref()).await;
                reply(status, "application/json", body.to_string().into_bytes())
            }
            "/metrics" => {
                // Exact at scrape time: the store applies pending expiries and evictions first.
                self.metrics.sessions_active.set(self.stores.sessions.len() as i64);
                reply(StatusCode::OK, "text/plain; version=0.0.4", self.metrics.render())
            }
            _ => reply(
                StatusCode::NOT_FOUND,
                "text/plain",
                b"not found: the admin listener serves /healthz, /readyz, /metrics and /sessions\n".to_vec(),
            ),
        }
    }
}
