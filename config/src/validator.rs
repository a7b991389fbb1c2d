//! The validation context every section's checks share: the `${VAR}` lookup and the
//! list of errors found so far. Each section's checks are functions of its own file
//! taking the validator (`oidc::oidc(v, p, raw)`); this file imports none of them,
//! so the sections build on it without a cycle, and [`crate::validate`] (the entry,
//! the only other file with an `impl Validator`) walks them in order.

use crate::errors::Errors;
use url::Url;

/// Validation context: environment lookup plus the error list.
pub struct Validator<'a> {
    pub(crate) errors: Errors,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Validator<'a> {
    pub fn new(env: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Validator {
            errors: Errors::default(),
            env,
        }
    }

    /// A string value with `${VAR}` expanded; records the error and returns `None` on failure.
    pub(crate) fn text(&mut self, path: &str, raw: &str) -> Option<String> {
        match crate::env::expand(raw, self.env) {
            Ok(v) => Some(v),
            Err(msg) => {
                self.errors.push(path, msg);
                None
            }
        }
    }

    pub(crate) fn opt_text(&mut self, path: &str, raw: Option<&String>) -> Option<String> {
        raw.and_then(|r| self.text(path, r))
    }
}

/// A syntactically valid URL used as a placeholder after an error was recorded; the
/// config is rejected anyway, so it is never used to reach anything.
pub(crate) fn unreachable_url() -> Url {
    match Url::parse("http://invalid.invalid/") {
        Ok(u) => u,
        Err(_) => unreachable!("constant URL parses"),
    }
}
