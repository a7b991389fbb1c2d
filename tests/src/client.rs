//! The scripted shopper: a cookie-keeping HTTP client that resolves `*.localhost`
//! to loopback (the system resolver here does not), never follows redirects by
//! itself (tests see every hop), and can walk the real IdP's sign-in and consent
//! forms the way a person would.

use anyhow::{bail, Context, Result};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;
use url::Url;

pub struct Shopper {
    pub http: Client,
    pub jar: Arc<Jar>,
}

/// Where a walk ended.
#[derive(Debug)]
pub struct Landing {
    pub status: StatusCode,
    pub url: Url,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
    /// Every URL requested on the way, in order.
    pub visited: Vec<Url>,
}

impl Shopper {
    /// A client that sends `<name>.localhost` for each name in `hosts` to 127.0.0.1.
    pub fn new(hosts: &[&str]) -> Result<Shopper> {
        Self::from_address(hosts, None)
    }

    /// [`Shopper::new`] connecting from the loopback address `local` (e.g.
    /// 127.0.0.2): the gateway counts it as another client for its rate limits.
    pub fn from_address(hosts: &[&str], local: Option<std::net::IpAddr>) -> Result<Shopper> {
        let jar = Arc::new(Jar::default());
        // A browser's kind of User-Agent: cross-site sign-on never redirects crawlers.
        let mut builder = Client::builder()
            .redirect(Policy::none())
            .cookie_provider(jar.clone())
            .local_address(local)
            .user_agent("Mozilla/5.0 (X11; Linux x86_64) sso-gateway-tests");
        for host in hosts {
            builder = builder.resolve(&format!("{host}.localhost"), SocketAddr::from(([127, 0, 0, 1], 0)));
        }
        Ok(Shopper {
            http: builder.build()?,
            jar,
        })
    }

    /// Like [`Shopper::new`] for HTTPS: trusts only `ca_pem` and records the server
    /// certificate of each response (`reqwest::tls::TlsInfo`).
    pub fn with_ca(hosts: &[&str], ca_pem: &str) -> Result<Shopper> {
        let jar = Arc::new(Jar::default());
        let mut builder = Client::builder()
            .redirect(Policy::none())
            .cookie_provider(jar.clone())
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes())?)
            .tls_info(true);
        for host in hosts {
            builder = builder.resolve(&format!("{host}.localhost"), SocketAddr::from(([127, 0, 0, 1], 0)));
        }
        Ok(Shopper {
            http: builder.build()?,
            jar,
        })
    }

    /// Forgets the cross-site markers (`checked`, `off`) this client holds for `url`'s
    /// site, as a browser does once they expire.
    pub fn jar_clear_link_markers(&self, url: &str) {
        if let Ok(u) = Url::parse(url) {
            for name in ["sso_session_link_checked", "sso_session_link_off"] {
                self.jar.add_cookie_str(&format!("{name}=; Max-Age=0; Path=/"), &u);
            }
        }
    }

    /// A GET as a browser page load (Accept: text/html).
    pub async fn page(&self, url: &str) -> Result<Response> {
        Ok(self
            .http
            .get(url)
            .header("accept", "text/html,application/xhtml+xml")
            .send()
            .await?)
    }

    /// [`Shopper::page`] from a visitor whose `Accept-Language` is `languages`.
    pub async fn page_in(&self, url: &str, languages: &str) -> Result<Response> {
        Ok(self
            .http
            .get(url)
            .header("accept", "text/html,application/xhtml+xml")
            .header("accept-language", languages)
            .send()
            .await?)
    }

    /// A GET as an API call (Accept: application/json).
    pub async fn api(&self, url: &str) -> Result<Response> {
        Ok(self.http.get(url).header("accept", "application/json").send().await?)
    }

    /// The `Cookie` header this client would send to `url`.
    pub fn cookies_for(&self, url: &str) -> String {
        Url::parse(url)
            .ok()
            .and_then(|u| self.jar.cookies(&u))
            .and_then(|v| v.to_str().ok().map(str::to_string))
            .unwrap_or_default()
    }

    /// Follows redirects and fills the IdP's forms (signing in as `login`) until a
    /// response that is neither; stops early, without requesting it, at the first
    /// URL for which `stop` is true.
    pub async fn walk_until(&self, start: Response, login: &str, stop: impl Fn(&Url) -> bool) -> Result<Landing> {
        let mut resp = start;
        let mut visited = vec![resp.url().clone()];
        for _ in 0..25 {
            if resp.status().is_redirection() {
                let location = resp
                    .headers()
                    .get("location")
                    .context("redirect without Location")?
                    .to_str()?;
                let next = resp.url().join(location)?;
                if stop(&next) {
                    return Ok(Landing {
                        status: resp.status(),
                        url: next,
                        headers: resp.headers().clone(),
                        body: String::new(),
                        visited,
                    });
                }
                visited.push(next.clone());
                resp = self.page(next.as_str()).await?;
                continue;
            }
            let (status, url, headers) = (resp.status(), resp.url().clone(), resp.headers().clone());
            let body = resp.text().await?;
            if let Some(form) = IdpForm::parse(&body) {
                let action = url.join(&form.action)?;
                let mut fields = form.hidden;
                if fields.iter().any(|(k, v)| k == "prompt" && v == "login") {
                    fields.push(("login".into(), login.into()));
                    fields.push(("password".into(), "any-password".into()));
                }
                visited.push(action.clone());
                resp = self
                    .http
                    .post(action)
                    .header("accept", "text/html")
                    .form(&fields)
                    .send()
                    .await?;
                continue;
            }
            return Ok(Landing {
                status,
                url,
                headers,
                body,
                visited,
            });
        }
        bail!("too many hops: {visited:?}")
    }

    /// [`Self::walk_until`] without stopping early.
    pub async fn walk(&self, start: Response, login: &str) -> Result<Landing> {
        self.walk_until(start, login, |_| false).await
    }
}

