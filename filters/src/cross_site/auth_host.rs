//! The group's auth host (`sso.auth_host`): two endpoints, no origin behind it.
//!
//! - `GET /_sso/link?site=NAME&state=S&return_to=/p[&intent=check|login|bind]`: a
//!   linked site sends the browser here. With a live SSO session (and intent
//!   `check` or `login`) the browser goes back to the site's `/_sso/ott` with a
//!   one-time token for that site and state; otherwise it goes back without one
//!   (and, for `bind`, with the hash of this browser's binding cookie, set now).
//! - `GET /_sso/adopt?token=T`: after a sign-in on a site, sets the SSO cookie the
//!   token carries, only for the browser holding the binding the token names, and
//!   sends it on to the site.
//!
//! The browser only ever goes to a configured site's public URL, to a checked
//! same-site path. Every answer is `no-store` and `Referrer-Policy: no-referrer` (a
//! token in a URL must not leak through `Referer`). Anything else is a 404 page.

use super::cookies::{AuthHostCookies, Intent, BINDING_TTL};
use super::group::{LinkedSite, SsoGroup};
use super::tokens::{is_state, same, BrowserBinding, SsoSessionId};
use crate::events::AuthEvents;
use crate::rate_limit::{Endpoint, RateLimiter, Scope};
use crate::reply::{wants_json, Reply};
use crate::request_parts::query_param;
use crate::return_to::safe_return_to;
use crate::sessions::cookie::find_cookie;
use crate::store::Stores;
use http::Method;
use sso_config::Config;
use std::net::IpAddr;
use std::sync::Arc;

/// The label the auth host's events carry in place of a site name.
pub const AUTH_HOST_LABEL: &str = "auth-host";

pub struct AuthHost {
    pub group: SsoGroup,
    cookies: AuthHostCookies,
    /// The auth host's name, lower case, without port.
    host: String,
    events: Arc<dyn AuthEvents>,
    /// `server.rate_limits.link`: one-time tokens minted per client and per SSO session.
    rate_limits: RateLimiter,
}

impl AuthHost {
    /// The auth host of `config`, when it has `[sso]`.
    pub fn from_config(config: &Config, stores: &Stores, events: Arc<dyn AuthEvents>) -> Option<Self> {
        let group = SsoGroup::from_config(config, stores)?;
        let host = group
            .config
            .auth_url
            .host_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        Some(AuthHost {
            cookies: AuthHostCookies::new(&group.config),
            group,
            host,
            rate_limits: RateLimiter::new(
                &config.server.rate_limits,
                Scope::auth_host(AUTH_HOST_LABEL),
                stores.rate_counts.clone(),
                events.clone(),
            ),
            events,
        })
    }

    /// True when a request for `authority` (`Host`, port ignored) is for the auth host.
    pub fn serves(&self, authority: &str) -> bool {
        crate::site_router::host_without_port(authority)
            .map(|h| h.strip_suffix('.').unwrap_or(h))
            .is_some_and(|h| h.eq_ignore_ascii_case(&self.host))
    }

    /// Answers a request on the auth host (`path` is the canonical request path;
    /// `client` the shopper's address as the gateway believes it, for rate limits).
    pub async fn handle(&self, req: &http::request::Parts, path: &str, client: Option<IpAddr>) -> Reply {
        let json = wants_json(&req.headers);
        let reply = match path {
            "/_sso/link" | "/_sso/adopt" if req.method != Method::GET => {
                Reply::error(405, "method_not_allowed", "This method is not allowed here.", json)
            }
            "/_sso/link" => self.link(req, client).await,
            "/_sso/adopt" => self.adopt(req).await,
            _ => Reply::error(404, "not_found", "There is nothing here.", json),
        };
        reply
            .header("cache-control", "no-store")
            .header("referrer-policy", "no-referrer")
    }

    fn refuse(&self, code: &str, message: &str, req: &http::request::Parts) -> Reply {
        self.refuse_for(None, code, message, req)
    }

    /// [`Self::refuse`] of a request that named its shop: the page leads back to it.
    fn refuse_for(&self, site: Option<&LinkedSite>, code: &str, message: &str, req: &http::request::Parts) -> Reply {
        self.events.rejected(AUTH_HOST_LABEL, code);
        tracing::info!(reason = code, "auth host refused a request");
        let home = site.map(|s| s.url("/"));
        let link = home.as_deref().map(|h| (h, "back_to_shop"));
        Reply::error_with_link(400, code, message, wants_json(&req.headers), link)
    }

