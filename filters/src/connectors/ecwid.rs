//! The signed SSO profile for the Ecwid storefront widget: `GET
//! {sso_prefix}/ecwid/sso-profile.js` answers a script declaring
//! `var ecwid_sso_profile = '…';` for the signed-in customer, and pointing the
//! widget's sign-in and sign-out links at the gateway.
//!
//! The value follows Ecwid's SSO payload documentation: three parts separated by
//! spaces — the base64 of a JSON profile (`appClientId`, `userId`, `profile.email`,
//! `profile.billingPerson.name`), the lower-case hex HMAC of `"{message}
//! {timestamp}"` under the app's client secret (SHA-256 by default, as Ecwid documents
//! it since March 2025; SHA-1 or SHA-512 by `signature`), and the timestamp in Unix
//! seconds. Ecwid accepts a timestamp up to 10 minutes old, which makes the value a
//! short-lived bearer credential for the widget: it is answered only to the session
//! cookie (never to an API token, never to a cross-site request), and never cached.
//!
//! Ecwid denies a signature it has seen recently ("every message should have
//! different signature"), so no two values may be alike, even for one customer in
//! one second on two replicas: the JSON carries 128 random bits as insignificant
//! whitespace after its opening brace ([`uniqueness_whitespace`]). Whitespace between
//! JSON tokens means nothing to a JSON reader (RFC 8259 §2), so Ecwid reads the same
//! profile, with no field its documentation does not list (docs/ecwid.md says why).
//!
//! Runs as one of the gateway-owned endpoints; pure apart from the clock and the
//! random bits, which the caller passes in.

use crate::identity::Customer;
use crate::reply::Reply;
use base64::Engine;
use hmac::{Hmac, Mac};
use sso_config::ecwid::{EcwidConfig, EcwidSignature};

/// The endpoint's path under the site's `sso_prefix`.
pub const PROFILE_PATH: &str = "/ecwid/sso-profile.js";

/// The JSON message Ecwid reads (field names are Ecwid's).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    app_client_id: &'a str,
    user_id: &'a str,
    profile: Profile<'a>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Profile<'a> {
    /// Always present (empty when the IdP gave none), as in Ecwid's own examples.
    email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    billing_person: Option<BillingPerson<'a>>,
}

#[derive(serde::Serialize)]
struct BillingPerson<'a> {
    name: &'a str,
}

/// Random bits that make one served value unlike every other.
pub type Uniqueness = [u8; 16];

/// Fresh [`Uniqueness`] from the operating system's generator: on every replica
/// alike, no counter to share.
pub fn fresh_uniqueness() -> Uniqueness {
    let mut unique = Uniqueness::default();
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut unique);
    unique
}

/// `"{message} {signature} {timestamp}"` for `customer` at Unix second `now`, made
/// unlike any other value by `unique` (see [`uniqueness_whitespace`]).
pub fn sso_profile(config: &EcwidConfig, customer: &Customer, now: u64, unique: &Uniqueness) -> String {
    let message = Message {
        app_client_id: &config.client_id,
        user_id: &customer.id,
        profile: Profile {
            email: customer.email.as_deref().unwrap_or(""),
            billing_person: customer.name.as_deref().map(|name| BillingPerson { name }),
        },
    };
    // Serialising a struct of strings cannot fail; an empty object would only make
    // the widget refuse the profile.
    let json = serde_json::to_string(&message).unwrap_or_else(|_| "{}".to_string());
    // `{` + whitespace + the rest: the same JSON value, another text.
    let json = match json.strip_prefix('{') {
        Some(rest) => format!("{{{}{rest}", uniqueness_whitespace(unique)),
        None => json,
    };
    let message = base64::engine::general_purpose::STANDARD.encode(json);
    let signed = format!("{message} {now}");
    let signature = sign(config, signed.as_bytes());
    format!("{message} {signature} {now}")
}

