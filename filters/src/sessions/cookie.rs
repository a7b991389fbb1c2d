//! The session cookie: `<id>.<mac>`, both base64url. The MAC (HMAC-SHA256 under a key
//! derived from `sessions.cookie_secret`, 128 bits kept) lets a tampered or forged
//! cookie be rejected before any store lookup.

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
}

/// Signs and checks cookies, and writes `Set-Cookie` values, for one site.
#[derive(Clone)]
pub struct CookieCodec {
    key: [u8; 32],
    /// `__Host-<name>` on https sites.
    pub session_name: String,
    secure: bool,
    /// Prefix of per-login-flow cookies.
    flow_prefix: String,
}

impl CookieCodec {
    pub fn from_config(sessions: &SessionsConfig, site: &SiteConfig) -> Self {
        let mut mac = hmac_sha256(sessions.cookie_secret.expose().as_bytes());
        mac.update(b"sso-gateway cookie key v1");
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        let secure = site.is_https();
        let prefix = if secure { "__Host-" } else { "" };
        CookieCodec {
            key,
            session_name: format!("{prefix}{}", sessions.cookie_name),
            secure,
            flow_prefix: format!("{prefix}{}_flow_", sessions.cookie_name),
        }
    }

    fn mac(&self) -> HmacSha256 {
        hmac_sha256(&self.key)
    }

    pub fn encode(&self, id: &SessionId) -> String {
        let mut mac = self.mac();
        mac.update(id.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(id.as_bytes()),
            URL_SAFE_NO_PAD.encode(&tag[..MAC_LEN])
        )
    }

    pub fn decode(&self, value: &str) -> Result<SessionId, CookieError> {
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
        let mut mac = self.mac();
        mac.update(&id);
        mac.verify_truncated_left(&tag).map_err(|_| CookieError::BadSignature)?;
        Ok(SessionId::from_bytes(id))
    }

    /// The session id from a request's `Cookie` headers: `Ok(None)` when there is no
    /// session cookie, an error when there is one that does not verify.
    pub fn session_from_headers(&self, headers: &http::HeaderMap) -> Result<Option<SessionId>, CookieError> {
        match find_cookie(headers, &self.session_name) {
            Some(v) => self.decode(v).map(Some),
            None => Ok(None),
        }
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

    /// Name of the cookie binding the login flow with this `state` to the browser.
    pub fn flow_name(&self, state: &str) -> String {
        use sha2::Digest;
        let digest = Sha256::digest(state.as_bytes());
        format!("{}{}", self.flow_prefix, URL_SAFE_NO_PAD.encode(&digest[..9]))
    }

    pub fn set_flow(&self, state: &str, binding: &str, max_age_secs: i64) -> String {
        self.build(self.flow_name(state), binding.to_string(), Some(max_age_secs))
    }

    pub fn clear_flow(&self, state: &str) -> String {
        self.build(self.flow_name(state), String::new(), Some(0))
    }
}

fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// The value of cookie `name` in the request's `Cookie` header(s).
pub fn find_cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.trim_matches('"'))
        })
}

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
    fn finds_cookies_among_many() {
        let mut h = http::HeaderMap::new();
        h.append("cookie", http::HeaderValue::from_static("a=1; sso_session=abc"));
        h.append("cookie", http::HeaderValue::from_static("b=2"));
        assert_eq!(find_cookie(&h, "sso_session"), Some("abc"));
        assert_eq!(find_cookie(&h, "b"), Some("2"));
        assert_eq!(find_cookie(&h, "sso"), None);
    }
}
