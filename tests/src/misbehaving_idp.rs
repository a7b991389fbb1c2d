//! The project's own misbehaving OpenID provider (`tests/idp/misbehaving-idp.mjs`):
//! an honest code flow whose token answers break on purpose, switched per case by
//! `POST /_mode`. [`ConformanceShop`] puts it behind the real gateway with the demo
//! origin, and [`ConformanceShop::run_case`] walks one login as a shopper and checks
//! what the shopper, the session endpoint and the metrics show.

use crate::client::Landing;
use crate::{echo_of, free_port, repo_root, wait_for_port, Gateway, GatewayConfig, Proc, Shop, Shopper, Storefront};
use crate::{CLIENT_ID, CLIENT_SECRET};
use anyhow::{ensure, Context, Result};
use std::process::Command;
use std::time::Duration;
use url::Url;

/// How long a test waits for one login before calling it a hang. Generous: the
/// gateway's own IdP timeout in these tests is 2 s.
pub const LOGIN_WAIT: Duration = Duration::from_secs(30);

/// The session cookie of a plain-HTTP site (`sessions.cookie_name`, no `__Host-`).
const SESSION_COOKIE: &str = "sso_session";

/// The misbehaving IdP process on a free loopback port.
pub struct MisbehavingIdp {
    pub port: u16,
    pub proc: Proc,
    http: reqwest::Client,
}

impl MisbehavingIdp {
    /// Starts the IdP publishing one key per entry of `keys` (`"rsa"`, `"ec"`); the
    /// first RSA key signs RS256 tokens, the first EC key ES256 ones.
    pub fn start(keys: &[&str]) -> Result<MisbehavingIdp> {
        let port = free_port();
        let mut cmd = Command::new("node");
        cmd.arg(repo_root().join("tests/idp/misbehaving-idp.mjs"))
            .env("PORT", port.to_string())
            .env("KEYS", keys.join(","))
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET);
        let mut proc = Proc::spawn("misbehaving-idp", &mut cmd)?;
        wait_for_port(port, &mut proc)?;
        Ok(MisbehavingIdp {
            port,
            proc,
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?,
        })
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Switches how the next token requests are answered; logins name `sub`.
    pub async fn set_mode(&self, mode: &str, sub: &str) -> Result<()> {
        let resp = self
            .http
            .post(format!("{}/_mode", self.issuer()))
            .json(&serde_json::json!({ "mode": mode, "sub": sub }))
            .send()
            .await?;
        ensure!(resp.status() == 200, "mode {mode}: {}", resp.text().await?);
        Ok(())
    }

    /// Replaces the RS256 signing key by a new one with a new kid; the JWKS no
    /// longer lists the old key. Returns the new kid.
    pub async fn rotate_key(&self) -> Result<String> {
        let resp: serde_json::Value = self
            .http
            .post(format!("{}/_rotate", self.issuer()))
            .send()
            .await?
            .json()
            .await?;
        Ok(resp["kid"].as_str().context("no kid")?.to_string())
    }

    /// What the last `/authorize` request asked: `max_age`, `prompt`, `acr_values`
    /// (JSON null when absent).
    pub async fn last_authorize(&self) -> Result<serde_json::Value> {
        let stats: serde_json::Value = self
            .http
            .get(format!("{}/_stats", self.issuer()))
            .send()
            .await?
            .json()
            .await?;
        Ok(stats["last_authorize"].clone())
    }

    /// How often the JWKS was fetched so far.
    pub async fn jwks_fetches(&self) -> Result<u64> {
        let stats: serde_json::Value = self
            .http
            .get(format!("{}/_stats", self.issuer()))
            .send()
            .await?
            .json()
            .await?;
        stats["jwks"].as_u64().context("no jwks count")
    }
}

/// What a case must end with.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// Lands on `/account` signed in as the case's subject.
    SignedIn,
    /// The gateway's error page with this status and error code; no session.
    Refused(u16, &'static str),
}

/// The demo origin behind the real gateway, signing in with the misbehaving IdP
/// (`oidc.request_timeout = "2s"`). `/account` needs login, the rest is public.
pub struct ConformanceShop {
    pub origin: Storefront,
    pub idp: MisbehavingIdp,
    pub gateway: Gateway,
}

impl ConformanceShop {
    pub async fn start(keys: &[&str]) -> Result<ConformanceShop> {
        let origin = Storefront::start()?;
        let idp = MisbehavingIdp::start(keys)?;
        let gateway = GatewayConfig::default()
            .site(&Shop::site_toml(
                &origin.addr(),
                &idp.issuer(),
                "request_timeout = \"2s\"",
            ))
            .start()?;
        let shop = ConformanceShop { origin, idp, gateway };
        shop.ready().await?;
        Ok(shop)
    }

    pub fn url(&self, path: &str) -> String {
        self.gateway.site_url("shop", path)
    }

    async fn ready(&self) -> Result<()> {
        self.gateway.ready().await
    }

    /// Opens `/account` and follows every redirect (the IdP answers `/authorize` at
    /// once) to where the shopper lands; gives up after [`LOGIN_WAIT`].
    pub async fn sign_in(&self, shopper: &Shopper) -> Result<Landing> {
        let walk = async {
            let start = shopper.page(&self.url("/account")).await?;
            shopper.walk(start, "").await
        };
        tokio::time::timeout(LOGIN_WAIT, walk)
            .await
            .context("the login did not finish: the shopper would be left hanging")?
    }

