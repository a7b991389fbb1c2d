//! The link rounds of a linked site (`[sites.sso]` mode `auto` or `opt_in`): the
//! automatic trip of an anonymous page load to the group's auth host, the sign-in
//! that asks the auth host first, `<sso_prefix>/ott` (redeem a one-time token, bind a
//! new SSO session, or come back without either), and the binding round after a
//! sign-in here.

use super::CrossSite;
use crate::auth::{Identity, SiteAuth};
use crate::cross_site::cookies::{parse_state_value, state_value, Intent, CHECKED_TTL, STATE_TTL};
use crate::cross_site::group::OttError;
use crate::cross_site::tokens::same;
use crate::features::SitePipeline;
use crate::reply::Reply;
use crate::request_parts::query_param as param;
use crate::return_to::safe_return_to;
use crate::secret::random_token;
use crate::sessions::cookie::find_cookie;
use crate::sessions::LoginMethod;
use sso_config::sso::SsoMode;
use std::net::IpAddr;

/// User agents that are never sent to the auth host: crawlers and link previewers
/// (matched case-insensitively anywhere in `User-Agent`). A request without a
/// `User-Agent` counts as one too. Their pages stay public and cacheable.
const CRAWLERS: [&str; 12] = [
    "bot",
    "crawl",
    "spider",
    "slurp",
    "facebookexternalhit",
    "embedly",
    "preview",
    "lighthouse",
    "pingdom",
    "monitor",
    "curl/",
    "wget/",
];

/// True when the request says it comes from a crawler or a link previewer.
pub fn is_crawler(headers: &http::HeaderMap) -> bool {
    let Some(agent) = headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let agent = agent.to_ascii_lowercase();
    CRAWLERS.iter().any(|c| agent.contains(c))
}

/// Link rounds a browser may have open at once before the cookies of those that
/// never came back are cleared.
const MAX_ROUNDS: usize = 4;

/// The query parameter that stops the automatic trip for one page load (a browser
/// that keeps no cookies here would otherwise go round forever).
const SKIP_PARAM: &str = "sso_checked";

/// `return_to` with the [`SKIP_PARAM`] added.
fn with_skip(return_to: &str) -> String {
    let (path, fragment) = return_to.split_at(return_to.find('#').unwrap_or(return_to.len()));
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}{SKIP_PARAM}=1{fragment}")
}

/// The name (after the site's link-cookie prefix) of the state cookie of the round
/// with `state`: 16 hex digits of its hash.
fn state_cookie(state: &str) -> String {
    let hash = crate::store::hashed_key(&["link-state", state]);
    format!("state_{}", &hash[..16])
}

impl CrossSite {
    /// `auto` sites: an anonymous top-level `GET` page load (not a crawler, no fresh
    /// `checked` marker, no `off` marker) goes to the auth host first, and comes back
    /// signed in when the browser has an SSO session. `None`: go on as usual.
    /// (The feature's `wants_gate` checked the mode, the identity, the store and the
    /// navigation.)
    pub fn auto_link(&self, core: &SiteAuth, req: &http::request::Parts) -> Option<Reply> {
        if self.config.mode != SsoMode::Auto || is_crawler(&req.headers) {
            return None;
        }
        // Only on the public host: the one-time token comes back there, and so must the
        // state cookie (another of the site's hosts moves to it at its first login).
        if core.to_public_host(req).is_some() {
            return None;
        }
        if req.uri.query().is_some_and(|q| param(q, SKIP_PARAM).is_some()) {
            return None;
        }
        let headers = &req.headers;
        if find_cookie(headers, &core.cookies.link_name("checked")).is_some()
            || find_cookie(headers, &core.cookies.link_name("off")).is_some()
        {
            return None;
        }
        let here = req.uri.path_and_query().map_or("/", |p| p.as_str());
        let return_to = crate::return_to::return_to_or_root(Some(here));
        Some(self.to_auth_host(core, Some(headers), Intent::Check, &return_to, None))
    }

