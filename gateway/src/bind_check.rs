//! Before Pingora starts: every address the gateway will listen on can be bound.
//! Pingora retries a taken port for a while and then panics; checked here first, a
//! taken port is one clear line naming the key, the address and the reason, and
//! exit status 1 (issue: start-up that never lies). Not done for `run --upgrade`,
//! which takes the sockets over from the running gateway.

use sso_config::Config;

/// `(key, address)` of every listener the configuration asks for, the admin
/// listener last.
pub fn listeners(config: &Config) -> Vec<(String, String)> {
    let s = &config.server;
    let mut all: Vec<(String, String)> = s
        .listen
        .iter()
        .enumerate()
        .map(|(i, a)| (format!("server.listen[{i}]"), a.clone()))
        .collect();
    all.extend(
        s.tls
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("server.tls[{i}].listen"), t.listen.clone())),
    );
    all.extend(
        s.redirect_listen
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("server.redirect_listen[{i}]"), a.clone())),
    );
    all.extend(
        s.admin_listen
            .iter()
            .map(|a| ("server.admin_listen".to_string(), a.clone())),
    );
    all
}

/// `Err` with one line per address that cannot be bound now.
pub fn every_listener_binds(config: &Config) -> Result<(), String> {
    let refused: Vec<String> = listeners(config)
        .into_iter()
        .filter_map(|(key, addr)| {
            std::net::TcpListener::bind(addr.as_str())
                .err()
                .map(|e| format!("{key}: cannot listen on {addr}: {e}"))
        })
        .collect();
    match refused.is_empty() {
        true => Ok(()),
        false => Err(refused.join("\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_is_named_with_its_key() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let text = format!(
            "[server]\nlisten = [\"{addr}\"]\n[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n\
             [[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\n\
             public_url = \"http://shop.localhost\"\n"
        );
        let config = sso_config::parse(&text, &|_| None).expect("config");
        let err = every_listener_binds(&config).expect_err("taken");
        assert!(
            err.starts_with(&format!("server.listen[0]: cannot listen on {addr}: ")),
            "{err}"
        );
        drop(taken);
        assert!(every_listener_binds(&config).is_ok());
    }
}
