//! `[sso]` and `[sites.sso]`: cross-site sign-on for a group of shops. The group's
//! auth host (`sso.auth_host`, served by this gateway and listed in no site) holds
//! the SSO session; sites link to it with one-time tokens (see docs/cross-site-sso.md).

use crate::validate::Validator;
use crate::values::parse_duration;
use serde::Deserialize;
use std::time::Duration;
use url::Url;

/// Longest `sso.ott_ttl`: a one-time token only has to survive one redirect.
pub const MAX_OTT_TTL: Duration = Duration::from_secs(300);
/// Default `sso.ott_ttl`.
pub const DEFAULT_OTT_TTL: Duration = Duration::from_secs(60);
/// Default `sso.session_ttl`.
pub const DEFAULT_SSO_SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// `[sso]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSso {
    pub auth_host: Option<String>,
    pub cookie_name: Option<String>,
    pub session_ttl: Option<String>,
    pub ott_ttl: Option<String>,
}

/// `[sites.sso]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSiteSso {
    pub mode: Option<String>,
    pub logout_scope: Option<String>,
}

/// `[sso]`: the group's auth host and its SSO session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoConfig {
    /// Where browsers reach the auth host: scheme, host and port, no path
    /// (`auth_host = "auth.shops.example"` means `https://auth.shops.example`).
    pub auth_url: Url,
    /// The auth host's cookie name; `__Host-` is put in front on https.
    pub cookie_name: String,
    /// How long an SSO session lives after the sign-in that started it.
    pub session_ttl: Duration,
    /// How long a one-time token may wait to be redeemed (default 60 s, at most 5 min).
    pub ott_ttl: Duration,
}

impl SsoConfig {
    /// The `Host` value (lower case, with a port when the URL names one) the auth
    /// host is reached by.
    pub fn authority(&self) -> String {
        let host = self.auth_url.host_str().unwrap_or_default().to_ascii_lowercase();
        match self.auth_url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        }
    }

    pub fn is_https(&self) -> bool {
        self.auth_url.scheme() == "https"
    }
}

/// How a site takes part in the group's sign-on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SsoMode {
    /// An anonymous page load first asks the auth host, and comes back signed in
    /// when the shopper has an SSO session.
    Auto,
    /// No automatic redirect; the site's sign-in asks the auth host first.
    OptIn,
    /// The site never links (the default).
    #[default]
    Disabled,
}

/// What a logout on the site ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogoutScope {
    /// The SSO session and every session linked to it, on every site (the default).
    #[default]
    Global,
    /// Only this site's session.
    Site,
}

/// `[sites.sso]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SiteSsoConfig {
    pub mode: SsoMode,
    pub logout_scope: LogoutScope,
}

impl SiteSsoConfig {
    /// True when the site links to the group's SSO session.
    pub fn linked(&self) -> bool {
        self.mode != SsoMode::Disabled
    }
}

