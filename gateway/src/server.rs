//! Wires the validated configuration into a Pingora server: the storefront proxy
//! service, the admin service and the background services.

use crate::admin::AdminApp;
use crate::background::{DiscoveryService, HangupService, SweepService};
use crate::https_redirect::HttpsRedirect;
use crate::lasting::Lasting;
use crate::metrics::Metrics;
use crate::proxy::GatewayProxy;
use crate::readiness::Readiness;
use crate::reload::Reloader;
use crate::snapshot::Snapshot;
use arc_swap::ArcSwap;
use pingora::apps::HttpServerOptions;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;
use pingora::services::background::background_service;
use pingora::services::listening::Service;
use sso_config::Config;
use sso_filters::oidc::ProviderRegistry;
use sso_filters::store::RedisTasks;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Command-line switches passed through to Pingora.
#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    /// The configuration file, read again on every reload.
    pub config_path: PathBuf,
    /// Take over the listening sockets of a running gateway (zero-downtime upgrade).
    pub upgrade: bool,
    pub daemon: bool,
}

/// Everything built from the configuration, before any socket is opened.
/// `sso-gateway check` builds this too, so it reports what `run` would refuse.
pub struct Gateway {
    /// What outlives reloads: the session store, the metrics, the IdP providers.
    pub lasting: Arc<Lasting>,
    /// The first configuration snapshot.
    pub snapshot: Snapshot,
    pub readiness: Arc<Readiness>,
    /// The Redis stores' background work, when sessions are in Redis.
    pub redis: Option<RedisTasks>,
}

impl Gateway {
    /// Builds the long-lived parts (the session store is built here, once) and the
    /// first snapshot.
    pub fn build(config: &Config) -> Result<Self, Vec<String>> {
        let metrics = Arc::new(Metrics::new().map_err(|e| vec![format!("metrics: {e}")])?);
        let (stores, redis) = crate::stores::build(config, &metrics).map_err(|e| vec![e])?;
        let lasting = Arc::new(Lasting {
            stores,
            metrics,
            providers: ProviderRegistry::default(),
        });
        let mut staged = lasting.providers.stage();
        let snapshot = Snapshot::build(config, &lasting, None, &mut staged)?;
        snapshot.warn_generated_keys(None);
        lasting.providers.commit(staged);
        Ok(Gateway {
            lasting,
            snapshot,
            readiness: Arc::new(Readiness::default()),
            redis,
        })
    }
}

pub fn run(config: Config, gateway: Gateway, options: RunOptions) -> anyhow::Result<()> {
    if !options.upgrade {
        crate::bind_check::every_listener_binds(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
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
        lasting,
        snapshot,
        readiness,
        redis,
    } = gateway;
    let config_ready = readiness.check("config");
    // False from SIGTERM on (see crate::shutdown).
    let serving = readiness.check("serving");
    serving.set(true);
    if let Some(tasks) = redis {
        let service = crate::stores::RedisService {
            tasks: Mutex::new(Some(tasks)),
            ready: readiness.check("redis"),
            readiness: readiness.clone(),
            metrics: lasting.metrics.clone(),
        };
        server.add_service(background_service("redis session store", service));
    }
    let start_up_certs = snapshot.certs.clone();
    let current = Arc::new(ArcSwap::from_pointee(snapshot));
    let reloader = Arc::new(Reloader::new(
        options.config_path.clone(),
        lasting.clone(),
        current.clone(),
        config.clone(),
    ));

    // Background services: IdP discovery, the sweeper, SIGHUP.
    let discovery = DiscoveryService {
        current: current.clone(),
        swaps: reloader.swaps(),
        metrics: lasting.metrics.clone(),
    };
    server.add_service(background_service("oidc discovery", discovery));
    let sweeper = SweepService {
        stores: lasting.stores.clone(),
    };
    server.add_service(background_service("session sweeper", sweeper));
    let hangup = HangupService {
        reloader: reloader.clone(),
        current: current.clone(),
    };
    server.add_service(background_service("sighup", hangup));
    let probe = crate::listener_probe::ListenerProbe::new(&config, readiness.check("listeners"));
    server.add_service(background_service("listener probe", probe));

    let in_flight = crate::shutdown::InFlight::default();
    let proxy = GatewayProxy::new(current.clone(), lasting.metrics.clone(), in_flight.clone());
    let mut storefront = pingora::proxy::http_proxy_service_with_name(&server.configuration, proxy, "storefront");
    if let Some(app) = storefront.app_logic_mut() {
        let mut options = HttpServerOptions::default();
        options.h2c = config.server.h2c;
        app.server_options = Some(options);
    }
    for addr in &config.server.listen {
        storefront.add_tcp(addr);
    }
    if let Some(certs) = &start_up_certs {
        for (i, listener) in config.server.tls.iter().enumerate() {
            let settings = certs
                .listener_settings(i, current.clone())
                .map_err(|e| anyhow::anyhow!("server.tls[{i}]: {e}"))?;
            storefront.add_tls_with_settings(&listener.listen, None, settings);
        }
    }
    server.add_service(storefront);
    if !config.server.redirect_listen.is_empty() {
        let redirect = HttpsRedirect {
            current: current.clone(),
        };
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
                metrics: lasting.metrics.clone(),
                readiness,
                stores: lasting.stores.clone(),
                current: current.clone(),
                reloader,
            },
        );
        admin.add_tcp(addr);
        server.add_service(admin);
    }

    tracing::info!(
        config = %options.config_path.display(),
        listen = ?config.server.listen,
        tls = ?config.server.tls.iter().map(|t| t.listen.as_str()).collect::<Vec<_>>(),
        admin = ?config.server.admin_listen,
        sites = config.sites.len(),
        "sso-gateway starting"
    );
    let signals = crate::shutdown::Signals {
        in_flight,
        serving,
        drain_timeout: config.server.graceful_shutdown_timeout,
    };
    server.run(pingora::server::RunArgs {
        shutdown_signal: Box::new(signals),
    });
    Ok(())
}
