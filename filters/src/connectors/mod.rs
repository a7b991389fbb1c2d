//! Storefront connectors: the ways shops sign customers in besides a plain IdP —
//! customer-login JWTs from the merchant's website and for a platform origin
//! ([`customer_login`]), Shopify Multipass tokens for a Shopify Plus store
//! ([`multipass`]), the provisioning hook that finds or creates the shop's customer
//! at sign-in ([`provisioning`]), and the signed SSO profile for the Ecwid widget
//! ([`ecwid`]).

pub mod customer_login;
pub mod ecwid;
pub mod multipass;
pub mod provisioning;
