//! A merchant's website signing a customer in with a customer-login JWT
//! (`[sites.customer_login]`), for tests of how such a session meets other features.

use crate::{Shop, Shopper};
use anyhow::{ensure, Result};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};

/// The merchant website's shared secret in these tests.
pub const SECRET: &str = "merchant-website-secret-0123456789abcdef";

/// `[sites.customer_login]` for `SECRET`, and the provisioning hook on the demo origin
/// that a site with an IdP as well needs (append to the shop's site table).
pub fn sections() -> String {
    format!(
        "[sites.customer_login]\nclient_id = \"merchant-site\"\nclient_secret = \"{SECRET}\"\nstore_hash = \"abc123\"\n\
         [sites.provisioning]\nurl = \"http://{{origin}}/hooks/provision\"\n"
    )
}

/// Signs `customer_id` in at `shop` as the merchant's website would, with a token
/// issued `age_secs` ago (a fresh `jti` each time); the login answers 303.
pub async fn sign_in(shop: &Shop, shopper: &Shopper, customer_id: u64, age_secs: u64) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let iat = u64::try_from(now / 1_000_000_000).unwrap_or(0) - age_secs;
    let claims = serde_json::json!({
        "iss": "merchant-site", "iat": iat, "jti": format!("jti-{customer_id}-{now}"),
        "operation": "customer_login", "store_hash": "abc123", "customer_id": customer_id, "redirect_to": "/account",
    });
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )?;
    let resp = shopper.page(&shop.url(&format!("/login/token/{token}"))).await?;
    ensure!(resp.status() == 303, "customer login answered {}", resp.status());
    Ok(())
}
