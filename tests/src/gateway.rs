//! Starting the real `sso-gateway` binary with a generated configuration.

use crate::{free_port, gateway_bin, wait_for_port, Proc, COOKIE_SECRET};
use anyhow::Result;
use std::process::Command;

/// Builds a `gateway.toml` for a test: one listener, one admin listener, fresh ports.
/// Clone it to write a changed configuration for a running gateway
/// ([`Gateway::rewrite_config`]).
#[derive(Clone)]
pub struct GatewayConfig {
    pub port: u16,
    pub admin_port: u16,
    pub sites: Vec<String>,
    pub extra_server: String,
    pub extra_sessions: String,
    /// Top-level tables after the sites (e.g. `[sso]`).
    pub extra_top: String,
    /// `sessions.cookie_secret` ([`COOKIE_SECRET`] unless set: key rotation tests).
    pub cookie_secret: Option<String>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            port: free_port(),
            admin_port: free_port(),
            sites: Vec::new(),
            extra_server: String::new(),
            extra_sessions: String::new(),
            extra_top: String::new(),
            cookie_secret: None,
        }
    }
}

impl GatewayConfig {
    /// Adds a `[[sites]]` table; `body` is the TOML after the header (it may contain
    /// `{port}`, replaced by the gateway's port).
    pub fn site(mut self, body: &str) -> Self {
        self.sites.push(body.replace("{port}", &self.port.to_string()));
        self
    }

    /// Adds keys (or `[[server.tls]]` tables) to the `[server]` part.
    pub fn server(mut self, extra: &str) -> Self {
        self.extra_server.push_str(extra);
        self.extra_server.push('\n');
        self
    }

    /// Adds keys to the `[sessions]` table (e.g. `max_pending_logins = 5000`).
    pub fn sessions(mut self, extra: &str) -> Self {
        self.extra_sessions.push_str(extra);
        self.extra_sessions.push('\n');
        self
    }

    /// Adds a top-level table (e.g. `[sso]`); `{port}` becomes the gateway's port.
    pub fn top(mut self, table: &str) -> Self {
        self.extra_top
            .push_str(&table.replace("{port}", &self.port.to_string()));
        self.extra_top.push('\n');
        self
    }

    /// Uses `secret` as `sessions.cookie_secret`.
    pub fn cookie_secret(mut self, secret: &str) -> Self {
        self.cookie_secret = Some(secret.to_string());
        self
    }

    /// A plain site `name` on `name.localhost` in front of `upstreams`.
    pub fn plain_site(self, name: &str, upstreams: &[String]) -> Self {
        let ups: Vec<String> = upstreams.iter().map(|u| format!("{u:?}")).collect();
        let body = format!(
            "name = \"{name}\"\nhosts = [\"{name}.localhost\"]\nupstreams = [{}]\npublic_url = \"http://{name}.localhost:{{port}}\"\n",
            ups.join(", ")
        );
        self.site(&body)
    }

    pub fn render(&self) -> String {
        let tmp = std::env::temp_dir();
        let mut out = format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\nadmin_listen = \"127.0.0.1:{admin}\"\nthreads = 2\n\
             pid_file = \"{tmp}/sso-gw-{port}.pid\"\nupgrade_sock = \"{tmp}/sso-gw-{port}.sock\"\n\
             upstream_failure_cooldown = \"30s\"\n{extra}\n\
             [sessions]\ncookie_secret = \"{secret}\"\n{sessions}\n",
            port = self.port,
            admin = self.admin_port,
            tmp = tmp.display(),
            extra = self.extra_server,
            secret = self.cookie_secret.as_deref().unwrap_or(COOKIE_SECRET),
            sessions = self.extra_sessions,
        );
        for site in &self.sites {
            out.push_str("\n[[sites]]\n");
            out.push_str(site);
        }
        out.push('\n');
        out.push_str(&self.extra_top);
        out
    }

    pub fn start(self) -> Result<Gateway> {
        let path = std::env::temp_dir().join(format!("sso-gw-{}.toml", self.port));
        std::fs::write(&path, self.render())?;
        let mut proc = Proc::spawn(
            "gateway",
            Command::new(gateway_bin()).arg("run").arg("--config").arg(&path),
        )?;
        wait_for_port(self.port, &mut proc)?;
        wait_for_port(self.admin_port, &mut proc)?;
        wait_for_listeners(self.admin_port);
        Ok(Gateway {
            port: self.port,
            admin_port: self.admin_port,
            proc,
            config_path: path,
        })
    }
}

/// A running gateway.
pub struct Gateway {
    pub port: u16,
    pub admin_port: u16,
    pub proc: Proc,
    pub config_path: std::path::PathBuf,
}

