//! `[sites.pages]`: the branding and languages of the gateway's own pages
//! (docs/pages.md). The templates and messages of `dir` are compiled by the filters
//! when the site is built, so `check` reports a template that does not compile too.

use crate::raw::RawPages;
use crate::validator::Validator;
use url::Url;

pub use crate::pages_model::{PagesConfig, DEFAULT_PRIMARY_COLOR, SHIPPED_LANGUAGES};

/// Longest `shop_name`, in characters.
const MAX_SHOP_NAME: usize = 100;
/// Longest URL accepted for `logo_url` and `support_url`.
const MAX_URL: usize = 2048;

/// Checks `[sites.pages]` of a site whose public URL is `public_url`.
pub(crate) fn pages(v: &mut Validator<'_>, p: &str, raw: Option<&RawPages>, public_url: &Url) -> PagesConfig {
    let host = public_url.host_str().unwrap_or("shop");
    let mut pages = PagesConfig::shipped(host);
    let Some(raw) = raw else { return pages };
    let p = format!("{p}.pages");
    if let Some(name) = v.opt_text(&format!("{p}.shop_name"), raw.shop_name.as_ref()) {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_SHOP_NAME || name.chars().any(char::is_control) {
            v.errors.push(
                format!("{p}.shop_name"),
                format!("must be 1 to {MAX_SHOP_NAME} characters, without control characters"),
            );
        } else {
            pages.shop_name = name.to_string();
        }
    }
    if let Some(logo) = v.opt_text(&format!("{p}.logo_url"), raw.logo_url.as_ref()) {
        match image_url(&logo, public_url) {
            Ok(()) => pages.logo_url = Some(logo),
            Err(m) => v.errors.push(format!("{p}.logo_url"), m),
        }
    }
    if let Some(color) = v.opt_text(&format!("{p}.primary_color"), raw.primary_color.as_ref()) {
        match hex_color(&color) {
            Some(c) => pages.primary_color = c,
            None => v.errors.push(
                format!("{p}.primary_color"),
                format!("{color:?} is not a colour as #rrggbb or #rgb (e.g. \"#2754c5\")"),
            ),
        }
    }
    if let Some(support) = v.opt_text(&format!("{p}.support_url"), raw.support_url.as_ref()) {
        match support_url(&support, public_url) {
            Ok(()) => pages.support_url = Some(support),
            Err(m) => v.errors.push(format!("{p}.support_url"), m),
        }
    }
    if let Some(dir) = v.opt_text(&format!("{p}.dir"), raw.dir.as_ref()) {
        let path = std::path::PathBuf::from(&dir);
        if path.is_dir() {
            pages.dir = Some(path);
        } else {
            v.errors.push(
                format!("{p}.dir"),
                format!("{dir} is not a readable directory (it holds templates/*.html and messages/<lang>.toml)"),
            );
        }
    }
    if let Some(lang) = v.opt_text(&format!("{p}.default_language"), raw.default_language.as_ref()) {
        let lang = lang.trim().to_ascii_lowercase();
        // A language the `dir` adds is checked when its messages are read.
        if is_language_tag(&lang) {
            pages.default_language = lang;
        } else {
            v.errors.push(
                format!("{p}.default_language"),
                format!(
                    "{lang:?} is not a language tag such as \"de\" (shipped: {})",
                    SHIPPED_LANGUAGES.join(", ")
                ),
            );
        }
    }
    pages
}

/// A primary language subtag, optionally with a region: `de`, `pt-br`.
pub fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    let region_ok = match parts.next() {
        None => true,
        Some(r) => (2..=3).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()),
    };
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_lowercase())
        && region_ok
        && parts.next().is_none()
}

/// `#rrggbb` (lower case) from `#rrggbb` or `#rgb`.
pub fn hex_color(text: &str) -> Option<String> {
    let hex = text.trim().strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let full = match hex.len() {
        6 => hex.to_string(),
        3 => hex.chars().flat_map(|c| [c, c]).collect(),
        _ => return None,
    };
    Some(format!("#{}", full.to_ascii_lowercase()))
}

/// A logo: a path of the site (`/logo.svg`), or an absolute URL a page of the site may
/// load without mixed content (`https://`, or `http://` on an `http://` site).
fn image_url(text: &str, public_url: &Url) -> Result<(), String> {
    if text.len() > MAX_URL {
        return Err(format!("is longer than {MAX_URL} bytes"));
    }
    if text.starts_with('/') && !text.starts_with("//") && !text.contains('\\') {
        return Ok(());
    }
    web_url(text, public_url).map_err(|m| format!("{m}, or a path of the site such as \"/logo.svg\""))
}

/// Where a shopper gets help: a web address or `mailto:`.
fn support_url(text: &str, public_url: &Url) -> Result<(), String> {
    if text.len() > MAX_URL {
        return Err(format!("is longer than {MAX_URL} bytes"));
    }
    if let Some(address) = text.strip_prefix("mailto:") {
        return if address.contains('@') && !address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Ok(())
        } else {
            Err(format!("{text:?} is not a mailto: address"))
        };
    }
    web_url(text, public_url).map_err(|m| format!("{m}, or a mailto: address"))
}

/// An absolute `https://` URL (`http://` only when the site itself is served over it).
fn web_url(text: &str, public_url: &Url) -> Result<(), String> {
    let allowed = |scheme: &str| scheme == "https" || (scheme == "http" && public_url.scheme() == "http");
    match Url::parse(text) {
        Ok(u) if allowed(u.scheme()) && u.host_str().is_some() => Ok(()),
        _ => Err(format!("{text:?} must be an https:// URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_tags() {
        assert_eq!(hex_color("#ABC").as_deref(), Some("#aabbcc"));
        assert_eq!(hex_color("#2754C5").as_deref(), Some("#2754c5"));
        for bad in ["red", "#12", "#1234567", "#ggg", "#12345;", "2754c5", "#a;b"] {
            assert_eq!(hex_color(bad), None, "{bad}");
        }
        assert!(is_language_tag("de") && is_language_tag("pt-br") && is_language_tag("nl"));
        assert!(
            !is_language_tag("DE") && !is_language_tag("../x") && !is_language_tag("d") && !is_language_tag("de-ch-x")
        );
    }

    #[test]
    fn urls_a_page_may_show() {
        let https = Url::parse("https://shop.example/").expect("url");
        let http = Url::parse("http://localhost:8080/").expect("url");
        assert!(image_url("/static/logo.svg", &https).is_ok());
        assert!(image_url("https://cdn.example/logo.png", &https).is_ok());
        assert!(
            image_url("http://cdn.example/logo.png", &https).is_err(),
            "mixed content"
        );
        assert!(image_url("http://cdn.example/logo.png", &http).is_ok());
        for bad in [
            "//evil.example/x.png",
            "javascript:alert(1)",
            "data:image/png;base64,AA",
            "logo.png",
        ] {
            assert!(image_url(bad, &https).is_err(), "{bad}");
        }
        assert!(support_url("mailto:help@shop.example", &https).is_ok());
        assert!(support_url("mailto:nobody", &https).is_err());
        assert!(support_url("javascript:alert(1)", &https).is_err());
        assert!(support_url("https://help.shop.example/contact", &https).is_ok());
    }
}
