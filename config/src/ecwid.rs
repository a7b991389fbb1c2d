//! `[sites.ecwid]`: the signed SSO profile the Ecwid storefront widget reads
//! (`ecwid_sso_profile`), served by the gateway at `{sso_prefix}/ecwid/sso-profile.js`.
//!
//! This file checks the section; [`EcwidConfig`] belongs to the model layer
//! ([`crate::model`], which `SiteConfig` names) and is re-exported here.

use crate::raw::RawEcwid;
use crate::validator::Validator;
use crate::values::Secret;

pub use crate::model::{EcwidConfig, EcwidSignature};

/// Shortest accepted `ecwid.client_secret`, in bytes. Ecwid issues 32-character
/// application secrets; anything shorter is a paste error or a made-up key, and an
/// HMAC key shorter than the hash output weakens the signature.
pub const MIN_ECWID_SECRET_LEN: usize = 32;

pub(crate) fn ecwid(v: &mut Validator<'_>, p: &str, raw: &RawEcwid) -> EcwidConfig {
    let store_id = match raw.store_id {
        Some(id) if id > 0 => id.unsigned_abs(),
        Some(id) => {
            v.errors.push(
                format!("{p}.store_id"),
                format!("{id} must be a store number, 1 or more"),
            );
            0
        }
        None => {
            v.errors.push(format!("{p}.store_id"), "is required");
            0
        }
    };
    let client_id_key = format!("{p}.client_id");
    let client_id = v.opt_text(&client_id_key, raw.client_id.as_ref()).unwrap_or_default();
    if client_id.is_empty() {
        v.errors.push(&client_id_key, "is required");
    } else if !client_id.bytes().all(|b| b.is_ascii_graphic()) {
        v.errors.push(
            &client_id_key,
            "must be printable ASCII without spaces (an Ecwid app client id)",
        );
    }
    let secret_key = format!("{p}.client_secret");
    let client_secret = match v.opt_text(&secret_key, raw.client_secret.as_ref()) {
        Some(s) if s.len() >= MIN_ECWID_SECRET_LEN => Secret::new(s),
        other => {
            if other.is_some() || raw.client_secret.is_none() {
                v.errors.push(
                    &secret_key,
                    format!(
                        "is required, at least {MIN_ECWID_SECRET_LEN} bytes (write it as \"${{ECWID_CLIENT_SECRET}}\")"
                    ),
                );
            }
            Secret::new(String::new())
        }
    };
    let signature = match raw.signature.as_deref() {
        None | Some("sha256") => EcwidSignature::Sha256,
        Some("sha1") => EcwidSignature::Sha1,
        Some("sha512") => EcwidSignature::Sha512,
        Some(other) => {
            v.errors.push(
                format!("{p}.signature"),
                format!("{other:?} is not \"sha256\", \"sha1\" or \"sha512\""),
            );
            EcwidSignature::Sha256
        }
    };
    EcwidConfig {
        store_id,
        client_id,
        client_secret,
        signature,
    }
}
