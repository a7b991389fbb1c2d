//! Real edge proxies in front of the gateway for the forward-auth tests: Debian's
//! nginx (`auth_request`) and Caddy (`forward_auth`), each running the very config
//! file `deploy/examples/forward-auth/` ships, with its addresses replaced by the
//! test's free ports. Each runs in a temporary directory of its own (pid file, logs,
//! temporary files, Caddy's data and config homes), in the foreground under [`Proc`],
//! so it stops when the test drops it.

use crate::{free_port, repo_root, wait_for_port, Proc};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// The addresses the shipped examples name, and what a test puts there.
pub struct ProxyPorts {
    /// Where the proxy listens (on 127.0.0.1).
    pub port: u16,
    /// The gateway's listener.
    pub gateway: u16,
    /// The origin's `host:port`.
    pub origin: String,
}

/// A running proxy; stops when dropped.
pub struct EdgeProxy {
    pub port: u16,
    pub proc: Proc,
    pub dir: PathBuf,
}

impl EdgeProxy {
    /// `path` on `site`'s host through the proxy.
    pub fn url(&self, site: &str, path: &str) -> String {
        format!("http://{site}.localhost:{}{path}", self.port)
    }

    pub fn log(&self) -> String {
        let error_log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
        format!("{}{error_log}", self.proc.log())
    }

    /// nginx running `deploy/examples/forward-auth/nginx.conf` inside a minimal
    /// `nginx.conf` of its own, in a fresh directory.
    pub fn nginx(ports: &ProxyPorts) -> Result<EdgeProxy> {
        let dir = fresh_dir("nginx")?;
        let example = std::fs::read_to_string(repo_root().join("deploy/examples/forward-auth/nginx.conf"))?;
        let site = example
            .replace("listen 80;", &format!("listen 127.0.0.1:{};", ports.port))
            .replace("shop.example.com", "shop.localhost")
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{}", ports.gateway))
            .replace("127.0.0.1:3000", &ports.origin);
        let d = dir.display();
        // One process, no workers: killing it stops nginx (a master killed with
        // SIGKILL leaves its workers serving).
        let conf = format!(
            "master_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n    access_log {d}/access.log;\n\
             client_body_temp_path {d}/client_body;\n    proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n\
             {site}\n}}\n"
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf)?;
        let mut proc = Proc::spawn(
            "nginx",
            Command::new(nginx_bin())
                .arg("-p")
                .arg(&dir)
                .arg("-c")
                .arg(&path)
                .arg("-e")
                .arg(dir.join("error.log"))
                .arg("-g")
                .arg("daemon off;"),
        )?;
        wait_for_port(ports.port, &mut proc)?;
        Ok(EdgeProxy {
            port: ports.port,
            proc,
            dir,
        })
    }

    /// Caddy running `deploy/examples/forward-auth/Caddyfile`, with no admin
    /// endpoint and its homes in a fresh directory.
    pub fn caddy(ports: &ProxyPorts) -> Result<EdgeProxy> {
        let dir = fresh_dir("caddy")?;
        let example = std::fs::read_to_string(repo_root().join("deploy/examples/forward-auth/Caddyfile"))?;
        let site = example
            .replace(
                "shop.example.com {",
                &format!("http://shop.localhost:{} {{", ports.port),
            )
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{}", ports.gateway))
            .replace("127.0.0.1:3000", &ports.origin);
        let conf = format!("{{\n\tadmin off\n\tauto_https off\n}}\n\n{site}");
        let path = dir.join("Caddyfile");
        std::fs::write(&path, conf)?;
        let mut proc = Proc::spawn(
            "caddy",
            Command::new(caddy_bin())
                .current_dir(&dir)
                .env("HOME", &dir)
                .env("XDG_DATA_HOME", dir.join("data"))
                .env("XDG_CONFIG_HOME", dir.join("config"))
                .arg("run")
                .arg("--config")
                .arg(&path)
                .arg("--adapter")
                .arg("caddyfile"),
        )?;
        wait_for_port(ports.port, &mut proc)?;
        Ok(EdgeProxy {
            port: ports.port,
            proc,
            dir,
        })
    }
}

impl Drop for EdgeProxy {
    fn drop(&mut self) {
        // The process first (Proc's own drop runs after this), then its files.
        let _ = self.proc.child.kill();
        let _ = self.proc.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fresh_dir(name: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("sso-{name}-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Debian's nginx (`$NGINX` to use another).
pub fn nginx_bin() -> PathBuf {
    std::env::var_os("NGINX").map_or_else(|| PathBuf::from("/usr/sbin/nginx"), PathBuf::from)
}

/// Debian's caddy (`$CADDY` to use another).
pub fn caddy_bin() -> PathBuf {
    std::env::var_os("CADDY").map_or_else(|| PathBuf::from("/usr/bin/caddy"), PathBuf::from)
}
