//! A group of shops with cross-site sign-on: sites `shop-a` and `shop-b` (`auto`,
//! global logout), `shop-c` (`opt_in`, site logout) and `shop-d` (disabled), and the
//! auth host `auth.localhost`, all on one gateway (or two replicas on one Redis)
//! in front of one origin, with one real IdP that knows every site's callback.

use crate::{free_port, GatewayConfig, Idp, Storefront, CLIENT_ID, CLIENT_SECRET};
use anyhow::Result;
use sso_filters::store::test_redis::{unique_prefix, TestRedis};

/// The sites of the group: name, `[sites.sso]` mode, logout scope.
pub const SITES: [(&str, &str, &str); 4] = [
    ("shop-a", "auto", "global"),
    ("shop-b", "auto", "global"),
    ("shop-c", "opt_in", "site"),
    ("shop-d", "disabled", "global"),
];

/// Every host a group shopper must resolve.
pub const HOSTS: [&str; 5] = ["shop-a", "shop-b", "shop-c", "shop-d", "auth"];

pub struct Group {
    pub origin: Storefront,
    pub idp: Idp,
    /// The gateway (replica A when on Redis).
    pub a: crate::Gateway,
    /// Replica B on the same Redis, when the group runs on Redis.
    pub b: Option<crate::Gateway>,
    pub redis: Option<TestRedis>,
    /// How the IdP was started (callbacks, post-logout URLs, environment), to start
    /// it again on the same port.
    idp_args: (Vec<String>, Vec<String>, Vec<(String, String)>),
}

/// What differs between group tests.
#[derive(Default, Clone, Copy)]
pub struct GroupOptions<'a> {
    /// Two replicas on one Redis instead of one gateway with memory sessions.
    pub redis: bool,
    /// With `redis`: where Redis is instead of a `redis_url` of a [`TestRedis`]
    /// (e.g. `redis_cluster = [...]` of a `TestCluster` the test keeps).
    pub redis_address: Option<&'a str>,
    /// Extra `[sso]` keys.
    pub sso: &'a str,
    /// Extra `[server]` keys (e.g. rate limits).
    pub server: &'a str,
    /// Extra `[sessions]` keys (e.g. `max_pending_logins`; memory only).
    pub sessions: &'a str,
    /// Extra keys of every site's `[sites.oidc]` (e.g. `revalidate_interval`).
    pub oidc: &'a str,
    /// Extra environment for the IdP (e.g. `ACCESS_TOKEN_TTL`).
    pub idp_env: &'a [(&'a str, &'a str)],
    /// Extra TOML appended to one site's table: (site name, TOML); `{origin}` becomes
    /// the origin's address.
    pub site_extra: &'a [(&'a str, &'a str)],
    /// Extra environment for the origin (e.g. `PLATFORM_LOGIN_SECRET`).
    pub origin_env: &'a [(&'a str, &'a str)],
}

impl Group {
    /// The sign-ins a scrape of the metrics should show: `olga` through the IdP on
    /// shop-a, then by one-time token on shop-b (same browser), and an API call on
    /// shop-a with a bearer that is no token, from a browser without a session (401).
    pub async fn sign_in_traffic(&self) -> Result<()> {
        let shopper = crate::Shopper::new(&HOSTS)?;
        let signed_in = shopper
            .walk(shopper.page(&self.url("shop-a", "/account")).await?, "olga")
            .await?;
        anyhow::ensure!(signed_in.status == 200, "IdP sign-in on shop-a: {}", signed_in.status);
        let other = shopper
            .walk(shopper.page(&self.url("shop-b", "/")).await?, "nobody")
            .await?;
        anyhow::ensure!(other.status == 200, "shop-b: {}", other.status);
        let stranger = crate::Shopper::new(&HOSTS)?;
        let api = stranger
            .http
            .get(self.url("shop-a", "/api/orders"))
            .header("accept", "application/json")
            .bearer_auth("not-a-token")
            .send()
            .await?;
        anyhow::ensure!(api.status() == 401, "a bad bearer: {}", api.status());
        Ok(())
    }

