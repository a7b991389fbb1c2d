//! Writes a filter's [`Reply`] to the shopper.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::Result;
use sso_filters::Reply;

/// Gateway replies are `Cache-Control: no-store` unless the reply says otherwise
/// (the JWKS is cacheable).
pub async fn write_reply(session: &mut Session, reply: Reply) -> Result<()> {
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
