//! `<sso_prefix>/sso-data` on a linked site: a small JSON document stored with the SSO
//! session, so every linked site of the group reads and writes the same one.

use super::group::MAX_DATA;
use crate::auth::{Identity, SiteAuth};
use crate::navigation::from_another_site;
use crate::reply::{wants_json, Reply};
use crate::store::StoreError;

impl SiteAuth {
    /// `GET <sso_prefix>/sso-data`: the SSO session's shared document.
    pub(crate) async fn sso_data_get(&self, req: &http::request::Parts, identity: Option<&Identity>) -> Reply {
        let (group, handle) = match self.sso_data_target(req, identity) {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        match group.get(handle).await {
            Ok(Some(_)) => {}
            Ok(None) => return Reply::error(404, "sso_session_ended", "The shared sign-in has ended.", true),
            Err(_) => return crate::auth::store_unavailable(true),
        }
        match group.data(handle).await {
            Ok(doc) => Reply::json(200, &doc),
            Err(StoreError::Unavailable(_)) => crate::auth::store_unavailable(true),
            Err(_) => Reply::json(200, &serde_json::json!({})),
        }
    }

    /// `PUT <sso_prefix>/sso-data`: replaces the shared document with `body`, a JSON
    /// object of at most 4 KiB sent as `application/json`.
    pub async fn sso_data_put(&self, req: &http::request::Parts, identity: Option<&Identity>, body: &[u8]) -> Reply {
        let (group, handle) = match self.sso_data_target(req, identity) {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        if !crate::request_parts::has_media_type(&req.headers, "application/json") {
            return Reply::error(
                415,
                "unsupported_media_type",
                "Send the data as application/json.",
                true,
            );
        }
        let doc = match parse_sso_data(body) {
            Ok(doc) => doc,
            Err(reply) => {
                self.events.rejected(&self.site.name, "bad_sso_data");
                return reply;
            }
        };
        let session = match group.get(handle).await {
            Ok(Some(s)) => s,
            Ok(None) => return Reply::error(404, "sso_session_ended", "The shared sign-in has ended.", true),
            Err(_) => return crate::auth::store_unavailable(true),
        };
        match group.put_data(&session, handle, &doc).await {
            Ok(()) => Reply::json(200, &doc),
            Err(_) => crate::auth::store_unavailable(true),
        }
    }

    /// The SSO session a `sso-data` request is about, or the reply refusing it.
    fn sso_data_target<'a>(
        &'a self,
        req: &http::request::Parts,
        identity: Option<&'a Identity>,
    ) -> Result<(&'a super::SsoGroup, &'a str), Reply> {
        let Some(group) = &self.cross_site else {
            return Err(Reply::error(
                404,
                "not_found",
                "There is nothing here.",
                wants_json(&req.headers),
            ));
        };
        if from_another_site(&req.headers) {
            self.events.rejected(&self.site.name, "cross_site_request");
            return Err(Reply::error(403, "cross_site_request", "Not from another site.", true));
        }
        let Some(identity) = identity else {
            return Err(self.login_required(true));
        };
        match identity.session.sso.as_deref() {
            Some(handle) => Ok((group, handle)),
            None => Err(Reply::error(
                404,
                "not_linked",
                "This sign-in is not shared with the other shops.",
                true,
            )),
        }
    }
}

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
