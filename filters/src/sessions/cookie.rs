//! The session cookie: `<id>.<mac>`, both base64url. The MAC (HMAC-SHA256 under a key
//! derived from `sessions.cookie_secret`, 128 bits kept) lets a tampered or forged
//! cookie be rejected before any store lookup.
//!
//! The key ring: the current secret signs, it and every one of
//! `sessions.previous_cookie_secrets` verify. A cookie a previous secret signed is
//! [`SessionCookie::stale`], and the gateway sets it again, signed with the current
//! one, on that request's response: a rotation signs nobody out.

use crate::secret::SessionId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sso_config::{SessionsConfig, SiteConfig};

type HmacSha256 = Hmac<Sha256>;
const MAC_LEN: usize = 16;

/// Why a session cookie was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// Not `<id>.<mac>` in base64url of the right lengths.
    #[error("malformed session cookie")]
    Malformed,
    /// The MAC does not match: tampered, forged, or signed with another secret.
    #[error("session cookie signature mismatch")]
    BadSignature,
    /// The session cookie's name appears more than once: a sibling subdomain may have
    /// set one for the parent domain (cookie tossing), and which one is the shopper's
    /// cannot be told, so neither is used.
    #[error("session cookie sent more than once")]
    Duplicate,
}

/// A session cookie that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCookie {
    pub id: SessionId,
    /// Signed with a previous secret of the key ring: to be set again.
    pub stale: bool,
}

/// Signs and checks cookies, and writes `Set-Cookie` values, for one site.
#[derive(Clone)]
pub struct CookieCodec {
    /// The current secret's key first, then the previous ones'.
    keys: std::sync::Arc<[[u8; 32]]>,
    /// `__Host-<name>` on https sites.
    pub session_name: String,
    secure: bool,
    /// Prefix of per-login-flow cookies.
    flow_prefix: String,
    /// Prefix of the cross-site sign-on cookies (link state and markers).
    link_prefix: String,
}

impl CookieCodec {
    pub fn from_config(sessions: &SessionsConfig, site: &SiteConfig) -> Self {
        let keys: Vec<[u8; 32]> = std::iter::once(&sessions.cookie_secret)
            .chain(&sessions.previous_cookie_secrets)
            .map(|secret| {
                let mut mac = hmac_sha256(secret.expose().as_bytes());
                mac.update(b"sso-gateway cookie key v1");
                mac.finalize().into_bytes().into()
            })
            .collect();
        let secure = site.is_https();
        let prefix = if secure { "__Host-" } else { "" };
        CookieCodec {
            keys: keys.into(),
            session_name: format!("{prefix}{}", sessions.cookie_name),
            secure,
            flow_prefix: format!("{prefix}{}_flow_", sessions.cookie_name),
            link_prefix: format!("{prefix}{}_link_", sessions.cookie_name),
        }
    }

    pub fn encode(&self, id: &SessionId) -> String {
        let mut mac = hmac_sha256(self.keys.first().map_or(&[][..], |k| &k[..]));
        mac.update(id.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(id.as_bytes()),
            URL_SAFE_NO_PAD.encode(&tag[..MAC_LEN])
        )
    }

    /// The session id of a cookie any key of the ring signed.
    pub fn decode(&self, value: &str) -> Result<SessionId, CookieError> {
        self.decode_cookie(value).map(|c| c.id)
    }

