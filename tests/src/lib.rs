//! Test harness: real processes on loopback — the demo storefront origin (Node), the
//! real `oidc-provider` IdP (Node), and the `sso-gateway` binary built by Cargo.
//! Each test starts its own set on free ports; every process is killed on drop.

use anyhow::{bail, Context, Result};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod backchannel;
pub mod client;
pub mod gateway;
pub mod group;
pub mod idp_options;
pub mod merchant_login;
pub mod misbehaving_idp;
pub mod proxies;
pub mod raw_http;
pub mod redis_scan;
pub mod replicas;
pub mod stalling_proxy;
pub mod tls_certs;
pub use client::{echo_of, Shopper};
pub use gateway::{Gateway, GatewayConfig};

/// A cookie secret good enough for tests (32 bytes).
pub const COOKIE_SECRET: &str = "test-cookie-secret-0123456789abcdef";
pub const CLIENT_ID: &str = "storefront";
pub const CLIENT_SECRET: &str = "test-client-secret";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `sso-gateway` binary next to this test binary (`target/<profile>/`), or
/// `$SSO_GATEWAY_BIN`.
pub fn gateway_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SSO_GATEWAY_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let bin = dir.join("sso-gateway");
    assert!(
        bin.exists(),
        "{} not found: run `cargo build -p sso-gateway` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// A port nothing listens on now, never the same one twice in this test process: a
/// port handed out for a gateway's admin listener is not bound until the gateway
/// starts, and the OS may offer it again meanwhile (an IdP started in between took
/// it once, and the gateway never opened its admin listener).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(0);
        let mut given = GIVEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if port != 0 && !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    0
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16, proc: &mut Proc) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = proc.child.try_wait() {
            bail!("{} exited with {status} before listening:\n{}", proc.name, proc.log());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{} did not listen on {port} in time:\n{}", proc.name, proc.log())
}

