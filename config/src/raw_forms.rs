//! Values of the raw mirror that have a written form an operator must know. They stay
//! strings in [`crate::raw`] (validation parses them), but a value of another TOML
//! type is refused naming that form: `idle_timeout = 30` reads
//! `expected a duration string such as "30m"`, where serde alone says "expected a
//! string". Used as `#[serde(default, deserialize_with = "...")]` on `Option<String>`
//! fields; `default` keeps a missing key `None`.

use serde::de::{Deserializer, Visitor};
use std::fmt;

/// A string whose TOML type error names `form`.
struct FormOf(&'static str);

impl Visitor<'_> for FormOf {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
}

/// `connect_timeout = "10s"`: humantime units, a bare number refused.
pub(crate) const DURATION: &str = "a duration string such as \"30m\"";

/// A duration (`"30s"`, `"12h"`, `"1h 30m"`).
pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_string(FormOf(DURATION))
}

/// A duration, or `"off"` (`hsts_max_age`).
pub(crate) fn duration_or_off<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_string(FormOf("a duration string such as \"365d\", or \"off\""))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Timeouts {
        #[serde(default, deserialize_with = "super::duration")]
        idle: Option<String>,
    }

    #[test]
    fn a_duration_of_another_type_names_the_form() {
        let ok: Timeouts = toml::from_str("idle = \"30m\"").expect("a string");
        assert_eq!(ok.idle.as_deref(), Some("30m"));
        let missing: Timeouts = toml::from_str("").expect("optional");
        assert_eq!(missing.idle, None);
        let e = toml::from_str::<Timeouts>("idle = 30").expect_err("a number");
        assert_eq!(
            e.message(),
            "invalid type: integer `30`, expected a duration string such as \"30m\""
        );
    }
}