impl Validator<'_> {
    pub(crate) fn sso(&mut self, raw: &RawSso) -> SsoConfig {
        let auth_url = self.auth_url(raw.auth_host.as_ref());
        let cookie_name = match raw.cookie_name.as_deref() {
            None => "sso_group".to_string(),
            Some(name) => {
                let name = name.strip_prefix("__Host-").unwrap_or(name);
                let token = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
                if !token {
                    self.errors.push(
                        "sso.cookie_name",
                        format!("{name:?} must be letters, digits, '_', '-' or '.'"),
                    );
                }
                name.to_string()
            }
        };
        let session_ttl = parse_duration(
            &mut self.errors,
            "sso.session_ttl",
            raw.session_ttl.as_deref(),
            DEFAULT_SSO_SESSION_TTL,
        );
        if session_ttl < Duration::from_secs(60) || session_ttl > Duration::from_secs(90 * 86_400) {
            self.errors
                .push("sso.session_ttl", "must be between 1 minute and 90 days");
        }
        let ott_ttl = parse_duration(&mut self.errors, "sso.ott_ttl", raw.ott_ttl.as_deref(), DEFAULT_OTT_TTL);
        if ott_ttl > MAX_OTT_TTL || ott_ttl < Duration::from_secs(5) {
            self.errors.push(
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
    fn auth_url(&mut self, raw: Option<&String>) -> Url {
        let key = "sso.auth_host";
        let fallback = || Url::parse("https://invalid.invalid/").ok();
        let Some(text) = self.opt_text(key, raw) else {
            if raw.is_none() {
                self.errors
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
                self.errors.push(
                    key,
                    format!(
                        "{text:?} must be a host name or an http(s) URL without a path, e.g. \"auth.shops.example\""
                    ),
                );
                fallback().unwrap_or_else(|| unreachable!("constant URL parses"))
            }
        }
    }

    pub(crate) fn site_sso(&mut self, p: &str, raw: Option<&RawSiteSso>) -> SiteSsoConfig {
        let Some(raw) = raw else {
            return SiteSsoConfig::default();
        };
        let mode = match raw.mode.as_deref() {
            None | Some("disabled") => SsoMode::Disabled,
            Some("auto") => SsoMode::Auto,
            Some("opt_in") => SsoMode::OptIn,
            Some(other) => {
                self.errors.push(
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
                self.errors.push(
                    format!("{p}.sso.logout_scope"),
                    format!("{other:?} is not \"global\" or \"site\""),
                );
                LogoutScope::Global
            }
        };
        SiteSsoConfig { mode, logout_scope }
    }

    /// `[sso]` against the sites: linked sites need it, and the auth host is no site's.
    pub(crate) fn sso_checks(&mut self, sso: Option<&SsoConfig>, sites: &[crate::SiteConfig]) {
        for (i, site) in sites.iter().enumerate() {
            if site.sso.linked() && sso.is_none() {
                self.errors.push(
                    format!("sites[{i}].sso.mode"),
                    "needs the group's [sso] section (auth_host)",
                );
            }
        }
        let Some(sso) = sso else { return };
        self.one_customer_namespace(sites);
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
                self.errors.push(
                    "sso.auth_host",
                    format!("{auth:?} is also served by sites[{i}]: the auth host must be listed in no site"),
                );
            }
        }
    }
}

impl Validator<'_> {
    /// The linked sites of a group hand each other customer ids: they must mean the
    /// same customers. When one site maps its sign-ins with a provisioning hook,
    /// every linked site that signs customers in itself must map them too (else an
    /// IdP subject "1001" on one shop is hook customer 1001 of another); without
    /// hooks, IdP subjects and a merchant's customer-login ids may not meet.
    fn one_customer_namespace(&mut self, sites: &[crate::SiteConfig]) {
        let linked: Vec<(usize, &crate::SiteConfig)> =
            sites.iter().enumerate().filter(|(_, s)| s.sso.linked()).collect();
        let hooked = |s: &crate::SiteConfig| s.provisioning.as_ref().is_some_and(|p| p.url.is_some());
        let has_idp = |s: &crate::SiteConfig| s.oidc.is_some() || !s.idps.is_empty();
        let signs_in = |s: &crate::SiteConfig| has_idp(s) || s.customer_login.is_some();
        if let Some((first, _)) = linked.iter().find(|(_, s)| hooked(s)) {
            for (i, site) in &linked {
                if signs_in(site) && !hooked(site) {
                    self.errors.push(
                        format!("sites[{i}].sso.mode"),
                        format!(
                            "linked sites share customer ids: give this site a [sites.provisioning] hook \
                             like sites[{first}], so its sign-ins map to the same customers"
                        ),
                    );
                }
            }
            return;
        }
        let merchant = linked.iter().find(|(_, s)| s.customer_login.is_some() && !has_idp(s));
        let idp = linked.iter().find(|(_, s)| has_idp(s));
        if let (Some((m, _)), Some((d, _))) = (merchant, idp) {
            self.errors.push(
                format!("sites[{m}].sso.mode"),
                format!(
                    "customer-login ids of this site and IdP subjects of sites[{d}] would be taken for the same \
                     customers: map both with [sites.provisioning] hooks"
                ),
            );
        }
    }
}

#[cfg(test)]
#[path = "sso_tests.rs"]
mod tests;
