//! Configuration of sso-gateway: the raw TOML mirror ([`raw`]) and the validated
//! typed model ([`model`]). Knows nothing of Pingora.

pub mod connectors;
pub mod cors;
pub mod ecwid;
pub mod env;
pub mod errors;
pub mod forward_auth;
pub mod identity_header_names;
pub mod idp_model;
pub mod idp_token_forwarding;
pub mod idps;
pub mod model;
pub mod multipass;
pub mod namespaces;
mod oidc;
pub mod oidc_client;
pub mod pages;
pub mod pages_model;
pub mod policy;
pub mod raw;
mod raw_forms;
pub mod read_problems;
pub mod reading;
pub mod redis_sentinel;
pub mod request_safety;
pub mod route_policy;
mod server;
mod sessions;
mod site;
mod site_session;
pub mod sso;
pub mod tls;
pub mod validate;
mod validator;
pub mod values;

pub use errors::{ConfigError, ConfigErrors};
pub use model::*;
pub use values::{CorsPreflight, ForwardAuthMode, Secret, Upstream};

use std::path::Path;

/// Longest configuration file read (a real one is a few KiB).
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Reads, parses and validates a configuration file, reading `${VARS}` from the process
/// environment.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    parse(&read_file(path)?, &|name| std::env::var(name).ok())
}

/// The text of a configuration file. Only a regular file (symlinks followed) of at
/// most [`MAX_CONFIG_BYTES`] is read: a FIFO or device in its place would block or
/// never end, and a reload must neither hang nor eat memory.
pub fn read_file(path: &Path) -> Result<String, ConfigErrors> {
    use std::io::Read;
    let refuse = |why: String| ConfigErrors::single(path.display().to_string(), why);
    let meta = std::fs::metadata(path).map_err(|e| refuse(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(refuse("is not a regular file".into()));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(refuse(format!("is larger than {MAX_CONFIG_BYTES} bytes")));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| refuse(format!("cannot read: {e}")))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(refuse(format!("is larger than {MAX_CONFIG_BYTES} bytes")));
    }
    Ok(text)
}

/// Parses and validates configuration text; `env` looks up `${VARS}`. Every problem
/// is reported: the syntax errors (by line and column), the keys that do not fit
/// the model (by key path), and what validation finds in the rest — except what
/// only repeats a problem already reported (a key that could not be read is not
/// also reported missing).
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
    let mut reading = reading::read(text);
    let mut errors: Vec<ConfigError> = reading.problems.iter().map(|p| p.to_error()).collect();
    if let Some(raw) = reading.raw.take() {
        match validate::Validator::new(env).config(raw) {
            Ok(config) if errors.is_empty() => return Ok(config),
            Ok(_) => {}
            Err(invalid) => errors.extend(invalid.0.into_iter().filter(|e| !reading.covers(&e.path))),
        }
    }
    if errors.is_empty() {
        // Unreachable in practice: a reading that stopped reported why.
        errors.push(ConfigError {
            path: "config".into(),
            message: "cannot be read".into(),
            excerpt: None,
        });
    }
    Err(ConfigErrors(errors))
}

#[cfg(test)]
mod rotation_tests;
#[cfg(test)]
mod tests;
