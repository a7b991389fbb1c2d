//! Validation of `[sites.oidc]`: the IdP a site signs shoppers in with. Each
//! `[[sites.idps]]` entry is checked the same way ([`crate::idps`]).

use crate::model::OidcConfig;
use crate::raw::RawOidc;
use crate::request_safety::check_canonical_path;
use crate::validator::{unreachable_url, Validator};
use crate::values::{check_path, parse_duration};
use std::time::Duration;
use url::Url;

pub(crate) fn oidc(v: &mut Validator<'_>, p: &str, raw: &RawOidc) -> OidcConfig {
    let issuer = match v.opt_text(&format!("{p}.issuer"), raw.issuer.as_ref()) {
        Some(text) => match Url::parse(&text) {
            // An issuer is public (it is in every ID token, `/readyz` and the log).
            Ok(u) if !u.username().is_empty() || u.password().is_some() => {
                v.errors.push(
                    format!("{p}.issuer"),
                    "must not hold a user name or password: an issuer is a public URL",
                );
                unreachable_url()
            }
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => u,
            _ => {
                v.errors
                    .push(format!("{p}.issuer"), format!("{text:?} is not an http(s) URL"));
                unreachable_url()
            }
        },
        None => {
            if raw.issuer.is_none() {
                v.errors.push(format!("{p}.issuer"), "is required");
            }
            unreachable_url()
        }
    };
    if let Some(problem) = multi_tenant_issuer(&issuer) {
        v.errors.push(format!("{p}.issuer"), problem);
    }
    let client_id = v
        .opt_text(&format!("{p}.client_id"), raw.client_id.as_ref())
        .unwrap_or_default();
    if client_id.is_empty() {
        v.errors.push(format!("{p}.client_id"), "is required");
    }
    let keys = crate::oidc_client::client_keys(v, p, raw);
    let scopes = raw
        .scopes
        .clone()
        .unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]);
    if !scopes.iter().any(|s| s == "openid") {
        v.errors.push(format!("{p}.scopes"), "must include \"openid\"");
    }
    let callback_path = raw
        .callback_path
        .clone()
        .unwrap_or_else(|| "/login/sso/callback".into());
    if let Err(m) = check_path(&callback_path) {
        v.errors.push(format!("{p}.callback_path"), m);
    } else {
        check_canonical_path(&mut v.errors, &format!("{p}.callback_path"), &callback_path);
    }
    let logout_url = v
        .opt_text(&format!("{p}.logout_url"), raw.logout_url.as_ref())
        .and_then(|t| {
            Url::parse(&t)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .or_else(|| {
                    v.errors
                        .push(format!("{p}.logout_url"), format!("{t:?} is not an http(s) URL"));
                    None
                })
        });
    let logout_params = raw
        .logout_params
        .iter()
        .filter_map(|(k, value)| Some((k.clone(), v.text(&format!("{p}.logout_params.{k}"), value)?)))
        .collect();
    let post_logout_path = raw.post_logout_path.clone().unwrap_or_else(|| "/".into());
    if let Err(m) = check_path(&post_logout_path) {
        v.errors.push(format!("{p}.post_logout_path"), m);
    }
    let e = &mut v.errors;
    OidcConfig {
        issuer,
        client_id,
        client_secret: keys.client_secret,
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
        token_endpoint_auth_method: keys.token_endpoint_auth_method,
        client_assertion_key_file: keys.client_assertion_key_file,
        ca_file: keys.ca_file,
        client_cert_file: keys.client_cert_file,
        client_key_file: keys.client_key_file,
        id_token_signed_response_alg: keys.id_token_signed_response_alg,
        pushed_authorization: keys.pushed_authorization,
    }
}

/// Microsoft Entra ID's multi-tenant endpoints (`/common`, `/organizations`,
/// `/consumers`) publish metadata whose issuer is not theirs (a `{tenantid}`
/// template, or the personal-accounts tenant): discovery could never succeed, and
/// an issuer check that took any tenant would let anyone with a Microsoft account in.
/// The problem, or `None` for any other issuer.
fn multi_tenant_issuer(issuer: &Url) -> Option<String> {
    let host = issuer.host_str()?;
    if !host.starts_with("login.microsoftonline.") {
        return None;
    }
    let tenant = issuer.path_segments()?.next()?;
    let hint = match tenant {
        "common" | "organizations" => {
            "use the tenant-specific issuer https://login.microsoftonline.com/TENANT_ID/v2.0 \
             (Entra admin center: Overview → Tenant ID)"
        }
        "consumers" => {
            "for personal Microsoft accounts use \
             https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
        }
        _ => return None,
    };
    Some(format!(
        "{issuer} is Microsoft Entra ID's multi-tenant endpoint \"{tenant}\": its metadata names no single \
         issuer, so sign-ins could not be checked against one; {hint} (see docs/idps/entra-id.md)"
    ))
}