    /// A sign-in on a linked site asks the auth host first (one click when there is
    /// an SSO session), unless it did a moment ago (`checked` marker). `login_query`
    /// is the `/login` query to go on with when there is none.
    pub fn login_via_auth_host(
        &self,
        core: &SiteAuth,
        headers: &http::HeaderMap,
        return_to: &str,
        login_query: Option<&str>,
    ) -> Option<Reply> {
        // Asked a moment ago, or signed out of this site only: the site's own sign-in
        // (after a site logout the shopper may want to sign in as someone else).
        if find_cookie(headers, &core.cookies.link_name("checked")).is_some()
            || find_cookie(headers, &core.cookies.link_name("off")).is_some()
        {
            return None;
        }
        Some(self.to_auth_host(core, Some(headers), Intent::Login, return_to, login_query))
    }

    /// The redirect to the auth host's `/_sso/link` for `intent`, with a fresh state
    /// in this site's state cookie.
    /// `headers`: the request's, when at hand (to clear the cookies of rounds that
    /// never came back).
    pub(super) fn to_auth_host(
        &self,
        core: &SiteAuth,
        headers: Option<&http::HeaderMap>,
        intent: Intent,
        return_to: &str,
        login_query: Option<&str>,
    ) -> Reply {
        let group = &self.group;
        let state = random_token();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("site", &core.site.name)
            .append_pair("state", &state)
            .append_pair("intent", intent.as_str())
            .append_pair("return_to", return_to)
            .finish();
        let cookie = state_value(&state, intent, login_query);
        // Rounds cut off before they came back leave their cookie behind for a while:
        // past a few, they all go (a tab still in a round then simply comes back
        // anonymous), so the browser's cookie jar for the site stays small.
        let mut stale = headers
            .map(|h| core.cookies.link_cookies(h, "state_"))
            .unwrap_or_default();
        if stale.len() < MAX_ROUNDS {
            stale.clear();
        }
        let reply = stale.iter().fold(
            Reply::redirect(303, group.auth_url(&format!("/_sso/link?{query}"))),
            |reply, what| reply.header("set-cookie", core.cookies.set_link(what, "", 0)),
        );
        reply
            .header(
                "set-cookie",
                core.cookies
                    .set_link(&state_cookie(&state), &cookie, STATE_TTL.as_secs() as i64),
            )
            .header("cache-control", "no-store")
            .header("referrer-policy", "no-referrer")
    }

    /// `<sso_prefix>/ott`: the browser is back from the auth host, with a one-time
    /// token (sign in), a binding (hand the new SSO session to the auth host), or
    /// neither (no SSO session: mark it and go on). The `state` must be the one this
    /// browser's state cookie holds, else nothing happens (a link made for someone
    /// else's browser: login CSRF).
    pub(crate) async fn ott_endpoint(
        &self,
        site: &SitePipeline,
        req: &http::request::Parts,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
    ) -> Reply {
        let core = &site.core;
        let query = req.uri.query().unwrap_or("");
        let token = param(query, "token");
        // Only a redemption costs the rate limit (a store write): a crowd behind one
        // address coming back without a token is never refused its page.
        if token.is_some() {
            if let Some(limited) = core
                .over_limit(crate::rate_limit::Endpoint::Callback, client, false)
                .await
            {
                return limited;
            }
        }
        let return_to = param(query, "return_to")
            .and_then(|r| safe_return_to(&r).map(str::to_string))
            .unwrap_or_else(|| "/".to_string());
        let asked = param(query, "state")
            .filter(|s| crate::cross_site::tokens::is_state(s))
            .unwrap_or_default();
        // Each round has its own state cookie, so two tabs do not undo each other.
        let cookie_name = core.cookies.link_name(&state_cookie(&asked));
        let held = find_cookie(&req.headers, &cookie_name).and_then(parse_state_value);
        let reply = match held {
            Some((state, intent, login_query)) if same(state, &asked) => match intent {
                Intent::Bind => self.bind(core, query, identity, &return_to).await,
                Intent::Check | Intent::Login => match token {
                    Some(token) => {
                        let round = super::redeem::Round {
                            token: &token,
                            state,
                            client,
                            return_to: &return_to,
                            intent,
                            login_query,
                        };
                        super::redeem::redeem(self, site, identity, round).await
                    }
                    None => self.no_sso_session(core, intent, &return_to, login_query.as_deref()),
                },
            },
            _ => {
                core.events.rejected(&core.site.name, "sso_state");
                if let (Some(token), group) = (&token, &self.group) {
                    // Spent all the same: a token that reached the wrong browser must
                    // not stay usable for whoever else saw its URL.
                    if let Err(e) = group.spend(token).await {
                        tracing::warn!(site = %core.site.name, error = %e, "refused one-time token not spent: store unavailable");
                    }
                    core.events.login(
                        &core.site.name,
                        LoginMethod::Ott.as_str(),
                        OttError::OtherBrowser.code(),
                    );
                    core.events.one_time_token(&core.site.name, "refused");
                }
                tracing::info!(site = %core.site.name, "cross-site sign-on answer without this browser's state; ignored");
                // A browser that keeps no cookies for this site would be sent to the
                // auth host again and again: the page itself says "checked" too.
                let back = match held {
                    None => with_skip(&return_to),
                    Some(_) => return_to.clone(),
                };
                self.no_sso_session(core, Intent::Check, &back, None)
            }
        };
        reply
            .header("set-cookie", core.cookies.set_link(&state_cookie(&asked), "", 0))
            .header("cache-control", "no-store")
            .header("referrer-policy", "no-referrer")
    }

