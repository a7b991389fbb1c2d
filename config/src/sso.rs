//! `[sso]` and `[sites.sso]`: cross-site sign-on for a group of shops. The group's
//! auth host (`sso.auth_host`, served by this gateway and listed in no site) holds
//! the SSO session; sites link to it with one-time tokens (see docs/cross-site-sso.md).
//!
//! This file checks the two sections. Their types belong to the model layer
//! ([`crate::model`], [`crate::raw`], which `Config` and `RawConfig` name) and are
//! re-exported here under their old paths (`sso_config::sso::SsoConfig`).

use crate::model::SiteConfig;
use crate::validator::Validator;
use crate::values::parse_duration;
use std::time::Duration;
use url::Url;

pub use crate::model::{LogoutScope, SiteSsoConfig, SsoConfig, SsoMode};
pub use crate::raw::{RawSiteSso, RawSso};

/// Longest `sso.ott_ttl`: a one-time token only has to survive one redirect.
pub const MAX_OTT_TTL: Duration = Duration::from_secs(300);
/// Default `sso.ott_ttl`.
pub const DEFAULT_OTT_TTL: Duration = Duration::from_secs(60);
/// Default `sso.session_ttl`.
pub const DEFAULT_SSO_SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

pub(crate) fn sso(v: &mut Validator<'_>, raw: &RawSso) -> SsoConfig {
    let auth_url = auth_url(v, raw.auth_host.as_ref());
    let cookie_name = match raw.cookie_name.as_deref() {
        None => "sso_group".to_string(),
        Some(name) => {
            let name = name.strip_prefix("__Host-").unwrap_or(name);
            let token = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if !token {
                v.errors.push(
                    "sso.cookie_name",
                    format!("{name:?} must be letters, digits, '_', '-' or '.'"),
                );
            }
            name.to_string()
        }
    };
    let session_ttl = parse_duration(
        &mut v.errors,
        "sso.session_ttl",
        raw.session_ttl.as_deref(),
        DEFAULT_SSO_SESSION_TTL,
    );
    if session_ttl < Duration::from_secs(60) || session_ttl > Duration::from_secs(90 * 86_400) {
        v.errors.push("sso.session_ttl", "must be between 1 minute and 90 days");
    }
    let ott_ttl = parse_duration(&mut v.errors, "sso.ott_ttl", raw.ott_ttl.as_deref(), DEFAULT_OTT_TTL);
    if ott_ttl > MAX_OTT_TTL || ott_ttl < Duration::from_secs(5) {
        v.errors.push(
            "sso.ott_ttl",
            "must be between 5 seconds and 5 minutes (a one-time token only crosses one redirect)",
        );
    }
    SsoConfig {
        auth_url,
        cookie_name,
        session_ttl,
        ott_ttl,
    }
}

/// `sso.auth_host`: a host name (https), or an http(s) URL with a host and no path.
fn auth_url(v: &mut Validator<'_>, raw: Option<&String>) -> Url {
    let key = "sso.auth_host";
    let fallback = || Url::parse("https://invalid.invalid/").ok();
    let Some(text) = v.opt_text(key, raw) else {
        if raw.is_none() {
            v.errors
                .push(key, "is required (the group's auth host, e.g. \"auth.shops.example\")");
        }
        return fallback().unwrap_or_else(|| unreachable!("constant URL parses"));
    };
    let with_scheme = if text.contains("://") {
        text.clone()
    } else {
        format!("https://{text}")
    };
    match Url::parse(&with_scheme) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.path() == "/"
                && u.query().is_none()
                && u.username().is_empty()
                && u.password().is_none() =>
        {
            u
        }
        _ => {
            v.errors.push(
                key,
                format!("{text:?} must be a host name or an http(s) URL without a path, e.g. \"auth.shops.example\""),
            );
            fallback().unwrap_or_else(|| unreachable!("constant URL parses"))
        }
    }
}

