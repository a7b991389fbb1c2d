//! Fuzzing entry points: one `pub fn <target>(data: &[u8])` per parser of untrusted
//! input. The `cargo fuzz` targets in `fuzz/fuzz_targets/` call these, and
//! `filters/tests/fuzz_corpus.rs` replays the committed corpora (`fuzz/corpus/<target>/`)
//! and crash reproducers (`fuzz/regressions/<target>/`) through the very same
//! functions in `cargo test`.
//!
//! Each function drives the real parser and asserts its invariants: a panic here is a
//! bug in the code under test (or in the invariant), never an expected outcome.
//! Inputs the parser could never see (a `&str` parser given bytes that are not UTF-8)
//! are skipped, not reported.

use crate::request_path::{RequestPath, TargetForm};
use crate::return_to::safe_return_to;
use crate::route_access::RouteTable;
use sso_config::{Access, PathPolicy, RouteConfig};

mod backchannel;
mod connectors;
mod cors;
mod credentials;
mod cross_site;
mod forward_auth;
mod idp_claims;
mod pages;
mod sealed;
mod signature;
pub use backchannel::logout_token;
pub use connectors::{customer_login, ecwid_profile, hook_answer, idp_choice};
pub use cors::cors;
pub use credentials::{config, cookie, stored, stored_seeds, token};
pub use cross_site::one_time_token;
pub use forward_auth::forwarded_url_target as forwarded_url;
pub use idp_claims::idp_claims;
pub use pages::{accept_language, discovered_issuer, way_back};
pub use sealed::sealed_record;
pub use signature::id_token_signature;

/// Answers of an IdP's PAR endpoint ([`crate::oidc::par::read_answer`]). The first
/// byte says whether the status was a success (odd: yes); the rest is the body.
/// Whatever comes in: no panic; a `request_uri` is only taken from a success, is
/// 1–2048 bytes without control characters; an error names at most a 64-character
/// printable code and never more of the body.
pub fn par_answer(data: &[u8]) {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let success = flags % 2 == 1;
    match crate::oidc::par::read_answer(success, if success { 201 } else { 400 }, body) {
        Ok(uri) => {
            assert!(success, "a request_uri from an error answer");
            assert!(!uri.is_empty() && uri.len() <= 2048, "{uri:?}");
            assert!(!uri.chars().any(char::is_control), "{uri:?}");
        }
        Err(e) => {
            assert!(e.len() <= 128, "a long error: {e:?}");
            assert!(!e.chars().any(char::is_control), "{e:?}");
        }
    }
}

/// Incoming `X-Request-Id` values ([`crate::request_id::RequestId::decide`]). The
/// first byte says whether the peer is trusted (odd: yes); the rest is header values,
/// one per line. Whatever comes in, the id is 1–128 bytes of the plain alphabet; it
/// is the incoming value only from a trusted peer that sent exactly one plain value,
/// else a new 32-hex-digit id.
pub fn request_id(data: &[u8]) {
    use crate::request_id::{RequestId, MAX_LEN, REQUEST_ID_HEADER};
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let trusted = flags % 2 == 1;
    let mut headers = http::HeaderMap::new();
    for line in rest.split(|b| *b == b'\n') {
        if let Ok(value) = http::HeaderValue::from_bytes(line) {
            headers.append(REQUEST_ID_HEADER, value);
        }
    }
    let id = RequestId::decide(&headers, trusted);
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b);
    let s = id.as_str();
    assert!(!s.is_empty() && s.len() <= MAX_LEN && s.bytes().all(plain), "{s:?}");
    let values: Vec<&[u8]> = headers
        .get_all(REQUEST_ID_HEADER)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    let kept = trusted && values.len() == 1 && RequestId::parse(values[0]).is_some();
    if kept {
        assert_eq!(s.as_bytes(), values[0]);
    } else {
        assert!(s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()), "{s:?}");
    }
}

/// Request-targets through [`TargetForm::classify`] and [`RequestPath::canonical`],
/// then route matching. The first byte picks the site policy (bit 0: case-insensitive,
/// bit 1: encoded slashes allowed, bit 2: `OPTIONS`); the rest is the raw target.
/// An accepted path is canonical: it starts with `/`, has no empty, `.` or `..`
/// segment (but a trailing `/`), only printable ASCII, no `%2F`/`%5C`/`\` unless
/// allowed, no escape of an unreserved character, upper-case hex; canonicalising it
/// again changes nothing, and its route key — and so its access rule — is the same.
/// The route key never contains `;` or `%`, and is lower-case on case-insensitive
/// sites.
pub fn request_path(data: &[u8]) {
    let Some((&flags, raw)) = data.split_first() else {
        return;
    };
    let policy = PathPolicy {
        case_insensitive: flags & 1 != 0,
        allow_encoded_slashes: flags & 2 != 0,
    };
    let Ok(form) = TargetForm::classify(raw, flags & 4 != 0) else {
        return;
    };
    let Ok(path) = RequestPath::canonical(&form, policy) else {
        return;
    };
    let canonical = path.path.to_string();
    let key = path.route_key().to_string();
    assert!(canonical.starts_with('/'), "{canonical:?} does not start with /");
    assert!(canonical.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{canonical:?}");
    let segments: Vec<&str> = canonical[1..].split('/').collect();
    for (i, s) in segments.iter().enumerate() {
        assert!(*s != "." && *s != "..", "dot-segment left in {canonical:?}");
        assert!(
            !s.is_empty() || i + 1 == segments.len(),
            "empty segment in {canonical:?}"
        );
    }
    let bytes = canonical.as_bytes();
    for (i, _) in canonical.match_indices('%') {
        let escape = &bytes[i + 1..i + 3];
        assert!(
            escape.iter().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)),
            "{canonical:?}"
        );
        let value = u8::from_str_radix(std::str::from_utf8(escape).unwrap_or("00"), 16).unwrap_or(0);
        assert!(
            !(value.is_ascii_alphanumeric() || b"-._~".contains(&value)),
            "{canonical:?}"
        );
        if !policy.allow_encoded_slashes {
            assert!(value != b'/' && value != b'\\', "{canonical:?}");
        }
    }
    if !policy.allow_encoded_slashes {
        assert!(!canonical.contains('\\'), "{canonical:?}");
    }
    assert!(!key.contains(';'), "parameters left in the route key {key:?}");
    if policy.case_insensitive {
        assert!(!key.bytes().any(|b| b.is_ascii_uppercase()), "{key:?} not lower-case");
    }
    let again_form = TargetForm::Origin(&canonical);
    let again = RequestPath::canonical(&again_form, policy)
        .unwrap_or_else(|e| panic!("the canonical path {canonical:?} is refused: {e}"));
    assert_eq!(again.path, canonical, "canonicalising is not idempotent");
    assert_eq!(again.route_key(), key, "the route key changed on the canonical path");
    let table = fuzz_routes(policy);
    assert_eq!(table.access(&key), table.access(again.route_key()));
}

