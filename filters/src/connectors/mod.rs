//! Storefront connectors: the ways shops sign customers in besides a plain IdP —
//! customer-login JWTs from the merchant's website and for a platform origin
//! ([`customer_login`]), and the provisioning hook that finds or creates the shop's
//! customer at sign-in ([`provisioning`]).

pub mod customer_login;
pub mod provisioning;
