//! The storefront connectors' sections of a site: `[sites.customer_login]` (the
//! merchant's website signs customers in with a customer-login JWT),
//! `[sites.platform_login]` (the gateway signs customers in at a platform origin),
//! `[sites.login]` (sign-in links lead to the merchant's own login page) and
//! `[sites.provisioning]` (just-in-time customers and a default group).

use crate::model::{CustomerLoginConfig, MerchantLoginConfig, PlatformLoginConfig, ProvisioningConfig};
use crate::raw::{RawCustomerLogin, RawMerchantLogin, RawPlatformLogin, RawProvisioning};
use crate::validator::Validator;
use crate::values::{check_path, parse_duration, Secret};
use std::time::Duration;
use url::Url;

/// Shortest accepted HS256 secret of a customer-login or platform-login section, in
/// bytes: RFC 7518 §3.2 wants a key at least as long as the hash (256 bits).
pub const MIN_JWT_SECRET_LEN: usize = 32;
/// Longest accepted `customer_login.max_age`: a customer-login JWT is a one-click
/// link, not a credential to keep.
pub const MAX_CUSTOMER_LOGIN_AGE: Duration = Duration::from_secs(300);
/// Longest accepted `provisioning.timeout`: the shopper waits for it at sign-in.
pub const MAX_PROVISIONING_TIMEOUT: Duration = Duration::from_secs(30);
/// Shortest accepted `provisioning.secret`, in bytes.
pub const MIN_PROVISIONING_SECRET_LEN: usize = 16;
/// What `{return_to}` in `[sites.login] url` is replaced with.
pub const RETURN_TO_PLACEHOLDER: &str = "{return_to}";

pub(crate) fn customer_login(v: &mut Validator<'_>, p: &str, raw: &RawCustomerLogin) -> CustomerLoginConfig {
    let client_id = required_text(v, &format!("{p}.client_id"), raw.client_id.as_ref());
    let client_secret = jwt_secret(v, &format!("{p}.client_secret"), raw.client_secret.as_ref());
    let store_hash = store_hash(v, &format!("{p}.store_hash"), raw.store_hash.as_ref());
    let channel_id = channel_id(v, &format!("{p}.channel_id"), raw.channel_id);
    let path = token_path(v, &format!("{p}.path"), raw.path.as_deref());
    let max_age = parse_duration(
        &mut v.errors,
        &format!("{p}.max_age"),
        raw.max_age.as_deref(),
        Duration::from_secs(30),
    );
    if max_age > MAX_CUSTOMER_LOGIN_AGE {
        v.errors.push(
            format!("{p}.max_age"),
            format!("must be at most {}", humantime::format_duration(MAX_CUSTOMER_LOGIN_AGE)),
        );
    }
    let default_redirect = local_target(
        v,
        &format!("{p}.default_redirect"),
        raw.default_redirect.as_deref(),
        "/account",
    );
    let logout_redirect = local_target(
        v,
        &format!("{p}.logout_redirect"),
        raw.logout_redirect.as_deref(),
        "/login.php?action=logout",
    );
    CustomerLoginConfig {
        client_id,
        client_secret,
        store_hash,
        channel_id,
        path,
        max_age,
        default_redirect,
        logout_redirect,
    }
}

pub(crate) fn platform_login(v: &mut Validator<'_>, p: &str, raw: &RawPlatformLogin) -> PlatformLoginConfig {
    PlatformLoginConfig {
        client_id: required_text(v, &format!("{p}.client_id"), raw.client_id.as_ref()),
        client_secret: jwt_secret(v, &format!("{p}.client_secret"), raw.client_secret.as_ref()),
        store_hash: store_hash(v, &format!("{p}.store_hash"), raw.store_hash.as_ref()),
        channel_id: channel_id(v, &format!("{p}.channel_id"), raw.channel_id),
        path: token_path(v, &format!("{p}.path"), raw.path.as_deref()),
        logout_path: local_target(
            v,
            &format!("{p}.logout_path"),
            raw.logout_path.as_deref(),
            "/login.php?action=logout",
        ),
    }
}

pub(crate) fn merchant_login(v: &mut Validator<'_>, p: &str, raw: &RawMerchantLogin) -> MerchantLoginConfig {
    let key = format!("{p}.url");
    let Some(url) = v.opt_text(&key, raw.url.as_ref()) else {
        if raw.url.is_none() {
            v.errors.push(key, "is required");
        }
        return MerchantLoginConfig { url: String::new() };
    };
    if url.matches(RETURN_TO_PLACEHOLDER).count() > 1 {
        v.errors.push(&key, format!("may hold {RETURN_TO_PLACEHOLDER} once"));
    }
    let probe = url.replace(RETURN_TO_PLACEHOLDER, "x");
    match Url::parse(&probe) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() && u.fragment().is_none() => {}
        _ => v.errors.push(
            &key,
            format!("{url:?} is not an http(s) URL (write {RETURN_TO_PLACEHOLDER} where the return path goes)"),
        ),
    }
    MerchantLoginConfig { url }
}

