//! A site is a list of features (docs/architecture.md).
//!
//! The site's small shared core — sessions, cookies, the token signer, the IdPs, rate
//! limits, events — is [`SiteAuth`](crate::auth::SiteAuth). Everything else the site
//! does is a [`Feature`]: one type in its own file, built from the site's
//! configuration in one place ([`registry`]), that declares
//!
//! - the gateway paths it answers ([`Feature::paths`], [`Feature::answer`]),
//! - the decision it adds to the gate, for requests no endpoint answered
//!   ([`Feature::wants_gate`], [`Feature::gate`]),
//! - the requests that skip every gate ([`Feature::passes`]),
//! - what it adds to, or removes from, the upstream request ([`Feature::upstream`]),
//! - what it adds to the gateway's own answers ([`Feature::answering`]),
//! - and what it does when a sign-in starts or ends ([`Feature::signed_in`],
//!   [`Feature::signing_out`], [`Feature::revoked`], [`Feature::revalidate`]).
//!
//! [`SitePipeline`] holds the core and the list; the proxy and the endpoint dispatch
//! loop over the list and never name a feature. Features that another feature's
//! flow consults (the IdP sign-in asks provisioning, cross-site sign-on and the
//! platform hand-off) are reached through [`Features`]' typed handles, so each such
//! seam is one method with a contract, not a field of a shared struct.

pub mod backchannel_logout;
pub mod cors;
pub mod cross_site;
pub mod customer_login;
pub mod ecwid_profile;
pub mod forward_auth;
pub mod handoff_return;
pub mod idp_token_forwarding;
pub mod lifecycle;
pub mod logout;
pub mod multipass;
pub mod oidc_login;
pub mod origin_credentials;
pub mod pipeline;
pub mod platform_handoff;
pub mod provisioning;
pub mod registry;
pub mod route_access;
pub mod route_requirements;
pub mod session_info;
pub mod sso_data;
pub mod step_up;
pub mod way_back;

pub use pipeline::SitePipeline;
pub use registry::Features;

use crate::auth::Identity;
use crate::identity::Customer;
use crate::reply::Reply;
use crate::sessions::{LoginMethod, SessionData};
use crate::store::StoreError;
use crate::Flow;
use async_trait::async_trait;
use http::{HeaderName, HeaderValue};
use std::net::IpAddr;

/// A gateway path a feature answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayPath {
    /// `<sso_prefix>` followed by this (e.g. `/handoff`).
    UnderPrefix(&'static str),
    /// This exact path, and the same path written another way (letter case,
    /// `;parameters`, a trailing `/`), which the feature answers too (with a 404:
    /// an origin that folds case must never get what the gateway did not read).
    Folded(String),
    /// Every path starting with this one (which ends with `/`), in any case.
    FoldedPrefix(String),
}

/// What the route of a request says, as the pipeline read it from the route table.
#[derive(Debug, Clone, Copy)]
pub struct RouteFacts<'a> {
    /// The `[[sites.routes]]` rule the request is on, if any: a per-route feature
    /// reads its own keys from it.
    pub rule: Option<&'a sso_config::RouteConfig>,
    pub access: sso_config::Access,
    /// The route forwards the IdP access token (`forward_idp_access_token`).
    pub forwards_idp_token: bool,
    /// The route matched a reading of the path (case folded, `;` dropped) that is
    /// not the path itself.
    pub route_key_differs: bool,
}

/// A request as the site's features see it, once its identity is known.
pub struct SiteRequest<'a> {
    pub req: &'a http::request::Parts,
    /// The canonical path (every decision uses this one).
    pub path: &'a str,
    /// The path after `sso_prefix` (`""`, `/login`, ...) when it is under it.
    pub under_prefix: Option<&'a str>,
    pub identity: Option<&'a Identity>,
    /// The shopper's address as the gateway believes it (rate limits).
    pub client: Option<IpAddr>,
    /// The peer is in `server.trusted_proxies`: its forwarding headers are believed.
    pub peer_trusted: bool,
    /// The request's credential could not be checked (session store unreachable).
    pub store_down: bool,
    /// The request body, read where a feature's [`Feature::body_limit`] asked.
    pub body: Option<&'a [u8]>,
    /// The caller wants JSON rather than a page.
    pub json: bool,
    pub route: RouteFacts<'a>,
}

