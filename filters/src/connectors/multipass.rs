//! Shopify Multipass tokens (shopify.dev/docs/api/multipass), minted for one
//! redirect to `{store_url}/account/login/multipass/{token}`.
//!
//! The token is the customer's JSON (`email`, `created_at` in ISO 8601, `identifier`,
//! `first_name`/`last_name` when known, `tag_string`, `return_to`, `remote_ip`),
//! encrypted with AES-128-CBC (PKCS#7 padding) under the first 16 bytes of
//! SHA-256(secret) with a random IV, then signed with HMAC-SHA256 under the last 16
//! bytes over IV ‖ ciphertext; the token is the URL-safe base64 of IV ‖ ciphertext ‖
//! signature, with `=` padding as Shopify's Ruby example (`urlsafe_encode64`) writes
//! it. The crypto is RustCrypto's (`aes`, `cbc`, `hmac`, `sha2`); nothing here is
//! hand-written but the layout.
//!
//! Pure but for the random IV, which the caller passes in ([`fresh_iv`]).

use crate::identity::Customer;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockEncryptMut, KeyIvInit};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::time::SystemTime;

/// The store's Multipass sign-in path; the token follows it.
pub const MULTIPASS_PATH: &str = "/account/login/multipass/";

/// Why no token was minted (neither happens: the keys are 16 bytes, the IV 16, and
/// the data strings).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MultipassError {
    /// The cipher or the MAC refused its key.
    #[error("the Multipass keys could not be made")]
    Key,
    /// The customer data did not serialise.
    #[error("the customer data could not be written as JSON")]
    Json,
}

/// The customer data a token carries (field names are Shopify's).
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct CustomerData<'a> {
    pub email: &'a str,
    /// When the token was made, ISO 8601 (RFC 3339, UTC): Shopify accepts a token
    /// only in a short time around it.
    pub created_at: String,
    /// The customer id: Shopify's `multipass_identifier`, so a changed e-mail address
    /// still finds the same customer. Left out when ids of more than one namespace
    /// reach the store (see [`CustomerData::without_identifier`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<&'a str>,
    /// The groups, comma separated. Absent without groups: Shopify replaces the
    /// customer's tags with it, and an empty one would erase tags set at Shopify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_string: Option<String>,
    /// `{store_url}{path}`: the page the shopper was going to, on the store.
    pub return_to: String,
    /// The shopper's address: Shopify then accepts the token only from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
}

impl<'a> CustomerData<'a> {
    /// The data for `customer` with the (verified) address `email`, going to `path`
    /// (a same-site path, already checked) on the store at `store_url`, from `client`.
    pub fn new(
        customer: &'a Customer,
        email: &'a str,
        store_url: &str,
        path: &str,
        client: Option<IpAddr>,
        now: SystemTime,
    ) -> Self {
        let (first_name, last_name) = split_name(customer.name.as_deref().unwrap_or(""));
        CustomerData {
            email,
            created_at: humantime::format_rfc3339_seconds(now).to_string(),
            identifier: Some(&customer.id),
            first_name,
            last_name,
            tag_string: (!customer.groups.is_empty()).then(|| customer.groups.join(", ")),
            return_to: format!("{store_url}{path}"),
            // Shopify's Multipass binds `remote_ip` for IPv4 only: an IPv6 address is
            // refused there ("not authorized"), so it is left out.
            remote_ip: client
                .map(|ip| ip.to_canonical())
                .filter(std::net::IpAddr::is_ipv4)
                .map(|ip| ip.to_string()),
        }
    }
}

impl CustomerData<'_> {
    /// The same data without `identifier`: Shopify then keys the customer by the
    /// (verified) e-mail address alone. For a store that customer ids of two
    /// namespaces reach (an IdP subject `42` and a merchant's customer `42`), where
    /// the same identifier would make two shoppers one Shopify customer.
    pub fn without_identifier(mut self) -> Self {
        self.identifier = None;
        self
    }
}

/// Shopify's first and last name from the one display name the gateway keeps (the
/// IdP's `name`): the first word, and the rest; one word is a first name only.
pub fn split_name(name: &str) -> (Option<&str>, Option<&str>) {
    let name = name.trim();
    if name.is_empty() {
        return (None, None);
    }
    match name.split_once(char::is_whitespace) {
        Some((first, rest)) => (Some(first), Some(rest.trim_start())),
        None => (Some(name), None),
    }
}

/// A fresh random IV from the operating system.
pub fn fresh_iv() -> [u8; 16] {
    let mut iv = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut iv);
    iv
}

/// The token for `json` under `secret` with `iv`.
pub fn token(secret: &str, json: &[u8], iv: &[u8; 16]) -> Result<String, MultipassError> {
    let keys = Sha256::digest(secret.as_bytes());
    let (encryption_key, signature_key) = keys.split_at(16);
    let ciphertext = cbc::Encryptor::<aes::Aes128>::new_from_slices(encryption_key, iv)
        .map_err(|_| MultipassError::Key)?
        .encrypt_padded_vec_mut::<Pkcs7>(json);
    let mut token = Vec::with_capacity(16 + ciphertext.len() + 32);
    token.extend_from_slice(iv);
    token.extend_from_slice(&ciphertext);
    let signature = Hmac::<Sha256>::new_from_slice(signature_key)
        .map_err(|_| MultipassError::Key)?
        .chain_update(&token)
        .finalize()
        .into_bytes();
    token.extend_from_slice(&signature);
    Ok(base64::engine::general_purpose::URL_SAFE.encode(token))
}

/// `{store_url}/account/login/multipass/{token}` for `data`, with `iv`.
pub fn sign_in_url(
    store_url: &str,
    secret: &str,
    data: &CustomerData<'_>,
    iv: &[u8; 16],
) -> Result<String, MultipassError> {
    let json = serde_json::to_vec(data).map_err(|_| MultipassError::Json)?;
    Ok(format!("{store_url}{MULTIPASS_PATH}{}", token(secret, &json, iv)?))
}

#[cfg(test)]
#[path = "multipass_tests.rs"]
mod tests;
