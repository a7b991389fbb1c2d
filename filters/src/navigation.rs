//! Is this request a top-level page load? Only those may start a login.
//!
//! A login costs server-side state (a pending entry) and a cookie in the browser, so
//! it starts only for what may be a person opening a page: a `GET` whose `Accept`
//! prefers HTML, and — when the browser says — `Sec-Fetch-Mode: navigate` with
//! `Sec-Fetch-Dest: document`. Images, scripts, styles, `fetch`/XHR calls, iframes
//! and speculative prefetches of a login route get a 401 instead and leave nothing
//! behind. Clients that send no fetch metadata (curl, old browsers) are judged by
//! method and `Accept` alone; no `Accept` at all counts as "anything".

use http::{HeaderMap, Method};

/// True when the request may be a top-level navigation that is allowed to start a
/// login: a `GET` (`HEAD` never creates state) that [`is_page_request`] accepts.
pub fn is_navigation(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::GET && is_page_request(headers)
}

/// True when the browser says the request is speculative (`<link rel=prefetch>`,
/// speculation rules): not a person, who never asked for it. Every line of each
/// header counts; a line that is not text counts as saying so.
pub fn is_prefetch(headers: &HeaderMap) -> bool {
    ["sec-purpose", "purpose", "x-moz"].iter().any(|name| {
        headers
            .get_all(*name)
            .iter()
            .any(|v| v.to_str().map_or(true, |v| v.to_ascii_lowercase().contains("prefetch")))
    })
}

/// True when, whatever the method, the caller wants a document for a person: no
/// XHR marker, no prefetch, fetch metadata (when sent) saying `navigate` +
/// `document`, and an `Accept` under which HTML is among the most preferred types.
/// Used both for [`is_navigation`] and to pick an HTML rather than a JSON 401.
pub fn is_page_request(headers: &HeaderMap) -> bool {
    // Every line of a header counts: a repeated header cannot hide what one line says.
    let any = |name: &str, says: &dyn Fn(&str) -> bool| {
        headers
            .get_all(name)
            .iter()
            .any(|v| v.to_str().map_or(true, |v| says(v.trim())))
    };
    if any("x-requested-with", &|v| v.eq_ignore_ascii_case("xmlhttprequest")) {
        return false;
    }
    if any("sec-fetch-mode", &|v| !v.eq_ignore_ascii_case("navigate")) {
        return false;
    }
    if any("sec-fetch-dest", &|v| !v.eq_ignore_ascii_case("document")) {
        return false;
    }
    if is_prefetch(headers) {
        return false;
    }
    let mut accept = headers.get_all(http::header::ACCEPT).iter().peekable();
    if accept.peek().is_none() {
        return true;
    }
    let mut ranges = Vec::new();
    for v in accept {
        match v.to_str() {
            Ok(s) => ranges.push(s),
            Err(_) => return false,
        }
    }
    accepts_html_first(&ranges.join(","))
}

/// True when `accept` gives HTML a non-zero quality at least as high as that of any
/// other media range it lists (so `*/*` and browser page loads qualify, while
/// `image/*,*/*;q=0.8`, `text/css,*/*;q=0.1` and `application/json` do not). An empty
/// value counts as absent.
pub fn accepts_html_first(accept: &str) -> bool {
    let mut best_other = 0.0f32;
    // (specificity, q) of the most specific range matching text/html.
    let mut html: Option<(u8, f32)> = None;
    let mut any = false;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        if media.is_empty() {
            continue;
        }
        any = true;
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, v)| v.trim().parse::<f32>().ok())
            .filter(|q| q.is_finite())
            .map_or(0.0, |q| q.clamp(0.0, 1.0));
        let specificity = match media.as_str() {
            "text/html" | "application/xhtml+xml" => Some(3),
            "text/*" => Some(2),
            "*/*" => Some(1),
            _ => None,
        };
        match specificity {
            Some(s) if html.is_none_or(|(hs, hq)| s > hs || (s == hs && q > hq)) => html = Some((s, q)),
            Some(_) => {}
            None => best_other = best_other.max(q),
        }
    }
    if !any {
        return true;
    }
    html.is_some_and(|(_, q)| q > 0.0 && q >= best_other)
}

