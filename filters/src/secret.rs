//! Secret newtypes: redacted `Debug`, constant-time equality, random generation.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// 32 random bytes from the operating system.
pub fn random_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// A random URL-safe token (256 bits), e.g. a `state` or a flow binding.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes())
}

/// Defines a 32-byte secret newtype.
macro_rules! secret_bytes {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Eq)]
        pub struct $name(pub(crate) [u8; 32]);

        impl $name {
            pub fn random() -> Self {
                $name(random_bytes())
            }
            pub fn from_bytes(bytes: [u8; 32]) -> Self {
                $name(bytes)
            }
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.ct_eq(&other.0).into()
            }
        }

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_bytes!(
    /// The opaque id of a session: 256 random bits, carried in the session cookie.
    /// It is the cookie's secret: the store never holds it, only its [`Sid`].
    SessionId
);

/// The public handle of a session: the first 128 bits of
/// SHA-256(`"sso-gateway sid v1"` ‖ session id), written as 22 base64url characters.
///
/// It names a session without being able to stand in for it: it is the key of the
/// session store (so the store never holds a cookie secret) and the `sid` claim of the
/// gateway's tokens (so an API token finds its session by the same lookup as a
/// cookie). Knowing a `Sid` does not reveal the session id, and it is not a
/// credential; it is not secret, so `Debug` shows it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sid([u8; 16]);

impl Sid {
    /// Length of [`Sid::encode`]'s text.
    pub const ENCODED_LEN: usize = 22;

    /// The handle of the session with this id.
    pub fn of(id: &SessionId) -> Sid {
        let digest = Sha256::new()
            .chain_update(b"sso-gateway sid v1")
            .chain_update(id.as_bytes())
            .finalize();
        let mut sid = [0u8; 16];
        sid.copy_from_slice(&digest[..16]);
        Sid(sid)
    }

    /// The handle as written in a token's `sid` claim (base64url, 22 characters).
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// A `sid` claim read back; `None` unless it is exactly 22 base64url characters.
    pub fn parse(text: &str) -> Option<Sid> {
        if text.len() != Self::ENCODED_LEN {
            return None;
        }
        let mut sid = [0u8; 16];
        match URL_SAFE_NO_PAD.decode_slice(text, &mut sid) {
            Ok(16) => Some(Sid(sid)),
            _ => None,
        }
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({})", self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_redacted() {
        let a = SessionId::random();
        assert_ne!(a, SessionId::random());
        assert_eq!(format!("{a:?}"), "SessionId([redacted])");
        assert_eq!(random_token().len(), 43);
    }

    #[test]
    fn the_sid_is_a_fixed_hash_of_the_session_id() {
        let id = SessionId::from_bytes([7; 32]);
        let sid = Sid::of(&id);
        assert_eq!(sid, Sid::of(&id), "the same id always has the same handle");
        assert_ne!(sid, Sid::of(&SessionId::from_bytes([8; 32])));
        // SHA-256("sso-gateway sid v1" || 0x07 * 32), first 16 bytes: pinned, so a
        // change of derivation (which would orphan every stored session) is noticed.
        let mut input = b"sso-gateway sid v1".to_vec();
        input.extend_from_slice(&[7; 32]);
        assert_eq!(sid.0, Sha256::digest(&input)[..16]);
        let text = sid.encode();
        assert_eq!(text.len(), Sid::ENCODED_LEN);
        assert!(!text.contains(&URL_SAFE_NO_PAD.encode(id.as_bytes())[..8]));
        assert_eq!(Sid::parse(&text), Some(sid));
        assert_eq!(format!("{sid:?}"), format!("Sid({text})"));
    }

    #[test]
    fn only_well_formed_sid_claims_parse() {
        let good = Sid::of(&SessionId::random()).encode();
        let padded = format!("{}==", &good[..21]);
        let long = format!("{good}A");
        let plus = good.replacen(|c: char| c.is_ascii_alphanumeric(), "+", 1);
        for bad in [
            "",
            "abc",
            &good[..21],
            &long,
            &padded,
            &plus,
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
        ] {
            assert_eq!(Sid::parse(bad), None, "{bad:?} parsed");
        }
        // 22 characters carry 132 bits; the 4 spare bits must be zero, so a handle has
        // exactly one spelling ('B' sets one of them).
        assert_eq!(Sid::parse(&format!("{}B", &good[..21])), None);
    }
}
