//! The SSO data document of `<sso_prefix>/sso-data` (`crate::features::sso_data`): a
//! small JSON object stored with the SSO session, read here from a request body.

use super::group::MAX_DATA;
use crate::reply::Reply;

/// An SSO data document from a request body: a JSON object of at most
/// [`MAX_DATA`] bytes (nested at most 16 deep), or the reply refusing it.
pub fn parse_sso_data(body: &[u8]) -> Result<serde_json::Value, Reply> {
    if body.len() > MAX_DATA {
        return Err(Reply::error(
            413,
            "payload_too_large",
            "The data is larger than 4 KiB.",
            true,
        ));
    }
    let doc: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| Reply::error(400, "invalid_json", "The data is not valid JSON.", true))?;
    if !doc.is_object() {
        return Err(Reply::error(
            400,
            "not_an_object",
            "The data must be a JSON object.",
            true,
        ));
    }
    if depth(&doc) > 16 {
        return Err(Reply::error(400, "too_deep", "The data is nested too deeply.", true));
    }
    Ok(doc)
}

fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}
