//! Validation of one `[[sites]]` entry: its name, hosts, upstreams, public URL,
//! gateway prefix, identity headers, token and routes, then each of its sections
//! (their own files) and the checks that need the whole site; and the checks across
//! sites (no name or host twice).

use crate::model::{Access, IdentityHeaderNames, PathPolicy, RouteConfig, SiteConfig, TokenConfig};
use crate::raw::{RawIdentityHeaders, RawSite, RawToken};
use crate::request_safety::check_canonical_path;
use crate::validator::{unreachable_url, Validator};
use crate::values::{check_header_name, check_path, parse_duration, parse_upstream};
use crate::{
    connectors, cors, ecwid, forward_auth, idp_token_forwarding, idps, multipass, oidc, pages, request_safety,
    route_policy, site_session, sso, tls,
};
use std::collections::HashMap;
use std::time::Duration;
use url::Url;

/// Longest accepted `sites[].token.ttl`.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(300);

pub(crate) fn site(v: &mut Validator<'_>, p: &str, raw: &RawSite) -> SiteConfig {
    let name = raw.name.clone().unwrap_or_default();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        v.errors.push(
            format!("{p}.name"),
            format!("{name:?} must be a non-empty name of letters, digits, - and _"),
        );
    }
    if raw.hosts.is_empty() {
        v.errors.push(format!("{p}.hosts"), "needs at least one host name");
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
                v.errors.push(
                    format!("{p}.hosts[{i}]"),
                    format!("{h:?} is not a host name (no port, no scheme)"),
                );
                None
            }
        })
        .collect();
    if raw.upstreams.is_empty() {
        v.errors
            .push(format!("{p}.upstreams"), "needs at least one upstream (host:port)");
    }
    let upstreams = raw
        .upstreams
        .iter()
        .enumerate()
        .filter_map(|(i, u)| {
            let path = format!("{p}.upstreams[{i}]");
            let u = v.text(&path, u)?;
            parse_upstream(&u).map_err(|m| v.errors.push(path, m)).ok()
        })
        .collect();
    let public_url = public_url(v, p, raw);
    let sso_prefix = raw.sso_prefix.clone().unwrap_or_else(|| "/_sso".into());
    if let Err(m) = check_path(&sso_prefix) {
        v.errors.push(format!("{p}.sso_prefix"), m);
    }
    let sso_prefix = sso_prefix.trim_end_matches('/').to_string();
    check_canonical_path(&mut v.errors, &format!("{p}.sso_prefix"), &sso_prefix);
    let identity_headers = identity_headers(v, p, &raw.identity_headers);
    let oidc = raw.oidc.as_ref().map(|o| oidc::oidc(v, &format!("{p}.oidc"), o));
    let idps = idps::idps(v, p, raw);
    let token = token(v, p, &raw.token);
    let customer_login = raw
        .customer_login
        .as_ref()
        .map(|c| connectors::customer_login(v, &format!("{p}.customer_login"), c));
    let platform_login = raw
        .platform_login
        .as_ref()
        .map(|c| connectors::platform_login(v, &format!("{p}.platform_login"), c));
    let merchant_login = raw
        .login
        .as_ref()
        .map(|c| connectors::merchant_login(v, &format!("{p}.login"), c));
    let provisioning = raw
        .provisioning
        .as_ref()
        .map(|c| connectors::provisioning(v, &format!("{p}.provisioning"), c));
    let has_idp = oidc.is_some() || !idps.is_empty();
    let routes = routes(v, p, raw, has_idp || customer_login.is_some(), has_idp);
    let tls = tls::site_tls(v, p, raw);
    let hsts_max_age = tls::hsts(v, p, raw, public_url.scheme() == "https");
    let upstream_insecure_skip_verify = raw.upstream_insecure_skip_verify.unwrap_or(false);
    let paths = PathPolicy {
        case_insensitive: raw.case_insensitive_paths.unwrap_or(true),
        allow_encoded_slashes: raw.allow_encoded_slashes.unwrap_or(false),
    };
    let pages = pages::pages(v, p, raw.pages.as_ref(), &public_url);
    let site = SiteConfig {
        paths,
        forward_gateway_credentials: raw.forward_gateway_credentials.unwrap_or(false),
        cors_allow_origins: cors::allow_origins(v, p, raw, &public_url),
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
        ecwid: raw.ecwid.as_ref().map(|e| ecwid::ecwid(v, &format!("{p}.ecwid"), e)),
        multipass: raw
            .multipass
            .as_ref()
            .map(|m| multipass::multipass(v, &format!("{p}.multipass"), m)),
        sso: sso::site_sso(v, p, raw.sso.as_ref()),
        session: site_session::site_session(v, p, raw.session.as_ref()),
        forward_auth: forward_auth::forward_auth(v, p, raw.forward_auth.as_ref()),
        pages,
    };
    let mut site = site;
    connectors::connector_checks(v, p, raw, &mut site);
    multipass::multipass_checks(v, p, &site);
    request_safety::site_safety(v, p, &site);
    site
}

