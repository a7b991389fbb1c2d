//! The HTTP client one IdP is talked to with, and the files it is built from.
//!
//! Every call to the IdP (discovery, JWKS, token, refresh, userinfo, revocation, PAR)
//! goes through this client. It follows no redirects (SSRF), is bounded by
//! `request_timeout`, and trusts `ca_file` *instead of* the system roots when set (an
//! IdP behind a private CA; a public CA's certificate for the same name is then
//! refused). `client_cert_file` + `client_key_file` add a client certificate (mutual
//! TLS, RFC 8705) on every connection to this IdP.
//!
//! The files are read here, when the provider is built — at start, at a reload, and
//! by `check` — so an unreadable or invalid PEM is a configuration error naming its
//! key, never a failure at the first login.

use super::client_auth::AssertionKey;
use super::provider::ProviderError;
use openidconnect::reqwest;
use sso_config::OidcConfig;
use std::path::Path;

/// Reads `path` for the key `key` (`ca_file`, ...).
fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, ProviderError> {
    std::fs::read(path).map_err(|e| ProviderError::File {
        key,
        message: format!("{}: cannot be read: {e}", path.display()),
    })
}

fn invalid(key: &'static str, path: &Path, what: impl std::fmt::Display) -> ProviderError {
    ProviderError::File {
        key,
        message: format!("{}: {what}", path.display()),
    }
}

/// The `private_key_jwt` key of `client_assertion_key_file`, when configured.
pub fn assertion_key(config: &OidcConfig) -> Result<Option<AssertionKey>, ProviderError> {
    const KEY: &str = "client_assertion_key_file";
    let Some(path) = &config.client_assertion_key_file else {
        return Ok(None);
    };
    let pem = read(KEY, path)?;
    let pem = std::str::from_utf8(&pem).map_err(|_| invalid(KEY, path, "is not a PEM file"))?;
    AssertionKey::from_pem(pem).map(Some).map_err(|e| invalid(KEY, path, e))
}

/// Whether `pem` holds at least one PEM block labelled `label`.
fn has_block(pem: &[u8], label: &str) -> bool {
    let marker = format!("-----BEGIN {label}-----");
    pem.windows(marker.len()).any(|w| w == marker.as_bytes())
}

/// The HTTP client for `config`'s IdP.
pub fn client(config: &OidcConfig) -> Result<reqwest::Client, ProviderError> {
    let mut builder = reqwest::Client::builder()
        // Following redirects from the IdP opens the gateway to SSRF.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.request_timeout)
        .connect_timeout(config.request_timeout);
    if let Some(path) = &config.ca_file {
        const KEY: &str = "ca_file";
        let pem = read(KEY, path)?;
        if !has_block(&pem, "CERTIFICATE") {
            return Err(invalid(KEY, path, "holds no PEM certificate (\"BEGIN CERTIFICATE\")"));
        }
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| invalid(KEY, path, e))?;
        // Each is added (and its DER parsed) on its own, so a broken one names the file.
        for cert in certs {
            let probe = reqwest::Client::builder()
                .tls_built_in_root_certs(false)
                .add_root_certificate(cert.clone())
                .build();
            if let Err(e) = probe {
                return Err(invalid(KEY, path, super::provider::error_chain(&e)));
            }
            builder = builder.add_root_certificate(cert);
        }
        builder = builder.tls_built_in_root_certs(false);
    }
    if let (Some(cert_path), Some(key_path)) = (&config.client_cert_file, &config.client_key_file) {
        let cert = read("client_cert_file", cert_path)?;
        if !has_block(&cert, "CERTIFICATE") {
            return Err(invalid(
                "client_cert_file",
                cert_path,
                "holds no PEM certificate (\"BEGIN CERTIFICATE\")",
            ));
        }
        let key = read("client_key_file", key_path)?;
        if !has_block(&key, "PRIVATE KEY") && !has_block(&key, "RSA PRIVATE KEY") && !has_block(&key, "EC PRIVATE KEY")
        {
            return Err(invalid("client_key_file", key_path, "holds no PEM private key"));
        }
        let mut both = cert;
        both.push(b'\n');
        both.extend_from_slice(&key);
        let identity = reqwest::Identity::from_pem(&both)
            .map_err(|e| invalid("client_key_file", key_path, super::provider::error_chain(&e)))?;
        builder = builder.identity(identity);
    }
    builder
        .build()
        .map_err(|e| ProviderError::Config(super::provider::error_chain(&e)))
}