    pub fn start(options: GroupOptions<'_>) -> Result<Group> {
        let origin = Storefront::start_with(options.origin_env)?;
        let a_config = GatewayConfig::default();
        let port = a_config.port;
        let callbacks: Vec<String> = SITES
            .iter()
            .map(|(s, _, _)| format!("http://{s}.localhost:{port}/login/sso/callback"))
            .collect();
        let post_logout: Vec<String> = SITES
            .iter()
            .map(|(s, _, _)| format!("http://{s}.localhost:{port}/"))
            .collect();
        // The IdP signs with the tests' key, so a test can mint its logout tokens.
        let key = crate::backchannel::idp_key_file();
        let key = key.to_string_lossy();
        let mut env: Vec<(String, String)> = vec![("IDP_SIGNING_KEY_FILE".into(), key.to_string())];
        env.extend(options.idp_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let idp = Idp::start_with(free_port(), &callbacks, &post_logout, &env_refs)?;
        let redis = match options.redis_address {
            Some(_) => options.redis.then(TestRedis::absent),
            None => options.redis.then(TestRedis::shared),
        };
        let prefix = unique_prefix();
        let build = |config: GatewayConfig| -> GatewayConfig {
            let mut config = config.server(options.server).top(&format!(
                "[sso]\nauth_host = \"http://auth.localhost:{port}\"\n{}",
                options.sso
            ));
            if let Some(r) = &redis {
                let address = match options.redis_address {
                    Some(lines) => lines.to_string(),
                    None => format!("redis_url = \"{}\"", r.url),
                };
                config = config.sessions(&format!(
                    "store = \"redis\"\n{address}\nredis_key_prefix = \"{prefix}\""
                ));
            } else if !options.sessions.is_empty() {
                config = config.sessions(options.sessions);
            }
            for (name, mode, scope) in SITES {
                let mut site = site_toml(name, mode, scope, port, &origin.addr(), &idp.issuer(), options.oidc);
                for (_, extra) in options.site_extra.iter().filter(|(s, _)| *s == name) {
                    site.push_str(&extra.replace("{origin}", &origin.addr()));
                    site.push('\n');
                }
                config = config.site(&site);
            }
            config
        };
        let a = build(a_config).start()?;
        let b = match options.redis {
            true => Some(build(GatewayConfig::default()).start()?),
            false => None,
        };
        Ok(Group {
            origin,
            idp,
            a,
            b,
            redis,
            idp_args: (callbacks, post_logout, env),
        })
    }

    /// Stops the IdP and starts it again on the same port: it forgets every grant, so
    /// the next refresh of any session is refused (`invalid_grant`).
    pub fn restart_idp(&mut self) -> Result<()> {
        let port = self.idp.port;
        let (callbacks, post_logout, env) = &self.idp_args;
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // The old process must be gone before the new one takes the port.
        let _ = self.idp.proc.child.kill();
        let _ = self.idp.proc.child.wait();
        self.idp = Idp::start_with(port, callbacks, post_logout, &env)?;
        Ok(())
    }

    /// Waits until every gateway is ready.
    pub async fn ready(&self) -> Result<()> {
        self.a.ready().await?;
        if let Some(b) = &self.b {
            b.ready().await?;
        }
        Ok(())
    }

    /// `path` on `site` through replica A (the public URL of every site).
    pub fn url(&self, site: &str, path: &str) -> String {
        self.a.site_url(site, path)
    }

    /// `path` on `site` through replica B (A when there is no B).
    pub fn url_b(&self, site: &str, path: &str) -> String {
        self.b.as_ref().unwrap_or(&self.a).site_url(site, path)
    }

    /// `path` on the auth host.
    pub fn auth_url(&self, path: &str) -> String {
        self.a.site_url("auth", path)
    }

    /// The IdP's `host:port`, to tell whether a walk went through it.
    pub fn idp_authority(&self) -> String {
        format!("127.0.0.1:{}", self.idp.port)
    }
}

/// One site of the group: `/account` needs login, `/api` is an API route.
fn site_toml(name: &str, mode: &str, scope: &str, port: u16, origin: &str, issuer: &str, oidc: &str) -> String {
    format!(
        "name = \"{name}\"\nhosts = [\"{name}.localhost\"]\nupstreams = [\"{origin}\"]\n\
         public_url = \"http://{name}.localhost:{port}\"\n\
         [sites.oidc]\nissuer = \"{issuer}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n{oidc}\n\
         [sites.sso]\nmode = \"{mode}\"\nlogout_scope = \"{scope}\"\n\
         [[sites.routes]]\nprefix = \"/account\"\naccess = \"login\"\n\
         [[sites.routes]]\nprefix = \"/api\"\naccess = \"api\"\n"
    )
}
