//! Two gateway processes on one real Redis, in front of one origin and one IdP: the
//! way a shop scales out. Both serve `shop.localhost` with the same configuration
//! (same cookie secret, same `public_url`, the one of replica A, as behind a load
//! balancer); the test client reaches each on its own port, and its cookie jar,
//! which ignores ports as browsers do, sends the same cookies to both.

use crate::{GatewayConfig, Idp, Shop, Storefront};
use anyhow::Result;
pub use sso_filters::store::test_redis::{unique_prefix, TestRedis};
pub use sso_filters::store::test_redis_ha::{TestCluster, TestSentinel};

pub struct Replicas {
    pub origin: Storefront,
    pub idp: Idp,
    pub a: crate::Gateway,
    pub b: crate::Gateway,
    /// Keeps the Redis of the test alive (stopped on drop when it is our own).
    pub redis: TestRedis,
    pub prefix: String,
    /// The site table (without `ReplicaOptions::site`) and each replica's
    /// `[sessions]` keys, for [`Replicas::restart`].
    site: String,
    sessions_a: String,
    sessions_b: String,
}

/// One of the two replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replica {
    A,
    B,
}

/// What differs between replica tests.
#[derive(Default)]
pub struct ReplicaOptions<'a> {
    /// Extra `[server]` keys for both replicas (e.g. `rate_limits = { login = 10 }`).
    pub server: &'a str,
    /// Extra `[sessions]` keys for both replicas.
    pub sessions: &'a str,
    /// Extra `[sessions]` keys for replica B only (e.g. `fail_closed = true`).
    pub b_sessions: &'a str,
    /// Extra `[sites.oidc]` keys.
    pub oidc: &'a str,
    /// Tables appended to the site (e.g. `[sites.session]`).
    pub site: &'a str,
    /// Environment of the IdP (e.g. `ACCESS_TOKEN_TTL`).
    pub idp_env: &'a [(&'a str, &'a str)],
    /// A Redis of the test's own (to stop and restart it), not the machine's.
    pub own_redis: bool,
    /// The Redis to use (e.g. one the test put a proxy in front of).
    pub redis: Option<TestRedis>,
    /// Replica B reaches Redis here instead (a proxy in front of it).
    pub b_redis_url: Option<String>,
    /// Where both replicas find Redis instead of a `redis_url` of the test's
    /// [`TestRedis`]: `[sessions]` lines such as `redis_url = "redis+sentinel://…"` or
    /// `redis_cluster = [...]` (no `TestRedis` is started then).
    pub redis_address: Option<String>,
}

impl Replicas {
    pub fn start(options: ReplicaOptions<'_>) -> Result<Replicas> {
        let redis = match options.redis {
            Some(r) => r,
            None if options.redis_address.is_some() => TestRedis::absent(),
            None if options.own_redis => TestRedis::own(),
            None => TestRedis::shared(),
        };
        let prefix = unique_prefix();
        let origin = Storefront::start()?;
        let a_config = GatewayConfig::default();
        let a_port = a_config.port.to_string();
        let callback = format!("http://shop.localhost:{a_port}/login/sso/callback");
        let post_logout = format!("http://shop.localhost:{a_port}/");
        let idp = Idp::start_with(crate::free_port(), &[callback], &[post_logout], options.idp_env)?;
        let site = Shop::site_toml(&origin.addr(), &idp.issuer(), options.oidc).replace("{port}", &a_port);
        let site_tables = format!("{site}{}\n", options.site);
        let sessions = |url: &str| {
            let address = match &options.redis_address {
                Some(lines) => lines.clone(),
                None => format!("redis_url = \"{url}\""),
            };
            format!(
                "store = \"redis\"\n{address}\nredis_key_prefix = \"{prefix}\"\n{}",
                options.sessions
            )
        };
        let sessions_a = sessions(&redis.url);
        let sessions_b = format!(
            "{}\n{}",
            sessions(options.b_redis_url.as_deref().unwrap_or(&redis.url)),
            options.b_sessions
        );
        let a = a_config
            .server(options.server)
            .sessions(&sessions_a)
            .site(&site_tables)
            .start()?;
        let b = GatewayConfig::default()
            .server(options.server)
            .sessions(&sessions_b)
            .site(&site_tables)
            .start()?;
        Ok(Replicas {
            origin,
            idp,
            a,
            b,
            redis,
            prefix,
            site,
            sessions_a,
            sessions_b,
        })
    }

    /// Stops replica `which` and starts it again on the same ports with a new
    /// configuration: `cookie_secret`, `sessions` added to its `[sessions]` keys and
    /// `site` added to the site instead of `ReplicaOptions::site` (e.g. a
    /// `[sites.token]` table): one step of a rolling
    /// restart. Waits until it is ready.
    pub async fn restart(&mut self, which: Replica, cookie_secret: &str, sessions: &str, site: &str) -> Result<()> {
        let (old, base) = match which {
            Replica::A => (&mut self.a, &self.sessions_a),
            Replica::B => (&mut self.b, &self.sessions_b),
        };
        let _ = old.proc.child.kill();
        let _ = old.proc.child.wait();
        let config = GatewayConfig {
            port: old.port,
            admin_port: old.admin_port,
            ..GatewayConfig::default()
        };
        let started = config
            .cookie_secret(cookie_secret)
            .sessions(base)
            .sessions(sessions)
            .site(&format!("{}{site}\n", self.site))
            .start()?;
        *old = started;
        old.ready().await
    }

    /// Waits until both replicas are ready (IdP metadata loaded, Redis reachable).
    pub async fn ready(&self) -> Result<()> {
        self.a.ready().await?;
        self.b.ready().await
    }

    pub fn url_a(&self, path: &str) -> String {
        self.a.site_url("shop", path)
    }

    pub fn url_b(&self, path: &str) -> String {
        self.b.site_url("shop", path)
    }
}
