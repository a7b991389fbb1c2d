//! Cross-site sign-on for a group of shops (docs/cross-site-sso.md).
//!
//! The group's auth host (`sso.auth_host`, served by this gateway, listed in no site)
//! holds the browser's SSO session in its own cookie. Sites never read that cookie:
//! they send the browser to the auth host (`/_sso/link`), which answers with a
//! one-time token for that one site, redeemed server-side at `/_sso/ott`. A sign-in
//! on a linked site creates the SSO session and hands its cookie to the auth host
//! with an adopt token, honoured only by the browser that holds the auth host's
//! binding cookie. Every step is a single-use entry in the shared store, so two
//! replicas racing for one token yield one winner.
//!
//! - [`tokens`]: the secrets (SSO cookie, one-time token, browser binding).
//! - [`records`]: what is stored, sealed.
//! - [`group`]: the store operations on SSO sessions.
//! - [`provenance`]: where an SSO session's sign-in came from, and finding it when a
//!   sign-in ends from outside the browser.
//! - [`auth_host`]: the auth host's endpoints.
//! - [`data`]: the shared document of `/_sso/sso-data`.
//!
//! A linked site's side (the link rounds, `/_sso/ott`, redemption, the SSO session a
//! sign-in starts, logout and revocation) is the `cross_site` feature,
//! `crate::features::cross_site`; this module knows nothing of sites' features.
//! - [`cookies`]: the cookies of both sides.

pub mod auth_host;
pub mod cookies;
pub mod data;
pub mod group;
pub mod provenance;
pub mod records;
pub mod tokens;

#[cfg(test)]
mod namespace_tests;

pub use group::SsoGroup;
