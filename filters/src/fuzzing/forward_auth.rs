//! The URL a proxy asks forward-auth about ([`crate::forwarded_url::forwarded_url`]).

use crate::forwarded_url::forwarded_url;
use crate::request_path::{RequestPath, TargetForm};
use sso_config::PathPolicy;

/// The headers the reader looks at (and two it must not care about).
const NAMES: [&str; 7] = [
    "x-forwarded-method",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-uri",
    "x-original-url",
    "x-forwarded-for",
    "cookie",
];

/// Forwarding headers, one per line: the line's first byte picks the name (its value
/// modulo 7 in [`NAMES`]), the rest is the value (lines that are no header value are
/// skipped). Whatever comes in, the reader does not panic, and what it accepts is
/// one question: exactly one of `X-Original-URL` and `X-Forwarded-Uri`, each sent
/// once; a method of letters; a host that is the forwarded authority's, lower-case,
/// of host-name bytes; absolute-form from `X-Original-URL` only, `*` with `OPTIONS`
/// only. Its path then reads as a request's would (never a panic), and an accepted
/// canonical target is a URI.
pub fn forwarded_url_target(data: &[u8]) {
    let mut headers = http::HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        let Some((&pick, value)) = line.split_first() else {
            continue;
        };
        if let Ok(value) = http::HeaderValue::from_bytes(value) {
            headers.append(NAMES[usize::from(pick) % NAMES.len()], value);
        }
    }
    let Ok(asked) = forwarded_url(&headers) else {
        return;
    };
    let sent = |name: &str| {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        assert!(values.len() <= 1, "{name} sent {} times and accepted", values.len());
        values.first().copied()
    };
    let (original, uri) = (sent("x-original-url"), sent("x-forwarded-uri"));
    assert!(original.is_some() != uri.is_some(), "{original:?} / {uri:?}");
    let method = asked.method.as_str();
    assert!(
        !method.is_empty()
            && method
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_'),
        "{method:?}"
    );
    assert!(!asked.host.is_empty(), "no host");
    assert!(
        asked
            .host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._:".contains(&b)),
        "{:?}",
        asked.host
    );
    assert!(
        asked.authority.to_ascii_lowercase().contains(&asked.host),
        "{:?} is not of {:?}",
        asked.host,
        asked.authority
    );
    match asked.form {
        TargetForm::Absolute { .. } => assert!(original.is_some()),
        TargetForm::Origin(_) => assert!(uri.is_some()),
        TargetForm::Asterisk => assert!(uri.is_some() && method == "OPTIONS"),
    }
    for policy in [
        PathPolicy::default(),
        PathPolicy {
            case_insensitive: true,
            allow_encoded_slashes: true,
        },
    ] {
        if let Ok(path) = RequestPath::canonical(&asked.form, policy) {
            assert!(path.path.starts_with('/'), "{:?}", path.path);
            // What forward-auth builds its request from: a URI or a refusal.
            let _ = http::Uri::try_from(path.target());
        }
    }
}