/// True when the browser says the request comes from another site's page
/// (`Sec-Fetch-Site` other than `same-origin` or `none`). Such a request may not pick
/// an IdP, get an API token or a widget profile: the page that made the browser ask
/// is not the shop's. Browsers without the header rely on the session cookie being
/// `SameSite=Lax` and on `Cross-Origin-Resource-Policy`.
pub fn from_another_site(headers: &http::HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .is_some_and(|v| !matches!(v.as_bytes(), b"same-origin" | b"none"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    const CHROME_PAGE: &str =
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8";
    const FIREFOX_PAGE: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    const NAV: [(&str, &str); 2] = [("sec-fetch-mode", "navigate"), ("sec-fetch-dest", "document")];

    #[test]
    fn page_loads_are_navigations() {
        let cases: &[&[(&str, &str)]] = &[
            &[],                                        // curl without -H, or HTTP/1.0 tools
            &[("accept", "*/*")],                       // curl
            &[("accept", "text/html")],                 // the test shopper
            &[("accept", "")],                          // empty counts as absent
            &[("accept", CHROME_PAGE), NAV[0], NAV[1]], // Chrome address bar
            &[("accept", FIREFOX_PAGE), NAV[0], NAV[1], ("sec-fetch-user", "?1")],
            &[("accept", FIREFOX_PAGE)], // old browser, no fetch metadata
            &[("accept", "text/*")],
            &[("accept", "application/xhtml+xml")],
            &[("accept", "TEXT/HTML;Q=1")],
            &[("accept", "application/json;q=0.5, text/html")],
            &[("accept", "text/html"), ("accept", "application/json;q=0.1")], // split header
            &[("sec-fetch-mode", "NAVIGATE"), ("sec-fetch-dest", "Document")],
        ];
        for case in cases {
            let h = headers(case);
            assert!(is_navigation(&Method::GET, &h), "{case:?} should start a login");
            assert!(is_page_request(&h), "{case:?}");
        }
    }

    #[test]
    fn sub_resources_and_scripts_are_not() {
        let cases: &[&[(&str, &str)]] = &[
            &[(
                "accept",
                "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
            )],
            &[("accept", "image/*")],
            &[("accept", "text/css,*/*;q=0.1")],
            &[("accept", "application/json")],
            &[("accept", "application/json, text/javascript, */*; q=0.01")],
            &[("accept", "text/html;q=0")],
            &[("accept", "text/html;q=0, */*")],
            &[("accept", "text/html;q=abc")],
            &[("accept", "text/html;q=NaN")],
            &[("accept", "*/*"), ("x-requested-with", "XMLHttpRequest")],
            &[("x-requested-with", "xmlhttprequest")],
            &[("sec-fetch-mode", "cors"), ("sec-fetch-dest", "empty")], // fetch()
            &[
                ("accept", "*/*"),
                ("sec-fetch-mode", "no-cors"),
                ("sec-fetch-dest", "script"),
            ],
            &[("sec-fetch-dest", "image")],
            &[("sec-fetch-dest", "style")],
            &[("sec-fetch-dest", "iframe"), ("sec-fetch-mode", "navigate")],
            &[("sec-fetch-mode", "same-origin")],
            &[("sec-fetch-mode", "websocket")],
            &[
                ("accept", CHROME_PAGE),
                NAV[0],
                NAV[1],
                ("sec-purpose", "prefetch;prerender"),
            ],
            &[("accept", FIREFOX_PAGE), ("x-moz", "prefetch")],
            &[("accept", FIREFOX_PAGE), ("purpose", "prefetch")],
        ];
        for case in cases {
            let h = headers(case);
            assert!(!is_navigation(&Method::GET, &h), "{case:?} must not start a login");
        }
    }

    #[test]
    fn only_get_starts_a_login() {
        let h = headers(&[("accept", CHROME_PAGE), NAV[0], NAV[1]]);
        for m in [Method::HEAD, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS] {
            assert!(!is_navigation(&m, &h), "{m}");
        }
        // A form POST is still a page request: its 401 is an HTML page, not JSON.
        assert!(is_page_request(&h));
    }

    #[test]
    fn non_ascii_accept_is_not_a_page() {
        let mut h = HeaderMap::new();
        h.insert("accept", HeaderValue::from_bytes(b"text/html\xff").expect("value"));
        assert!(!is_navigation(&Method::GET, &h));
    }
}
