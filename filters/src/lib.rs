//! Request filters of sso-gateway. Each filter decides from the request and start-up
//! state; the gateway (the `sso-gateway` crate) applies the decision. Nothing here
//! knows about listeners or Pingora.

pub mod flow;
pub mod forwarded;
pub mod identity_headers;
pub mod reply;
pub mod route_access;
pub mod site_router;

pub use flow::Flow;
pub use reply::Reply;