pub(crate) fn provisioning(v: &mut Validator<'_>, p: &str, raw: &RawProvisioning) -> ProvisioningConfig {
    let url = v
        .opt_text(&format!("{p}.url"), raw.url.as_ref())
        .and_then(|t| match Url::parse(&t) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
            _ => {
                v.errors
                    .push(format!("{p}.url"), format!("{t:?} is not an http(s) URL"));
                None
            }
        });
    let timeout = parse_duration(
        &mut v.errors,
        &format!("{p}.timeout"),
        raw.timeout.as_deref(),
        Duration::from_secs(3),
    );
    if timeout > MAX_PROVISIONING_TIMEOUT {
        v.errors.push(
            format!("{p}.timeout"),
            format!(
                "must be at most {}",
                humantime::format_duration(MAX_PROVISIONING_TIMEOUT)
            ),
        );
    }
    let cache_ttl = match raw.cache_ttl.as_deref() {
        Some("0") | Some("off") => Duration::ZERO,
        other => parse_duration(
            &mut v.errors,
            &format!("{p}.cache_ttl"),
            other,
            Duration::from_secs(600),
        ),
    };
    let default_group = raw.default_group.clone().filter(|g| {
        let ok = !g.is_empty() && g.len() <= 128 && !g.contains(',') && !g.chars().any(char::is_control);
        if !ok {
            v.errors.push(
                format!("{p}.default_group"),
                format!("{g:?} must be a non-empty group name without commas"),
            );
        }
        ok
    });
    let secret = v.opt_text(&format!("{p}.secret"), raw.secret.as_ref()).and_then(|s| {
        if s.len() < MIN_PROVISIONING_SECRET_LEN || !s.bytes().all(|b| b.is_ascii_graphic()) {
            v.errors.push(
                format!("{p}.secret"),
                format!("must be at least {MIN_PROVISIONING_SECRET_LEN} printable bytes (write it as \"${{PROVISIONING_SECRET}}\")"),
            );
            return None;
        }
        Some(Secret::new(s))
    });
    if url.is_none() && default_group.is_none() && raw.url.is_none() {
        v.errors
            .push(p, "needs a url (the provisioning hook), a default_group, or both");
    }
    if url.is_none() && raw.secret.is_some() {
        v.errors.push(format!("{p}.secret"), "is sent to the hook: set url too");
    }
    ProvisioningConfig {
        url,
        timeout,
        cache_ttl,
        default_group,
        secret,
    }
}

fn required_text(v: &mut Validator<'_>, key: &str, raw: Option<&String>) -> String {
    let value = v.opt_text(key, raw).unwrap_or_default();
    if value.is_empty() {
        v.errors.push(key, "is required");
    }
    value
}

fn jwt_secret(v: &mut Validator<'_>, key: &str, raw: Option<&String>) -> Secret {
    match v.opt_text(key, raw) {
        Some(s) if s.len() >= MIN_JWT_SECRET_LEN => Secret::new(s),
        other => {
            if other.is_some() || raw.is_none() {
                v.errors.push(
                    key,
                    format!(
                        "is required, at least {MIN_JWT_SECRET_LEN} bytes (write it as \"${{CUSTOMER_LOGIN_SECRET}}\")"
                    ),
                );
            }
            Secret::new(String::new())
        }
    }
}

fn store_hash(v: &mut Validator<'_>, key: &str, raw: Option<&String>) -> String {
    let value = required_text(v, key, raw);
    let ok = value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !value.is_empty() && !ok {
        v.errors
            .push(key, format!("{value:?} must be letters, digits, - and _ (at most 64)"));
    }
    value
}

fn channel_id(v: &mut Validator<'_>, key: &str, raw: Option<i64>) -> Option<u64> {
    let id = raw?;
    match u64::try_from(id) {
        Ok(id) => Some(id),
        Err(_) => {
            v.errors.push(key, format!("{id} must be a channel number, 0 or more"));
            None
        }
    }
}

/// A token path: a plain, canonical path ending with `/`; the token follows it.
fn token_path(v: &mut Validator<'_>, key: &str, raw: Option<&str>) -> String {
    let path = raw.unwrap_or("/login/token/").to_string();
    if let Err(m) = check_path(&path) {
        v.errors.push(key, m);
    } else if !path.ends_with('/') || path == "/" {
        v.errors.push(
            key,
            format!("{path:?} must end with / (the token follows it) and not be /"),
        );
    } else {
        crate::request_safety::check_canonical_path(&mut v.errors, key, path.trim_end_matches('/'));
    }
    path
}

