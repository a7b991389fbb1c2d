//! Validation of the TLS keys: `[[server.tls]]`, `server.redirect_listen`,
//! `server.acme_upstream`, `[sites.tls]`, `sites[].hsts_max_age` and the upstream
//! TLS options. Certificate files themselves are read by the gateway at start-up
//! (and by `check`), which reports unreadable or mismatched files with these paths.

use crate::model::{Config, SiteTls, TlsListener};
use crate::raw::{RawServer, RawSite};
use crate::validator::Validator;
use crate::values::{check_listen, parse_duration, parse_upstream, Upstream};
use std::path::PathBuf;
use std::time::Duration;

/// HSTS max-age on https sites unless configured.
pub const DEFAULT_HSTS: Duration = Duration::from_secs(365 * 24 * 3600);

/// A certificate or key file: required, `${VAR}` expands.
fn pem_path(v: &mut Validator<'_>, key: &str, raw: Option<&String>) -> Option<PathBuf> {
    match raw {
        None => {
            v.errors.push(key, "is required (a PEM file path)");
            None
        }
        Some(r) => v.text(key, r).map(PathBuf::from),
    }
}

pub(crate) fn tls_listeners(v: &mut Validator<'_>, raw: &RawServer) -> Vec<TlsListener> {
    let mut out = Vec::new();
    for (i, l) in raw.tls.iter().enumerate() {
        let p = format!("server.tls[{i}]");
        let listen = match &l.listen {
            Some(addr) => match check_listen(addr) {
                Ok(()) => Some(addr.clone()),
                Err(m) => {
                    v.errors.push(format!("{p}.listen"), m);
                    None
                }
            },
            None => {
                v.errors.push(format!("{p}.listen"), "is required (host:port)");
                None
            }
        };
        let cert = pem_path(v, &format!("{p}.cert"), l.cert.as_ref());
        let key = pem_path(v, &format!("{p}.key"), l.key.as_ref());
        if let (Some(listen), Some(cert), Some(key)) = (listen, cert, key) {
            out.push(TlsListener { listen, cert, key });
        }
    }
    out
}

pub(crate) fn redirect_listeners(v: &mut Validator<'_>, raw: &RawServer) -> (Vec<String>, Option<Upstream>) {
    let listen = raw
        .redirect_listen
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            check_listen(l)
                .map_err(|m| v.errors.push(format!("server.redirect_listen[{i}]"), m))
                .ok()
                .map(|()| l.clone())
        })
        .collect();
    let acme = raw.acme_upstream.as_ref().and_then(|u| {
        let u = v.text("server.acme_upstream", u)?;
        parse_upstream(&u)
            .map_err(|m| v.errors.push("server.acme_upstream", m))
            .ok()
    });
    (listen, acme)
}

pub(crate) fn site_tls(v: &mut Validator<'_>, p: &str, raw: &RawSite) -> Option<SiteTls> {
    let t = raw.tls.as_ref()?;
    let cert = pem_path(v, &format!("{p}.tls.cert"), t.cert.as_ref());
    let key = pem_path(v, &format!("{p}.tls.key"), t.key.as_ref());
    Some(SiteTls { cert: cert?, key: key? })
}

pub(crate) fn hsts(v: &mut Validator<'_>, p: &str, raw: &RawSite, https: bool) -> Option<Duration> {
    let path = format!("{p}.hsts_max_age");
    match raw.hsts_max_age.as_deref() {
        Some("off") => None,
        Some(_) if !https => {
            v.errors.push(path, "applies to https sites only (public_url is http)");
            None
        }
        Some(value) => Some(parse_duration(&mut v.errors, &path, Some(value), DEFAULT_HSTS)),
        None if https => Some(DEFAULT_HSTS),
        None => None,
    }
}

pub(crate) fn upstream_ca_file(v: &mut Validator<'_>, raw: &RawServer) -> Option<PathBuf> {
    let path = v.text("server.upstream_ca_file", raw.upstream_ca_file.as_ref()?)?;
    if !std::path::Path::new(&path).is_file() {
        v.errors
            .push("server.upstream_ca_file", format!("{path:?} is not a readable file"));
    }
    Some(PathBuf::from(path))
}

/// Checks across server and sites: a site certificate needs a TLS listener; an
/// https `public_url` needs a TLS listener or a trusted TLS-terminating proxy.
pub(crate) fn tls_cross_checks(v: &mut Validator<'_>, config: &Config) {
    let has_tls = !config.server.tls.is_empty();
    for (i, site) in config.sites.iter().enumerate() {
        if site.tls.is_some() && !has_tls {
            v.errors
                .push(format!("sites[{i}].tls"), "needs a TLS listener: add [[server.tls]]");
        }
        if site.is_https() && !has_tls && config.server.trusted_proxies.is_empty() {
            v.errors.push(
                format!("sites[{i}].public_url"),
                "is https but nothing here terminates TLS: add [[server.tls]], or list the TLS-terminating \
                 load balancer in server.trusted_proxies",
            );
        }
    }
    let mut seen = std::collections::HashSet::new();
    let all = config
        .server
        .listen
        .iter()
        .map(|l| ("server.listen", l))
        .chain(config.server.tls.iter().map(|t| ("server.tls", &t.listen)))
        .chain(
            config
                .server
                .redirect_listen
                .iter()
                .map(|l| ("server.redirect_listen", l)),
        );
    for (key, addr) in all {
        if !seen.insert(addr.clone()) {
            v.errors.push(key, format!("{addr:?} is used by two listeners"));
        }
    }
}
