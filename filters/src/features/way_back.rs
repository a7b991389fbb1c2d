//! The shopper's way back to the shop from the IdP sign-in (docs/pages.md#the-way-back):
//!
//! - a sign-in cancelled at the IdP lands on the page it started from when that page
//!   is a `public` shop page, else on the site's home, with
//!   `sso_notice=sign_in_cancelled` added to the query for the shop to show;
//! - a finished sign-in's callback opened again (the Back button) sends a signed-in
//!   shopper on to the page the sign-in went to: the callback leaves a *finished*
//!   marker in its flow cookie (that browser's only, no secret, no store) naming it;
//! - an error page's *Back to the shop* link goes to that page too when it is a
//!   `public` shop page.
//!
//! None of this signs anyone in: a state is spent at its first callback, and a
//! replayed one only ever leads to a same-site path.

use super::SitePipeline;
use crate::auth::SiteAuth;
use crate::request_path::{RequestPath, TargetForm};
use crate::return_to::safe_return_to;
use crate::sessions::cookie::find_cookie;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sso_config::Access;

/// The query parameter that tells the shop's page why the shopper is back.
pub const NOTICE_PARAM: &str = "sso_notice";

/// The notice of a sign-in cancelled at the IdP.
pub const SIGN_IN_CANCELLED: &str = "sign_in_cancelled";

/// What a finished flow's cookie value starts with (a pending one starts with its
/// creation time, so the oldest-first eviction of flow cookies drops these first).
const FINISHED: &str = "done.";

/// Longest page a finished marker names; a longer one keeps only its path, or `/`.
const MAX_FINISHED: usize = 1024;

/// Where a sign-in cancelled at the IdP lands: `return_to` when it is a `public`
/// shop page (never for a step-up, whose page would ask again), else `/` when that
/// is public, with the notice. `None` when neither is (a shop that needs a sign-in
/// everywhere would send the shopper straight back to the IdP): then the gateway's
/// own page says so.
pub fn after_cancel(site: &SitePipeline, return_to: &str, step_up: bool) -> Option<String> {
    let back = safe_return_to(return_to)
        .filter(|r| !step_up && is_public_page(site, r))
        .or_else(|| is_public_page(site, "/").then_some("/"))?;
    Some(with_notice(back, SIGN_IN_CANCELLED))
}

/// `target` when it is a `public` shop page of `site`, else `/`: the *Back to the
/// shop* of an error page.
pub fn shop_page(site: &SitePipeline, target: &str) -> String {
    let target = without_notice(target);
    match safe_return_to(&target) {
        Some(t) if is_public_page(site, t) => t.to_string(),
        _ => "/".to_string(),
    }
}

/// True when `target` (a safe same-site path) is a page of the shop an anonymous
/// visitor may open: not the gateway's own (under `sso_prefix`, a callback, the
/// customer-login path), and on a `public` route.
fn is_public_page(site: &SitePipeline, target: &str) -> bool {
    let without_fragment = target.split('#').next().unwrap_or(target);
    let Ok(path) = RequestPath::canonical(&TargetForm::Origin(without_fragment), site.core.site.paths) else {
        return false;
    };
    site.under_prefix(&path.path).is_none()
        && !site.is_prefix_variant(&path.path)
        && site.features.for_path(&path.path, None).is_none()
        && site.route(path.route_key(), &path.path).access == Access::Public
}