fn public_url(v: &mut Validator<'_>, p: &str, raw: &RawSite) -> Url {
    let fallback = unreachable_url;
    let path = format!("{p}.public_url");
    let Some(text) = v.opt_text(&path, raw.public_url.as_ref()) else {
        if raw.public_url.is_none() {
            v.errors.push(
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
            v.errors.push(
                path,
                format!("{text:?} must be an http(s) URL with a host and no path, e.g. \"https://shop.example\""),
            );
            fallback()
        }
        Err(e) => {
            v.errors.push(path, format!("{text:?} is not a URL: {e}"));
            fallback()
        }
    }
}

fn identity_headers(v: &mut Validator<'_>, p: &str, raw: &RawIdentityHeaders) -> IdentityHeaderNames {
    let d = IdentityHeaderNames::default();
    let mut pick = |key: &str, value: &Option<String>, default: String| -> String {
        match value {
            Some(name) => match check_header_name(name) {
                Ok(()) => name.clone(),
                Err(m) => {
                    v.errors.push(format!("{p}.identity_headers.{key}"), m);
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
        auth_time: pick("auth_time", &raw.auth_time, d.auth_time),
        acr: pick("acr", &raw.acr, d.acr),
        login_method: pick("login_method", &raw.login_method, d.login_method),
    }
}

fn token(v: &mut Validator<'_>, p: &str, raw: &RawToken) -> TokenConfig {
    let path = format!("{p}.token.ttl");
    let ttl = parse_duration(&mut v.errors, &path, raw.ttl.as_deref(), Duration::from_secs(300));
    if ttl > MAX_TOKEN_TTL {
        v.errors
            .push(path, "must be at most 5m (the token is short-lived by design)");
    }
    let signing_key_file = v
        .opt_text(&format!("{p}.token.signing_key_file"), raw.signing_key_file.as_ref())
        .map(std::path::PathBuf::from);
    let list = raw.previous_signing_key_files.as_deref().unwrap_or_default();
    let mut previous_signing_key_files: Vec<std::path::PathBuf> = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let path = format!("{p}.token.previous_signing_key_files[{i}]");
        let Some(file) = v.text(&path, entry).map(std::path::PathBuf::from) else {
            continue;
        };
        if signing_key_file.is_none() {
            v.errors.push(
                &path,
                "needs token.signing_key_file: a generated key is never shared, so there is nothing to rotate",
            );
        } else if signing_key_file.as_ref() == Some(&file) || previous_signing_key_files.contains(&file) {
            v.errors
                .push(&path, "appears twice (or is token.signing_key_file itself)");
        } else {
            previous_signing_key_files.push(file);
        }
    }
    TokenConfig {
        signing_key_file,
        previous_signing_key_files,
        ttl,
    }
}

fn routes(v: &mut Validator<'_>, p: &str, raw: &RawSite, has_oidc: bool, has_idp: bool) -> Vec<RouteConfig> {
    let facts = route_policy::SiteFacts {
        idp_names: raw.idps.iter().filter_map(|i| i.name.as_deref()).collect(),
        has_idp,
    };
    let mut routes: Vec<RouteConfig> = raw
        .routes
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let rp = format!("{p}.routes[{i}]");
            let prefix = r.prefix.clone().unwrap_or_default();
            if let Err(m) = check_path(&prefix) {
                v.errors.push(format!("{rp}.prefix"), m);
                return None;
            }
            // `/account/` covers `/account` too: the trailing slash is not part of the match.
            let prefix = match prefix.trim_end_matches('/') {
                "" => "/".to_string(),
                trimmed => trimmed.to_string(),
            };
            check_canonical_path(&mut v.errors, &format!("{rp}.prefix"), &prefix);
            let access = match r.access.as_deref() {
                None | Some("public") => Access::Public,
                Some("login") => Access::Login,
                Some("api") => Access::Api,
                Some(other) => {
                    v.errors.push(
                        format!("{rp}.access"),
                        format!("{other:?} is not \"public\", \"login\" or \"api\""),
                    );
                    return None;
                }
            };
            if access != Access::Public && !has_oidc {
                v.errors.push(
                    format!("{rp}.access"),
                    "needs a login method: add [sites.oidc], [[sites.idps]] or [sites.customer_login]",
                );
            }
            let forward_idp_access_token = idp_token_forwarding::idp_token_forwarding(v, &rp, r, access, has_idp);
            let policy = route_policy::route_policy(v, &rp, r, access, &facts);
            Some(RouteConfig {
                prefix,
                access,
                forward_idp_access_token,
                policy,
                cors_preflight: cors::cors_preflight(v, &rp, r, access),
            })
        })
        .collect();
    routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
    routes
}

pub(crate) fn cross_site_checks(v: &mut Validator<'_>, sites: &[SiteConfig]) {
    let mut names = HashMap::new();
    let mut hosts: HashMap<&str, usize> = HashMap::new();
    for (i, site) in sites.iter().enumerate() {
        if let Some(first) = names.insert(site.name.as_str(), i) {
            v.errors.push(
                format!("sites[{i}].name"),
                format!("{:?} is already the name of sites[{first}]", site.name),
            );
        }
        for host in &site.hosts {
            if let Some(first) = hosts.insert(host, i) {
                v.errors.push(
                    format!("sites[{i}].hosts"),
                    format!("{host:?} is already served by sites[{first}]"),
                );
            }
        }
    }
}