impl SiteRequest<'_> {
    /// The query string (`""` when none).
    pub fn query(&self) -> &str {
        self.req.uri.query().unwrap_or("")
    }

    /// `GET` or `HEAD`.
    pub fn is_get(&self) -> bool {
        self.req.method == http::Method::GET || self.req.method == http::Method::HEAD
    }

    /// The identity, when the request showed the session cookie (not an API token).
    pub fn browser(&self) -> Option<&Identity> {
        self.identity.filter(|i| i.from_cookie())
    }
}

/// What the features change on the request the origin gets, applied by the gateway:
/// removals and the `Cookie` lines before proxying, `set` in the upstream request.
#[derive(Debug, Default)]
pub struct UpstreamEdits {
    pub remove: Vec<HeaderName>,
    /// Replaces every `Cookie` line with these (possibly none).
    pub cookies: Option<Vec<HeaderValue>>,
    pub set: Vec<(HeaderName, HeaderValue)>,
}

/// A sign-in just stored: what the features hear of it.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub sid: crate::secret::Sid,
    pub login: crate::sessions::LoginSource,
    pub customer_id: String,
    pub expires_at: u64,
    /// The SSO session it is linked to, if any.
    pub sso: Option<String>,
    /// The session holds an IdP grant (a refresh token) that the IdP may revoke.
    pub holds_grant: bool,
}

/// A shopper just signed in (or back from the auth host's binding round), about to
/// land: what a hand-off to another platform reads ([`Feature::hand_off`]).
#[derive(Debug, Clone, Copy)]
pub struct Landing<'a> {
    /// The session's customer (the id a provisioning hook named, or the IdP subject).
    pub customer: &'a Customer,
    /// The customer's e-mail address is verified: the IdP said `email_verified`, or
    /// the merchant's website vouched for it in a customer-login JWT
    /// ([`crate::sessions::LoginSource::email_verified`]).
    pub email_verified: bool,
    /// How the shopper signed in.
    pub method: LoginMethod,
    /// Where the shopper was going (already checked as a same-site path).
    pub return_to: &'a str,
    /// The shopper's address as seen through the trusted proxies, when known.
    pub client: Option<IpAddr>,
    /// The caller wants JSON rather than a page.
    pub json: bool,
}

/// What a hand-off decided for a [`Landing`].
#[derive(Debug)]
pub enum Handoff {
    /// Send the browser here: the platform's sign-in URL with a token minted now.
    To(String),
    /// Show this instead (the platform cannot sign this shopper in); the shopper
    /// stays signed in at the gateway.
    Page(Reply),
}

/// The per-request roles of a feature (see [`Feature::roles`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Roles {
    /// It implements [`Feature::wants_gate`] / [`Feature::gate`] or [`Feature::passes`].
    pub gate: bool,
    /// It implements [`Feature::upstream`].
    pub upstream: bool,
}

/// What a feature adds to a sign-in that was just stored.
#[derive(Debug, Default)]
pub struct SignInNote {
    /// The browser should now go through the group's auth host (cross-site binding).
    pub through_auth_host: bool,
}

/// One feature of a site. Every method has a default that does nothing, so a
/// feature implements only what it adds. Methods on the request path that every
/// request reaches are synchronous; the asynchronous ones run only for requests the
/// feature said it wants.
#[async_trait]
pub trait Feature: Send + Sync {
    /// The feature's name, for logs and docs.
    fn name(&self) -> &'static str;

    /// The gateway paths it answers.
    fn paths(&self) -> Vec<GatewayPath> {
        Vec::new()
    }

    /// How much of the request body it needs (413 past it) for a request on one of
    /// its paths; read by the gateway before [`Feature::answer`].
    fn body_limit(&self, _req: &http::request::Parts, _under_prefix: &str) -> Option<usize> {
        None
    }

    /// Answers a request on one of its paths.
    async fn answer(&self, _site: &SitePipeline, _r: &SiteRequest<'_>) -> Reply {
        Reply::error(404, "not_found", "There is nothing here.", false)
    }

    /// What the feature takes part in on every request: the registry asks once, so
    /// the request path only visits the features that gate or edit upstream requests.
    fn roles(&self) -> Roles {
        Roles::default()
    }