    /// The session id of a cookie, and whether a previous secret signed it.
    pub fn decode_cookie(&self, value: &str) -> Result<SessionCookie, CookieError> {
        let (id_part, mac_part) = value.split_once('.').ok_or(CookieError::Malformed)?;
        if id_part.len() != 43 || mac_part.len() != 22 {
            return Err(CookieError::Malformed);
        }
        let mut id = [0u8; 32];
        let mut tag = [0u8; MAC_LEN];
        let ok_id = URL_SAFE_NO_PAD
            .decode_slice(id_part, &mut id)
            .map_err(|_| CookieError::Malformed)?;
        let ok_tag = URL_SAFE_NO_PAD
            .decode_slice(mac_part, &mut tag)
            .map_err(|_| CookieError::Malformed)?;
        if ok_id != 32 || ok_tag != MAC_LEN {
            return Err(CookieError::Malformed);
        }
        let position = self.keys.iter().position(|key| {
            let mut mac = hmac_sha256(key);
            mac.update(&id);
            mac.verify_truncated_left(&tag).is_ok()
        });
        match position {
            Some(i) => Ok(SessionCookie {
                id: SessionId::from_bytes(id),
                stale: i > 0,
            }),
            None => Err(CookieError::BadSignature),
        }
    }

    /// The session id from a request's `Cookie` headers: `Ok(None)` when there is no
    /// session cookie, an error when there is one that does not verify or when the
    /// name is sent more than once ([`CookieError::Duplicate`]).
    pub fn session_from_headers(&self, headers: &http::HeaderMap) -> Result<Option<SessionCookie>, CookieError> {
        let mut found = None;
        for (name, value) in cookie_pairs(headers) {
            if name == self.session_name && found.replace(value).is_some() {
                return Err(CookieError::Duplicate);
            }
        }
        found.map(|value| self.decode_cookie(value)).transpose()
    }

    /// The name of the site's cross-site sign-on cookie `what` (`state`, `checked`, `off`).
    pub fn link_name(&self, what: &str) -> String {
        format!("{}{what}", self.link_prefix)
    }

    /// The `what` of every cross-site sign-on cookie the request carries whose `what`
    /// starts with `what_prefix` (e.g. the state cookies of link rounds).
    pub fn link_cookies(&self, headers: &http::HeaderMap, what_prefix: &str) -> Vec<String> {
        let prefix = self.link_name(what_prefix);
        cookie_pairs(headers)
            .filter_map(|(name, _)| {
                name.strip_prefix(prefix.as_str())
                    .map(|rest| format!("{what_prefix}{rest}"))
            })
            .collect()
    }

    /// `Set-Cookie` for cross-site sign-on cookie `what` (`max_age` 0 deletes it).
    pub fn set_link(&self, what: &str, value: &str, max_age_secs: i64) -> String {
        self.build(self.link_name(what), value.to_string(), Some(max_age_secs))
    }

    fn build(&self, name: String, value: String, max_age: Option<i64>) -> String {
        let mut c = Cookie::new(name, value);
        c.set_http_only(true);
        c.set_secure(self.secure);
        c.set_same_site(SameSite::Lax);
        c.set_path("/");
        if let Some(age) = max_age {
            c.set_max_age(cookie::time::Duration::seconds(age));
        }
        c.to_string()
    }

    /// `Set-Cookie` for a new session (a browser-session cookie: the server decides expiry).
    pub fn set_session(&self, id: &SessionId) -> String {
        self.build(self.session_name.clone(), self.encode(id), None)
    }

    /// `Set-Cookie` that deletes the session cookie (same attributes).
    pub fn clear_session(&self) -> String {
        self.build(self.session_name.clone(), String::new(), Some(0))
    }

    /// True when `name` is one of the gateway's own cookies (the session cookie, a
    /// login-flow cookie or a cross-site sign-on cookie), compared case-insensitively so `__HoSt-` variants count.
    pub fn is_gateway_cookie(&self, name: &str) -> bool {
        let starts = |prefix: &str| {
            name.get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        };
        name.eq_ignore_ascii_case(&self.session_name) || starts(&self.flow_prefix) || starts(&self.link_prefix)
    }

    /// Name of the cookie binding the login flow with this `state` to the browser:
    /// the flow prefix and 12 base64url characters of the state's SHA-256.
    pub fn flow_name(&self, state: &str) -> String {
        use sha2::Digest;
        let digest = Sha256::digest(state.as_bytes());
        format!(
            "{}{}",
            self.flow_prefix,
            URL_SAFE_NO_PAD.encode(&digest[..FLOW_HASH_BYTES])
        )
    }

