//! `Accept-Language` as the gateway's pages read it ([`crate::pages::language`]).

use crate::pages::{language, Pages};
use crate::reply::Reply;
use std::sync::OnceLock;

static SHIPPED: OnceLock<Pages> = OnceLock::new();

/// Any `Accept-Language` value: at most [`language::MAX_RANGES`] ranges come out,
/// each a lower-case tag of letters, digits and `-`; the language chosen is one the
/// site speaks; a page rendered for it says that language and is whole.
pub fn accept_language(data: &[u8]) {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let ranges = language::ranges(header);
    assert!(ranges.len() <= language::MAX_RANGES, "{} ranges", ranges.len());
    for r in &ranges {
        assert!(
            !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{r:?}"
        );
    }
    let spoken: Vec<String> = sso_config::pages::SHIPPED_LANGUAGES
        .iter()
        .map(|l| (*l).to_string())
        .collect();
    if let Some(lang) = language::negotiate(header, &spoken) {
        assert!(spoken.iter().any(|s| s == lang), "{lang}");
    }
    let pages = SHIPPED.get_or_init(Pages::shipped);
    let page = pages.render(Reply::error(429, "rate_limited", "x", false), Some(header), None);
    let lang = page
        .headers
        .iter()
        .find(|(n, _)| *n == "content-language")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert!(spoken.contains(&lang), "{lang:?}");
    assert!(page.body.contains(&format!("<html lang=\"{lang}\"")) && page.body.trim_end().ends_with("</html>"));
}

/// The way back ([`crate::features::way_back`]): a finished marker's value (a
/// browser's cookie) and a `return_to` given a notice. The first byte picks which.
/// A marker names only a same-site path, never `//…` or a scheme; a notice is added
/// once, removing it gives back what had none, and neither panics.
pub fn way_back(data: &[u8]) {
    use crate::features::way_back::{marker_target, with_notice, without_notice, NOTICE_PARAM};
    let Some((pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    if pick % 2 == 0 {
        if let Some(page) = marker_target(text) {
            assert!(
                page.starts_with('/') && !page.starts_with("//") && !page.contains('\\'),
                "{page:?}"
            );
        }
        return;
    }
    let noticed = with_notice(text, "sign_in_cancelled");
    let head = noticed.split('#').next().unwrap_or_default();
    let count = head
        .split(['?', '&'])
        .filter(|p| p.split('=').next() == Some(NOTICE_PARAM))
        .count();
    assert_eq!(count, 1, "{noticed:?}");
    let bare = without_notice(&noticed);
    assert_eq!(without_notice(&bare), bare, "{bare:?}");
}

/// What a discovery document's issuer is taken for
/// ([`crate::oidc::discovered_issuer`], [`crate::oidc::diagnosis`]): the first line
/// of the input is the configured issuer, the rest the one the IdP names (untrusted).
/// No panic; a mismatch message is one printable line.
pub fn discovered_issuer(data: &[u8]) {
    use crate::oidc::{diagnosis, discovered_issuer};
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (configured, named) = text.split_once('\n').unwrap_or((text, ""));
    if discovered_issuer::is_template(named) {
        let _ = discovered_issuer::tenant_specific(named);
        let _ = discovered_issuer::refused(named).to_string();
    }
    let _ = discovered_issuer::is_configured_with_slash(configured, named);
    if let Some(problem) = diagnosis::issuer_mismatch(configured, named) {
        let shown = problem
            .strip_suffix(configured.trim_end_matches('/'))
            .unwrap_or(&problem);
        assert!(!shown.chars().any(char::is_control), "{problem:?}");
    }
}