/// A sign-in or consent form of the IdP: its action and hidden fields.
struct IdpForm {
    action: String,
    hidden: Vec<(String, String)>,
}

impl IdpForm {
    fn parse(html: &str) -> Option<IdpForm> {
        let start = html.find("<form")?;
        let form = &html[start..start + html[start..].find("</form>")?];
        let action = attr(&form[..form.find('>')?], "action")?;
        let mut hidden = Vec::new();
        let mut rest = form;
        while let Some(i) = rest.find("<input") {
            let tag_end = rest[i..].find('>')? + i;
            let tag = &rest[i..tag_end];
            if attr(tag, "type").as_deref() == Some("hidden") {
                if let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value")) {
                    hidden.push((n, v));
                }
            }
            rest = &rest[tag_end..];
        }
        hidden
            .iter()
            .any(|(k, _)| k == "prompt")
            .then_some(IdpForm { action, hidden })
    }
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let end = tag[i..].find('"')? + i;
    Some(tag[i..end].replace("&amp;", "&"))
}

/// The request the storefront origin received, from its JSON echo or the JSON block
/// embedded in its HTML page.
pub fn echo_of(body: &str) -> Result<serde_json::Value> {
    if let Ok(v) = serde_json::from_str(body) {
        return Ok(v);
    }
    let start = body
        .find("<script type=\"application/json\" id=\"echo\">")
        .context("no echo in page")?;
    let rest = &body[start..];
    let open = rest.find('>').context("bad echo")? + 1;
    let close = rest.find("</script>").context("bad echo")?;
    Ok(serde_json::from_str(&rest[open..close])?)
}

/// The customer the origin was told about for a request to `url` that shows this
/// `Cookie` header (a logout clears the jar's cookie; an attacker keeps a copy).
pub async fn customer_with_cookie(cookie: &str, url: &str) -> Option<String> {
    customer_as(&["shop"], url, ("cookie", cookie)).await
}

/// The customer the origin was told about for an API call (no redirect) to `url`
/// carrying the header `credential` (a `Cookie`, an `Authorization`), from a client
/// that resolves `hosts`; `None` when it was anonymous or refused.
pub async fn customer_as(hosts: &[&str], url: &str, credential: (&str, &str)) -> Option<String> {
    let client = Shopper::new(hosts).ok()?;
    let resp = client
        .http
        .get(url)
        .header("accept", "application/json")
        .header(credential.0, credential.1)
        .send()
        .await
        .ok()?;
    if resp.status() != 200 {
        return None;
    }
    let echo = echo_of(&resp.text().await.ok()?).ok()?;
    echo["headers"]["x-customer-id"].as_str().map(str::to_string)
}

/// The status of an API call to `url` and the customer the origin was told about
/// (`0` when the gateway could not be reached).
pub async fn status_and_customer(shopper: &Shopper, url: &str) -> (u16, Option<String>) {
    let Ok(resp) = shopper.api(url).await else {
        return (0, None);
    };
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    let who = echo_of(&body)
        .ok()
        .and_then(|e| e["headers"]["x-customer-id"].as_str().map(str::to_string));
    (status, who)
}

/// Polls for up to `limit` until `url` is anonymous for this copy of a cookie.
pub async fn anonymous_within(cookie: &str, url: &str, limit: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if customer_with_cookie(cookie, url).await.is_none() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}