    /// `Set-Cookie` for a new flow; `value` comes from [`flow_value`].
    pub fn set_flow(&self, state: &str, value: &str, max_age_secs: i64) -> String {
        self.build(self.flow_name(state), value.to_string(), Some(max_age_secs))
    }

    /// `Set-Cookie` that deletes the flow cookie of `state` (same attributes).
    pub fn clear_flow(&self, state: &str) -> String {
        self.build(self.flow_name(state), String::new(), Some(0))
    }

    /// `Set-Cookie` deletions for the oldest flow cookies the request carries, so
    /// that with the one a new login is about to set at most [`MAX_FLOW_COOKIES`]
    /// remain. Age comes from the value's creation time (a value without one counts
    /// as oldest); equal times keep the `Cookie` header's order, oldest first.
    pub fn evict_old_flows(&self, headers: &http::HeaderMap) -> Vec<String> {
        let mut flows: Vec<(u64, &str)> = Vec::new();
        for (name, value) in cookie_pairs(headers) {
            // Bounded: a request stuffed with thousands of flow cookies costs no more
            // than one with a few dozen (the rest go on later logins).
            if flows.len() == MAX_FLOW_COOKIES_SEEN {
                break;
            }
            if self.is_flow_name(name) && !flows.iter().any(|(_, n)| *n == name) {
                flows.push((flow_created(value).unwrap_or(0), name));
            }
        }
        let keep = MAX_FLOW_COOKIES.saturating_sub(1);
        if flows.len() <= keep {
            return Vec::new();
        }
        flows.sort_by_key(|(created, _)| *created);
        let excess = flows.len() - keep;
        flows[..excess]
            .iter()
            .map(|(_, name)| self.build((*name).to_string(), String::new(), Some(0)))
            .collect()
    }

    /// True for names this codec gives flow cookies (exact prefix, 12 base64url
    /// characters), so only well-formed names are ever echoed into `Set-Cookie`.
    fn is_flow_name(&self, name: &str) -> bool {
        name.strip_prefix(self.flow_prefix.as_str()).is_some_and(|tail| {
            tail.len() == FLOW_HASH_BYTES / 3 * 4
                && tail
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    }
}

/// Most login-flow cookies a browser holds at once: a login started past this
/// replaces the oldest, so parallel tabs keep working and a loop of logins cannot
/// grow the `Cookie` header.
pub const MAX_FLOW_COOKIES: usize = 3;

/// Most flow cookies one request is searched for (and so deleted in one response).
const MAX_FLOW_COOKIES_SEEN: usize = 32;

/// Bytes of the state hash in a flow cookie name (12 base64url characters).
const FLOW_HASH_BYTES: usize = 9;

/// The value of a flow cookie: `<unix seconds when the login started>.<binding>`.
/// The server keeps the SHA-256 of the whole value, so the time cannot be altered
/// without breaking the binding.
pub fn flow_value(created_unix_secs: u64, binding: &str) -> String {
    format!("{created_unix_secs}.{binding}")
}

/// The creation time written by [`flow_value`], if `value` has one.
pub fn flow_created(value: &str) -> Option<u64> {
    let (secs, _) = value.split_once('.')?;
    if secs.is_empty() || secs.len() > 20 || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    secs.parse().ok()
}

fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// The value of cookie `name` in the request's `Cookie` header(s).
pub fn find_cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    cookie_pairs(headers).find_map(|(k, v)| (k == name).then_some(v))
}

/// Every `(name, value)` in the request's `Cookie` header(s), in order. Read on bytes:
/// a line holding a non-ASCII value the origin set (`city=Zürich`) still yields its
/// other pairs; only a pair that is not UTF-8 is skipped.
fn cookie_pairs(headers: &http::HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b';'))
        .filter_map(|pair| {
            let (k, v) = std::str::from_utf8(pair).ok()?.trim().split_once('=')?;
            Some((k, v.trim_matches('"')))
        })
}

