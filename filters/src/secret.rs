//! Secret newtypes: redacted `Debug`, constant-time equality, random generation.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
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
    SessionId
);

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
}
