//! What the gateway reads of an IdP's claims beyond openidconnect's types: `groups`,
//! `sid` and the claims route policies require (`require_claims`), from the verified
//! ID token's payload and from userinfo, and the short stated values (`acr`, `amr`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Most values kept of one claim, and the longest value kept.
const MAX_VALUES: usize = 32;
const MAX_VALUE_LEN: usize = 256;

/// Every claim of a userinfo answer beyond the standard ones (openidconnect's
/// `AdditionalClaims`): `groups` and custom claims come this way from many IdPs,
/// stock `oidc-provider` among them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtraClaims {
    #[serde(flatten)]
    pub all: Map<String, Value>,
}

impl openidconnect::AdditionalClaims for ExtraClaims {}

/// A short IdP-stated value (`acr`, an `amr` entry) as kept: at most 128 characters,
/// none of them a control character; anything else is not kept.
pub fn stated(value: &str) -> Option<String> {
    (value.len() <= 128 && !value.chars().any(char::is_control)).then(|| value.to_string())
}

/// The email to keep from an ID token or userinfo: only one the IdP says is verified
/// (`email_verified: true`), unless the site does not require that.
pub fn verified_email(
    email: Option<&openidconnect::EndUserEmail>,
    verified: Option<bool>,
    require_verified: bool,
) -> Option<String> {
    let email = email?;
    (!require_verified || verified == Some(true)).then(|| email.to_string())
}

/// The payload of an already verified JWT as a JSON object (empty when it is not one).
pub fn payload(jwt: &str) -> Map<String, Value> {
    let decoded = jwt.split('.').nth(1).and_then(|p| URL_SAFE_NO_PAD.decode(p).ok());
    match decoded.and_then(|p| serde_json::from_slice(&p).ok()) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// Adds userinfo's claims to the ID token's: a claim both state has the values of both.
pub fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (name, value) in from {
        match into.get_mut(&name) {
            Some(Value::Array(list)) => match value {
                Value::Array(more) => list.extend(more),
                one => list.push(one),
            },
            Some(existing) => {
                let first = existing.take();
                *existing = match value {
                    Value::Array(mut more) => {
                        more.insert(0, first);
                        Value::Array(more)
                    }
                    one => Value::Array(vec![first, one]),
                };
            }
            None => {
                into.insert(name, value);
            }
        }
    }
}

/// The values of a claim as strings: a string, a number or a boolean, or a list of
/// them (other values are not kept), without control characters or duplicates, at
/// most [`MAX_VALUES`] of at most [`MAX_VALUE_LEN`] bytes.
pub fn values(claim: Option<&Value>) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let all: Vec<String> = match claim {
        Some(Value::Array(list)) => list.iter().filter_map(one).collect(),
        Some(v) => one(v).into_iter().collect(),
        None => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for value in all {
        let fits = !value.is_empty() && value.len() <= MAX_VALUE_LEN && !value.chars().any(char::is_control);
        if fits && !out.contains(&value) && out.len() < MAX_VALUES {
            out.push(value);
        }
    }
    out
}

/// The claims named in `wanted` that `stated` has, with their values.
pub fn kept(stated: &Map<String, Value>, wanted: &[String]) -> Vec<(String, Vec<String>)> {
    wanted
        .iter()
        .filter_map(|name| {
            let v = values(stated.get(name));
            (!v.is_empty()).then(|| (name.clone(), v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_verified_email_addresses_are_kept() {
        let email = openidconnect::EndUserEmail::new("a@example.com".into());
        let keep = |verified, require| verified_email(Some(&email), verified, require);
        assert_eq!(keep(Some(true), true).as_deref(), Some("a@example.com"));
        assert_eq!(keep(Some(false), true), None);
        assert_eq!(keep(None, true), None, "no claim is not a yes");
        assert_eq!(keep(Some(false), false).as_deref(), Some("a@example.com"));
        assert_eq!(keep(None, false).as_deref(), Some("a@example.com"));
        assert_eq!(verified_email(None, Some(true), true), None);
    }

    #[test]
    fn groups_come_from_the_payload() {
        let jwt = format!(
            "h.{}.s",
            URL_SAFE_NO_PAD.encode(br#"{"sub":"a","groups":["vip","b2b",3,{"x":1}]}"#)
        );
        assert_eq!(values(payload(&jwt).get("groups")), vec!["vip", "b2b", "3"]);
        assert!(payload("garbage").is_empty());
        assert!(payload("a.bm90IGpzb24.c").is_empty());
    }

    #[test]
    fn userinfo_adds_to_what_the_id_token_said() {
        let mut stated = payload(&format!(
            "h.{}.s",
            URL_SAFE_NO_PAD.encode(br#"{"groups":["a"],"dept":"x"}"#)
        ));
        let Value::Object(info) = json!({"groups": ["b", "a"], "dept": ["y"], "level": 3}) else {
            unreachable!()
        };
        merge(&mut stated, info);
        assert_eq!(values(stated.get("groups")), vec!["a", "b"]);
        assert_eq!(values(stated.get("dept")), vec!["x", "y"]);
        let wanted = ["level".to_string(), "missing".to_string()];
        assert_eq!(
            kept(&stated, &wanted),
            vec![("level".to_string(), vec!["3".to_string()])]
        );
    }

    #[test]
    fn hostile_values_are_not_kept() {
        let long = "x".repeat(MAX_VALUE_LEN + 1);
        let many: Vec<Value> = (0..100).map(|i| json!(format!("g{i}"))).collect();
        assert!(values(Some(&json!([long, "a\nb", "", null]))).is_empty());
        assert_eq!(values(Some(&Value::Array(many))).len(), MAX_VALUES);
    }
}
