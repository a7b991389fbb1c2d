//! The cookies of cross-site sign-on.
//!
//! On the auth host: the SSO cookie (`sso.cookie_name`, `__Host-` on https: the
//! SSO session's secret id) and the browser binding (`<cookie_name>_bind`). On a
//! linked site (named after `sessions.cookie_name`, never passed to the origin): the
//! link `state` of a round to the auth host, the `checked` marker (the auth host was
//! asked a moment ago and had no SSO session: no automatic redirect meanwhile) and
//! the `off` marker (the shopper signed out of this site only: no automatic sign-in
//! here until they sign in again). All are `HttpOnly`, `SameSite=Lax`, `Path=/`.

use cookie::{Cookie, SameSite};
use std::time::Duration;

/// How long a link round may take (the state cookie's life).
pub const STATE_TTL: Duration = Duration::from_secs(600);
/// How long an anonymous visitor of an `auto` site is not sent to the auth host again
/// after it had no SSO session.
pub const CHECKED_TTL: Duration = Duration::from_secs(300);
/// How long a browser binding lasts on the auth host: longer than a sign-in at the IdP
/// usually takes.
pub const BINDING_TTL: Duration = Duration::from_secs(1800);

/// The auth host's two cookies.
#[derive(Debug, Clone)]
pub struct AuthHostCookies {
    pub session_name: String,
    pub binding_name: String,
    secure: bool,
}

impl AuthHostCookies {
    pub fn new(config: &sso_config::sso::SsoConfig) -> Self {
        let prefix = if config.is_https() { "__Host-" } else { "" };
        AuthHostCookies {
            session_name: format!("{prefix}{}", config.cookie_name),
            binding_name: format!("{prefix}{}_bind", config.cookie_name),
            secure: config.is_https(),
        }
    }

    /// `Set-Cookie` of `name` to `value` for `max_age` (zero deletes it).
    pub fn set(&self, name: &str, value: &str, max_age: Duration) -> String {
        let mut c = Cookie::new(name.to_string(), value.to_string());
        c.set_http_only(true);
        c.set_secure(self.secure);
        c.set_same_site(SameSite::Lax);
        c.set_path("/");
        c.set_max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ));
        c.to_string()
    }
}

/// What a site's link round is for, kept in its state cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// An anonymous page load of an `auto` site: sign in if there is an SSO session.
    Check,
    /// The site's sign-in: with an SSO session no form, else the normal login.
    Login,
    /// A shopper just signed in here: bind the browser, then hand the auth host the
    /// new SSO session.
    Bind,
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Check => "check",
            Intent::Login => "login",
            Intent::Bind => "bind",
        }
    }

    pub fn parse(text: &str) -> Option<Intent> {
        match text {
            "check" => Some(Intent::Check),
            "login" => Some(Intent::Login),
            "bind" => Some(Intent::Bind),
            _ => None,
        }
    }
}

/// Longest `/login` query kept for after the round (a longer one is dropped: the
/// shopper comes back to the plain sign-in).
pub const MAX_LOGIN_QUERY: usize = 256;

/// The state cookie's value: `<state>.<intent>[.<login query, base64url>]`.
pub fn state_value(state: &str, intent: Intent, login_query: Option<&str>) -> String {
    use base64::Engine;
    match login_query.filter(|q| !q.is_empty() && q.len() <= MAX_LOGIN_QUERY) {
        Some(q) => format!(
            "{state}.{}.{}",
            intent.as_str(),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(q)
        ),
        None => format!("{state}.{}", intent.as_str()),
    }
}

/// A state cookie read back: the state, the intent and the login query (if any).
pub fn parse_state_value(value: &str) -> Option<(&str, Intent, Option<String>)> {
    use base64::Engine;
    let mut parts = value.splitn(3, '.');
    let state = parts.next().filter(|s| super::tokens::is_state(s))?;
    let intent = Intent::parse(parts.next()?)?;
    let query = match parts.next() {
        Some(q) => {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(q).ok()?;
            // A query as a request line carries it: printable ASCII, no spaces (it
            // goes into a `Location` header).
            if !bytes.iter().all(u8::is_ascii_graphic) {
                return None;
            }
            Some(String::from_utf8(bytes).ok()?)
        }
        None => None,
    };
    Some((state, intent, query))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_values_read_back() {
        use base64::Engine;
        let state = crate::secret::random_token();
        let v = state_value(&state, Intent::Login, Some("return_to=%2Fa&org=acme"));
        let (s, i, q) = parse_state_value(&v).expect("parses");
        assert_eq!(
            (s, i, q.as_deref()),
            (state.as_str(), Intent::Login, Some("return_to=%2Fa&org=acme"))
        );
        let v = state_value(&state, Intent::Check, None);
        assert_eq!(parse_state_value(&v).map(|p| p.1), Some(Intent::Check));
        let newline = format!(
            "{state}.login.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("a\nb")
        );
        assert!(
            parse_state_value(&newline).is_none(),
            "a query that could split a header"
        );
        for bad in [
            "",
            "x.check",
            &format!("{state}.other"),
            &format!("{state}.login.%%%"),
            &state,
        ] {
            assert!(parse_state_value(bad).is_none(), "{bad:?}");
        }
    }
}