    /// Walks a login up to the gateway's callback and returns that URL unrequested.
    pub async fn callback_url(&self, shopper: &Shopper) -> Result<Url> {
        let start = shopper.page(&self.url("/account")).await?;
        let landing = shopper
            .walk_until(start, "", |u| u.path() == "/login/sso/callback")
            .await?;
        ensure!(
            landing.url.path() == "/login/sso/callback",
            "never reached the callback: {:?}",
            landing.visited
        );
        Ok(landing.url)
    }

    /// Switches the IdP to `mode`, signs a fresh shopper in, and checks `expect`.
    /// A successful login is signed out again, so every case starts with no session.
    pub async fn run_case(&self, mode: &str, sub: &str, expect: Expect) -> Result<()> {
        self.idp.set_mode(mode, sub).await?;
        let shopper = Shopper::new(&["shop"])?;
        let outcome = match expect {
            Expect::SignedIn => "success",
            Expect::Refused(_, code) => code,
        };
        let before = self.logins(outcome).await;
        let landing = self.sign_in(&shopper).await?;
        match expect {
            Expect::SignedIn => {
                self.expect_signed_in(&shopper, &landing, sub).await?;
                self.sign_out(&shopper).await?;
            }
            Expect::Refused(status, code) => self.expect_refused(&shopper, &landing, status, code).await?,
        }
        let after = self.logins(outcome).await;
        ensure!(
            after == before + 1,
            "sso_gateway_logins_total{{outcome=\"{outcome}\"}} went from {before} to {after}"
        );
        self.expect_still_serving(&shopper).await
    }

    /// The shopper is on `/account` as `sub`, with a session the gateway knows.
    pub async fn expect_signed_in(&self, shopper: &Shopper, landing: &Landing, sub: &str) -> Result<()> {
        ensure!(
            landing.status == 200 && landing.url.path() == "/account",
            "expected to land on /account, got {} at {}: {}",
            landing.status,
            landing.url,
            snippet(&landing.body)
        );
        let echo = echo_of(&landing.body)?;
        ensure!(
            echo["headers"]["x-customer-id"] == sub,
            "origin saw x-customer-id {}",
            echo["headers"]["x-customer-id"]
        );
        ensure!(self.has_session_cookie(shopper), "no session cookie in the jar");
        let session = self.session_json(shopper).await?;
        ensure!(
            session["authenticated"] == true && session["customer"]["id"] == sub,
            "/_sso/session says {session}"
        );
        ensure!(self.sessions_active().await == Some(1), "sessions_active is not 1");
        Ok(())
    }

    /// The shopper got the gateway's error page and holds no session anywhere.
    pub async fn expect_refused(&self, shopper: &Shopper, landing: &Landing, status: u16, code: &str) -> Result<()> {
        ensure!(
            landing.status == status && landing.body.contains(&format!("Error code: {code}")),
            "expected {status} {code}, got {} at {}: {}",
            landing.status,
            landing.url,
            snippet(&landing.body)
        );
        ensure!(!self.has_session_cookie(shopper), "a session cookie was set");
        let session = self.session_json(shopper).await?;
        ensure!(session["authenticated"] == false, "/_sso/session says {session}");
        let active = self.sessions_active().await;
        ensure!(active == Some(0), "sso_gateway_sessions_active is {active:?}, not 0");
        Ok(())
    }

    /// A public page still answers.
    pub async fn expect_still_serving(&self, shopper: &Shopper) -> Result<()> {
        let resp = shopper.page(&self.url("/catalog")).await?;
        let status = resp.status();
        resp.bytes().await?;
        ensure!(status == 200, "the public page answered {status}");
        Ok(())
    }

    /// Logs out and checks the session is gone from the gateway.
    pub async fn sign_out(&self, shopper: &Shopper) -> Result<()> {
        let resp = shopper.page(&self.url("/_sso/logout")).await?;
        ensure!(resp.status().is_redirection(), "logout answered {}", resp.status());
        ensure!(self.sessions_active().await == Some(0), "the session outlived logout");
        Ok(())
    }

    fn has_session_cookie(&self, shopper: &Shopper) -> bool {
        shopper
            .cookies_for(&self.url("/"))
            .split(';')
            .any(|pair| pair.trim().split('=').next() == Some(SESSION_COOKIE))
    }

    async fn session_json(&self, shopper: &Shopper) -> Result<serde_json::Value> {
        Ok(shopper.api(&self.url("/_sso/session")).await?.json().await?)
    }

    /// `sso_gateway_sessions_active` from the admin listener.
    pub async fn sessions_active(&self) -> Option<u64> {
        metric(&self.gateway.metrics().await, "sso_gateway_sessions_active")
    }

    /// `sso_gateway_logins_total` for `outcome` (0 before the first such login).
    pub async fn logins(&self, outcome: &str) -> u64 {
        let name = format!("sso_gateway_logins_total{{method=\"oidc\",outcome=\"{outcome}\",site=\"shop\"}}");
        metric(&self.gateway.metrics().await, &name).unwrap_or(0)
    }
}

/// The value of the Prometheus sample `name` (with its labels, exactly as printed).
pub fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

fn snippet(body: &str) -> String {
    body.chars().take(400).collect()
}
