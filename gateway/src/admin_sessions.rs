//! `GET` and `DELETE /sessions?site=S&customer=ID` on the admin listener: what support
//! staff use after an account compromise. `GET` lists the customer's live sessions on
//! the site (handles and times, never a credential); `DELETE` ends them all, on every
//! replica (Redis publishes the evictions). Both ask the shared store, not this
//! replica's cache.

use http::{Method, StatusCode};
use sso_filters::sessions::rfc3339;
use sso_filters::store::{SessionMeta, Stores};

/// Longest `site` or `customer` accepted (a customer id is an IdP subject).
const MAX_PARAM: usize = 512;

/// The status and JSON body of a `/sessions` request; `known` says whether a site
/// name is one of the running configuration's.
pub async fn answer(
    stores: &Stores,
    group: Option<&sso_filters::cross_site::SsoGroup>,
    method: &Method,
    query: Option<&str>,
    known: impl Fn(&str) -> bool,
) -> (StatusCode, serde_json::Value) {
    let (site, customer) = match params(query) {
        Ok(p) => p,
        Err(message) => return (StatusCode::BAD_REQUEST, error("bad_request", message)),
    };
    if !known(&site) {
        return (
            StatusCode::NOT_FOUND,
            error("unknown_site", "no site of that name is configured"),
        );
    }
    let store = &stores.sessions;
    let result = match *method {
        Method::GET => store
            .customer_sessions(&site, &customer)
            .await
            .map(|sessions| listing(&site, &customer, &sessions)),
        Method::DELETE => end_all(store.as_ref(), group, &site, &customer).await,
        _ => {
            return (
                StatusCode::METHOD_NOT_ALLOWED,
                error("method_not_allowed", "use GET to list or DELETE to end sessions"),
            )
        }
    };
    match result {
        Ok(body) => (StatusCode::OK, body),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            error("store_unavailable", &e.to_string()),
        ),
    }
}

/// Ends a customer's sessions on `site`, and the cross-site SSO sessions a session of
/// theirs there was linked to (with every session linked to those, on every site).
async fn end_all(
    store: &dyn sso_filters::store::SessionStore,
    group: Option<&sso_filters::cross_site::SsoGroup>,
    site: &str,
    customer: &str,
) -> Result<serde_json::Value, sso_filters::store::StoreError> {
    let sso = match group {
        Some(group) => group.end_by_customer(site, customer).await?,
        None => 0,
    };
    let ended = store.end_customer_sessions(site, customer).await?;
    // Debug formatting: a customer id cannot forge log lines.
    tracing::warn!(site = ?site, customer = ?customer, ended, sso_sessions = sso, "sessions ended by an administrator");
    Ok(serde_json::json!({ "site": site, "customer": customer, "ended": ended, "sso_sessions_ended": sso }))
}

fn params(query: Option<&str>) -> Result<(String, String), &'static str> {
    let (mut site, mut customer) = (None, None);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let slot = match k.as_ref() {
            "site" => &mut site,
            "customer" => &mut customer,
            _ => continue,
        };
        if slot.replace(v.into_owned()).is_some() {
            return Err("site and customer may each be given once");
        }
    }
    match (site, customer) {
        (Some(s), Some(c)) if !s.is_empty() && !c.is_empty() && s.len() <= MAX_PARAM && c.len() <= MAX_PARAM => {
            Ok((s, c))
        }
        _ => Err("give ?site=<site name>&customer=<customer id> (each 1 to 512 bytes)"),
    }
}

fn listing(site: &str, customer: &str, sessions: &[SessionMeta]) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = sessions
        .iter()
        .map(|m| {
            serde_json::json!({
                "sid": m.sid,
                "created_at": rfc3339(m.created_at),
                "last_seen": rfc3339(m.last_seen),
                "expires_at": rfc3339(m.expires_at),
            })
        })
        .collect();
    serde_json::json!({ "site": site, "customer": customer, "sessions": rows })
}

fn error(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "error": code, "message": message })
}