    async fn link(&self, req: &http::request::Parts, client: Option<IpAddr>) -> Reply {
        let query = req.uri.query().unwrap_or("");
        let param = |name: &str| query_param(query, name);
        let Some((name, site)) = param("site").and_then(|n| self.group.sites.get_key_value(&n)) else {
            return self.refuse("unknown_site", "This shop is not part of the group.", req);
        };
        let Some(state) = param("state").filter(|s| is_state(s)) else {
            return self.refuse_for(Some(site), "bad_state", "This sign-in link is not valid.", req);
        };
        let intent = param("intent").as_deref().map_or(Some(Intent::Check), Intent::parse);
        let Some(intent) = intent else {
            return self.refuse_for(Some(site), "bad_intent", "This sign-in link is not valid.", req);
        };
        let return_to = param("return_to")
            .and_then(|r| safe_return_to(&r).map(str::to_string))
            .unwrap_or_else(|| "/".to_string());
        let back = |extra: &[(&str, &str)]| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("state", &state).append_pair("return_to", &return_to);
            for (k, v) in extra {
                q.append_pair(k, v);
            }
            ott_url(site, &q.finish())
        };
        if intent != Intent::Bind {
            let token = self.token_for(req, name, &state, client).await;
            return match token {
                Some(token) => Reply::redirect(303, back(&[("token", &token)])),
                None => Reply::redirect(303, back(&[])),
            };
        }
        // Bind: this browser's binding (kept when it has one), its hash to the site.
        let held = find_cookie(&req.headers, &self.cookies.binding_name).and_then(BrowserBinding::parse);
        let binding = held.unwrap_or_else(BrowserBinding::random);
        let reply = Reply::redirect(303, back(&[("bind", &binding.key())]));
        match held {
            Some(_) => reply,
            None => reply.header(
                "set-cookie",
                self.cookies
                    .set(&self.cookies.binding_name, &binding.encode(), BINDING_TTL),
            ),
        }
    }

    /// A one-time token for `site` when the browser has a live SSO session, within
    /// the client's and the SSO session's `server.rate_limits.link`: past either, the
    /// browser goes back without one (the site shows its page anonymous and does not
    /// ask again for a while), and nothing is stored.
    async fn token_for(
        &self,
        req: &http::request::Parts,
        site: &str,
        state: &str,
        client: Option<IpAddr>,
    ) -> Option<String> {
        let id = find_cookie(&req.headers, &self.cookies.session_name).and_then(SsoSessionId::parse)?;
        let handle = id.key();
        let found = self.group.get(&handle).await;
        if matches!(found, Ok(Some(_))) {
            // Counted only for a live SSO session: made-up cookies cost the store a
            // read, never a shared address its budget.
            let limited = match self.rate_limits.check(Endpoint::Link, client).await {
                Ok(()) => self.rate_limits.check_session(Endpoint::Link, &handle).await,
                refused => refused,
            };
            if limited.is_err() {
                self.events.rate_limited(AUTH_HOST_LABEL, Endpoint::Link.as_str());
                tracing::debug!(site, "one-time token not minted: rate limited");
                return None;
            }
        }
        match found {
            Ok(Some(_)) => match self.group.mint_ott(site, &handle, state).await {
                Ok(token) => {
                    self.events.one_time_token(site, "minted");
                    Some(token.encode())
                }
                Err(e) => {
                    tracing::warn!(site, error = %e, "one-time token not minted: store unavailable");
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(site, error = %e, "SSO session not read: store unavailable");
                None
            }
        }
    }

    async fn adopt(&self, req: &http::request::Parts) -> Reply {
        let token = query_param(req.uri.query().unwrap_or(""), "token").unwrap_or_default();
        let grant = match self.group.take_adopt(&token).await {
            Ok(Some(grant)) => grant,
            Ok(None) => {
                return self.refuse(
                    "adopt_unknown",
                    "This sign-in link has expired or was already used. Go back to the shop.",
                    req,
                )
            }
            Err(e) => {
                tracing::warn!(error = %e, "adopt token not read: store unavailable");
                return crate::reply::store_unavailable(wants_json(&req.headers));
            }
        };
        let Some(site) = self.group.sites.get(&grant.site) else {
            return self.refuse("unknown_site", "This shop is not part of the group.", req);
        };
        let return_to = safe_return_to(&grant.return_to).unwrap_or("/");
        let back = site.url(return_to);
        let binding = find_cookie(&req.headers, &self.cookies.binding_name).and_then(BrowserBinding::parse);
        if !binding.is_some_and(|b| same(&b.key(), &grant.binding)) {
            // Another browser's token (login CSRF: a link made from someone else's
            // sign-in): nothing is set; the shopper goes on to the shop.
            self.events.rejected(AUTH_HOST_LABEL, "adopt_other_browser");
            tracing::info!(site = %grant.site, "adopt token presented by another browser; refused");
            return Reply::redirect(303, back);
        }
        let Some(id) = SsoSessionId::parse(&grant.secret) else {
            return self.refuse_for(Some(site), "adopt_unknown", "This sign-in link is not valid.", req);
        };
        // The browser's previous SSO session, if another, is replaced; no session may
        // stay linked to an SSO session no browser can reach any more (a global logout
        // would miss it). The same shopper's is chained to the new one (a logout ends
        // both; a sign-in elsewhere, even one another site set off, signs nobody out);
        // another shopper's ends with its sessions (`auto` sites link anew).
        let previous = find_cookie(&req.headers, &self.cookies.session_name).and_then(SsoSessionId::parse);
        if let Some(previous) = previous.filter(|p| *p != id) {
            if let Err(e) = self.replace(&previous.key(), &id.key()).await {
                tracing::warn!(error = %e, "the replaced SSO session could not be chained or ended");
                return crate::reply::store_unavailable(wants_json(&req.headers));
            }
        }
        tracing::info!(site = %grant.site, "SSO session adopted by the auth host");
        Reply::redirect(303, back)
            .header(
                "set-cookie",
                self.cookies
                    .set(&self.cookies.session_name, &id.encode(), self.group.config.session_ttl),
            )
            .header(
                "set-cookie",
                self.cookies
                    .set(&self.cookies.binding_name, "", std::time::Duration::ZERO),
            )
    }
}

impl AuthHost {
    /// The browser's SSO session `earlier` gives way to `current`: chained to it when
    /// both are the same shopper's, else ended with its linked sessions.
    async fn replace(&self, earlier: &str, current: &str) -> Result<(), crate::store::StoreError> {
        let (Some(old), Some(new)) = (self.group.get(earlier).await?, self.group.get(current).await?) else {
            return self.group.end(earlier).await.map(|_| ());
        };
        if old.same_shopper(&new) && self.group.chain(current, earlier).await? {
            return Ok(());
        }
        self.group.end(earlier).await.map(|_| ())
    }
}

/// The site's `/_sso/ott` URL with `query`.
fn ott_url(site: &LinkedSite, query: &str) -> String {
    site.url(&format!("{}/ott?{query}", site.sso_prefix))
}
