//! Reading the body of a request the gateway answers itself (a back-channel logout
//! token; see `SiteAuth::body_limit`): never more than the endpoint's limit, never
//! longer than [`BODY_TIMEOUT`]. Every other request's body streams to the origin
//! untouched.

use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use sso_filters::Reply;
use std::time::Duration;

/// How long a client may take to send a body the gateway reads itself (a stalled
/// client must not hold the request open forever).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the whole request body, at most `limit` bytes. `Err` is the answer instead:
/// 413 `payload_too_large` when `Content-Length` says more than `limit` (nothing is
/// read) or more than `limit` bytes arrive (reading stops there), 408
/// `request_timeout` after [`BODY_TIMEOUT`], 400 when the body cannot be read. The
/// connection is not reused after any of them (part of the body may be unread).
pub async fn read_limited(session: &mut Session, limit: usize) -> Result<Bytes, Reply> {
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(refuse(session, too_large()));
    }
    let expects_continue = session
        .req_header()
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects_continue && session.write_continue_response().await.is_err() {
        return Err(refuse(session, unreadable()));
    }
    let deadline = tokio::time::Instant::now() + BODY_TIMEOUT;
    let mut body = BytesMut::new();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, session.read_request_body()).await {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => return Ok(body.freeze()),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "request body could not be read");
                return Err(refuse(session, unreadable()));
            }
            Err(_) => {
                let reply = Reply::error(408, "request_timeout", "The request body did not arrive in time.", true);
                return Err(refuse(session, reply));
            }
        };
        if body.len() + chunk.len() > limit {
            return Err(refuse(session, too_large()));
        }
        body.extend_from_slice(&chunk);
    }
}

/// `reply`, on a connection that will not be reused.
fn refuse(session: &mut Session, reply: Reply) -> Reply {
    session.set_keepalive(None);
    reply
}

/// 413 `payload_too_large` (JSON: the callers are servers).
fn too_large() -> Reply {
    Reply::error(413, "payload_too_large", "The request body is too large.", true)
}

/// 400 `bad_request`: the body broke off or could not be read.
fn unreadable() -> Reply {
    Reply::error(400, "bad_request", "The request body could not be read.", true)
}
