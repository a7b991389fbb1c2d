//! Fuzzing entry point of cross-site sign-on's untrusted inputs: one-time tokens,
//! SSO cookies and bindings as they arrive in query strings and cookies, the link
//! state cookie, and the SSO data documents of `PUT <sso_prefix>/sso-data`.

use crate::cross_site::cookies::{parse_state_value, state_value};
use crate::cross_site::data::parse_sso_data;
use crate::cross_site::tokens::{is_state, BrowserBinding, OneTimeToken, SsoSessionId, ENCODED_LEN};

/// The first byte picks the input:
/// - `t`: a token as text. Accepted only as exactly 43 base64url characters in their
///   one canonical spelling (it encodes back to itself), identically by the three
///   secret types, each with a 64-hex-digit store key that does not contain it.
/// - `s`: a link state cookie value. Accepted only with a well-formed state, and a
///   value written from what was read reads back the same.
/// - `r`: a record the store gives back (the SSO session, its source, a one-time
///   token grant), sealed properly around any body: it opens only as a well-formed
///   record of its type (never a panic, whatever the body), and what opens seals and
///   opens again to the same value; the raw bytes, unsealed, never open.
/// - `d`: an SSO data body. Accepted only as a JSON object of at most 4 KiB nested
///   at most 16 deep, whose serialisation parses back to the same document (numbers
///   to within a rounding of the last digit: serde_json's float parsing is not exact).
pub fn one_time_token(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        b't' => {
            let Ok(text) = std::str::from_utf8(rest) else { return };
            let ott = OneTimeToken::parse(text);
            assert_eq!(ott.is_some(), SsoSessionId::parse(text).is_some());
            assert_eq!(ott.is_some(), BrowserBinding::parse(text).is_some());
            if let Some(t) = ott {
                assert_eq!(text.len(), ENCODED_LEN);
                assert_eq!(t.encode(), text, "one spelling only");
                let key = t.key();
                assert!(key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()));
                assert!(!key.contains(text));
            }
        }
        b's' => {
            let Ok(text) = std::str::from_utf8(rest) else { return };
            if let Some((state, intent, query)) = parse_state_value(text) {
                assert!(is_state(state));
                let again = state_value(state, intent, query.as_deref());
                let (s2, i2, q2) = parse_state_value(&again).unwrap_or_else(|| panic!("{again:?} does not read back"));
                assert_eq!((s2, i2), (state, intent));
                let kept = query.filter(|q| !q.is_empty() && q.len() <= crate::cross_site::cookies::MAX_LOGIN_QUERY);
                assert_eq!(q2, kept);
            }
        }
        b'r' => stored_records(rest),
        b'd' => {
            if let Ok(doc) = parse_sso_data(rest) {
                assert!(rest.len() <= crate::cross_site::group::MAX_DATA);
                assert!(doc.is_object());
                let text = doc.to_string();
                let back: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
                assert!(same_document(&back, &doc), "{text}");
            }
        }
        _ => {}
    }
}

/// The `r` mode of [`one_time_token`]: every kind of SSO record from the same bytes.
fn stored_records(body: &[u8]) {
    use crate::cross_site::records::{open, seal, OttGrant, SsoSession, SsoSource};
    use crate::store::seal::{RecordKind, Seal};
    fn check<T>(s: &Seal, body: &[u8])
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let (kind, key) = ("sso-fuzz", "k");
        assert!(open::<T>(s, kind, key, body).is_err(), "unsealed bytes opened");
        let Ok(sealed) = s.seal(RecordKind::CrossSite(kind), key.as_bytes(), body) else {
            return;
        };
        if let Ok(value) = open::<T>(s, kind, key, &sealed) {
            let again = seal(s, kind, key, &value).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(open::<T>(s, kind, key, &again).ok().as_ref(), Some(&value));
            assert!(open::<T>(s, kind, "other", &again).is_err(), "moved to another key");
            assert!(open::<T>(s, "sso-other", key, &again).is_err(), "read as another kind");
        }
    }
    let s = Seal::from_secret(&sso_config::Secret::new("fuzz-cookie-secret-0123456789abcdef"));
    check::<SsoSession>(&s, body);
    check::<SsoSource>(&s, body);
    check::<OttGrant>(&s, body);
}

/// Equal documents, floating-point numbers compared to a relative 1e-12.
fn same_document(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) if x.is_finite() && y.is_finite() => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_document(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_document(v, w)))
        }
        _ => a == b,
    }
}
