//! Wires the validated configuration into a Pingora server: the storefront proxy
//! service, the admin service and the background services.

use crate::admin::AdminApp;
use crate::background::{DiscoveryService, HangupService, SweepService};
use crate::https_redirect::HttpsRedirect;
use crate::metrics::Metrics;
use crate::proxy::GatewayProxy;
use crate::readiness::Readiness;
use crate::tls::CertStore;
use pingora::apps::HttpServerOptions;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;
use pingora::services::background::background_service;
use pingora::services::listening::Service;
use sso_config::Config;
use sso_filters::store::{RedisTasks, Stores};
use std::sync::{Arc, Mutex};

/// Command-line switches passed through to Pingora.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunOptions {
    /// Take over the listening sockets of a running gateway (zero-downtime upgrade).
    pub upgrade: bool,
    pub daemon: bool,
}

/// Everything built from the configuration, before any socket is opened.
/// `sso-gateway check` builds this too, so it reports what `run` would refuse.
pub struct Gateway {
    pub proxy: GatewayProxy,
    /// Certificates of the TLS listeners, when there are any.
    pub certs: Option<Arc<CertStore>>,
    /// The plain-HTTP → HTTPS listener's service, when configured.
    pub redirect: Option<HttpsRedirect>,
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<Readiness>,
    pub stores: Stores,
    /// The Redis stores' background work, when sessions are in Redis.
    pub redis: Option<RedisTasks>,
}

impl Gateway {
    pub fn build(config: &Config) -> Result<Self, Vec<String>> {
        let metrics = Arc::new(Metrics::new().map_err(|e| vec![format!("metrics: {e}")])?);
        let readiness = Arc::new(Readiness::default());
        let (stores, redis) = crate::stores::build(config, &metrics).map_err(|e| vec![e])?;
        let mut errors = Vec::new();
        let proxy = GatewayProxy::from_config(config, metrics.clone(), &stores)
            .map_err(|e| errors.extend(e))
            .ok();
        let certs = CertStore::from_config(config)
            .map_err(|e| errors.extend(e))
            .ok()
            .flatten();
        let redirect = if config.server.redirect_listen.is_empty() {
            None
        } else {
            HttpsRedirect::from_config(config)
                .map_err(|e| errors.push(format!("server.acme_upstream: {e}")))
                .ok()
        };
        match proxy {
            Some(proxy) if errors.is_empty() => Ok(Gateway {
                proxy,
                certs,
                redirect,
                metrics,
                readiness,
                stores,
                redis,
            }),
            _ => Err(errors),
        }
    }
}

pub fn run(config: Config, gateway: Gateway, options: RunOptions) -> anyhow::Result<()> {
    let server_conf = ServerConf {
        threads: config.server.threads,
        work_stealing: config.server.work_stealing,
        upstream_keepalive_pool_size: config.server.upstream_keepalive_pool_size,
        upgrade_sock: config.server.upgrade_sock.clone(),
        pid_file: config.server.pid_file.clone(),
        grace_period_seconds: Some(config.server.grace_period.as_secs()),
        graceful_shutdown_timeout_seconds: Some(config.server.graceful_shutdown_timeout.as_secs()),
        ca_file: config
            .server
            .upstream_ca_file
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
        ..ServerConf::default()
    };
    let opt = Opt {
        upgrade: options.upgrade,
        daemon: options.daemon,
        ..Opt::default()
    };
    let mut server = Server::new_with_opt_and_conf(opt, server_conf);
    server.bootstrap();

    let Gateway {
        proxy,
        certs,
        redirect,
        metrics,
        readiness,
        stores,
        redis,
    } = gateway;
    let config_ready = readiness.check("config");
    if let Some(tasks) = redis {
        let service = crate::stores::RedisService {
            tasks: Mutex::new(Some(tasks)),
            ready: readiness.check("redis"),
        };
        server.add_service(background_service("redis session store", service));
    }

    // Background services: IdP discovery per site, and the sweeper.
    for site in proxy.sites() {
        let Some(flow) = site.auth.flow.as_ref() else { continue };
        let m = metrics.clone();
        let name = site.name.clone();
        let service = DiscoveryService {
            provider: flow.provider.clone(),
            ready: readiness.check(format!("oidc:{}", site.name)),
            on_call: Arc::new(move |secs| {
                m.idp_request_duration
                    .with_label_values(&[&name, "discovery"])
                    .observe(secs)
            }),
        };
        server.add_service(background_service(&format!("oidc discovery {}", site.name), service));
    }
    let sweeper = SweepService { stores: stores.clone() };
    server.add_service(background_service("session sweeper", sweeper));
    server.add_service(background_service("sighup", HangupService { certs: certs.clone() }));

    let mut storefront = pingora::proxy::http_proxy_service_with_name(&server.configuration, proxy, "storefront");
    if let Some(app) = storefront.app_logic_mut() {
        let mut options = HttpServerOptions::default();
        options.h2c = config.server.h2c;
        app.server_options = Some(options);
    }
    for addr in &config.server.listen {
        storefront.add_tcp(addr);
    }
    if let Some(certs) = &certs {
        for (i, listener) in config.server.tls.iter().enumerate() {
            let settings = certs
                .listener_settings(i)
                .map_err(|e| anyhow::anyhow!("server.tls[{i}]: {e}"))?;
            storefront.add_tls_with_settings(&listener.listen, None, settings);
        }
    }
    server.add_service(storefront);
    if let Some(redirect) = redirect {
        let mut service =
            pingora::proxy::http_proxy_service_with_name(&server.configuration, redirect, "https redirect");
        for addr in &config.server.redirect_listen {
            service.add_tcp(addr);
        }
        server.add_service(service);
    }

    config_ready.set(true);
    if let Some(addr) = &config.server.admin_listen {
        let mut admin = Service::new(
            "admin".to_string(),
            AdminApp {
                metrics,
                readiness,
                stores,
            },
        );
        admin.add_tcp(addr);
        server.add_service(admin);
    }

    tracing::info!(
        listen = ?config.server.listen,
        tls = ?config.server.tls.iter().map(|t| t.listen.as_str()).collect::<Vec<_>>(),
        admin = ?config.server.admin_listen,
        sites = config.sites.len(),
        "sso-gateway starting"
    );
    server.run_forever()
}
