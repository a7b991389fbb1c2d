//! Why an IdP's discovery failed, in words an operator can act on: the HTTP status
//! and the URL asked, the issuer the provider calls itself, the TLS or DNS error.
//! The OpenID library's own error says little ("Failed to parse server response");
//! after a failure the discovery document is fetched once more, with the IdP's own
//! client (same trust, same timeout, no redirects), and looked at step by step.
//! `run` logs the result and `/readyz` shows it; `check --online` prints it under the
//! key path `…oidc.issuer`.

use super::discovered_issuer::{is_configured_with_slash, is_template};
use super::provider::error_chain;
use openidconnect::reqwest;

/// The discovery document's URL for `issuer` (OpenID Connect Discovery §4).
pub fn discovery_url(issuer: &str) -> String {
    format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

/// The longest discovery document read on the second look (the IdP's answer is not
/// trusted to be small): real ones are a few KiB.
const MAX_DOCUMENT: usize = 256 * 1024;

/// Text from the IdP, fit for a log line, a terminal and `/readyz`: control
/// characters (a forged second log line, terminal escapes) become `?`, and it is cut
/// at 200 characters.
fn printable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// What an operator should do about a discovery answered `status`.
fn status_hint(status: u16, location: Option<&str>) -> String {
    match (status, location) {
        (300..=399, Some(to)) => format!(
            " (a redirect to {to}; the gateway follows no redirects from an IdP: set the issuer to the URL the provider names itself)"
        ),
        (404, _) => " — the issuer must be the provider's exact issuer URL: for Keycloak https://HOST/realms/REALM, \
             for Entra ID https://login.microsoftonline.com/TENANT_ID/v2.0 (docs/idps/)"
            .to_string(),
        _ => String::new(),
    }
}

/// A transport error's cause, classified (DNS, TLS, refused, timeout).
fn transport_reason(url: &str, e: &reqwest::Error) -> String {
    let chain = error_chain(e);
    // The library's chain names the URL again: once is enough.
    let prefix = format!("error sending request for url ({url}): ");
    let chain = chain.strip_prefix(&prefix).unwrap_or(&chain);
    let lower = chain.to_ascii_lowercase();
    let what = if e.is_timeout() {
        "no answer within oidc.request_timeout"
    } else if lower.contains("dns error") || lower.contains("failed to lookup") || lower.contains("name or service") {
        "the host name does not resolve (DNS)"
    } else if lower.contains("corrupt message") || lower.contains("wrong version number") {
        "TLS failed: the other side does not speak TLS there (is the issuer http://?)"
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("ssl") {
        "TLS failed: the provider's certificate is not trusted here (a private CA: set oidc.ca_file)"
    } else if lower.contains("refused") {
        "the connection was refused (nothing listens there)"
    } else {
        "the request failed"
    };
    format!("{what}, at {url}: {chain}")
}

/// What a second look at a failed discovery found.
#[derive(Debug, PartialEq, Eq)]
pub enum Finding {
    /// What is wrong, for the log, `/readyz` and `check --online`.
    Problem(String),
    /// The provider names itself as configured plus a trailing `/` (Auth0 does): the
    /// configuration cannot say so (`https://host` and `https://host/` are one URL),
    /// so discovery is run again with the provider's exact spelling.
    IssuerWithSlash(String),
    /// The provider names an issuer template (Entra ID's multi-tenant metadata).
    IssuerTemplate(String),
    /// The document looks right: the failure was elsewhere (e.g. the keys).
    Nothing,
}

/// Why discovery of `issuer` fails.
pub async fn why_discovery_fails(http: &reqwest::Client, issuer: &str) -> Finding {
    match look(http, issuer).await {
        Ok(named) if is_template(&named) => Finding::IssuerTemplate(named),
        Ok(named) if is_configured_with_slash(issuer, &named) => Finding::IssuerWithSlash(named),
        Ok(named) => issuer_mismatch(issuer, &named).map_or(Finding::Nothing, Finding::Problem),
        Err(problem) => Finding::Problem(problem),
    }
}

/// The issuer the discovery document of `issuer` names, or why there is none.
async fn look(http: &reqwest::Client, issuer: &str) -> Result<String, String> {
    let url = discovery_url(issuer);
    let response = match http.get(&url).header("accept", "application/json").send().await {
        Ok(r) => r,
        Err(e) => return Err(transport_reason(&url, &e)),
    };
    let status = response.status();
    if !status.is_success() {
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        return Err(format!(
            "discovery answered {} at {url}{}",
            status.as_u16(),
            status_hint(status.as_u16(), location.as_deref())
        ));
    }
    let mut response = response;
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_DOCUMENT => body.extend_from_slice(&chunk),
            Ok(Some(_)) => return Err(format!("discovery at {url} is larger than {} KiB", MAX_DOCUMENT / 1024)),
            Ok(None) => break,
            Err(e) => return Err(transport_reason(&url, &e)),
        }
    }
    let document: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return Err(format!("discovery at {url} is not a JSON document")),
    };
    match document.get("issuer").and_then(|v| v.as_str()) {
        Some(named) if named.len() > 2048 => Err(format!("discovery at {url} names an issuer over 2 KiB long")),
        Some(named) => Ok(named.to_string()),
        None => Err(format!("discovery at {url} names no issuer")),
    }
}

/// The problem when the provider names itself `named` and the configuration says
/// `configured` (compared as the library compares them: exactly, after the
/// configuration's trailing `/` is dropped).
pub fn issuer_mismatch(configured: &str, named: &str) -> Option<String> {
    let configured = configured.trim_end_matches('/');
    if named == configured {
        return None;
    }
    Some(format!(
        "the provider calls itself {}, not {configured}",
        printable(named)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issuer_mismatch_names_both_and_the_fix() {
        assert_eq!(issuer_mismatch("http://localhost:9001", "http://localhost:9001"), None);
        assert_eq!(issuer_mismatch("http://localhost:9001/", "http://localhost:9001"), None);
        let other = issuer_mismatch("http://localhost:9001", "http://127.0.0.1:9001");
        assert_eq!(
            other.as_deref(),
            Some("the provider calls itself http://127.0.0.1:9001, not http://localhost:9001")
        );
        let forged = issuer_mismatch("http://idp", "x\u{1b}[2J\n\rfake line: ok");
        assert_eq!(
            forged.as_deref(),
            Some("the provider calls itself x?[2J??fake line: ok, not http://idp")
        );
    }

    #[test]
    fn a_404_points_at_the_issuer_forms() {
        assert!(status_hint(404, None).contains("/realms/REALM"));
        assert!(status_hint(301, Some("https://idp/x")).contains("follows no redirects"));
        assert_eq!(status_hint(500, None), "");
    }
}
