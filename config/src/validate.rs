//! Raw → typed. Collects every error with its key path and never panics.

use crate::errors::{ConfigErrors, Errors};
use crate::model::*;
use crate::raw::*;
use crate::values::{check_header_name, check_listen, check_path, parse_duration, parse_upstream, Secret};
use std::collections::HashMap;
use std::time::Duration;
use url::Url;

/// Shortest accepted `sessions.cookie_secret`, in bytes.
pub const MIN_COOKIE_SECRET_LEN: usize = 32;
/// Shortest accepted `server.admin_token`, in bytes.
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;
/// Longest accepted `sites[].token.ttl`.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(300);

pub use crate::validator::Validator;

impl Validator<'_> {
    pub fn config(mut self, raw: RawConfig) -> Result<Config, ConfigErrors> {
        let server = self.server(&raw.server);
        let sessions = self.sessions(&raw.sessions);
        if raw.sites.is_empty() {
            self.errors.push("sites", "at least one [[sites]] entry is required");
        }
        let sites: Vec<SiteConfig> = raw
            .sites
            .iter()
            .enumerate()
            .map(|(i, s)| self.site(&format!("sites[{i}]"), s))
            .collect();
        self.cross_site_checks(&sites);
        let sso = raw.sso.as_ref().map(|s| self.sso(s));
        self.sso_checks(sso.as_ref(), &sites);
        let config = Config {
            server,
            sessions,
            sites,
            sso,
        };
        self.tls_cross_checks(&config);
        self.errors.into_result(config)
    }

    fn server(&mut self, raw: &RawServer) -> ServerConfig {
        let listen = raw.listen.clone().unwrap_or_else(|| vec!["127.0.0.1:8080".into()]);
        if listen.is_empty() && raw.tls.is_empty() {
            self.errors.push(
                "server.listen",
                "needs at least one address (or a [[server.tls]] listener)",
            );
        }
        let listen: Vec<String> = listen
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                let path = format!("server.listen[{i}]");
                let l = self.text(&path, l)?;
                check_listen(&l).map_err(|m| self.errors.push(&path, m)).ok()?;
                Some(l)
            })
            .collect();
        let admin_listen = self.opt_text("server.admin_listen", raw.admin_listen.as_ref());
        if let Some(admin) = &admin_listen {
            if let Err(m) = check_listen(admin) {
                self.errors.push("server.admin_listen", m);
            } else if listen.contains(admin) {
                self.errors
                    .push("server.admin_listen", "must differ from every server.listen address");
            }
        }
        let admin_token = self.admin_token(raw.admin_token.as_ref());
        let trusted_proxies = raw
            .trusted_proxies
            .iter()
            .enumerate()
            .filter_map(|(i, cidr)| {
                let path = format!("server.trusted_proxies[{i}]");
                let parsed = cidr
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| cidr.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
                parsed
                    .map_err(|_| {
                        self.errors
                            .push(path, format!("{cidr:?} is not a CIDR (10.0.0.0/8) or IP"))
                    })
                    .ok()
            })
            .collect();
        let threads = match raw.threads {
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
            Some(n) if (1..=1024).contains(&n) => n as usize,
            Some(n) => {
                self.errors
                    .push("server.threads", format!("{n} is not between 1 and 1024"));
                1
            }
        };
        let log_format = match raw.log_format.as_deref() {
            None | Some("human") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => {
                self.errors
                    .push("server.log_format", format!("{other:?} is not \"human\" or \"json\""));
                LogFormat::Human
            }
        };
        let upstream_keepalive_pool_size = match raw.upstream_keepalive_pool_size {
            None => 1024,
            Some(n) if (1..=1_000_000).contains(&n) => n as usize,
            Some(n) => {
                self.errors.push(
                    "server.upstream_keepalive_pool_size",
                    format!("{n} is not between 1 and 1000000"),
                );
                1024
            }
        };
        let tls = self.tls_listeners(raw);
        let (redirect_listen, acme_upstream) = self.redirect_listeners(raw);
        let upstream_ca_file = self.upstream_ca_file(raw);
        let rate_limits = self.rate_limits(&raw.rate_limits);
        let e = &mut self.errors;
        ServerConfig {
            rate_limits,
            tls,
            redirect_listen,
            acme_upstream,
            upstream_ca_file,
            listen,
            admin_listen,
            admin_token,
            trusted_proxies,
            threads,
            h2c: raw.h2c.unwrap_or(false),
            work_stealing: raw.work_stealing.unwrap_or(false),
            upstream_keepalive_pool_size,
            log_format,
            log_level: raw.log_level.clone().unwrap_or_else(|| "info".into()),
            connect_timeout: dur(e, "connect_timeout", &raw.connect_timeout, 3),
            read_timeout: dur(e, "read_timeout", &raw.read_timeout, 60),
            write_timeout: dur(e, "write_timeout", &raw.write_timeout, 60),
            upstream_idle_timeout: dur(e, "upstream_idle_timeout", &raw.upstream_idle_timeout, 60),
            upstream_failure_cooldown: dur(e, "upstream_failure_cooldown", &raw.upstream_failure_cooldown, 10),
            grace_period: dur(e, "grace_period", &raw.grace_period, 1),
            graceful_shutdown_timeout: dur(e, "graceful_shutdown_timeout", &raw.graceful_shutdown_timeout, 10),
            upgrade_sock: raw
                .upgrade_sock
                .clone()
                .unwrap_or_else(|| "/tmp/sso-gateway-upgrade.sock".into()),
            pid_file: raw.pid_file.clone().unwrap_or_else(|| "/tmp/sso-gateway.pid".into()),
        }
    }

    /// `server.admin_token`: a secret (`${ENV}` expands); empty or shorter than
    /// [`MIN_ADMIN_TOKEN_LEN`] bytes is refused rather than taken as "no token".
    fn admin_token(&mut self, raw: Option<&String>) -> Option<Secret> {
        let token = self.opt_text("server.admin_token", raw)?;
        if token.len() < MIN_ADMIN_TOKEN_LEN {
            self.errors.push(
                "server.admin_token",
                format!("must be at least {MIN_ADMIN_TOKEN_LEN} bytes (remove the key for no token)"),
            );
            return None;
        }
        if token.bytes().any(|b| !b.is_ascii_graphic()) {
            self.errors
                .push("server.admin_token", "must be printable ASCII without spaces");
            return None;
        }
        Some(Secret::new(token))
    }

    fn sessions(&mut self, raw: &RawSessions) -> SessionsConfig {
        let store = match raw.store.as_deref() {
            None | Some("memory") => SessionStoreKind::Memory,
            Some("redis") => SessionStoreKind::Redis,
            Some(other) => {
                self.errors
                    .push("sessions.store", format!("{other:?} is not \"memory\" or \"redis\""));
                SessionStoreKind::Memory
            }
        };
        let redis_url = self.opt_text("sessions.redis_url", raw.redis_url.as_ref());
        match (&redis_url, store) {
            (None, SessionStoreKind::Redis) => self.errors.push(
                "sessions.redis_url",
                "is required with store = \"redis\" (redis://host:6379/0 or rediss:// for TLS)",
            ),
            (Some(url), _) if !(url.starts_with("redis://") || url.starts_with("rediss://")) => self.errors.push(
                "sessions.redis_url",
                "must start with redis:// or rediss:// (Sentinel and Cluster URLs are not supported)",
            ),
            _ => {}
        }
        let redis_key_prefix = raw.redis_key_prefix.clone().unwrap_or_else(|| "sso".into());
        if redis_key_prefix.is_empty()
            || redis_key_prefix.len() > 64
            || !redis_key_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        {
            self.errors.push(
                "sessions.redis_key_prefix",
                format!("{redis_key_prefix:?} is not 1-64 letters, digits, '.', '-' or '_'"),
            );
        }
        let cookie_secret = match self.opt_text("sessions.cookie_secret", raw.cookie_secret.as_ref()) {
            Some(s) if s.len() >= MIN_COOKIE_SECRET_LEN => Secret::new(s),
            Some(s) => {
                self.errors.push(
                    "sessions.cookie_secret",
                    format!("is {} bytes; at least {MIN_COOKIE_SECRET_LEN} random bytes are required (openssl rand -hex 32)", s.len()),
                );
                Secret::new(String::new())
            }
            None => {
                if raw.cookie_secret.is_none() {
                    self.errors.push(
                        "sessions.cookie_secret",
                        "is required (write it as \"${SSO_COOKIE_SECRET}\")",
                    );
                }
                Secret::new(String::new())
            }
        };
        let cookie_name = raw.cookie_name.clone().unwrap_or_else(|| "sso_session".into());
        if cookie_name.is_empty()
            || !cookie_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            self.errors.push(
                "sessions.cookie_name",
                format!("{cookie_name:?} is not a cookie name (letters, digits, - and _)"),
            );
        }
        let e = &mut self.errors;
        let idle_timeout = parse_duration(
            e,
            "sessions.idle_timeout",
            raw.idle_timeout.as_deref(),
            Duration::from_secs(30 * 60),
        );
        let absolute_timeout = parse_duration(
            e,
            "sessions.absolute_timeout",
            raw.absolute_timeout.as_deref(),
            Duration::from_secs(12 * 3600),
        );
        if idle_timeout > absolute_timeout {
            e.push(
                "sessions.idle_timeout",
                "must not be longer than sessions.absolute_timeout",
            );
        }
        let max_entries = match raw.max_entries {
            None => 1_000_000,
            Some(n) if n >= 1 => n as usize,
            Some(n) => {
                e.push("sessions.max_entries", format!("{n} must be at least 1"));
                1
            }
        };
        let max_per_customer = match raw.max_per_customer {
            None => 10,
            Some(n) if (1..=10_000).contains(&n) => n as usize,
            Some(n) => {
                e.push("sessions.max_per_customer", format!("{n} is not between 1 and 10000"));
                10
            }
        };
        let max_pending_logins = match raw.max_pending_logins {
            None => 100_000,
            Some(n) if (1..=100_000_000).contains(&n) => n as usize,
            Some(n) => {
                e.push(
                    "sessions.max_pending_logins",
                    format!("{n} is not between 1 and 100000000"),
                );
                100_000
            }
        };
        let l1_ttl = parse_duration(e, "sessions.l1_ttl", raw.l1_ttl.as_deref(), Duration::from_secs(5));
        if l1_ttl > Duration::from_secs(60) {
            e.push(
                "sessions.l1_ttl",
                "is longer than 60s: a revoked session could be served that long while Redis is down",
            );
        }
        if store == SessionStoreKind::Redis && l1_ttl * 2 > idle_timeout {
            e.push(
                "sessions.l1_ttl",
                "must be at most half of sessions.idle_timeout: the idle timer in Redis is renewed once per l1_ttl",
            );
        }
        SessionsConfig {
            max_per_customer,
            max_pending_logins,
            store,
            redis_url,
            redis_key_prefix,
            l1_ttl,
            fail_closed: raw.fail_closed.unwrap_or(false),
            cookie_secret,
            cookie_name,
            idle_timeout,
            absolute_timeout,
            max_entries,
        }
    }

    fn site(&mut self, p: &str, raw: &RawSite) -> SiteConfig {
        let name = raw.name.clone().unwrap_or_default();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            self.errors.push(
                format!("{p}.name"),
                format!("{name:?} must be a non-empty name of letters, digits, - and _"),
            );
        }
        if raw.hosts.is_empty() {
            self.errors.push(format!("{p}.hosts"), "needs at least one host name");
        }
        let hosts = raw
            .hosts
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let host = h.trim().to_ascii_lowercase();
                let valid = !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
                if valid {
                    Some(host)
                } else {
                    self.errors.push(
                        format!("{p}.hosts[{i}]"),
                        format!("{h:?} is not a host name (no port, no scheme)"),
                    );
                    None
                }
            })
            .collect();
        if raw.upstreams.is_empty() {
            self.errors
                .push(format!("{p}.upstreams"), "needs at least one upstream (host:port)");
        }
        let upstreams = raw
            .upstreams
            .iter()
            .enumerate()
            .filter_map(|(i, u)| {
                let path = format!("{p}.upstreams[{i}]");
                let u = self.text(&path, u)?;
                parse_upstream(&u).map_err(|m| self.errors.push(path, m)).ok()
            })
            .collect();
        let public_url = self.public_url(p, raw);
        let sso_prefix = raw.sso_prefix.clone().unwrap_or_else(|| "/_sso".into());
        if let Err(m) = check_path(&sso_prefix) {
            self.errors.push(format!("{p}.sso_prefix"), m);
        }
        let sso_prefix = sso_prefix.trim_end_matches('/').to_string();
        crate::request_safety::check_canonical_path(&mut self.errors, &format!("{p}.sso_prefix"), &sso_prefix);
        let identity_headers = self.identity_headers(p, &raw.identity_headers);
        let oidc = raw.oidc.as_ref().map(|o| self.oidc(&format!("{p}.oidc"), o));
        let idps = self.idps(p, raw);
        let token = self.token(p, &raw.token);
        let customer_login = raw
            .customer_login
            .as_ref()
            .map(|c| self.customer_login(&format!("{p}.customer_login"), c));
        let platform_login = raw
            .platform_login
            .as_ref()
            .map(|c| self.platform_login(&format!("{p}.platform_login"), c));
        let merchant_login = raw
            .login
            .as_ref()
            .map(|c| self.merchant_login(&format!("{p}.login"), c));
        let provisioning = raw
            .provisioning
            .as_ref()
            .map(|c| self.provisioning(&format!("{p}.provisioning"), c));
        let has_idp = oidc.is_some() || !idps.is_empty();
        let routes = self.routes(p, raw, has_idp || customer_login.is_some(), has_idp);
        let tls = self.site_tls(p, raw);
        let hsts_max_age = self.hsts(p, raw, public_url.scheme() == "https");
        let upstream_insecure_skip_verify = raw.upstream_insecure_skip_verify.unwrap_or(false);
        let paths = PathPolicy {
            case_insensitive: raw.case_insensitive_paths.unwrap_or(true),
            allow_encoded_slashes: raw.allow_encoded_slashes.unwrap_or(false),
        };
        let site = SiteConfig {
            paths,
            forward_gateway_credentials: raw.forward_gateway_credentials.unwrap_or(false),
            tls,
            hsts_max_age,
            upstream_insecure_skip_verify,
            name,
            hosts,
            upstreams,
            public_url,
            sso_prefix,
            identity_headers,
            oidc,
            idps,
            token,
            routes,
            customer_login,
            platform_login,
            merchant_login,
            provisioning,
            ecwid: raw.ecwid.as_ref().map(|e| self.ecwid(&format!("{p}.ecwid"), e)),
            sso: self.site_sso(p, raw.sso.as_ref()),
        };
        let mut site = site;
        self.connector_checks(p, raw, &mut site);
        self.site_safety(p, &site);
        site
    }

    fn public_url(&mut self, p: &str, raw: &RawSite) -> Url {
        let fallback = unreachable_url;
        let path = format!("{p}.public_url");
        let Some(text) = self.opt_text(&path, raw.public_url.as_ref()) else {
            if raw.public_url.is_none() {
                self.errors.push(
                    path,
                    "is required (the URL shoppers use, e.g. \"https://shop.example\")",
                );
            }
            return fallback();
        };
        match Url::parse(&text) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && u.path() == "/"
                    && u.query().is_none() =>
            {
                u
            }
            Ok(_) => {
                self.errors.push(
                    path,
                    format!("{text:?} must be an http(s) URL with a host and no path, e.g. \"https://shop.example\""),
                );
                fallback()
            }
            Err(e) => {
                self.errors.push(path, format!("{text:?} is not a URL: {e}"));
                fallback()
            }
        }
    }

    fn identity_headers(&mut self, p: &str, raw: &RawIdentityHeaders) -> IdentityHeaderNames {
        let d = IdentityHeaderNames::default();
        let mut pick = |key: &str, v: &Option<String>, default: String| -> String {
            match v {
                Some(name) => match check_header_name(name) {
                    Ok(()) => name.clone(),
                    Err(m) => {
                        self.errors.push(format!("{p}.identity_headers.{key}"), m);
                        default
                    }
                },
                None => default,
            }
        };
        IdentityHeaderNames {
            id: pick("id", &raw.id, d.id),
            email: pick("email", &raw.email, d.email),
            name: pick("name", &raw.name, d.name),
            groups: pick("groups", &raw.groups, d.groups),
            token: pick("token", &raw.token, d.token),
        }
    }

    pub(crate) fn oidc(&mut self, p: &str, raw: &RawOidc) -> OidcConfig {
        let issuer = match self.opt_text(&format!("{p}.issuer"), raw.issuer.as_ref()) {
            Some(text) => match Url::parse(&text) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => u,
                _ => {
                    self.errors
                        .push(format!("{p}.issuer"), format!("{text:?} is not an http(s) URL"));
                    unreachable_url()
                }
            },
            None => {
                if raw.issuer.is_none() {
                    self.errors.push(format!("{p}.issuer"), "is required");
                }
                unreachable_url()
            }
        };
        let client_id = self
            .opt_text(&format!("{p}.client_id"), raw.client_id.as_ref())
            .unwrap_or_default();
        if client_id.is_empty() {
            self.errors.push(format!("{p}.client_id"), "is required");
        }
        let client_secret = match self.opt_text(&format!("{p}.client_secret"), raw.client_secret.as_ref()) {
            Some(s) if !s.is_empty() => Secret::new(s),
            other => {
                if other.is_some() || raw.client_secret.is_none() {
                    self.errors.push(
                        format!("{p}.client_secret"),
                        "is required (write it as \"${OIDC_CLIENT_SECRET}\")",
                    );
                }
                Secret::new(String::new())
            }
        };
        let scopes = raw
            .scopes
            .clone()
            .unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]);
        if !scopes.iter().any(|s| s == "openid") {
            self.errors.push(format!("{p}.scopes"), "must include \"openid\"");
        }
        let callback_path = raw
            .callback_path
            .clone()
            .unwrap_or_else(|| "/login/sso/callback".into());
        if let Err(m) = check_path(&callback_path) {
            self.errors.push(format!("{p}.callback_path"), m);
        } else {
            crate::request_safety::check_canonical_path(
                &mut self.errors,
                &format!("{p}.callback_path"),
                &callback_path,
            );
        }
        let logout_url = self
            .opt_text(&format!("{p}.logout_url"), raw.logout_url.as_ref())
            .and_then(|t| {
                Url::parse(&t)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .or_else(|| {
                        self.errors
                            .push(format!("{p}.logout_url"), format!("{t:?} is not an http(s) URL"));
                        None
                    })
            });
        let logout_params = raw
            .logout_params
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), self.text(&format!("{p}.logout_params.{k}"), v)?)))
            .collect();
        let post_logout_path = raw.post_logout_path.clone().unwrap_or_else(|| "/".into());
        if let Err(m) = check_path(&post_logout_path) {
            self.errors.push(format!("{p}.post_logout_path"), m);
        }
        let e = &mut self.errors;
        OidcConfig {
            issuer,
            client_id,
            client_secret,
            scopes,
            callback_path,
            logout_url,
            logout_params,
            post_logout_path,
            use_userinfo: raw.use_userinfo.unwrap_or(true),
            require_verified_email: raw.require_verified_email.unwrap_or(true),
            logout_id_token_hint: raw.logout_id_token_hint.unwrap_or(false),
            revalidate_interval: parse_duration(
                e,
                &format!("{p}.revalidate_interval"),
                raw.revalidate_interval.as_deref(),
                Duration::from_secs(300),
            ),
            request_timeout: parse_duration(
                e,
                &format!("{p}.request_timeout"),
                raw.request_timeout.as_deref(),
                Duration::from_secs(5),
            ),
            discovery_refresh: parse_duration(
                e,
                &format!("{p}.discovery_refresh"),
                raw.discovery_refresh.as_deref(),
                Duration::from_secs(3600),
            ),
        }
    }

    fn token(&mut self, p: &str, raw: &RawToken) -> TokenConfig {
        let path = format!("{p}.token.ttl");
        let ttl = parse_duration(&mut self.errors, &path, raw.ttl.as_deref(), Duration::from_secs(300));
        if ttl > MAX_TOKEN_TTL {
            self.errors
                .push(path, "must be at most 5m (the token is short-lived by design)");
        }
        let signing_key_file = self
            .opt_text(&format!("{p}.token.signing_key_file"), raw.signing_key_file.as_ref())
            .map(std::path::PathBuf::from);
        TokenConfig { signing_key_file, ttl }
    }

    fn routes(&mut self, p: &str, raw: &RawSite, has_oidc: bool, has_idp: bool) -> Vec<RouteConfig> {
        let mut routes: Vec<RouteConfig> = raw
            .routes
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let rp = format!("{p}.routes[{i}]");
                let prefix = r.prefix.clone().unwrap_or_default();
                if let Err(m) = check_path(&prefix) {
                    self.errors.push(format!("{rp}.prefix"), m);
                    return None;
                }
                // `/account/` covers `/account` too: the trailing slash is not part of the match.
                let prefix = match prefix.trim_end_matches('/') {
                    "" => "/".to_string(),
                    trimmed => trimmed.to_string(),
                };
                crate::request_safety::check_canonical_path(&mut self.errors, &format!("{rp}.prefix"), &prefix);
                let access = match r.access.as_deref() {
                    None | Some("public") => Access::Public,
                    Some("login") => Access::Login,
                    Some("api") => Access::Api,
                    Some(other) => {
                        self.errors.push(
                            format!("{rp}.access"),
                            format!("{other:?} is not \"public\", \"login\" or \"api\""),
                        );
                        return None;
                    }
                };
                if access != Access::Public && !has_oidc {
                    self.errors.push(
                        format!("{rp}.access"),
                        "needs a login method: add [sites.oidc], [[sites.idps]] or [sites.customer_login]",
                    );
                }
                let forward_idp_access_token = self.idp_token_forwarding(&rp, r, access, has_idp);
                Some(RouteConfig {
                    prefix,
                    access,
                    forward_idp_access_token,
                })
            })
            .collect();
        routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        routes
    }

    fn cross_site_checks(&mut self, sites: &[SiteConfig]) {
        let mut names = HashMap::new();
        let mut hosts: HashMap<&str, usize> = HashMap::new();
        for (i, site) in sites.iter().enumerate() {
            if let Some(first) = names.insert(site.name.as_str(), i) {
                self.errors.push(
                    format!("sites[{i}].name"),
                    format!("{:?} is already the name of sites[{first}]", site.name),
                );
            }
            for host in &site.hosts {
                if let Some(first) = hosts.insert(host, i) {
                    self.errors.push(
                        format!("sites[{i}].hosts"),
                        format!("{host:?} is already served by sites[{first}]"),
                    );
                }
            }
        }
    }
}

/// A `[server]` duration with its default in seconds.
fn dur(errors: &mut Errors, key: &str, raw: &Option<String>, default_secs: u64) -> Duration {
    parse_duration(
        errors,
        &format!("server.{key}"),
        raw.as_deref(),
        Duration::from_secs(default_secs),
    )
}

/// A syntactically valid URL used as a placeholder after an error was recorded; the
/// config is rejected anyway, so it is never used to reach anything.
fn unreachable_url() -> Url {
    match Url::parse("http://invalid.invalid/") {
        Ok(u) => u,
        Err(_) => unreachable!("constant URL parses"),
    }
}
