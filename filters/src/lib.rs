//! Request filters of sso-gateway. Each filter decides from the request and start-up
//! state; the gateway (the `sso-gateway` crate) applies the decision. Nothing here
//! knows about listeners or Pingora.

pub mod auth;
pub mod cache_control;
pub mod connectors;
pub mod cross_site;
pub mod events;
pub mod features;
pub mod flow;
pub mod forwarded;
pub mod forwarded_url;
/// The fuzz targets' entry points and their invariants: built only with the
/// `fuzzing` feature (the `cargo fuzz` crate and the corpus replay in `cargo test`
/// turn it on), never into the gateway binary.
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod identity;
pub mod identity_headers;
pub mod idp_access_token;
pub mod navigation;
pub mod oidc;
pub mod origin_credentials;
pub mod pages;
pub mod path_folding;
pub mod rate_limit;
pub mod reply;
pub mod request_id;
pub mod request_parts;
pub mod request_path;
pub mod return_to;
pub mod route_access;
pub mod secret;
pub mod sessions;
pub mod site_router;
pub mod store;
pub mod tokens;

pub use flow::Flow;
pub use reply::Reply;