/// `target` with `sso_notice=<notice>` as the last query parameter (any it had
/// before removed), before a fragment.
pub fn with_notice(target: &str, notice: &str) -> String {
    let bare = without_notice(target);
    let (head, fragment) = match bare.split_once('#') {
        Some((h, f)) => (h, Some(f)),
        None => (bare.as_str(), None),
    };
    let joiner = match head.split_once('?') {
        Some((_, q)) if !q.is_empty() => "&",
        Some(_) => "",
        None => "?",
    };
    let mut out = format!("{head}{joiner}{NOTICE_PARAM}={notice}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// `target` without any `sso_notice` parameter: a sign-in that succeeds after a
/// cancelled one does not land with the old notice.
pub fn without_notice(target: &str) -> String {
    let (head, fragment) = match target.split_once('#') {
        Some((h, f)) => (h, Some(f)),
        None => (target, None),
    };
    let Some((path, query)) = head.split_once('?') else {
        return target.to_string();
    };
    let is_notice = |pair: &&str| pair.split('=').next() == Some(NOTICE_PARAM);
    if !query.split('&').any(|p| is_notice(&p)) {
        return target.to_string();
    }
    let kept: Vec<&str> = query.split('&').filter(|p| !is_notice(p) && !p.is_empty()).collect();
    let mut out = path.to_string();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// The `state` of a callback's query (a repeated one is refused before this is asked).
fn state_of(query: &str) -> Option<String> {
    crate::request_parts::query_param(query, "state")
}

/// `Set-Cookie` that turns the flow cookie of the callback's state into a finished
/// marker naming `return_to`, for as long as a pending login lives: the browser that
/// finished this sign-in, and only it, can be sent on to that page if it comes back.
pub fn finished_cookie(core: &SiteAuth, query: &str, return_to: &str) -> Option<String> {
    let state = state_of(query)?;
    let kept = match return_to.len() <= MAX_FINISHED {
        true => return_to,
        false => return_to
            .split(['?', '#'])
            .next()
            .filter(|p| p.len() <= MAX_FINISHED)
            .unwrap_or("/"),
    };
    let value = format!("{FINISHED}{}", URL_SAFE_NO_PAD.encode(kept.as_bytes()));
    let ttl = crate::oidc::pending::PENDING_TTL.as_secs() as i64;
    Some(core.cookies.set_flow(&state, &value, ttl))
}

/// The page a finished sign-in of this callback's state went to, when this browser
/// holds its finished marker and the page is a safe same-site path.
pub fn finished_return_to(core: &SiteAuth, query: &str, headers: &http::HeaderMap) -> Option<String> {
    let state = state_of(query)?;
    marker_target(find_cookie(headers, &core.cookies.flow_name(&state))?)
}

/// The page a flow cookie's value names when it is a finished marker (the value is
/// the browser's, so untrusted): a safe same-site path, else `None`.
pub fn marker_target(value: &str) -> Option<String> {
    let encoded = value.strip_prefix(FINISHED)?;
    if encoded.len() > MAX_FINISHED * 4 / 3 + 4 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    let target = String::from_utf8(bytes).ok()?;
    safe_return_to(&target).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_is_one_parameter_before_the_fragment() {
        for (target, want) in [
            ("/", "/?sso_notice=sign_in_cancelled"),
            ("/shoes", "/shoes?sso_notice=sign_in_cancelled"),
            ("/shoes?", "/shoes?sso_notice=sign_in_cancelled"),
            ("/shoes?size=9", "/shoes?size=9&sso_notice=sign_in_cancelled"),
            (
                "/shoes?size=9#reviews",
                "/shoes?size=9&sso_notice=sign_in_cancelled#reviews",
            ),
            ("/s?sso_notice=old&size=9", "/s?size=9&sso_notice=sign_in_cancelled"),
            ("/s?sso_notice=a&sso_notice=b", "/s?sso_notice=sign_in_cancelled"),
            ("/s?sso_notices=1", "/s?sso_notices=1&sso_notice=sign_in_cancelled"),
        ] {
            assert_eq!(with_notice(target, SIGN_IN_CANCELLED), want, "{target}");
        }
    }

    #[test]
    fn a_hostile_marker_names_no_page_off_the_site() {
        let marker = |target: &str| format!("{FINISHED}{}", URL_SAFE_NO_PAD.encode(target));
        assert_eq!(marker_target(&marker("/account?x=1")).as_deref(), Some("/account?x=1"));
        for hostile in [
            marker("//evil.example/"),
            marker("/\\evil.example"),
            marker("https://evil.example/"),
            marker("/%2F%2Fevil.example"),
            marker("/a\r\nSet-Cookie: x=1"),
            marker(&format!("/{}", "a".repeat(5000))),
            "done.%%%".to_string(),
            "done.".to_string(),
            "1765000000.abc".to_string(),
            format!("{FINISHED}{}", URL_SAFE_NO_PAD.encode([0xff, 0xfe])),
        ] {
            assert!(
                marker_target(&hostile).is_none_or(|t| t.starts_with('/') && !t.starts_with("//")),
                "{hostile}"
            );
        }
        assert_eq!(marker_target("1765000000.abc"), None, "a pending flow names no page");
    }

    #[test]
    fn a_notice_is_removed_and_nothing_else() {
        for (target, want) in [
            ("/a?sso_notice=sign_in_cancelled", "/a"),
            ("/a?x=1&sso_notice=sign_in_cancelled&y=2#f", "/a?x=1&y=2#f"),
            ("/a?sso_notice", "/a"),
            ("/a?x=sso_notice", "/a?x=sso_notice"),
            ("/a#sso_notice=1", "/a#sso_notice=1"),
            ("/a", "/a"),
        ] {
            assert_eq!(without_notice(target), want, "{target}");
        }
    }
}
