//! `[sites.forward_auth]`: the gateway as the auth service of an existing proxy
//! (nginx `auth_request`, Traefik `forwardAuth`, Caddy `forward_auth`), answering
//! `<sso_prefix>/auth` (docs/forward-auth.md).
//!
//! This file checks the section, and (with the whole configuration at hand) that a
//! site answering it names the proxy in `server.trusted_proxies`: the forwarded URL
//! is believed from no one else, so without it every answer would be a refusal.
//! Its value, [`ForwardAuthMode`], belongs to the model layer ([`crate::values`]).

use crate::model::Config;
use crate::raw::RawForwardAuth;
use crate::validator::Validator;

pub use crate::values::ForwardAuthMode;

pub(crate) fn forward_auth(v: &mut Validator<'_>, p: &str, raw: Option<&RawForwardAuth>) -> Option<ForwardAuthMode> {
    let raw = raw?;
    let mode = match raw.mode.as_deref() {
        None | Some("status") => ForwardAuthMode::Status,
        Some("redirect") => ForwardAuthMode::Redirect,
        Some(other) => {
            v.errors.push(
                format!("{p}.forward_auth.mode"),
                format!("{other:?} is not \"status\" (401 for nginx) or \"redirect\" (302 for Traefik and Caddy)"),
            );
            ForwardAuthMode::Status
        }
    };
    match raw.enabled {
        Some(true) => Some(mode),
        Some(false) => None,
        None => {
            // A section without `enabled` is a half-written one: say so rather than
            // leave the proxy with a 404 it cannot explain.
            v.errors.push(
                format!("{p}.forward_auth.enabled"),
                "is required: true to answer <sso_prefix>/auth, false to keep it off",
            );
            None
        }
    }
}

/// A site with forward-auth needs a trusted proxy: its forwarded URL is believed from
/// `server.trusted_proxies` only.
pub(crate) fn forward_auth_checks(v: &mut Validator<'_>, config: &Config) {
    if !config.server.trusted_proxies.is_empty() {
        return;
    }
    for (i, site) in config.sites.iter().enumerate() {
        if site.forward_auth.is_some() {
            v.errors.push(
                format!("sites[{i}].forward_auth.enabled"),
                "needs the proxy that calls <sso_prefix>/auth in server.trusted_proxies: the URL it \
                 forwards is believed from no one else",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ForwardAuthMode;

    const BASE: &str = r#"
[server]
listen = ["127.0.0.1:8080"]
{server}
[sessions]
cookie_secret = "0123456789abcdef0123456789abcdef"
[[sites]]
name = "shop"
hosts = ["shop.localhost"]
upstreams = ["127.0.0.1:3000"]
public_url = "http://shop.localhost:8080"
{section}
"#;

    fn parse(server: &str, section: &str) -> Result<crate::Config, String> {
        let text = BASE.replace("{server}", server).replace("{section}", section);
        crate::parse(&text, &|_| None).map_err(|e| e.to_string())
    }

    const TRUSTED: &str = "trusted_proxies = [\"127.0.0.1/32\"]";

    #[test]
    fn off_unless_enabled_and_status_by_default() {
        let cfg = parse(TRUSTED, "").expect("valid");
        assert!(cfg.sites[0].forward_auth.is_none());
        let cfg = parse(TRUSTED, "[sites.forward_auth]\nenabled = false\nmode = \"redirect\"").expect("valid");
        assert!(cfg.sites[0].forward_auth.is_none());
        let cfg = parse(TRUSTED, "[sites.forward_auth]\nenabled = true").expect("valid");
        assert_eq!(cfg.sites[0].forward_auth, Some(ForwardAuthMode::Status));
        let cfg = parse(TRUSTED, "[sites.forward_auth]\nenabled = true\nmode = \"redirect\"").expect("valid");
        assert_eq!(cfg.sites[0].forward_auth, Some(ForwardAuthMode::Redirect));
    }

    #[test]
    fn refuses_what_would_never_work() {
        for (server, section, key) in [
            (
                "",
                "[sites.forward_auth]\nenabled = true",
                "sites[0].forward_auth.enabled",
            ),
            (
                TRUSTED,
                "[sites.forward_auth]\nmode = \"status\"",
                "sites[0].forward_auth.enabled",
            ),
            (
                TRUSTED,
                "[sites.forward_auth]\nenabled = true\nmode = \"302\"",
                "sites[0].forward_auth.mode",
            ),
            (
                TRUSTED,
                "[sites.forward_auth]\nenabled = true\nsecret = \"x\"",
                "secret",
            ),
        ] {
            let err = parse(server, section).expect_err(section);
            assert!(err.contains(key), "{section:?}: {err}");
        }
    }
}