impl Gateway {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// URL on a site's own host name (resolved to loopback by the test client).
    pub fn site_url(&self, site: &str, path: &str) -> String {
        format!("http://{site}.localhost:{}{path}", self.port)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin_port)
    }

    /// The gateway's log so far, access lines of finished requests included: they
    /// are written by a thread every 20 ms (gateway/src/logging.rs), so this waits
    /// 150 ms before reading; a test asserting that a line is absent would otherwise
    /// pass before the line could have been written.
    pub fn log(&self) -> String {
        std::thread::sleep(std::time::Duration::from_millis(150));
        self.proc.log()
    }

    /// Waits (at most 20 s) until the log contains `text`: an access line is written
    /// after the response, so a client may see the answer before its line.
    pub async fn log_shows(&self, text: &str) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if self.log().contains(text) {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    }

    /// Starts a second gateway on the same configuration with `run --upgrade`: it
    /// takes the listening sockets over once this one gets SIGQUIT.
    pub fn start_upgrade(&self) -> Result<Proc> {
        Proc::spawn(
            "gateway-upgrade",
            Command::new(gateway_bin())
                .arg("run")
                .arg("--config")
                .arg(&self.config_path)
                .arg("--upgrade"),
        )
    }

    /// Waits until `/readyz` answers 200 (configuration loaded, IdP metadata fetched).
    /// Waits until `/readyz` is 200 and every check it lists holds (with several
    /// IdPs a site is ready on any one of them; tests want them all loaded).
    pub async fn ready(&self) -> Result<()> {
        self.wait_ready(true).await
    }

    /// Waits until `/readyz` is 200, whatever the checks that do not count.
    pub async fn serving(&self) -> Result<()> {
        self.wait_ready(false).await
    }

    async fn wait_ready(&self, every_check: bool) -> Result<()> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Ok(r) = reqwest::get(self.admin_url("/readyz")).await {
                if r.status() == 200 {
                    let report: serde_json::Value = r.json().await.unwrap_or_default();
                    let all = report["checks"]
                        .as_object()
                        .is_some_and(|c| c.values().all(|v| v == true));
                    if all || !every_check {
                        return Ok(());
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        anyhow::bail!("gateway never became ready:\n{}", self.log())
    }

    /// The Prometheus text from the admin listener.
    pub async fn metrics(&self) -> String {
        match reqwest::get(self.admin_url("/metrics")).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(e) => format!("metrics unavailable: {e}"),
        }
    }

    /// The admin listener's `host:port`.
    pub fn admin_addr(&self) -> String {
        format!("127.0.0.1:{}", self.admin_port)
    }

    /// Replaces the configuration file the gateway was started with (a reload reads it).
    pub fn rewrite_config(&self, text: &str) -> Result<()> {
        // Write then rename, so a reload never reads a half-written file.
        let tmp = self.config_path.with_extension("toml.new");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.config_path)?;
        Ok(())
    }

    /// `POST /reload` on the admin listener, with `Authorization: Bearer <token>` when
    /// given; returns the status and the JSON answer.
    pub async fn reload(&self, token: Option<&str>) -> Result<(u16, serde_json::Value)> {
        let mut request = reqwest::Client::new().post(self.admin_url("/reload"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await?))
    }

    /// The value of a metric line that starts with `series` (name and labels), or 0.
    pub async fn metric(&self, series: &str) -> f64 {
        self.metrics()
            .await
            .lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0.0)
    }

    /// Sends a signal (`HUP`, `QUIT`, `TERM`) to the gateway process.
    pub fn signal(&self, name: &str) -> Result<()> {
        send_signal(self.proc.pid(), name)
    }
}

/// `kill -<name> <pid>`.
pub fn send_signal(pid: u32, name: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()?;
    anyhow::ensure!(status.success(), "kill -{name} {pid} failed");
    Ok(())
}

/// Runs `sso-gateway check` on configuration text; returns (exit ok, stdout+stderr).
pub fn check(config_text: &str, envs: &[(&str, &str)]) -> Result<(bool, String)> {
    let path = std::env::temp_dir().join(format!("sso-gw-check-{}.toml", free_port()));
    std::fs::write(&path, config_text)?;
    let out = Command::new(gateway_bin())
        .arg("check")
        .arg("--config")
        .arg(&path)
        .envs(envs.iter().copied())
        .output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

/// Waits (at most 10 s) until `/readyz` says every listener accepts: the gateway's
/// probe sees a listener a moment after the port is bound.
fn wait_for_listeners(admin_port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let answer = crate::raw_http::send(admin_port, "GET /readyz HTTP/1.1\r\nHost: admin\r\n");
        if answer.is_ok_and(|r| r.body.contains("\"listeners\":true")) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