/// Routes of the fuzzed site: `/api` api, `/account` login, `/Shop/` public.
fn fuzz_routes(policy: PathPolicy) -> RouteTable {
    let route = |prefix: &str, access| RouteConfig {
        prefix: prefix.into(),
        access,
        forward_idp_access_token: false,
        policy: Default::default(),
        cors_preflight: sso_config::CorsPreflight::Origin,
    };
    RouteTable::from_config(
        &[
            route("/api", Access::Api),
            route("/account", Access::Login),
            route("/Shop/", Access::Public),
        ],
        policy,
    )
}

/// Fuzz input read as header lines `name: value`, one per `\n`; a line that is no
/// header (no colon, a bad name or value) is skipped.
pub(crate) fn header_lines(data: &[u8]) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(&line[..colon]),
            http::HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    headers
}

/// The request headers that decide whether a login may start
/// ([`crate::navigation::is_navigation`]): `Accept`, `Sec-Fetch-*`,
/// `X-Requested-With`, prefetch hints. The first byte picks the method (even: `GET`,
/// odd: `HEAD`); the rest is header lines `name: value`. Only a `GET` is ever a
/// navigation, and never one that says it is an XMLHttpRequest or a non-document
/// fetch.
pub fn navigation(data: &[u8]) {
    let Some((&m, rest)) = data.split_first() else { return };
    let method = if m % 2 == 0 {
        http::Method::GET
    } else {
        http::Method::HEAD
    };
    let headers = header_lines(rest);
    let navigation = crate::navigation::is_navigation(&method, &headers);
    if !navigation {
        return;
    }
    assert_eq!(method, http::Method::GET, "{method} counted as a navigation");
    let says = |name: &str, value: &str| {
        headers
            .get_all(name)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.trim().eq_ignore_ascii_case(value)))
    };
    assert!(
        !says("x-requested-with", "XMLHttpRequest"),
        "an XHR started a login: {headers:?}"
    );
    for dest in ["image", "script", "style", "empty", "iframe", "font"] {
        assert!(
            !says("sec-fetch-dest", dest),
            "a {dest} fetch started a login: {headers:?}"
        );
    }
    assert!(
        !says("sec-fetch-mode", "cors") && !says("sec-fetch-mode", "no-cors"),
        "{headers:?}"
    );
}

/// `return_to` / post-logout targets through [`safe_return_to`]. An accepted target
/// is the input itself, starts with exactly one `/` (not `/\`), has no control
/// characters, whitespace or backslash, and decoding it up to three times never
/// makes it start with `//` or `/\` (even once tabs and newlines, which browsers
/// drop, are removed).
pub fn return_to(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let Some(target) = safe_return_to(raw) else { return };
    assert_eq!(target, raw, "the accepted target is not the input");
    assert!(target.starts_with('/'), "{raw:?} accepted without a leading /");
    assert!(!starts_like_another_host(target.as_bytes()), "{raw:?} accepted");
    assert!(
        !target.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\'),
        "{raw:?} accepted with a control character, whitespace or backslash"
    );
    let mut current = target.as_bytes().to_vec();
    for round in 1..=3 {
        current = percent_decode(&current);
        let browser_view: Vec<u8> = current.iter().copied().filter(|b| !b"\t\r\n".contains(b)).collect();
        assert!(
            !starts_like_another_host(&browser_view),
            "{raw:?} accepted, but decodes to {:?} after {round} round(s)",
            String::from_utf8_lossy(&current)
        );
        // No dot-segment a URL parser could resolve into `//host`.
        let text = String::from_utf8_lossy(&current);
        let path = text.split(['?', '#']).next().unwrap_or("");
        assert!(
            !path.split('/').any(|s| s == "." || s == ".."),
            "{raw:?} accepted with a dot-segment after {round} round(s)"
        );
    }
}

/// `//host` or `/\host`: a browser reads both as another site.
fn starts_like_another_host(path: &[u8]) -> bool {
    path.starts_with(b"//") || path.starts_with(b"/\\")
}

/// One round of `%XX` decoding, bytewise and independent of the code under test.
pub(crate) fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            if let (Some(hi), Some(lo)) = (hex(s.get(i + 1)), hex(s.get(i + 2))) {
                out.extend(u8::try_from(hi * 16 + lo).ok());
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}