/// `unique` written as JSON whitespace, two bits a character (space, tab, line feed,
/// carriage return: the four that RFC 8259 allows between tokens): 64 characters.
pub fn uniqueness_whitespace(unique: &Uniqueness) -> String {
    const WHITESPACE: [char; 4] = [' ', '\t', '\n', '\r'];
    unique
        .iter()
        .flat_map(|byte| (0..4).map(move |i| WHITESPACE[usize::from((byte >> (2 * i)) & 0b11)]))
        .collect()
}

/// Lower-case hex HMAC of `data` under the client secret.
fn sign(config: &EcwidConfig, data: &[u8]) -> String {
    let key = config.client_secret.expose().as_bytes();
    let tag = match config.signature {
        EcwidSignature::Sha256 => {
            Hmac::<sha2::Sha256>::new_from_slice(key).map(|m| m.chain_update(data).finalize().into_bytes().to_vec())
        }
        EcwidSignature::Sha1 => {
            Hmac::<sha1::Sha1>::new_from_slice(key).map(|m| m.chain_update(data).finalize().into_bytes().to_vec())
        }
        EcwidSignature::Sha512 => {
            Hmac::<sha2::Sha512>::new_from_slice(key).map(|m| m.chain_update(data).finalize().into_bytes().to_vec())
        }
    };
    // HMAC takes a key of any length: the error arm is unreachable.
    hex::encode(tag.unwrap_or_default())
}

/// `text` as the inside of a single-quoted JavaScript string that is also safe in an
/// HTML `<script>` element: everything but ASCII letters, digits and ` .,:/_-+=@?&%`
/// becomes a `\uXXXX` escape, so no quote, backslash, line break (including U+2028
/// and U+2029) or `<`, `>` can end the string or the element.
pub fn js_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for unit in text.encode_utf16() {
        let plain = u8::try_from(unit)
            .ok()
            .filter(|b| b.is_ascii_alphanumeric() || b" .,:/_-+=@?&%".contains(b));
        match plain {
            Some(b) => out.push(char::from(b)),
            None => out.push_str(&format!("\\u{unit:04x}")),
        }
    }
    out
}

/// The script: the profile variable, then (once the widget's API is loaded) the
/// sign-in link to the gateway's login, back to the page the shopper was on, and the
/// sign-out link to the gateway's logout. An empty profile also tells a widget that
/// still shows a customer to sign them out (`Ecwid.setSsoProfile('')`).
pub fn script(profile: &str, login_url: &str, logout_url: &str) -> String {
    format!(
        "var ecwid_sso_profile = '{profile}';\n\
         (function () {{\n\
         \x20 var login = '{login}';\n\
         \x20 var logout = '{logout}';\n\
         \x20 var signedIn = ecwid_sso_profile !== '';\n\
         \x20 function hook() {{\n\
         \x20   if (!window.Ecwid || !window.Ecwid.OnAPILoaded) return false;\n\
         \x20   window.Ecwid.OnAPILoaded.add(function () {{\n\
         \x20     var back = window.location.pathname + window.location.search;\n\
         \x20     window.Ecwid.setSignInUrls({{\n\
         \x20       signInUrl: login + '?return_to=' + encodeURIComponent(back),\n\
         \x20       signOutUrl: logout\n\
         \x20     }});\n\
         \x20     if (!signedIn) window.Ecwid.setSsoProfile('');\n\
         \x20   }});\n\
         \x20   return true;\n\
         \x20 }}\n\
         \x20 if (!hook()) window.addEventListener('load', hook);\n\
         }})();\n",
        profile = js_string(profile),
        login = js_string(login_url),
        logout = js_string(logout_url),
    )
}

/// The response: a JavaScript body that is never stored by any cache.
pub fn reply(body: String) -> Reply {
    Reply::with_body(200, "text/javascript; charset=utf-8", body)
        .header("cache-control", "private, no-store")
        .header("cross-origin-resource-policy", "same-origin")
}

#[cfg(test)]
#[path = "ecwid_tests.rs"]
mod tests;
