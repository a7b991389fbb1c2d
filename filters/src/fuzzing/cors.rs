//! Fuzzing entry point of the CORS reading of a request. See [`super`] for how it runs.

use crate::features::cors::{
    decorate, is_preflight, is_serialized_origin, request_origin, RequestOrigin, MAX_ORIGIN_LEN,
};
use crate::reply::Reply;

const OWN: &str = "https://shop.example";
const ALLOWED: [&str; 2] = ["https://app.shop.example", "http://localhost:3000"];

/// A request's `Origin` and `Access-Control-Request-Method` as the CORS feature reads
/// them ([`crate::features::cors`]). The first byte picks the method (even:
/// `OPTIONS`, odd: `GET`); the rest is header lines `name: value`. A preflight is an
/// `OPTIONS` with exactly one well-formed `Origin` of at most [`MAX_ORIGIN_LEN`]
/// bytes and one `Access-Control-Request-Method`; an origin is listed only when the
/// request has exactly one `Origin` line equal to an allowed entry; an answer gets
/// `Vary: Origin` exactly for a foreign origin, and `Access-Control-Allow-Origin`
/// (never `*` or `null`, always the listed entry) with `-Credentials` only for a
/// listed one.
pub fn cors(data: &[u8]) {
    let Some((&m, rest)) = data.split_first() else { return };
    let method = if m % 2 == 0 {
        http::Method::OPTIONS
    } else {
        http::Method::GET
    };
    let headers = super::header_lines(rest);
    let origins: Vec<&http::HeaderValue> = headers.get_all(http::header::ORIGIN).iter().collect();
    if is_preflight(&method, &headers) {
        assert_eq!(method, http::Method::OPTIONS);
        assert_eq!(origins.len(), 1, "{headers:?}");
        assert_eq!(headers.get_all("access-control-request-method").iter().count(), 1);
        let origin = origins[0].as_bytes();
        assert!(origin.len() <= MAX_ORIGIN_LEN && is_serialized_origin(origin));
        assert!(
            origin == b"null" || origin.windows(3).any(|w| w == b"://"),
            "{headers:?}"
        );
        assert!(!origin.iter().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()));
    }
    let allowed: Vec<String> = ALLOWED.iter().map(|a| a.to_string()).collect();
    let read = request_origin(&headers, OWN, &allowed);
    match read {
        RequestOrigin::Absent => assert!(origins.is_empty()),
        RequestOrigin::Own => assert!(origins.len() == 1 && origins[0].as_bytes() == OWN.as_bytes()),
        RequestOrigin::Foreign { listed: Some(listed) } => {
            assert!(ALLOWED.contains(&listed));
            assert!(origins.len() == 1 && origins[0].as_bytes() == listed.as_bytes());
        }
        RequestOrigin::Foreign { listed: None } => {
            assert!(!origins.is_empty());
            let one_allowed = origins.len() == 1 && ALLOWED.iter().any(|a| origins[0].as_bytes() == a.as_bytes());
            assert!(!one_allowed, "an allowed origin was not listed: {headers:?}");
        }
    }
    let reply = decorate(Reply::error(401, "login_required", "Sign in.", true), read);
    let values = |name: &str| -> Vec<&str> {
        reply
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let foreign = matches!(read, RequestOrigin::Foreign { .. });
    assert_eq!(values("vary").len(), usize::from(foreign));
    let acao = values("access-control-allow-origin");
    match read {
        RequestOrigin::Foreign { listed: Some(listed) } => {
            assert_eq!(acao, [listed]);
            assert_eq!(values("access-control-allow-credentials"), ["true"]);
        }
        _ => {
            assert!(acao.is_empty(), "{headers:?}");
            assert!(values("access-control-allow-credentials").is_empty());
        }
    }
    assert!(!acao.iter().any(|v| *v == "*" || *v == "null"));
}
