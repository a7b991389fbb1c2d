//! The scripted shopper: a cookie-keeping HTTP client that resolves `*.localhost`
//! to loopback (the system resolver here does not) and never follows redirects by
//! itself, so tests see every hop.

use anyhow::{Context, Result};
use reqwest::redirect::Policy;
use reqwest::{Client, Response};
use std::net::SocketAddr;

pub struct Shopper {
    pub http: Client,
}

impl Shopper {
    /// A client that sends `host.localhost` names of `hosts` to 127.0.0.1.
    pub fn new(hosts: &[&str]) -> Result<Shopper> {
        let mut builder = Client::builder().redirect(Policy::none()).cookie_store(true);
        for host in hosts {
            builder = builder.resolve(&format!("{host}.localhost"), SocketAddr::from(([127, 0, 0, 1], 0)));
        }
        Ok(Shopper { http: builder.build()? })
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

    /// A GET as an API call (Accept: application/json).
    pub async fn api(&self, url: &str) -> Result<Response> {
        Ok(self.http.get(url).header("accept", "application/json").send().await?)
    }
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
