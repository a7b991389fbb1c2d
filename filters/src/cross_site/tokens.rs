//! The secrets of cross-site sign-on: the auth host's SSO cookie value
//! ([`SsoSessionId`]) and the one-time token a site redeems ([`OneTimeToken`]). Both
//! are 256 random bits written as 43 base64url characters, with a redacted `Debug`
//! and constant-time equality. Stores never hold them, only a hash ([`Self::key`]).

use crate::secret::random_bytes;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::fmt;
use subtle::ConstantTimeEq;

/// Length of an encoded secret (32 bytes in base64url without padding).
pub const ENCODED_LEN: usize = 43;

macro_rules! cross_site_secret {
    ($(#[$doc:meta])* $name:ident, $purpose:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Eq)]
        pub struct $name([u8; 32]);

        impl $name {
            pub fn random() -> Self {
                $name(random_bytes())
            }

            /// The value as sent (cookie or query parameter).
            pub fn encode(&self) -> String {
                URL_SAFE_NO_PAD.encode(self.0)
            }

            /// A value read back from a request: exactly 43 base64url characters that
            /// decode to 32 bytes in their one canonical spelling, else `None`.
            pub fn parse(text: &str) -> Option<Self> {
                if text.len() != ENCODED_LEN {
                    return None;
                }
                let mut bytes = [0u8; 32];
                match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
                    Ok(32) if URL_SAFE_NO_PAD.encode(bytes) == text => Some($name(bytes)),
                    _ => None,
                }
            }

            /// The store key of this secret: a SHA-256 hash, so whoever reads the
            /// store cannot present the secret.
            pub fn key(&self) -> String {
                crate::store::hashed_key(&[$purpose, &self.encode()])
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.ct_eq(&other.0).into()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

cross_site_secret!(
    /// The auth host's cookie: names the browser's SSO session. Its [`key`](Self::key)
    /// is the session's *handle*, which linked sessions record (a handle cannot be
    /// turned back into the cookie).
    SsoSessionId,
    "sso-session v1"
);

cross_site_secret!(
    /// A one-time token: lets one site create one local session linked to one SSO
    /// session, once, within `sso.ott_ttl`. Also the adopt token that hands the SSO
    /// cookie to the auth host after a sign-in on a site.
    OneTimeToken,
    "sso-ott v1"
);

cross_site_secret!(
    /// The auth host's browser binding: a random value in its own cookie; its hash
    /// travels to the site, and an adopt token is only honoured by the browser that
    /// holds the value (so a token handed to someone else's browser does nothing).
    BrowserBinding,
    "sso-bind v1"
);

/// A link `state`: 43 base64url characters (what [`crate::secret::random_token`] makes).
pub fn is_state(text: &str) -> bool {
    text.len() == ENCODED_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Constant-time comparison of two short public-format strings (states, hashes).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_redacted_and_parse_only_canonically() {
        let t = OneTimeToken::random();
        assert_ne!(t, OneTimeToken::random());
        assert_eq!(format!("{t:?}"), "OneTimeToken([redacted])");
        let text = t.encode();
        assert_eq!(text.len(), ENCODED_LEN);
        assert_eq!(OneTimeToken::parse(&text), Some(t));
        assert!(!t.key().contains(&text), "the store key does not hold the token");
        assert_ne!(
            t.key(),
            SsoSessionId::parse(&text).map(|s| s.key()).unwrap_or_default(),
            "one value is another key for each purpose"
        );
        let long = format!("{text}A");
        let padded = format!("{}=", &text[..42]);
        let non_canonical = format!("{}B", &text[..42]);
        for bad in [
            "",
            "abc",
            &text[..42],
            &long,
            &padded,
            "%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%",
        ] {
            assert!(OneTimeToken::parse(bad).is_none(), "{bad:?}");
        }
        assert!(
            non_canonical == text || OneTimeToken::parse(&non_canonical).is_none(),
            "spare bits must be zero"
        );
        assert!(is_state(&crate::secret::random_token()));
        assert!(!is_state("short") && !is_state(&"a".repeat(44)) && !is_state(&"+".repeat(43)));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
