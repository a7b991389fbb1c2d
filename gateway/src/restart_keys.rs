//! The settings a reload cannot apply: listeners, threads and other process-level
//! keys are read once when the server starts, and so is the session store. A reload
//! that changes them logs a warning naming them and keeps the running values; the
//! rest of the new configuration applies.

use sso_config::Config;

/// The keys whose value in `new` differs from the one the process started with.
pub fn changed(started: &Config, new: &Config) -> Vec<&'static str> {
    let (a, b) = (&started.server, &new.server);
    let tls = |c: &Config| c.server.tls.iter().map(|t| t.listen.clone()).collect::<Vec<_>>();
    let (s, n) = (&started.sessions, &new.sessions);
    [
        ("server.listen", a.listen != b.listen),
        ("server.tls[].listen", tls(started) != tls(new)),
        ("server.admin_listen", a.admin_listen != b.admin_listen),
        ("server.redirect_listen", a.redirect_listen != b.redirect_listen),
        ("server.threads", a.threads != b.threads),
        ("server.work_stealing", a.work_stealing != b.work_stealing),
        (
            "server.upstream_keepalive_pool_size",
            a.upstream_keepalive_pool_size != b.upstream_keepalive_pool_size,
        ),
        ("server.h2c", a.h2c != b.h2c),
        ("server.log_buffer_lines", a.log_buffer_lines != b.log_buffer_lines),
        ("server.upgrade_sock", a.upgrade_sock != b.upgrade_sock),
        ("server.pid_file", a.pid_file != b.pid_file),
        ("server.grace_period", a.grace_period != b.grace_period),
        (
            "server.graceful_shutdown_timeout",
            a.graceful_shutdown_timeout != b.graceful_shutdown_timeout,
        ),
        ("server.upstream_ca_file", a.upstream_ca_file != b.upstream_ca_file),
        ("server.log_format", a.log_format != b.log_format),
        ("server.log_level", a.log_level != b.log_level),
        ("sessions.store", s.store != n.store),
        ("sessions.redis_url", s.redis_url != n.redis_url),
        ("sessions.redis_cluster", s.redis_cluster != n.redis_cluster),
        ("sessions.max_entries", s.max_entries != n.max_entries),
        ("sessions.max_per_customer", s.max_per_customer != n.max_per_customer),
        (
            "sessions.max_pending_logins",
            s.max_pending_logins != n.max_pending_logins,
        ),
        ("sessions.redis_key_prefix", s.redis_key_prefix != n.redis_key_prefix),
        ("sessions.l1_ttl", s.l1_ttl != n.l1_ttl),
        ("sessions.fail_closed", s.fail_closed != n.fail_closed),
        // Redis records are encrypted with the key ring, set when the store was built;
        // with Redis the whole ring changes by a (rolling) restart, never half of it.
        (
            "sessions.cookie_secret",
            s.store == sso_config::SessionStoreKind::Redis && s.cookie_secret.expose() != n.cookie_secret.expose(),
        ),
        (
            "sessions.previous_cookie_secrets",
            s.store == sso_config::SessionStoreKind::Redis
                && !same_secrets(&s.previous_cookie_secrets, &n.previous_cookie_secrets),
        ),
    ]
    .into_iter()
    .filter_map(|(key, differs)| differs.then_some(key))
    .collect()
}

fn same_secrets(a: &[sso_config::Secret], b: &[sso_config::Secret]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.expose() == y.expose())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(server: &str, sessions: &str) -> Config {
        let text = format!(
            "[server]\n{server}\n[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n{sessions}\n\
             [[sites]]\nname = \"s\"\nhosts = [\"s.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\n\
             public_url = \"http://s.localhost\"\n"
        );
        sso_config::parse(&text, &|_| None).expect("config")
    }

    #[test]
    fn only_process_level_keys_are_named() {
        let base = config("listen = [\"127.0.0.1:8080\"]\nthreads = 2", "");
        assert!(changed(&base, &base).is_empty());
        let reloadable = config(
            "listen = [\"127.0.0.1:8080\"]\nthreads = 2\ntrusted_proxies = [\"10.0.0.0/8\"]\nconnect_timeout = \"1s\"",
            "absolute_timeout = \"1h\"\nidle_timeout = \"10m\"",
        );
        assert!(changed(&base, &reloadable).is_empty(), "these apply on reload");
        let moved = config(
            "listen = [\"127.0.0.1:8081\"]\nthreads = 4\nadmin_listen = \"127.0.0.1:9100\"",
            "max_entries = 10",
        );
        assert_eq!(
            changed(&base, &moved),
            [
                "server.listen",
                "server.admin_listen",
                "server.threads",
                "sessions.max_entries"
            ]
        );
    }

    #[test]
    fn with_redis_the_key_ring_changes_by_restart_only() {
        let redis = "store = \"redis\"\nredis_url = \"redis://127.0.0.1:6379/0\"";
        let before = config("", redis);
        let announced = config(
            "",
            &format!("{redis}\nprevious_cookie_secrets = [\"next-secret-0123456789abcdef012345\"]"),
        );
        assert_eq!(changed(&before, &announced), ["sessions.previous_cookie_secrets"]);
        // In memory nothing is encrypted with it: a reload rotates the ring.
        let memory = config("", "previous_cookie_secrets = [\"next-secret-0123456789abcdef012345\"]");
        assert!(changed(&config("", ""), &memory).is_empty());
    }
}
