//! OpenID Connect code flow with PKCE: discovery and keys ([`provider`]), login flows
//! waiting for their callback ([`pending`]), the flow itself ([`flow`]), and the
//! providers kept across configuration reloads ([`registry`]); logout tokens of
//! Back-Channel Logout ([`backchannel`]).

pub mod backchannel;
pub mod claims;
pub mod flow;
pub mod outcomes;
pub mod pending;
pub mod provider;
pub mod registry;
pub mod response_issuer;
pub mod step_up;

#[cfg(test)]
mod id_token_tests;

pub use flow::{CallbackError, LoginFlow, LoginStart};
pub use pending::{PendingLogin, PendingLogins};
pub use provider::{OidcProvider, ProviderError};
pub use registry::{ProviderRegistry, StagedProviders};
