//! Just-in-time customers: after an IdP sign-in the gateway asks the shop's
//! provisioning hook which customer this is (the hook finds or creates one), so the
//! origin gets the shop's own customer id and groups instead of the IdP's subject.
//!
//! The hook's answer is input like any other: a bounded body, a strict shape, ids and
//! groups that can go into a header as they are. Anything else, a hook that is down,
//! slow or answers another status, fails the sign-in: no session, no half-account.
//! Answers are reused for `cache_ttl` (sealed in the shared store, so whoever can
//! write to Redis cannot map a subject to another customer).

use crate::store::seal::{RecordKind, Seal};
use crate::store::{Records, StoreError};
use openidconnect::reqwest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sso_config::ProvisioningConfig;
use std::sync::Arc;
use std::time::Duration;

/// Longest hook answer read.
pub const MAX_ANSWER: usize = 64 * 1024;
/// Most groups kept from an answer.
pub const MAX_GROUPS: usize = 64;
/// Longest customer id or group name.
const MAX_ID_LEN: usize = 256;
/// The [`Records`] kind of cached answers.
const CACHE_KIND: &str = "customer-map";

/// Who signed in, as sent to the hook.
#[derive(Debug, Serialize)]
pub struct HookRequest<'a> {
    pub site: &'a str,
    /// How they signed in (`oidc`).
    pub method: &'static str,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub email: Option<&'a str>,
    pub email_verified: Option<bool>,
    pub name: Option<&'a str>,
    /// The IdP's `groups` claim, as the IdP said it (on a site with several IdPs the
    /// gateway itself grants none of them).
    pub groups: &'a [String],
    /// The `[[sites.idps]]` name the shopper chose, on a site with several IdPs.
    pub idp: Option<&'a str>,
}

/// The shop's customer for a subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provisioned {
    pub customer_id: String,
    pub groups: Vec<String>,
    /// The hook created the customer just now (false when found, or from the cache).
    pub created: bool,
}

/// Why the hook gave no customer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
    /// Not reachable, timed out, or answered a status other than 200.
    #[error("the provisioning hook is unavailable: {0}")]
    Unavailable(String),
    /// Answered 200 with something that is not a customer.
    #[error("the provisioning hook's answer is not usable: {0}")]
    Invalid(String),
}

impl ProvisionError {
    /// The metric label and page code.
    pub fn code(&self) -> &'static str {
        match self {
            ProvisionError::Unavailable(_) => "provisioning_unavailable",
            ProvisionError::Invalid(_) => "provisioning_invalid",
        }
    }
}

