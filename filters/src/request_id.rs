//! The request id: one per request, from the first phase to the access line. It is
//! taken from an incoming `X-Request-Id` only when the peer is a trusted proxy
//! (`server.trusted_proxies`) and the value is a plain token; otherwise the gateway
//! makes one. The origin gets it in `X-Request-Id` (whatever the client sent is
//! replaced), the shopper in the response, and every log line of the request carries it.

use rand::Rng;
use std::fmt;

/// The header that carries the id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest incoming id kept (longer ones are replaced, not cut).
pub const MAX_LEN: usize = 128;

/// A request id: 1–128 bytes of `A–Z a–z 0–9 - _ . : / + = @`, so it can go into a
/// header, a log line or a JSON string as it is.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The id of a request: the trusted proxy's, when `peer_trusted` and it is a plain
    /// token, else a new one. A repeated header is not believed.
    pub fn decide(headers: &http::HeaderMap, peer_trusted: bool) -> RequestId {
        if peer_trusted {
            let mut values = headers.get_all(REQUEST_ID_HEADER).iter();
            if let (Some(value), None) = (values.next(), values.next()) {
                if let Some(id) = RequestId::parse(value.as_bytes()) {
                    return id;
                }
            }
        }
        RequestId::generate()
    }

    /// A new id: 128 random bits as 32 hex digits.
    pub fn generate() -> RequestId {
        let bits: u128 = rand::thread_rng().gen();
        RequestId(format!("{bits:032x}"))
    }

    /// `value` as an id, when it is one.
    pub fn parse(value: &[u8]) -> Option<RequestId> {
        let plain = |b: &u8| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(b);
        if value.is_empty() || value.len() > MAX_LEN || !value.iter().all(plain) {
            return None;
        }
        std::str::from_utf8(value).ok().map(|s| RequestId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&[u8]]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for v in values {
            h.append(
                REQUEST_ID_HEADER,
                http::HeaderValue::from_bytes(v).expect("header value"),
            );
        }
        h
    }

    #[test]
    fn a_trusted_proxys_plain_id_is_kept() {
        let id = RequestId::decide(&headers(&[b"lb-7f3a:2024/01+x=y@z"]), true);
        assert_eq!(id.as_str(), "lb-7f3a:2024/01+x=y@z");
    }

    #[test]
    fn an_untrusted_or_unusable_id_is_replaced() {
        let long = [b'a'; MAX_LEN + 1];
        let exact = [b'a'; MAX_LEN];
        assert_eq!(RequestId::decide(&headers(&[&exact]), true).as_str().len(), MAX_LEN);
        for (values, trusted) in [
            (vec![&b"chosen-by-client"[..]], false),
            (vec![&b""[..]], true),
            (vec![&long[..]], true),
            (vec![&b"two words"[..]], true),
            (vec![&b"quote\"d"[..]], true),
            (vec![&b"tab\tin"[..]], true),
            (vec![&b"new\\line"[..]], true),
            (vec![&b"{\"json\":1}"[..]], true),
            (vec![&b"caf\xc3\xa9"[..]], true),
            (vec![&b"one"[..], &b"two"[..]], true),
        ] {
            let id = RequestId::decide(&headers(&values), trusted);
            assert_eq!(id.as_str().len(), 32, "{values:?} trusted={trusted}");
            assert!(id.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn generated_ids_differ() {
        assert_ne!(RequestId::generate(), RequestId::generate());
        assert_eq!(RequestId::decide(&http::HeaderMap::new(), true).as_str().len(), 32);
    }
}
