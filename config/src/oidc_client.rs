//! Validation of how the gateway talks to one IdP: client authentication
//! (`token_endpoint_auth_method`, `client_secret`, `client_assertion_key_file`), TLS
//! trust (`ca_file`, `client_cert_file` + `client_key_file`), the ID-token algorithm
//! and PAR. Shared by `[sites.oidc]` and every `[[sites.idps]]` entry.
//!
//! The configuration is read offline: the key and certificate files are opened when
//! the gateway builds the IdP client (at start, at a reload and in `check`), which
//! reports an unreadable or invalid PEM with these key paths. Whether the IdP offers
//! PAR is known only from its discovery (see `docs/configuration.md`).

use crate::model::TokenEndpointAuthMethod;
use crate::raw::RawOidc;
use crate::validator::Validator;
use crate::values::Secret;
use std::path::PathBuf;

/// The JWS algorithms `id_token_signed_response_alg` may name: asymmetric only (the
/// gateway never accepts `none` or an HMAC with the client secret).
pub const ID_TOKEN_ALGS: [&str; 10] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];

/// The validated client keys of one IdP.
pub(crate) struct ClientKeys {
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    pub client_secret: Secret,
    pub client_assertion_key_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    pub id_token_signed_response_alg: Option<String>,
    pub pushed_authorization: bool,
}

pub(crate) fn client_keys(v: &mut Validator<'_>, p: &str, raw: &RawOidc) -> ClientKeys {
    let method = match v.opt_text(
        &format!("{p}.token_endpoint_auth_method"),
        raw.token_endpoint_auth_method.as_ref(),
    ) {
        None => None,
        Some(m) => match m.as_str() {
            "client_secret_basic" => Some(TokenEndpointAuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(TokenEndpointAuthMethod::ClientSecretPost),
            "private_key_jwt" => Some(TokenEndpointAuthMethod::PrivateKeyJwt),
            other => {
                v.errors.push(
                    format!("{p}.token_endpoint_auth_method"),
                    format!(
                        "{other:?} is not one of \"client_secret_basic\", \"client_secret_post\", \"private_key_jwt\""
                    ),
                );
                None
            }
        },
    };
    let uses_key = method == Some(TokenEndpointAuthMethod::PrivateKeyJwt);
    let secret = v.opt_text(&format!("{p}.client_secret"), raw.client_secret.as_ref());
    let client_secret = match secret {
        Some(s) if uses_key && !s.is_empty() => {
            v.errors.push(
                format!("{p}.client_secret"),
                "is not used with token_endpoint_auth_method = \"private_key_jwt\" (remove it)",
            );
            Secret::new(String::new())
        }
        Some(s) if !s.is_empty() => Secret::new(s),
        other => {
            if !uses_key && (other.is_some() || raw.client_secret.is_none()) {
                v.errors.push(
                    format!("{p}.client_secret"),
                    "is required (write it as \"${OIDC_CLIENT_SECRET}\")",
                );
            }
            Secret::new(String::new())
        }
    };
    let key_file = file(
        v,
        &format!("{p}.client_assertion_key_file"),
        raw.client_assertion_key_file.as_ref(),
    );
    match (&key_file, uses_key) {
        (None, true) => v.errors.push(
            format!("{p}.client_assertion_key_file"),
            "is required with token_endpoint_auth_method = \"private_key_jwt\" (a PKCS#8 PEM RSA or P-256 key)",
        ),
        (Some(_), false) => v.errors.push(
            format!("{p}.client_assertion_key_file"),
            "is used only with token_endpoint_auth_method = \"private_key_jwt\"",
        ),
        _ => {}
    }
    let ca_file = file(v, &format!("{p}.ca_file"), raw.ca_file.as_ref());
    let client_cert_file = file(v, &format!("{p}.client_cert_file"), raw.client_cert_file.as_ref());
    let client_key_file = file(v, &format!("{p}.client_key_file"), raw.client_key_file.as_ref());
    if raw.client_cert_file.is_some() != raw.client_key_file.is_some() {
        let missing = if raw.client_cert_file.is_some() {
            "client_key_file"
        } else {
            "client_cert_file"
        };
        v.errors.push(
            format!("{p}.{missing}"),
            "is required: mutual TLS takes both client_cert_file and client_key_file",
        );
    }
    let alg = v.opt_text(
        &format!("{p}.id_token_signed_response_alg"),
        raw.id_token_signed_response_alg.as_ref(),
    );
    if let Some(a) = &alg {
        if !ID_TOKEN_ALGS.contains(&a.as_str()) {
            v.errors.push(
                format!("{p}.id_token_signed_response_alg"),
                format!("{a:?} is not one of {}", ID_TOKEN_ALGS.join(", ")),
            );
        }
    }
    ClientKeys {
        token_endpoint_auth_method: method,
        client_secret,
        client_assertion_key_file: key_file,
        ca_file,
        client_cert_file,
        client_key_file,
        id_token_signed_response_alg: alg,
        pushed_authorization: raw.pushed_authorization.unwrap_or(false),
    }
}

/// An optional file path: `${VAR}` expands, and it may not be empty.
fn file(v: &mut Validator<'_>, key: &str, raw: Option<&String>) -> Option<PathBuf> {
    let text = v.opt_text(key, raw)?;
    if text.trim().is_empty() {
        v.errors.push(key, "must be a file path (leave the key out instead)");
        return None;
    }
    Some(PathBuf::from(text))
}

#[cfg(test)]
#[path = "oidc_client_tests.rs"]
mod tests;