/// A same-site redirect target written in the config: a path with an optional query.
fn local_target(v: &mut Validator<'_>, key: &str, raw: Option<&str>, default: &str) -> String {
    let target = raw.unwrap_or(default).to_string();
    let (path, _query) = target.split_once('?').unwrap_or((&target, ""));
    let bad = check_path(path).is_err()
        || target.contains(['#', '\\'])
        || target.contains(|c: char| c.is_whitespace() || c.is_control());
    if bad {
        v.errors.push(
            key,
            format!("{target:?} must be a path on this site (like \"/account\")"),
        );
    }
    target
}

/// What the connector sections need of each other and of the rest of the site.
pub(crate) fn connector_checks(
    v: &mut Validator<'_>,
    p: &str,
    raw: &crate::raw::RawSite,
    site: &mut crate::model::SiteConfig,
) {
    if site.merchant_login.is_some() && site.customer_login.is_none() {
        v.errors.push(
            format!("{p}.login"),
            "the merchant's login page returns customers with a customer-login JWT: add [sites.customer_login]",
        );
    }
    // An IdP's subjects and the merchant's customer ids are two namespaces: with
    // both on one site, IdP subject "42" would be customer 42 to the origin. The
    // provisioning hook maps IdP sign-ins to the shop's customers, so both name
    // the same thing.
    let hook = site.provisioning.as_ref().and_then(|c| c.url.as_ref()).is_some();
    if site.customer_login.is_some() && site.oidc.is_some() && !hook {
        v.errors.push(
            format!("{p}.customer_login"),
            "with [sites.oidc] too, IdP subjects and the merchant's customer ids would share X-Customer-Id: add [sites.provisioning] with a url that maps IdP sign-ins to the shop's customers",
        );
    }
    if let Some(platform) = &site.platform_login {
        if !site.has_idp() {
            v.errors.push(
                format!("{p}.platform_login"),
                "hands an IdP sign-in to the platform: add [sites.oidc] or [[sites.idps]]",
            );
        }
        if site.provisioning.as_ref().and_then(|c| c.url.as_ref()).is_none() {
            v.errors.push(
                format!("{p}.platform_login"),
                "needs the platform's customer id: add [sites.provisioning] with a url",
            );
        }
        // A gateway logout ends on the platform's logout page, unless told otherwise.
        let explicit = raw.oidc.as_ref().is_some_and(|o| o.post_logout_path.is_some());
        if let (Some(oidc), false) = (site.oidc.as_mut(), explicit) {
            oidc.post_logout_path = platform.logout_path.clone();
        }
        for (idp, raw_idp) in site.idps.iter_mut().zip(&raw.idps) {
            if raw_idp.post_logout_path.is_none() {
                idp.oidc.post_logout_path = platform.logout_path.clone();
            }
        }
    }
    // A callback path may not shadow the gateway's own endpoints or the whole site.
    let prefix = format!("{}/", site.sso_prefix);
    let callbacks = site
        .oidc
        .iter()
        .map(|o| ("oidc.callback_path".to_string(), &o.callback_path));
    let idp_callbacks = site
        .idps
        .iter()
        .enumerate()
        .map(|(i, idp)| (format!("idps[{i}].callback_path"), &idp.oidc.callback_path));
    for (key, path) in callbacks.chain(idp_callbacks) {
        let lower = path.to_ascii_lowercase();
        if lower.trim_end_matches('/').is_empty() || lower.starts_with(&prefix.to_ascii_lowercase()) {
            v.errors.push(
                format!("{p}.{key}"),
                format!("{path:?} would shadow the site or the gateway's own {prefix} endpoints"),
            );
        }
    }
    let mut owned: Vec<(String, &str)> = vec![(prefix.clone(), "sso_prefix")];
    if let Some(oidc) = &site.oidc {
        owned.push((oidc.callback_path.clone(), "oidc.callback_path"));
    }
    for idp in &site.idps {
        owned.push((idp.oidc.callback_path.clone(), "idps[].callback_path"));
    }
    let token_paths = [
        site.customer_login
            .as_ref()
            .map(|c| (c.path.as_str(), "customer_login.path")),
        site.platform_login
            .as_ref()
            .map(|c| (c.path.as_str(), "platform_login.path")),
    ];
    for (path, key) in token_paths.into_iter().flatten() {
        for (other, other_key) in &owned {
            if path.starts_with(other.as_str()) || other.starts_with(path) {
                v.errors.push(
                    format!("{p}.{key}"),
                    format!("{path:?} overlaps {other_key} ({other:?})"),
                );
            }
        }
        owned.push((path.to_string(), key));
    }
}

#[cfg(test)]
#[path = "connectors_tests.rs"]
mod tests;
