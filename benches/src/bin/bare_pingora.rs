//! The platform's limit: a bare Pingora pass-through with the gateway's release
//! profile, allocator and thread settings, and nothing of the gateway. Case (b0) of
//! `benches/load/run.sh`: every request goes to the upstream as it came.
//!
//! `bare_pingora LISTEN_ADDR UPSTREAM_ADDR [THREADS]` (one thread by default, as the
//! benchmark's gateway).

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::{Opt, ServerConf};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct PassThrough {
    upstream: String,
}

#[async_trait]
impl ProxyHttp for PassThrough {
    type CTX = ();

    fn new_ctx(&self) {}

    /// As the gateway: no downstream modules (no compression set up per request).
    fn init_downstream_modules(&self, _modules: &mut pingora::modules::http::HttpModules) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream.as_str(), false, String::new())))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(listen), Some(upstream)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: bare_pingora LISTEN_ADDR UPSTREAM_ADDR [THREADS]");
        std::process::exit(2);
    };
    let threads = args.get(3).and_then(|t| t.parse().ok()).unwrap_or(1);
    // The gateway's defaults (sso_config: server.threads from the benchmark's config,
    // work_stealing = false, upstream_keepalive_pool_size = 1024).
    let conf = ServerConf {
        threads,
        work_stealing: false,
        upstream_keepalive_pool_size: 1024,
        // A benchmark ends with SIGTERM: exit at once rather than after Pingora's
        // default 5-minute grace period (run.sh waited for it).
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(Opt::default(), conf);
    server.bootstrap();
    let proxy = PassThrough {
        upstream: upstream.clone(),
    };
    let mut service = pingora::proxy::http_proxy_service_with_name(&server.configuration, proxy, "bare");
    service.add_tcp(listen);
    server.add_service(service);
    server.run_forever();
}
