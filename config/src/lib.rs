//! Configuration of sso-gateway: the raw TOML mirror ([`raw`]) and the validated
//! typed model ([`model`]). Knows nothing of Pingora.

pub mod env;
pub mod errors;
pub mod model;
pub mod raw;
pub mod request_safety;
pub mod tls;
pub mod validate;
pub mod values;

pub use errors::{ConfigError, ConfigErrors};
pub use model::*;
pub use values::{Secret, Upstream};

use std::path::Path;

/// Reads, parses and validates a configuration file, reading `${VARS}` from the process
/// environment.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigErrors::single(path.display().to_string(), format!("cannot read: {e}")))?;
    parse(&text, &|name| std::env::var(name).ok())
}

/// Parses and validates configuration text; `env` looks up `${VARS}`.
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
    let raw: raw::RawConfig = toml::from_str(text).map_err(|e| syntax_error(text, &e))?;
    validate::Validator::new(env).config(raw)
}

/// Turns a TOML or unknown-key error into one error located by line and column.
fn syntax_error(text: &str, e: &toml::de::Error) -> ConfigErrors {
    let location = e.span().map_or_else(
        || "config".to_string(),
        |span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, str::len) + 1;
            format!("line {line}, column {column}")
        },
    );
    ConfigErrors::single(location, e.message().trim().to_string())
}

#[cfg(test)]
mod tests;