pub(crate) fn site_sso(v: &mut Validator<'_>, p: &str, raw: Option<&RawSiteSso>) -> SiteSsoConfig {
    let Some(raw) = raw else {
        return SiteSsoConfig::default();
    };
    let mode = match raw.mode.as_deref() {
        None | Some("disabled") => SsoMode::Disabled,
        Some("auto") => SsoMode::Auto,
        Some("opt_in") => SsoMode::OptIn,
        Some(other) => {
            v.errors.push(
                format!("{p}.sso.mode"),
                format!("{other:?} is not \"auto\", \"opt_in\" or \"disabled\""),
            );
            SsoMode::Disabled
        }
    };
    let logout_scope = match raw.logout_scope.as_deref() {
        None | Some("global") => LogoutScope::Global,
        Some("site") => LogoutScope::Site,
        Some(other) => {
            v.errors.push(
                format!("{p}.sso.logout_scope"),
                format!("{other:?} is not \"global\" or \"site\""),
            );
            LogoutScope::Global
        }
    };
    SiteSsoConfig { mode, logout_scope }
}

/// `[sso]` against the sites: linked sites need it, and the auth host is no site's.
pub(crate) fn sso_checks(v: &mut Validator<'_>, sso: Option<&SsoConfig>, sites: &[SiteConfig]) {
    for (i, site) in sites.iter().enumerate() {
        if site.sso.linked() && sso.is_none() {
            v.errors.push(
                format!("sites[{i}].sso.mode"),
                "needs the group's [sso] section (auth_host)",
            );
        }
    }
    let Some(sso) = sso else { return };
    one_customer_namespace(v, sites);
    let auth = sso.authority();
    let auth_host = sso.auth_url.host_str().unwrap_or_default().to_ascii_lowercase();
    for (i, site) in sites.iter().enumerate() {
        let public = site.public_url.host_str().unwrap_or_default().to_ascii_lowercase();
        if site
            .hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&auth) || h.eq_ignore_ascii_case(&auth_host))
            || public == auth_host
        {
            v.errors.push(
                "sso.auth_host",
                format!("{auth:?} is also served by sites[{i}]: the auth host must be listed in no site"),
            );
        }
    }
}

/// The linked sites of a group hand each other customer ids: an id must reach a
/// site only in a namespace that site means by its ids ([`crate::namespaces`]).
/// For every linked site `r` without a provisioning hook, every other linked site
/// must yield only ids of `r`'s own namespaces; a linked site that signs nobody in
/// itself takes every other site's ids, so those must all be of one set. A site
/// with a hook maps each sign-in it receives and needs no rule.
fn one_customer_namespace(v: &mut Validator<'_>, sites: &[SiteConfig]) {
    let linked: Vec<(usize, &SiteConfig, Vec<String>)> = sites
        .iter()
        .enumerate()
        .filter(|(_, s)| s.sso.linked())
        .map(|(i, s)| (i, s, s.own_namespaces()))
        .collect();
    let fix = "give the receiving site a [sites.provisioning] hook that maps every sign-in to its own \
               customers, or set sso.mode = \"disabled\" on one of the two";
    for (r, receiver, accepted) in &linked {
        if receiver.hook_namespace().is_some() || accepted.is_empty() {
            continue;
        }
        for (s, sender, yields) in &linked {
            let foreign: Vec<&String> = yields.iter().filter(|n| !accepted.contains(n)).collect();
            let Some(first) = foreign.first().filter(|_| s != r) else {
                continue;
            };
            v.errors.push(
                format!("sites[{r}].sso.mode"),
                format!(
                    "sites[{s}] ({}) signs customers in as {}, which sites[{r}] ({}) does not know \
                     (it knows {}): a customer id of one would reach the other as another customer; {fix}",
                    sender.name,
                    crate::namespaces::describe(first),
                    receiver.name,
                    accepted
                        .iter()
                        .map(|n| crate::namespaces::describe(n))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            );
        }
    }
    // A site without sign-ins of its own takes ids from every other linked site.
    let receives_all = linked
        .iter()
        .find(|(_, s, own)| own.is_empty() && s.hook_namespace().is_none());
    if let Some((r, receiver, _)) = receives_all {
        let senders: Vec<&(usize, &SiteConfig, Vec<String>)> =
            linked.iter().filter(|(_, _, own)| !own.is_empty()).collect();
        if let (Some(a), Some(b)) = (senders.first(), senders.iter().find(|x| x.2 != senders[0].2)) {
            v.errors.push(
                format!("sites[{r}].sso.mode"),
                format!(
                    "sites[{r}] ({}) signs nobody in itself and takes customer ids from sites[{}] ({}) and \
                     sites[{}] ({}), which mean different customers by an id; {fix}",
                    receiver.name, a.0, a.1.name, b.0, b.1.name
                ),
            );
        }
    }
}

#[cfg(test)]
#[path = "sso_tests.rs"]
mod tests;
