//! The gateway's own short-lived tokens and the JWKS that lets origins verify them.
//!
//! Two purposes, one signing key, and neither can stand in for the other (RFC 8725
//! §3.11, §3.12): each says what it is in the JOSE `typ` and is for its own audience
//! ([`TokenPurpose`]). [`SiteTokens`] mints both for a session and verifies API tokens.

pub mod purpose;
pub mod signer;
pub mod site_tokens;
pub use purpose::TokenPurpose;
pub use signer::{TokenClaims, TokenSigner};
pub use site_tokens::{ApiToken, BearerError, SiteTokens};

#[cfg(test)]
mod rotation_tests;