/// A child process that is killed when dropped; its output goes to a log file.
pub struct Proc {
    pub name: String,
    pub child: Child,
    log_path: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<Proc> {
        let dir = std::env::temp_dir().join("sso-gateway-tests");
        std::fs::create_dir_all(&dir)?;
        let log_path = dir.join(format!("{name}-{}-{}.log", std::process::id(), free_port()));
        let log = std::fs::File::create(&log_path)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(Proc {
            name: name.to_string(),
            child,
            log_path,
        })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node(script: &str) -> Command {
    let mut cmd = Command::new("node");
    cmd.arg(repo_root().join("deploy/demo").join(script));
    cmd
}

/// The demo storefront: echoes every request it receives (JSON when asked).
pub struct Storefront {
    pub port: u16,
    pub proc: Proc,
}

impl Storefront {
    pub fn start() -> Result<Storefront> {
        Self::start_with(&[])
    }

    /// The origin with extra environment (`PROVISIONING_SECRET`, `PLATFORM_LOGIN_SECRET`).
    pub fn start_with(env: &[(&str, &str)]) -> Result<Storefront> {
        let port = free_port();
        let mut proc = Proc::spawn(
            "storefront",
            node("storefront.mjs")
                .envs(env.iter().copied())
                .env("PORT", port.to_string()),
        )?;
        wait_for_port(port, &mut proc)?;
        Ok(Storefront { port, proc })
    }

    /// Tells the provisioning hook how to answer (`ok`, `fail`, `garbage`, `slow`, `down`).
    pub async fn hook_mode(&self, mode: &str) -> Result<()> {
        let url = format!("http://{}/hooks/provision/mode", self.addr());
        reqwest::Client::new()
            .post(url)
            .body(mode.to_string())
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// How many times the provisioning hook was called.
    pub async fn hook_calls(&self) -> Result<u64> {
        let url = format!("http://{}/hooks/provision/calls", self.addr());
        let v: serde_json::Value = reqwest::get(url).await?.json().await?;
        v["calls"].as_u64().context("no calls count")
    }

    /// The same origin over HTTPS with this certificate.
    pub fn start_tls(cert: &tls_certs::Issued) -> Result<Storefront> {
        let port = free_port();
        let mut proc = Proc::spawn(
            "storefront-tls",
            node("storefront.mjs")
                .env("PORT", port.to_string())
                .env("TLS_CERT", &cert.cert_path)
                .env("TLS_KEY", &cert.key_path),
        )?;
        wait_for_port(port, &mut proc)?;
        Ok(Storefront { port, proc })
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// The real OpenID provider (`oidc-provider` from npm).
pub struct Idp {
    pub port: u16,
    pub proc: Proc,
}

impl Idp {
    /// Starts the IdP with a client allowed to use these callback and post-logout URLs.
    pub fn start(redirect_uris: &[String], post_logout_uris: &[String]) -> Result<Idp> {
        let port = free_port();
        Self::start_on(port, redirect_uris, post_logout_uris)
    }

    pub fn start_on(port: u16, redirect_uris: &[String], post_logout_uris: &[String]) -> Result<Idp> {
        Self::start_with(port, redirect_uris, post_logout_uris, &[])
    }

    /// [`Idp::start_on`] with extra environment for `idp.mjs` (e.g. `ACCESS_TOKEN_TTL`).
    pub fn start_with(
        port: u16,
        redirect_uris: &[String],
        post_logout_uris: &[String],
        env: &[(&str, &str)],
    ) -> Result<Idp> {
        let mut proc = Proc::spawn(
            "idp",
            node("idp.mjs")
                .envs(env.iter().copied())
                .env("PORT", port.to_string())
                .env("CLIENT_ID", CLIENT_ID)
                .env("CLIENT_SECRET", CLIENT_SECRET)
                .env("REDIRECT_URIS", redirect_uris.join(","))
                .env("POST_LOGOUT_REDIRECT_URIS", post_logout_uris.join(",")),
        )?;
        wait_for_port(port, &mut proc)?;
        Ok(Idp { port, proc })
    }

    /// An IdP with its own client (`client_id`, `client_secret`), e.g. one of the
    /// several IdPs of a site; `env` as in [`Idp::start_with`].
    pub fn start_client(
        client: (&str, &str),
        redirect_uris: &[String],
        post_logout_uris: &[String],
        env: &[(&str, &str)],
    ) -> Result<Idp> {
        let port = free_port();
        let mut proc = Proc::spawn(
            "idp",
            node("idp.mjs")
                .envs(env.iter().copied())
                .env("PORT", port.to_string())
                .env("CLIENT_ID", client.0)
                .env("CLIENT_SECRET", client.1)
                .env("REDIRECT_URIS", redirect_uris.join(","))
                .env("POST_LOGOUT_REDIRECT_URIS", post_logout_uris.join(",")),
        )?;
        wait_for_port(port, &mut proc)?;
        Ok(Idp { port, proc })
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// One shop behind the gateway with OpenID Connect login against the real IdP:
/// `/account` needs login, `/api` is an API route, everything else is public.
pub struct Shop {
    pub origin: Storefront,
    pub idp: Idp,
    pub gateway: Gateway,
}

impl Shop {
    pub fn start() -> Result<Shop> {
        Self::start_with(GatewayConfig::default(), "")
    }

    /// `extra_site` is appended to the site's table (e.g. `[sites.oidc]` options go
    /// through `extra_oidc` in the body).
    pub fn start_with(config: GatewayConfig, extra_oidc: &str) -> Result<Shop> {
        let origin = Storefront::start()?;
        let port = config.port;
        let callback = format!("http://shop.localhost:{port}/login/sso/callback");
        let post_logout = format!("http://shop.localhost:{port}/");
        let idp = Idp::start(&[callback], &[post_logout])?;
        let gateway = config
            .site(&Self::site_toml(&origin.addr(), &idp.issuer(), extra_oidc))
            .start()?;
        Ok(Shop { origin, idp, gateway })
    }

    /// The shop's `[[sites]]` body; `{origin}` in `extra_oidc` becomes the origin's
    /// address (for a provisioning hook on the demo origin).
    pub fn site_toml(origin: &str, issuer: &str, extra_oidc: &str) -> String {
        let extra_oidc = extra_oidc.replace("{origin}", origin);
        format!(
            "name = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"{origin}\"]\n\
             public_url = \"http://shop.localhost:{{port}}\"\n\
             [sites.oidc]\nissuer = \"{issuer}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n{extra_oidc}\n\
             [[sites.routes]]\nprefix = \"/account\"\naccess = \"login\"\n\
             [[sites.routes]]\nprefix = \"/api\"\naccess = \"api\"\n"
        )
    }

    pub fn url(&self, path: &str) -> String {
        self.gateway.site_url("shop", path)
    }

    /// Waits until `/readyz` says the IdP metadata is loaded.
    pub async fn ready(&self) -> Result<()> {
        self.gateway.ready().await
    }

    /// What `/_sso/session` says of `shopper` (as an API call).
    pub async fn session_of(&self, shopper: &Shopper) -> Result<serde_json::Value> {
        Ok(shopper.api(&self.url("/_sso/session")).await?.json().await?)
    }

    /// A fresh API token from `/_sso/token` for a signed-in shopper.
    pub async fn api_token(&self, shopper: &Shopper) -> Result<String> {
        let answer: serde_json::Value = shopper.api(&self.url("/_sso/token")).await?.json().await?;
        answer["access_token"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("no access_token in {answer}"))
    }

    /// Signs `login` in through `/account`-style `path` and returns where the browser landed.
    pub async fn sign_in(&self, shopper: &Shopper, path: &str, login: &str) -> Result<client::Landing> {
        self.ready().await?;
        let start = shopper.page(&self.url(path)).await?;
        shopper.walk(start, login).await
    }
}

/// The demo origin behind a gateway with one plain site `shop` (no login), and a
/// shopper who can reach `shop.localhost`.
pub fn plain_shop() -> Result<(Storefront, Gateway, Shopper)> {
    let origin = Storefront::start()?;
    let gateway = GatewayConfig::default().plain_site("shop", &[origin.addr()]).start()?;
    Ok((origin, gateway, Shopper::new(&["shop"])?))
}

/// Runs `cmd`; its success and stdout + stderr.
pub fn run_command(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// What a browser script (`tests/browser/*.mjs`) saw: the JSON of its last stdout
/// line; a panic showing all it printed when that is not JSON.
pub fn script_result(script: &str, out: &std::process::Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|_| {
        panic!(
            "{script} printed no result:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `systemd-analyze verify` of `unit` (with `env`, e.g. `MANPATH` for its
/// `Documentation=`) finds nothing, and `systemd-analyze security` scores its
/// sandbox at most 2.5 (0 = locked down, 10 = none; `--threshold` counts tenths).
pub fn assert_unit_verified_and_sandboxed(analyze: &Path, unit: &Path, env: &[(&str, &Path)]) {
    let (ok, out) = run_command(Command::new(analyze).envs(env.iter().copied()).arg("verify").arg(unit));
    assert!(ok && out.trim().is_empty(), "systemd-analyze verify:\n{out}");
    let (ok, out) = run_command(
        Command::new(analyze)
            .args(["security", "--offline=yes", "--threshold=25", "--no-pager"])
            .arg(unit),
    );
    let overall = out
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_default();
    assert!(ok, "systemd-analyze security above 2.5: {overall}\n{out}");
}