    /// No SSO session (or a token that did not work): the `checked` marker, then the
    /// page (`check`) or this site's own sign-in (`login`).
    pub(super) fn no_sso_session(
        &self,
        core: &SiteAuth,
        intent: Intent,
        return_to: &str,
        login_query: Option<&str>,
    ) -> Reply {
        let target = match intent {
            Intent::Login => match login_query {
                Some(q) => format!("{}/login?{q}", core.site.sso_prefix),
                None => format!(
                    "{}/login?{}",
                    core.site.sso_prefix,
                    url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("return_to", return_to)
                        .finish()
                ),
            },
            _ => return_to.to_string(),
        };
        Reply::redirect(303, target).header(
            "set-cookie",
            core.cookies.set_link("checked", "1", CHECKED_TTL.as_secs() as i64),
        )
    }

    /// Back from the binding round after a sign-in here: the new SSO session goes to
    /// the auth host with an adopt token for this browser's binding.
    async fn bind(&self, core: &SiteAuth, query: &str, identity: Option<&Identity>, return_to: &str) -> Reply {
        let group = &self.group;
        let (Some(binding), Some(handle)) = (
            param(query, "bind").filter(|b| b.len() == 64),
            identity
                .filter(|i| i.from_cookie())
                .and_then(|i| i.session.sso.as_deref()),
        ) else {
            return Reply::redirect(303, return_to.to_string());
        };
        let adopt = match group.take_pending(handle).await {
            Ok(Some(id)) => group.mint_adopt(&id, &binding, &core.site.name, return_to).await,
            Ok(None) => return Reply::redirect(303, return_to.to_string()),
            Err(e) => Err(e),
        };
        match adopt {
            Ok(token) => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("token", &token.encode())
                    .finish();
                Reply::redirect(303, group.auth_url(&format!("/_sso/adopt?{query}")))
            }
            Err(e) => {
                tracing::warn!(site = %core.site.name, error = %e, "SSO session not handed to the auth host: store unavailable");
                Reply::redirect(303, return_to.to_string())
            }
        }
    }

    /// Where the browser goes after a sign-in here that started an SSO session: the
    /// auth host's binding round, then on to `target`.
    pub fn through_auth_host(&self, core: &SiteAuth, target: &str) -> Reply {
        self.to_auth_host(core, None, Intent::Bind, target, None)
            .header("set-cookie", core.cookies.set_link("off", "", 0))
            .header("set-cookie", core.cookies.set_link("checked", "", 0))
    }
}
