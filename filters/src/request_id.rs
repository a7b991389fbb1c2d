//! The request id: one per request, from the first phase to the access line. It is
//! taken from an incoming `X-Request-Id` only when the peer is a trusted proxy
//! (`server.trusted_proxies`) and the value is a plain token; otherwise the gateway
//! makes one. The origin gets it in `X-Request-Id` (whatever the client sent is
//! replaced), the shopper in the gateway's own answers, and every log line of the
//! request carries it.

use http::{HeaderName, HeaderValue};
use rand::Rng;
use std::fmt;

/// The header that carries the id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// [`REQUEST_ID_HEADER`] as a header name, parsed once.
pub const REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// The longest incoming id kept (longer ones are replaced, not cut).
pub const MAX_LEN: usize = 128;

/// A request id: 1–128 bytes of `A–Z a–z 0–9 - _ . : / + = @`, so it can go into a
/// header, a log line or a JSON string as it is. Kept as a header value: it is sent
/// on twice per proxied request without copying.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The id of a request: the trusted proxy's, when `peer_trusted` and it is a plain
    /// token, else a new one. A repeated header is not believed.
    pub fn decide(headers: &http::HeaderMap, peer_trusted: bool) -> RequestId {
        if peer_trusted {
            let mut values = headers.get_all(REQUEST_ID).iter();
            if let (Some(value), None) = (values.next(), values.next()) {
                if is_plain(value.as_bytes()) {
                    return RequestId(value.clone());
                }
            }
        }
        RequestId::generate()
    }

    /// A new id: 128 random bits as 32 hex digits.
    pub fn generate() -> RequestId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bits: u128 = rand::thread_rng().gen();
        let mut digits = [0u8; 32];
        for (i, d) in digits.iter_mut().enumerate() {
            *d = HEX[((bits >> (124 - 4 * i)) & 0xf) as usize];
        }
        RequestId(HeaderValue::from_bytes(&digits).unwrap_or(HeaderValue::from_static("-")))
    }

    /// `value` as an id, when it is one.
    pub fn parse(value: &[u8]) -> Option<RequestId> {
        if !is_plain(value) {
            return None;
        }
        HeaderValue::from_bytes(value).ok().map(RequestId)
    }

    pub fn as_str(&self) -> &str {
        // Only plain ASCII is ever kept, which `to_str` always accepts.
        self.0.to_str().unwrap_or("-")
    }

    /// The id as a header value (a cheap clone).
    pub fn header_value(&self) -> HeaderValue {
        self.0.clone()
    }
}

/// 1–128 bytes of the plain alphabet.
fn is_plain(value: &[u8]) -> bool {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(b);
    !value.is_empty() && value.len() <= MAX_LEN && value.iter().all(plain)
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.as_str())
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
