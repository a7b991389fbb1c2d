//! OpenID Connect code flow with PKCE: discovery and keys ([`provider`]), login flows
//! waiting for their callback ([`pending`]), the flow itself ([`flow`]), and the
//! providers kept across configuration reloads ([`registry`]); logout tokens of
//! Back-Channel Logout ([`backchannel`]). How the client authenticates
//! ([`client_auth`]) and connects ([`idp_http`]) to the IdP; pushed authorization
//! requests ([`par`]) and token revocation at logout ([`revocation`]); why a discovery
//! failed ([`diagnosis`]) and what discovery naming another issuer means
//! ([`discovered_issuer`]).

pub mod backchannel;
pub mod claims;
pub mod client_auth;
pub mod diagnosis;
pub mod discovered_issuer;
pub mod fast_signature;
pub mod flow;
pub mod id_token_policy;
pub mod idp_http;
pub mod outcomes;
pub mod par;
pub mod pending;
pub mod provider;
pub mod registry;
pub mod response_issuer;
pub mod revocation;
pub mod step_up;

#[cfg(test)]
mod id_token_tests;

pub use flow::{CallbackError, LoginFlow, LoginStart};
pub use pending::{PendingLogin, PendingLogins};
pub use provider::{OidcProvider, ProviderError};
pub use registry::{ProviderRegistry, StagedProviders};
