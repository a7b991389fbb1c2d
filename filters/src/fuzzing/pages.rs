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
