//! Pushed authorization requests (RFC 9126), for IdPs with `pushed_authorization = true`.
//!
//! The login flow builds its authorization URL as always (PKCE, `state`, `nonce`,
//! scopes, and a step-up's `max_age`, `prompt`, `acr_values`); with PAR its query is
//! POSTed instead, authenticated like a token call, to the IdP's
//! `pushed_authorization_request_endpoint`. The browser is then sent to the authorize
//! endpoint with only `client_id` and the `request_uri` the IdP answered: nothing of
//! the request travels through (or can be changed in) the browser.

use super::provider::{error_chain, ProviderState};
use crate::oidc::CallbackError;
use serde::Deserialize;
use url::Url;

/// Longest PAR answer read (a real one is about 100 bytes).
const MAX_ANSWER: usize = 16 * 1024;
/// Longest `request_uri` accepted (it goes into the browser's URL).
const MAX_REQUEST_URI: usize = 2048;

#[derive(Deserialize)]
struct ParAnswer {
    request_uri: String,
}

/// Pushes `authorize_url`'s request to `par_endpoint` and returns the URL the
/// browser is sent to: the authorize endpoint with `client_id` and `request_uri`.
pub async fn push(
    state: &ProviderState,
    http: &openidconnect::reqwest::Client,
    client_id: &str,
    par_endpoint: &Url,
    authorize_url: &Url,
) -> Result<Url, CallbackError> {
    let fail = CallbackError::PushedAuthorization;
    let mut form: Vec<(&'static str, String)> = Vec::new();
    let mut pushed: Vec<(String, String)> = authorize_url
        .query_pairs()
        .filter(|(k, _)| k != "client_id")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let request = state
        .client_auth
        .authenticate(
            http.post(par_endpoint.clone()),
            &mut form,
            client_id,
            &state.assertion_audience(),
        )
        .map_err(fail)?;
    if !form.iter().any(|(k, _)| *k == "client_id") {
        pushed.push(("client_id".into(), client_id.to_string()));
    }
    pushed.extend(form.into_iter().map(|(k, v)| (k.to_string(), v)));
    let response = request
        .header("accept", "application/json")
        .form(&pushed)
        .send()
        .await
        .map_err(|e| fail(error_chain(&e)))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| fail(error_chain(&e)))?;
    let uri = read_answer(status.is_success(), status.as_u16(), &body).map_err(fail)?;
    let mut target = state.metadata.authorization_endpoint().url().clone();
    target
        .query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("request_uri", &uri);
    Ok(target)
}

/// The `request_uri` of a PAR answer (`success`: a 2xx status), or why there is none:
/// for an error answer only its OAuth error code (a short printable token), never the
/// body. Untrusted input: part of the hostile-input suite and a fuzz target.
pub fn read_answer(success: bool, status: u16, body: &[u8]) -> Result<String, String> {
    if body.len() > MAX_ANSWER {
        return Err("the answer is too long".into());
    }
    if !success {
        let code = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .map(|e| e.chars().filter(char::is_ascii_graphic).take(64).collect::<String>())
            .unwrap_or_default();
        return Err(format!("HTTP {status} {code}"));
    }
    let answer: ParAnswer = serde_json::from_slice(body).map_err(|_| "the answer has no request_uri".to_string())?;
    let uri = answer.request_uri;
    if uri.is_empty() || uri.len() > MAX_REQUEST_URI || uri.chars().any(char::is_control) {
        return Err("the request_uri is unusable".into());
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::read_answer;

    #[test]
    fn answers() {
        let ok = br#"{"request_uri":"urn:ietf:params:oauth:request_uri:abc","expires_in":60}"#;
        assert_eq!(
            read_answer(true, 201, ok).as_deref(),
            Ok("urn:ietf:params:oauth:request_uri:abc")
        );
        let e = read_answer(
            false,
            400,
            br#"{"error":"invalid_client\n<x>","error_description":"secret!"}"#,
        );
        assert_eq!(
            e,
            Err("HTTP 400 invalid_client<x>".to_string()),
            "code only, no line break"
        );
        assert!(read_answer(true, 201, b"{}").is_err());
        assert!(read_answer(true, 201, br#"{"request_uri":""}"#).is_err());
        assert!(read_answer(true, 201, br#"{"request_uri":"a\nb"}"#).is_err());
        let long = format!(r#"{{"request_uri":"{}"}}"#, "a".repeat(4096));
        assert!(read_answer(true, 201, long.as_bytes()).is_err());
        assert!(read_answer(true, 201, &vec![b' '; 20_000]).is_err());
    }
}