#[cfg(test)]
#[path = "cookie_ring_tests.rs"]
mod ring_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(url: &str) -> CookieCodec {
        let cfg = sso_config::parse(
            &format!(
                "[server]\ntrusted_proxies = [\"10.0.0.0/8\"]\n[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n[[sites]]\nname = \"s\"\n\
                 hosts = [\"s.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\npublic_url = \"{url}\"\n"
            ),
            &|_| None,
        )
        .expect("config");
        CookieCodec::from_config(&cfg.sessions, &cfg.sites[0])
    }

    #[test]
    fn round_trip_and_tamper_detection() {
        let c = codec("http://s.localhost");
        let id = SessionId::random();
        let value = c.encode(&id);
        assert_eq!(c.decode(&value), Ok(id));
        let mut tampered = value.clone().into_bytes();
        tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            c.decode(&String::from_utf8(tampered).expect("utf8")),
            Err(CookieError::BadSignature)
        );
        for bad in ["", "x", "a.b", &value[..40], &format!("{value}x"), "Ã©.Ã©"] {
            assert!(c.decode(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn https_sites_get_host_prefixed_secure_cookies() {
        let c = codec("https://s.localhost");
        let set = c.set_session(&SessionId::random());
        assert!(set.starts_with("__Host-sso_session="), "{set}");
        for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
            assert!(set.contains(attr), "{set} lacks {attr}");
        }
        let clear = c.clear_session();
        assert!(
            clear.contains("Max-Age=0") && clear.contains("Secure") && clear.contains("__Host-"),
            "{clear}"
        );
        assert!(!codec("http://s.localhost")
            .set_session(&SessionId::random())
            .contains("Secure"));
    }

    #[test]
    fn a_request_stuffed_with_flow_cookies_costs_a_bounded_amount() {
        let c = codec("http://s.localhost");
        let mut line = String::new();
        for i in 0..5000u32 {
            let name = c.flow_name(&format!("state-{i}"));
            line.push_str(&format!("{name}={i}.x; "));
        }
        let mut h = http::HeaderMap::new();
        h.append("cookie", http::HeaderValue::from_str(&line).expect("value"));
        let deletions = c.evict_old_flows(&h);
        assert_eq!(deletions.len(), MAX_FLOW_COOKIES_SEEN - (MAX_FLOW_COOKIES - 1));
    }

    #[test]
    fn a_non_ascii_cookie_does_not_hide_the_others() {
        let mut h = http::HeaderMap::new();
        let line = http::HeaderValue::from_bytes(b"city=Z\xc3\xbcrich; sso_session=abc; raw=\xe9").expect("value");
        h.append("cookie", line);
        assert_eq!(find_cookie(&h, "sso_session"), Some("abc"));
        assert_eq!(find_cookie(&h, "city"), Some("Z\u{fc}rich"));
        assert_eq!(find_cookie(&h, "raw"), None);
    }

    #[test]
    fn finds_cookies_among_many() {
        let mut h = http::HeaderMap::new();
        h.append("cookie", http::HeaderValue::from_static("a=1; sso_session=abc"));
        h.append("cookie", http::HeaderValue::from_static("b=2"));
        assert_eq!(find_cookie(&h, "sso_session"), Some("abc"));
        assert_eq!(find_cookie(&h, "b"), Some("2"));
        assert_eq!(find_cookie(&h, "sso"), None);
    }

    #[test]
    fn a_session_cookie_sent_twice_is_no_session() {
        let c = codec("http://s.localhost");
        let mine = c.encode(&SessionId::random());
        let tossed = c.encode(&SessionId::random());
        let headers = |lines: &[&str]| {
            let mut h = http::HeaderMap::new();
            for line in lines {
                h.append("cookie", http::HeaderValue::from_str(line).expect("header"));
            }
            h
        };
        let one = headers(&[&format!("a=1; sso_session={mine}; b=2")]);
        assert_eq!(c.session_from_headers(&one), c.decode_cookie(&mine).map(Some));
        assert_eq!(c.session_from_headers(&headers(&["a=1"])), Ok(None));
        // Both valid, or one garbage: which one is the shopper's cannot be told.
        for lines in [
            vec![format!("sso_session={tossed}; sso_session={mine}")],
            vec![format!("sso_session={mine}"), format!("x=1; sso_session={tossed}")],
            vec![format!("sso_session={mine}; sso_session={mine}")],
            vec![format!("sso_session=; sso_session={mine}")],
            vec![format!("sso_session=\"{mine}\"; sso_session=garbage")],
        ] {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            assert_eq!(
                c.session_from_headers(&headers(&lines)),
                Err(CookieError::Duplicate),
                "{lines:?}"
            );
        }
        // Other names, even of other case, are other cookies.
        let others = headers(&[&format!(
            "SSO_SESSION={tossed}; sso_session={mine}; sso_session_x={tossed}"
        )]);
        assert_eq!(c.session_from_headers(&others), c.decode_cookie(&mine).map(Some));
    }

    #[test]
    fn flow_cookies_beyond_the_cap_are_deleted_oldest_first() {
        let c = codec("https://s.localhost");
        let name = |state: &str| c.flow_name(state);
        assert!(name("a").starts_with("__Host-sso_session_flow_") && c.is_gateway_cookie(&name("a")));
        let mut h = http::HeaderMap::new();
        assert!(c.evict_old_flows(&h).is_empty());
        let cookie = format!(
            "{}={}; other=1; {}={}; {}=no-time; {}={}",
            name("newest"),
            flow_value(300, "x"),
            name("middle"),
            flow_value(200, "y"),
            name("untimed"),
            name("oldest"),
            flow_value(100, "z"),
        );
        h.insert("cookie", http::HeaderValue::from_str(&cookie).expect("header"));
        let gone = c.evict_old_flows(&h);
        // Four carried + one new: the three oldest go, two stay beside the new one.
        assert_eq!(gone.len(), 2, "{gone:?}");
        assert!(gone[0].starts_with(&format!("{}=;", name("untimed"))), "{gone:?}");
        assert!(gone[1].starts_with(&format!("{}=;", name("oldest"))), "{gone:?}");
        for g in &gone {
            for attr in ["Max-Age=0", "Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
                assert!(g.contains(attr), "{g} lacks {attr}");
            }
        }
        // Two carried: nothing to delete.
        let two = format!(
            "{}={}; {}={}",
            name("a"),
            flow_value(1, "b"),
            name("c"),
            flow_value(2, "d")
        );
        h.insert("cookie", http::HeaderValue::from_str(&two).expect("header"));
        assert!(c.evict_old_flows(&h).is_empty());
    }

    #[test]
    fn only_well_formed_flow_names_are_echoed() {
        let c = codec("http://s.localhost");
        let mut h = http::HeaderMap::new();
        h.insert(
            "cookie",
            http::HeaderValue::from_static(
                "sso_session_flow_=1.a; sso_session_flow_AAAAAAAAAAA%=1.a; SSO_SESSION_FLOW_AAAAAAAAAAAA=1.a; \
                 sso_session_flow_AAAAAAAAAAAAA=1.a; sso_session_flow_AAAAAAAAAAAA=1.a; sso_session_flow_AAAAAAAAAAAA=2.a",
            ),
        );
        assert!(c.evict_old_flows(&h).is_empty(), "one real flow cookie (named twice)");
        assert_eq!(flow_created("1700000000.abc"), Some(1_700_000_000));
        let too_long = format!("{}.a", "9".repeat(21));
        for bad in ["", "abc", ".abc", "-1.abc", "+1.abc", "1e3.abc", &too_long] {
            assert_eq!(flow_created(bad), None, "{bad}");
        }
    }
}
