//! Reloading the configuration: re-read the file the gateway was started with, build
//! a whole new snapshot, and swap it in. Triggered by `SIGHUP`, by `POST /reload` on
//! the admin listener, and so by `sso-gateway reload`.
//!
//! A file that does not load, or a configuration that does not build (an unreadable
//! key or certificate, an upstream that does not resolve), is refused: the errors are
//! logged and returned, nothing is swapped and no IdP provider is registered; the
//! running configuration keeps serving. Requests in flight finish on the snapshot
//! they started with; sessions stay, the store being outside the snapshot. Reloads
//! are serialised: one runs at a time, from reading the file to the swap.

use crate::lasting::Lasting;
use crate::restart_keys;
use crate::snapshot::{CurrentSnapshot, Snapshot};
use sso_config::Config;
use sso_filters::oidc::OidcProvider;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Mutex};

/// Longest wait for the discovery of an IdP that a reload adds, before the swap (the
/// discovery service keeps trying afterwards when the IdP is not reachable yet).
const FIRST_DISCOVERY_WAIT: Duration = Duration::from_secs(5);

pub struct Reloader {
    path: PathBuf,
    lasting: Arc<Lasting>,
    current: CurrentSnapshot,
    /// The configuration the process started with: its listeners stay.
    started: Config,
    /// The configuration in use. Held from reading the file to the swap.
    applied: Mutex<Config>,
    /// Counts swaps; the discovery service watches it.
    swaps: watch::Sender<u64>,
}

/// What a reload did.
#[derive(Debug)]
pub enum ReloadOutcome {
    /// The new configuration serves new requests.
    Applied {
        sites: usize,
        /// Changed keys that keep their running value until a restart.
        restart_required: Vec<&'static str>,
    },
    /// The running configuration stays; every problem found.
    Refused { errors: Vec<String> },
}

impl ReloadOutcome {
    pub fn is_applied(&self) -> bool {
        matches!(self, ReloadOutcome::Applied { .. })
    }

    /// `{"result":"ok","sites":N,"restart_required":[...]}` or
    /// `{"result":"refused","errors":[...]}`.
    pub fn json(&self) -> String {
        match self {
            ReloadOutcome::Applied {
                sites,
                restart_required,
            } => serde_json::json!({ "result": "ok", "sites": sites, "restart_required": restart_required }),
            ReloadOutcome::Refused { errors } => serde_json::json!({ "result": "refused", "errors": errors }),
        }
        .to_string()
    }
}

impl Reloader {
    /// `config` was read from `path` and `current` was built from it.
    pub fn new(path: PathBuf, lasting: Arc<Lasting>, current: CurrentSnapshot, config: Config) -> Self {
        Reloader {
            path,
            lasting,
            current,
            started: config.clone(),
            applied: Mutex::new(config),
            swaps: watch::channel(0).0,
        }
    }

    /// Changes each time a new snapshot is swapped in.
    pub fn swaps(&self) -> watch::Receiver<u64> {
        self.swaps.subscribe()
    }

    /// Re-reads the configuration file and swaps it in, or refuses it. `trigger`
    /// (`sighup`, `admin`) is logged.
    pub async fn reload(&self, trigger: &'static str) -> ReloadOutcome {
        let mut applied = self.applied.lock().await;
        let outcome = match self.build(&applied).await {
            Ok((config, snapshot, restart_required)) => {
                let sites = snapshot.sites.len();
                let previous = self.current.swap(snapshot.clone());
                // Each site's session timeouts, for sessions the stores already hold too.
                self.lasting.stores.sessions.timeouts().apply(&config);
                snapshot.warn_generated_keys(Some(&previous));
                *applied = config;
                self.swaps.send_modify(|n| *n += 1);
                if !restart_required.is_empty() {
                    tracing::warn!(
                        keys = ?restart_required,
                        "these settings changed but need a restart (`run --upgrade`); they keep their running values"
                    );
                }
                tracing::info!(trigger, sites, "configuration reloaded");
                ReloadOutcome::Applied {
                    sites,
                    restart_required,
                }
            }
            Err(errors) => {
                for error in &errors {
                    tracing::error!(trigger, %error, "configuration reload refused");
                }
                tracing::warn!(trigger, problems = errors.len(), "keeping the running configuration");
                ReloadOutcome::Refused { errors }
            }
        };
        let result = if outcome.is_applied() { "ok" } else { "refused" };
        self.lasting.metrics.config_reloads.with_label_values(&[result]).inc();
        outcome
    }

    /// Loads and builds the new configuration; on success its new IdP providers are
    /// registered (and discovered, within [`FIRST_DISCOVERY_WAIT`]).
    /// Also returns the restart-only keys the file changed; those that the snapshot
    /// itself would read (the cookie key ring, with the Redis store whose records it
    /// encrypts) keep their running values in the built snapshot, so a reload never
    /// applies half of one.
    async fn build(&self, applied: &Config) -> Result<(Config, Arc<Snapshot>, Vec<&'static str>), Vec<String>> {
        let path = self.path.clone();
        let lasting = self.lasting.clone();
        let running = self.current.load_full();
        let running_config = applied.clone();
        let started = self.started.clone();
        // Files, keys and host names are read here: off the async threads.
        let built = tokio::task::spawn_blocking(move || {
            let mut config =
                sso_config::load(&path).map_err(|e| e.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
            let restart_required = restart_keys::changed(&started, &config);
            if started.sessions.store == sso_config::SessionStoreKind::Redis {
                config.sessions.cookie_secret = started.sessions.cookie_secret.clone();
                config.sessions.previous_cookie_secrets = started.sessions.previous_cookie_secrets.clone();
            }
            let mut staged = lasting.providers.stage();
            let snapshot = Snapshot::build(&config, &lasting, Some((&running, &running_config)), &mut staged)?;
            Ok::<_, Vec<String>>((config, snapshot, staged, restart_required))
        })
        .await
        .map_err(|e| vec![format!("the reload stopped: {e}")])??;
        let (config, snapshot, staged, restart_required) = built;
        discover_first(staged.created(), &self.lasting).await;
        self.lasting.providers.commit(staged);
        Ok((config, Arc::new(snapshot), restart_required))
    }
}

/// Discovers the IdPs a reload adds before they serve, so a new site's login works
/// at once. A failure is logged; the discovery service retries.
async fn discover_first(providers: Vec<Arc<OidcProvider>>, lasting: &Lasting) {
    let mut tasks = tokio::task::JoinSet::new();
    for provider in providers {
        let metrics = lasting.metrics.clone();
        tasks.spawn(async move {
            let wait = provider.config.request_timeout.min(FIRST_DISCOVERY_WAIT);
            let started = std::time::Instant::now();
            let result = tokio::time::timeout(wait, provider.discover()).await;
            metrics
                .idp_request_duration
                .with_label_values(&[&provider.site, "discovery"])
                .observe(started.elapsed().as_secs_f64());
            match result {
                Ok(Ok(())) => tracing::info!(site = %provider.site, issuer = %provider.config.issuer, "identity provider metadata loaded"),
                Ok(Err(e)) => tracing::warn!(site = %provider.site, error = %e, "identity provider discovery failed (retried in the background)"),
                Err(_) => tracing::warn!(site = %provider.site, ?wait, "identity provider did not answer in time"),
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}
