//! A shop whose IdP can reach it: the real provider with back-channel logout on,
//! posting logout tokens to the gateway, and signing with a test key the tests can
//! sign with too (`tests/keys/idp-signing-key.pem`).
//!
//! Node here cannot resolve `*.localhost`, so the site is served on
//! `http://127.0.0.1:<port>` (its `public_url` and only host). One gateway on the
//! memory store, or two replicas on one Redis (the IdP posts to the second).

use crate::replicas::{unique_prefix, TestRedis};
use crate::{free_port, repo_root, Gateway, GatewayConfig, Idp, Storefront, CLIENT_ID, CLIENT_SECRET};
use anyhow::{Context, Result};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The member of `events` that makes a JWT a logout token.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The IdP's signing key (test-only, committed).
pub fn idp_key_file() -> PathBuf {
    repo_root().join("tests/keys/idp-signing-key.pem")
}

/// Another RSA key, of nobody the gateway trusts.
pub fn impostor_key_file() -> PathBuf {
    repo_root().join("tests/keys/impostor-key.pem")
}

pub struct LoopbackShop {
    pub origin: Storefront,
    pub idp: Idp,
    /// One gateway (memory store), or two replicas on one Redis.
    pub gateways: Vec<Gateway>,
    /// The Redis of the replicas (stopped on drop when it is the test's own).
    pub redis: Option<TestRedis>,
}

impl LoopbackShop {
    /// One gateway on the memory store; the IdP posts logout tokens to it.
    pub fn start() -> Result<LoopbackShop> {
        Self::start_on(None, true)
    }

    /// [`Self::start`] with an IdP that puts no `sid` in its ID tokens (and has no
    /// back-channel logout URI registered: logout tokens come from the test only).
    pub fn start_without_idp_sid() -> Result<LoopbackShop> {
        Self::start_on(None, false)
    }

    /// Two gateways on one Redis (the machine's on 6379 when it answers, else one of
    /// the test's own), sharing the `public_url` of the first; the IdP posts logout
    /// tokens to the second.
    pub fn start_replicas() -> Result<LoopbackShop> {
        Self::start_replicas_on(TestRedis::shared())
    }

    /// [`Self::start_replicas`] on this Redis (e.g. the test's own, to stop it).
    pub fn start_replicas_on(redis: TestRedis) -> Result<LoopbackShop> {
        Self::start_on(Some(redis), true)
    }

    fn start_on(redis: Option<TestRedis>, registered: bool) -> Result<LoopbackShop> {
        let origin = Storefront::start()?;
        let configs = match &redis {
            Some(_) => vec![GatewayConfig::default(), GatewayConfig::default()],
            None => vec![GatewayConfig::default()],
        };
        let a_port = configs[0].port;
        let posts_to = configs.last().map_or(a_port, |c| c.port);
        let public = format!("http://127.0.0.1:{a_port}");
        let key = idp_key_file();
        let key = key.to_str().context("key path")?;
        let bcl_uri = format!("http://127.0.0.1:{posts_to}/_sso/backchannel-logout");
        let mut env = vec![("IDP_SIGNING_KEY_FILE", key)];
        if registered {
            env.push(("BACKCHANNEL_LOGOUT_URI", &bcl_uri));
        }
        let idp = Idp::start_with(
            free_port(),
            &[format!("{public}/login/sso/callback")],
            &[format!("{public}/")],
            &env,
        )?;
        let site = format!(
            "name = \"shop\"\nhosts = [\"127.0.0.1\"]\nupstreams = [\"{origin}\"]\npublic_url = \"{public}\"\n\
             [sites.oidc]\nissuer = \"{issuer}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n\
             [[sites.routes]]\nprefix = \"/account\"\naccess = \"login\"\n",
            origin = origin.addr(),
            issuer = idp.issuer(),
        );
        let prefix = unique_prefix();
        let mut gateways = Vec::new();
        for config in configs {
            let config = match &redis {
                Some(r) => config.sessions(&format!(
                    "store = \"redis\"\nredis_url = \"{}\"\nredis_key_prefix = \"{prefix}\"",
                    r.url
                )),
                None => config,
            };
            gateways.push(config.site(&site).start()?);
        }
        Ok(LoopbackShop {
            origin,
            idp,
            gateways,
            redis,
        })
    }

    /// `path` on gateway `i` (0: the one shoppers sign in on).
    pub fn url(&self, i: usize, path: &str) -> String {
        self.gateways[i].url(path)
    }

    /// Where logout tokens go (the IdP posts there too).
    pub fn backchannel_url(&self) -> String {
        self.url(self.gateways.len() - 1, "/_sso/backchannel-logout")
    }

    /// Waits until every gateway is ready (IdP metadata loaded, Redis reachable).
    pub async fn ready(&self) -> Result<()> {
        for g in &self.gateways {
            g.ready().await?;
        }
        Ok(())
    }

    /// The logs of the IdP and every gateway, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = format!("--- idp\n{}", self.idp.proc.log());
        for (i, g) in self.gateways.iter().enumerate() {
            out.push_str(&format!("\n--- gateway {i}\n{}", g.log()));
        }
        out
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Mints logout tokens for an IdP with a private key (the IdP's own, or another), as
/// the IdP — or a forger holding its key — would.
pub struct Minter {
    pub issuer: String,
    pub client_id: String,
    kid: String,
    key: EncodingKey,
}

impl Minter {
    /// For the IdP at `issuer` (its first key's `kid`) and its client `client_id`,
    /// signing with the RSA key in `key_file`.
    pub async fn new(issuer: &str, client_id: &str, key_file: &Path) -> Result<Minter> {
        let jwks: Value = reqwest::get(format!("{issuer}/jwks")).await?.json().await?;
        let kid = jwks["keys"][0]["kid"].as_str().context("no kid in the IdP's JWKS")?;
        Ok(Minter {
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
            kid: kid.to_string(),
            key: EncodingKey::from_rsa_pem(&std::fs::read(key_file)?)?,
        })
    }

    /// For the shop's IdP, signing with the key in `key_file`.
    pub async fn of(shop: &LoopbackShop, key_file: PathBuf) -> Result<Minter> {
        Self::new(&shop.idp.issuer(), CLIENT_ID, &key_file).await
    }

    /// The claims of a good logout token for `sub`, with a `jti` never used before.
    pub fn claims(&self, sub: &str) -> Value {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        json!({
            "iss": self.issuer, "aud": self.client_id, "sub": sub, "iat": now(), "exp": now() + 120,
            "jti": format!("test-jti-{n}-{}", now()), "events": { LOGOUT_EVENT: {} },
        })
    }

    /// `claims` signed RS256 with `typ: logout+jwt` and the IdP's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("logout+jwt".into());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap_or_default()
    }
}

/// POSTs `logout_token=<token>` to `url` as an IdP does: the status, the
/// `Cache-Control` header and the JSON body (`null` when none).
pub async fn post_logout_token(url: &str, token: &str) -> (u16, String, Value) {
    let sent = reqwest::Client::new()
        .post(url)
        .form(&[("logout_token", token)])
        .send()
        .await;
    let Ok(resp) = sent else {
        return (0, String::new(), Value::Null);
    };
    let status = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, cache, resp.json().await.unwrap_or(Value::Null))
}
