//! OpenID Connect code flow with PKCE: discovery and keys ([`provider`]), login flows
//! waiting for their callback ([`pending`]), and the flow itself ([`flow`]).

pub mod flow;
pub mod pending;
pub mod provider;

#[cfg(test)]
mod id_token_tests;

pub use flow::{CallbackError, LoginFlow, LoginStart};
pub use pending::{PendingLogin, PendingLogins};
pub use provider::{OidcProvider, ProviderError};
