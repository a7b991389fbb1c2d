//! Writes a filter's [`Reply`] to the shopper.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::Result;
use sso_filters::pages::Pages;
use sso_filters::Reply;
use std::sync::OnceLock;

/// The shipped design, for a page no site's design rendered (the HTTPS redirect
/// listener's 421, the auth host's pages).
static SHIPPED: OnceLock<Pages> = OnceLock::new();

/// The visitor's `Accept-Language`, when it is text.
pub fn accept_language(headers: &http::HeaderMap) -> Option<&str> {
    headers.get(http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())
}

/// Gateway replies are `Cache-Control: no-store` unless the reply says otherwise
/// (the JWKS is cacheable).
pub async fn write_reply(session: &mut Session, reply: Reply) -> Result<()> {
    let reply = if reply.page.is_some() {
        let lang = accept_language(&session.req_header().headers);
        // The id `RequestCtx::stamp` put on the reply, shown on the page as on a site's.
        let id = reply
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(sso_filters::request_id::REQUEST_ID_HEADER))
            .map(|(_, v)| v.clone());
        SHIPPED.get_or_init(Pages::shipped).render(reply, lang, id.as_deref())
    } else {
        reply
    };
    let mut header = ResponseHeader::build(reply.status, Some(reply.headers.len() + reply.named.len() + 3))?;
    let own_cache_control = reply
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("cache-control"));
    for (name, value) in reply.headers {
        header.append_header(name, value)?;
    }
    for (name, value) in reply.named {
        header.append_header(name, value)?;
    }
    header.insert_header("content-length", reply.body.len().to_string())?;
    if !own_cache_control {
        header.insert_header("cache-control", "no-store")?;
    }
    let empty = reply.body.is_empty();
    session.write_response_header(Box::new(header), empty).await?;
    if !empty {
        session.write_response_body(Some(Bytes::from(reply.body)), true).await?;
    }
    Ok(())
}