    /// True when `r` goes on to the origin without any gate (cheap, no I/O): asked of
    /// every feature that gates ([`Roles::gate`]) before the first gate runs, and the
    /// first yes skips them all (the upstream edits still apply). For requests no
    /// gate may hold up: a CORS preflight, which carries no credential and belongs
    /// to the origin's CORS policy.
    fn passes(&self, _site: &SitePipeline, _r: &SiteRequest<'_>) -> bool {
        false
    }

    /// True when [`Feature::gate`] has something to decide for `r` (cheap, no I/O).
    fn wants_gate(&self, _site: &SitePipeline, _r: &SiteRequest<'_>) -> bool {
        false
    }

    /// Its decision for a request no endpoint answered, before it is proxied.
    async fn gate(&self, _site: &SitePipeline, _r: &SiteRequest<'_>) -> Flow<Reply> {
        Flow::Continue
    }

    /// What it adds to, or removes from, the upstream request; `Err` answers instead.
    fn upstream(&self, _site: &SitePipeline, _r: &SiteRequest<'_>, _edits: &mut UpstreamEdits) -> Result<(), Reply> {
        Ok(())
    }

    /// Adds to an answer the gateway itself gives to `r` (an endpoint's, a gate's, an
    /// upstream edit's refusal) before it is written: asked of every feature, in
    /// order (CORS headers for a script of an allowed origin).
    fn answering(&self, _site: &SitePipeline, _r: &SiteRequest<'_>, reply: Reply) -> Reply {
        reply
    }

    /// A sign-in on this site is about to be stored: the feature may link it to
    /// what it keeps (cross-site sign-on starts the SSO session here).
    async fn signing_in(&self, _site: &SitePipeline, _data: &mut SessionData) {}

    /// A sign-in was stored.
    async fn signed_in(&self, _site: &SitePipeline, _signed_in: &SignIn, _note: &mut SignInNote) {}

    /// The shopper signs out of `identity`'s session (already removed from the
    /// store). `from_elsewhere`: another site's page set the logout off. Returns the
    /// cookies to set; `Err` when what it must end could not be reached (the logout
    /// answers 503, and the shopper is not told they are signed out).
    async fn signing_out(
        &self,
        _site: &SitePipeline,
        _identity: &Identity,
        _from_elsewhere: bool,
    ) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    /// The source of `session` was revoked (the IdP refused a refresh, a back-channel
    /// logout named it): end everything the feature derived from it. How many
    /// sessions ended.
    async fn revoked(&self, _site: &SitePipeline, _session: &SessionData) -> Result<usize, StoreError> {
        Ok(0)
    }

    /// True when [`Feature::revalidate`] is due for this session (cheap, no I/O).
    fn revalidate_due(&self, _session: &SessionData) -> bool {
        false
    }

    /// Checks a session due for it against its source; `None` ends it.
    async fn revalidate(&self, _site: &SitePipeline, identity: Identity) -> Option<Identity> {
        Some(identity)
    }

    /// True when a sign-in by `method` on this site goes on to another platform after
    /// it (see [`Feature::hand_off`]): a sign-in that goes through the auth host's
    /// binding round first comes back to `<sso_prefix>/handoff` for it.
    fn hands_off(&self, _method: LoginMethod) -> bool {
        false
    }

    /// Where a signed-in shopper goes instead of `landing.return_to`: a platform's
    /// own sign-in URL carrying a token minted now for `landing.customer`, or a page
    /// saying why the platform cannot sign them in. `None`: not this feature's, or
    /// nothing could be minted (the shopper lands on `return_to`). Asked after every
    /// sign-in (IdP, customer-login JWT, one-time token) and at `<sso_prefix>/handoff`;
    /// the gateway session is made before, and stays whatever this answers.
    fn hand_off(&self, _site: &SitePipeline, _landing: &Landing<'_>) -> Option<Handoff> {
        None
    }

    /// What it adds to the `/_sso/session` answer: a key and its value.
    async fn session_info(
        &self,
        _site: &SitePipeline,
        _identity: Option<&Identity>,
    ) -> Option<(&'static str, serde_json::Value)> {
        None
    }
}
