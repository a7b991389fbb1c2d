//! The gateway's own short-lived identity token (`X-Customer-Token`, `/_sso/token`)
//! and the JWKS that lets origins verify it.

pub mod signer;
pub use signer::{TokenClaims, TokenSigner};
