//! `sso-gateway`: `run` serves, `check` validates a configuration, `reload` asks a
//! running gateway to re-read its configuration.

mod access_log;
mod admin;
mod admin_sessions;
mod background;
mod bind_check;
mod https_redirect;
mod lasting;
mod listener_probe;
mod log_fields;
mod log_noise;
mod logging;
mod metrics;
mod online_check;
mod proxy;
mod readiness;
mod reload;
mod reload_command;
mod request_body;
mod request_ctx;
mod request_scope;
mod respond;
mod restart_keys;
mod server;
mod shutdown;
mod site;
mod site_phase;
mod snapshot;
mod stores;
mod tls;
mod upstreams;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "sso-gateway",
    version,
    about = "Single-sign-on reverse proxy for online shops"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve storefront traffic.
    Run {
        /// The TOML configuration file.
        #[arg(short, long)]
        config: PathBuf,
        /// Take over the sockets of a running gateway (zero-downtime binary upgrade).
        #[arg(long)]
        upgrade: bool,
        /// Detach and run in the background.
        #[arg(short, long)]
        daemon: bool,
    },
    /// Validate a configuration: print every problem with its key path, exit 1 on any.
    Check {
        #[arg(short, long)]
        config: PathBuf,
        /// Also reach what the configuration names: every IdP's discovery and keys
        /// (issuer, TLS, PKCE, algorithms, logout), Redis, provisioning hooks, upstreams.
        #[arg(long)]
        online: bool,
    },
    /// Print the public JWKS of a `private_key_jwt` key (`client_assertion_key_file`):
    /// what to register with the IdP (as the client's `jwks`, or served at its `jwks_uri`).
    ClientJwks {
        /// The PKCS#8 PEM private key (RSA or P-256).
        #[arg(long)]
        key: PathBuf,
    },
    /// Ask a running gateway to re-read its configuration file (`POST /reload` on its
    /// admin listener); prints each refusal or restart-only key on a line; exits 1
    /// when it is refused, 2 when it applied but some changed keys need a restart.
    Reload {
        /// The gateway's admin listener, `host:port` (default: `server.admin_listen`
        /// of `--config`).
        #[arg(long, required_unless_present = "config")]
        admin: Option<String>,
        /// The configuration file to take `server.admin_listen` and
        /// `server.admin_token` from.
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// `server.admin_token`, when set (default: the one in `--config`, else
        /// `$SSO_ADMIN_TOKEN`).
        #[arg(long)]
        token: Option<String>,
    },
}

/// `client-jwks`: the public half of a client assertion key, as a JWKS on stdout.
fn client_jwks(path: &std::path::Path) -> ExitCode {
    let key = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot be read: {e}"))
        .and_then(|pem| sso_filters::oidc::client_auth::AssertionKey::from_pem(&pem));
    match key {
        Ok(key) => {
            println!("{:#}", key.public_jwks());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let code = execute(Cli::parse());
    // Lines still on their way to stderr are written before the process ends.
    logging::flush();
    code
}

fn execute(cli: Cli) -> ExitCode {
    let mut online = false;
    let (path, run) = match &cli.command {
        Command::Reload { admin, config, token } => {
            return reload_command::run(admin.as_deref(), config.as_deref(), token.clone());
        }
        Command::Run {
            config,
            upgrade,
            daemon,
        } => (
            config,
            Some(server::RunOptions {
                // Absolute, so a reload reads the same file whatever the working directory.
                config_path: std::fs::canonicalize(config).unwrap_or_else(|_| config.clone()),
                upgrade: *upgrade,
                daemon: *daemon,
            }),
        ),
        Command::Check { config, online: o } => {
            online = *o;
            (config, None)
        }
        Command::ClientJwks { key } => return client_jwks(key),
    };
    let config = match sso_config::load(path) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{}: {} problem(s):", path.display(), errors.0.len());
            for e in &errors.0 {
                eprintln!("  {e}");
                // A syntax error shows its line, with a caret under the place.
                for line in e.excerpt.iter().flat_map(|x| x.lines()) {
                    eprintln!("      {line}");
                }
            }
            return ExitCode::FAILURE;
        }
    };
    if let Some(options) = &run {
        let server = &config.server;
        logging::init(
            server.log_format,
            &server.log_level,
            !options.daemon,
            server.log_buffer_lines,
        );
    }
    let gateway = match server::Gateway::build(&config) {
        Ok(g) => g,
        Err(errors) => {
            eprintln!("{}: {} problem(s):", path.display(), errors.len());
            for e in &errors {
                eprintln!("  {e}");
            }
            return ExitCode::FAILURE;
        }
    };
    if run.is_none() {
        // What `run` would warn about at start-up.
        for warning in gateway.snapshot.generated_key_warnings() {
            eprintln!("warning: {warning}");
        }
    }
    match run {
        None if online => online_report(path, &config, &gateway),
        None => {
            println!("{}: ok ({} site(s))", path.display(), config.sites.len());
            ExitCode::SUCCESS
        }
        Some(options) => match start(config, gateway, options) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                // After what was logged before it.
                logging::flush();
                eprintln!("sso-gateway: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// `check --online`: the offline check passed; now what the configuration names.
fn online_report(path: &std::path::Path, config: &sso_config::Config, gateway: &server::Gateway) -> ExitCode {
    let found = online_check::run(config, gateway);
    for w in &found.warnings {
        eprintln!("warning: {w}");
    }
    if found.problems.is_empty() {
        println!("{}: ok online ({} site(s))", path.display(), config.sites.len());
        return ExitCode::SUCCESS;
    }
    eprintln!("{}: {} problem(s) online:", path.display(), found.problems.len());
    for e in &found.problems {
        eprintln!("  {e}");
    }
    ExitCode::FAILURE
}

/// `run`, after the start-up checks a configuration cannot make: Redis must take the
/// credentials (a refusal is a configuration error, exit 1; an unreachable Redis is
/// an outage the gateway rides out, logged). Not with `--upgrade`: the old process
/// has handed over its sockets and is leaving, so exiting would leave nothing
/// serving; the refusal is logged and `/readyz` keeps this process out of rotation.
fn start(config: sso_config::Config, gateway: server::Gateway, options: server::RunOptions) -> anyhow::Result<()> {
    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
        if let Some(Err(e)) = runtime.block_on(stores::probe_redis(&config)) {
            let key = stores::redis_key(&config);
            match (stores::is_auth_refusal(&e), options.upgrade) {
                (true, false) => anyhow::bail!("{key}: Redis refused the credentials: {e}"),
                (true, true) => tracing::error!(
                    error = %e,
                    "{key}: Redis refused the credentials; serving anyway (an upgrade must not leave nothing running): sign-ins fail until it is fixed"
                ),
                (false, _) => {
                    tracing::warn!(error = %e, "Redis does not answer yet: sign-ins wait for it (see /readyz)")
                }
            }
        }
    }
    server::run(config, gateway, options)
}