/// Records a call of the hook: how long it took and its outcome (`ok` or a
/// [`ProvisionError::code`]).
pub type HookTimer = Arc<dyn Fn(Duration, &'static str) + Send + Sync>;

/// Calls one site's hook, with its cache.
pub struct Provisioner {
    timer: HookTimer,
    url: reqwest::Url,
    secret: Option<sso_config::Secret>,
    cache_ttl: Duration,
    http: reqwest::Client,
    cache: Arc<dyn Records>,
    seal: Seal,
}

impl Provisioner {
    /// `None` when the site has no hook (only a default group). `cache`: where answers
    /// are reused from (memory or Redis).
    pub fn new(
        config: &ProvisioningConfig,
        cache: Arc<dyn Records>,
        seal: Seal,
        timer: HookTimer,
    ) -> Result<Option<Self>, String> {
        let Some(url) = &config.url else { return Ok(None) };
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // The hook is one fixed URL: a redirect would send the shopper's identity
            // (and the bearer secret) elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Some(Provisioner {
            timer,
            url: url.clone(),
            secret: config.secret.clone(),
            cache_ttl: config.cache_ttl,
            http,
            cache,
            seal,
        }))
    }

    /// The shop's customer for `who`: from the cache when a fresh answer is there,
    /// else from the hook (and then cached).
    pub async fn provision(&self, who: &HookRequest<'_>) -> Result<Provisioned, ProvisionError> {
        let key = cache_key(self.url.as_str(), who.site, who.issuer, who.subject);
        if let Some(hit) = self.cached(&key).await {
            return Ok(hit);
        }
        let started = std::time::Instant::now();
        let asked = self.ask(who).await;
        let outcome = asked.as_ref().map_or_else(ProvisionError::code, |_| "ok");
        (self.timer)(started.elapsed(), outcome);
        let answer = asked?;
        if !self.cache_ttl.is_zero() {
            let cached = Provisioned {
                created: false,
                ..answer.clone()
            };
            match serde_json::to_vec(&cached) {
                Ok(body) => {
                    let sealed = self.seal.seal(RecordKind::Provisioning, key.as_bytes(), &body);
                    let stored = match sealed {
                        Ok(sealed) => self.cache.put(CACHE_KIND, &key, sealed, self.cache_ttl).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = stored {
                        tracing::warn!(site = who.site, error = %e, "provisioning answer not cached");
                    }
                }
                Err(e) => tracing::warn!(site = who.site, error = %e, "provisioning answer not cached"),
            }
        }
        Ok(answer)
    }

    async fn cached(&self, key: &str) -> Option<Provisioned> {
        if self.cache_ttl.is_zero() {
            return None;
        }
        let sealed = match self.cache.get(CACHE_KIND, key).await {
            Ok(found) => found?,
            Err(StoreError::Unavailable(_)) | Err(StoreError::Corrupt(_)) => return None,
        };
        let opened = self.seal.open(RecordKind::Provisioning, key.as_bytes(), &sealed).ok()?;
        serde_json::from_slice(&opened.body).ok()
    }

    async fn ask(&self, who: &HookRequest<'_>) -> Result<Provisioned, ProvisionError> {
        let body = serde_json::to_vec(who).map_err(|e| ProvisionError::Invalid(e.to_string()))?;
        let mut request = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(secret) = &self.secret {
            request = request.bearer_auth(secret.expose());
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| ProvisionError::Unavailable(without_url(&e)))?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(ProvisionError::Unavailable(format!("status {}", status.as_u16())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ProvisionError::Unavailable(without_url(&e)))?
        {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(ProvisionError::Invalid(format!(
                    "answer longer than {MAX_ANSWER} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        parse_answer(&body)
    }
}

/// A reqwest error without the URL (which may carry credentials in its query).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "broken body"
    } else {
        "request failed"
    };
    kind.to_string()
}

/// Where a subject's answer is cached: SHA-256 of site, issuer and subject.
/// Where an answer is cached: per hook (a reload that points the site at another
/// back office, with its own numbering, must not reuse the old one's answers), site,
/// issuer and subject.
fn cache_key(hook: &str, site: &str, issuer: &str, subject: &str) -> String {
    crate::store::hashed_key(&[hook, site, issuer, subject])
}

/// The fields of an answer this gateway reads. A field given twice is refused (serde
/// refuses duplicate fields of a struct), so no reader in front of or behind the hook
/// can see another customer than the gateway does; other fields are ignored.
#[derive(Deserialize)]
struct Answer {
    customer_id: Option<Value>,
    groups: Option<Value>,
    created: Option<Value>,
}

/// The hook's answer, strictly: `customer_id` a non-negative integer or up to 256
/// bytes of printable ASCII without spaces; `groups` (optional) a list of group names
/// without commas, control, format or line-separator characters; `created`
/// (optional) a boolean.
pub fn parse_answer(body: &[u8]) -> Result<Provisioned, ProvisionError> {
    let invalid = |why: &str| ProvisionError::Invalid(why.to_string());
    let answer: Answer = serde_json::from_slice(body).map_err(|_| invalid("not a JSON object with each field once"))?;
    let customer_id = match answer.customer_id {
        Some(Value::Number(n)) => n.as_u64().map(|n| n.to_string()),
        Some(Value::String(s)) if super::customer_login::is_plain_id(&s) => Some(s),
        _ => None,
    }
    .ok_or_else(|| invalid("customer_id is missing or unusable"))?;
    let groups = match answer.groups {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.len() <= MAX_GROUPS => items
            .into_iter()
            .map(|g| match g {
                Value::String(s) if is_group_name(&s) => Ok(s),
                _ => Err(invalid("a group is not a name")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid("groups is not a list of at most 64 names")),
    };
    let created = match answer.created {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(invalid("created is not a boolean")),
    };
    Ok(Provisioned {
        customer_id,
        groups,
        created,
    })
}

/// A group name that goes into `X-Customer-Groups` as it is: short, no commas, no
/// surrounding spaces, no control characters, and none of the invisible format and
/// separator characters (zero-width, bidi controls, line separators, BOM) an origin
/// might strip or fold differently.
fn is_group_name(s: &str) -> bool {
    let invisible = |c: char| matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}');
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.trim() == s
        && !s.contains(',')
        && !s
            .chars()
            .any(|c| c.is_control() || invisible(c) || (c.is_whitespace() && c != ' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_well_formed_answer_is_a_customer() {
        let ok =
            parse_answer(br#"{"customer_id": "c-1", "groups": ["b2b"], "created": true, "extra": 1}"#).expect("usable");
        assert_eq!(ok.customer_id, "c-1");
        assert_eq!((ok.groups, ok.created), (vec!["b2b".to_string()], true));
        let numeric = parse_answer(br#"{"customer_id": 1042}"#).expect("usable");
        let unicode_group = parse_answer("{\"customer_id\": \"c\", \"groups\": [\"Großkunden B2B\"]}".as_bytes());
        assert_eq!(unicode_group.expect("usable").groups, vec!["Großkunden B2B"]);
        assert_eq!((numeric.customer_id.as_str(), numeric.created), ("1042", false));
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            b"null",
            br#"{"customer_id": ""}"#,
            br#"{"customer_id": " c"}"#,
            br#"{"customer_id": "a\nX-Customer-Id: b"}"#,
            br#"{"customer_id": -4}"#,
            br#"{"customer_id": 1.5}"#,
            br#"{"customer_id": {"id": 1}}"#,
            br#"{"groups": ["a"]}"#,
            br#"{"customer_id": "c", "groups": "vip"}"#,
            br#"{"customer_id": "c", "groups": ["a,b"]}"#,
            br#"{"customer_id": "c", "groups": [1]}"#,
            br#"{"customer_id": "c", "created": "yes"}"#,
            br#"{"customer_id": "1001", "customer_id": "2002"}"#,
            "{\"customer_id\": \"\u{feff}1001\"}".as_bytes(),
            "{\"customer_id\": \"10\u{2028}01\"}".as_bytes(),
            br#"{"customer_id": "a b"}"#,
            "{\"customer_id\": \"c\", \"groups\": [\"vip\u{200b}\"]}".as_bytes(),
        ] {
            assert!(parse_answer(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let many = format!(r#"{{"customer_id": "c", "groups": [{}]}}"#, vec!["\"g\""; 65].join(","));
        assert!(parse_answer(many.as_bytes()).is_err());
        let long = format!(r#"{{"customer_id": "{}"}}"#, "x".repeat(257));
        assert!(parse_answer(long.as_bytes()).is_err());
    }

    #[test]
    fn cache_keys_keep_site_issuer_and_subject_apart() {
        assert_ne!(cache_key("h", "a", "b", "c"), cache_key("h", "ab", "", "c"));
        assert_ne!(
            cache_key("h", "s", "https://idp-1", "u"),
            cache_key("h", "s", "https://idp-2", "u")
        );
        assert_ne!(
            cache_key("http://old/hook", "s", "i", "u"),
            cache_key("http://new/hook", "s", "i", "u"),
            "another hook, another numbering"
        );
        assert_eq!(cache_key("h", "s", "i", "u"), cache_key("h", "s", "i", "u"));
    }
}
