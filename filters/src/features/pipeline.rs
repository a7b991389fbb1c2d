//! A site's pipeline: its core and its features, and the loops over them. The
//! gateway's `ProxyHttp` calls these in order — [`SitePipeline::endpoints`],
//! [`SitePipeline::gate`], [`SitePipeline::upstream`] — and names no feature; so do
//! sign-in ([`SitePipeline::sign_in`]), logout ([`SitePipeline::signing_out`]) and
//! revocation ([`SitePipeline::revoked`]). Refresh is in [`super::lifecycle`].

use super::{Features, RouteFacts, SignIn, SignInNote, SiteRequest, UpstreamEdits};
use crate::auth::{AuthEvents, AuthSetupError, Identity, NewSession, SiteAuth};
use crate::oidc::OidcProvider;
use crate::reply::Reply;
use crate::route_access::RouteTable;
use crate::secret::Sid;
use crate::sessions::SessionData;
use crate::store::{StoreError, Stores};
use crate::Flow;
use sso_config::{Config, SiteConfig};
use std::sync::Arc;

/// A site: the shared core and the features its configuration asks for.
pub struct SitePipeline {
    pub core: SiteAuth,
    pub features: Features,
    /// The site's `[[sites.routes]]`, read the way its paths are: the gateway asks it
    /// for each request, and so does forward-auth for the URL a proxy asks about.
    pub routes: RouteTable,
    /// The site's own pages: their design, templates and languages (`[sites.pages]`).
    pub pages: crate::pages::Pages,
    /// `sso_prefix` followed by `/`.
    prefix_dir: String,
}

impl SitePipeline {
    /// Builds the site's core, then its features (the registry). The long-lived
    /// pieces come from outside: the `stores`, and the IdP `providers` (see
    /// [`SiteAuth::from_config`]).
    pub fn from_config(
        config: &Config,
        site: &SiteConfig,
        stores: &Stores,
        providers: impl IntoIterator<Item = Arc<OidcProvider>>,
        events: Arc<dyn AuthEvents>,
    ) -> Result<Self, AuthSetupError> {
        let core = SiteAuth::from_config(config, site, stores, providers, events)?;
        let features = Features::from_config(config, &core)?;
        let pages = crate::pages::Pages::for_site(site).map_err(|e| AuthSetupError::Pages(e.0))?;
        let prefix_dir = format!("{}/", core.site.sso_prefix);
        Ok(SitePipeline {
            routes: RouteTable::from_config(&site.routes, site.paths),
            pages,
            core,
            features,
            prefix_dir,
        })
    }

    /// What the route table says of a request whose canonical path is `path` and
    /// whose route key ([`crate::request_path::RequestPath::route_key`]) is `route_key`.
    pub fn route(&self, route_key: &str, path: &str) -> RouteFacts<'_> {
        let rule = self.routes.rule(route_key);
        RouteFacts {
            rule,
            access: rule.map_or(sso_config::Access::Public, |r| r.access),
            forwards_idp_token: rule.is_some_and(|r| r.forward_idp_access_token),
            route_key_differs: route_key != path,
        }
    }

    /// `path` after the site's `sso_prefix`, when it is under it (`""` or `/…`).
    pub fn under_prefix<'a>(&self, path: &'a str) -> Option<&'a str> {
        let rest = path.strip_prefix(self.core.site.sso_prefix.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
    }

    /// Whether `req` is a gateway-owned request that needs its body, and how many
    /// bytes of it at most: the gateway then reads it before [`Self::endpoints`]
    /// (413 past the limit) and hands it over. Only for requests a feature answers (a
    /// body read here never reaches the origin).
    pub fn body_limit(&self, req: &http::request::Parts) -> Option<usize> {
        let path = req.uri.path();
        let under = self.under_prefix(path);
        let owner = under.is_some() || self.features.has_paths_elsewhere();
        match owner {
            true => self
                .features
                .for_path(path, under)?
                .body_limit(req, under.unwrap_or_default()),
            false => None,
        }
    }

    /// The gateway-owned paths: the feature that declared the path answers; any other
    /// path under `sso_prefix`, or under `sso_prefix` written another way (letter case,
    /// `;parameters`: an origin that folds them must never get a gateway URL's query,
    /// such as a one-time token), is a 404; everything else continues.
    pub async fn endpoints(&self, r: &SiteRequest<'_>) -> Flow<Reply> {
        if r.under_prefix.is_none() && self.is_prefix_variant(r.path) {
            return self.respond(r, Reply::error(404, "not_found", "There is nothing here.", r.json));
        }
        if r.under_prefix.is_none() && !self.features.has_paths_elsewhere() {
            return Flow::Continue;
        }
        match self.features.for_path(r.path, r.under_prefix) {
            Some(feature) => self.respond(r, feature.answer(self, r).await),
            None if r.under_prefix.is_some() => {
                self.respond(r, Reply::error(404, "not_found", "There is nothing here.", r.json))
            }
            None => Flow::Continue,
        }
    }

    /// True when `path` starts with `sso_prefix` written another way. A byte compare
    /// first: nearly every path fails it at once.
    pub fn is_prefix_variant(&self, path: &str) -> bool {
        let prefix = self.core.site.sso_prefix.as_str();
        path.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            && crate::path_folding::starts_with_folded(path, &self.prefix_dir)
    }

    /// The features' gates, in order, for a request no endpoint answered: the first
    /// that answers ends the request. A request some gating feature lets pass
    /// ([`super::Feature::passes`]) meets no gate at all.
    pub async fn gate(&self, r: &SiteRequest<'_>) -> Flow<Reply> {
        match self.gate_decision(r).await {
            Flow::Respond(reply) => self.respond(r, reply),
            Flow::Continue => Flow::Continue,
        }
    }

    /// [`Self::gate`] before the features add to its answer ([`Self::answering`]):
    /// for a feature whose own answer carries it (forward-auth), which the endpoint
    /// dispatch completes, once.
    pub async fn gate_decision(&self, r: &SiteRequest<'_>) -> Flow<Reply> {
        if self.features.gating().any(|f| f.passes(self, r)) {
            return Flow::Continue;
        }
        for feature in self.features.gating() {
            if feature.wants_gate(self, r) {
                if let Flow::Respond(reply) = feature.gate(self, r).await {
                    return Flow::Respond(reply);
                }
            }
        }
        Flow::Continue
    }

    /// What the features change on the request the origin gets; `Err` answers
    /// instead of proxying.
    pub fn upstream(&self, r: &SiteRequest<'_>) -> Result<UpstreamEdits, Reply> {
        self.upstream_edits(r).map_err(|reply| self.answering(r, reply))
    }

    /// [`Self::upstream`] before the features add to its answer (see
    /// [`Self::gate_decision`]).
    pub fn upstream_edits(&self, r: &SiteRequest<'_>) -> Result<UpstreamEdits, Reply> {
        let mut edits = UpstreamEdits::default();
        for feature in self.features.editing() {
            feature.upstream(self, r, &mut edits)?;
        }
        Ok(edits)
    }

    /// An answer of the gateway itself to `r`, once every feature added to it
    /// ([`super::Feature::answering`]).
    pub fn answering(&self, r: &SiteRequest<'_>, reply: Reply) -> Reply {
        self.features.iter().fold(reply, |reply, f| f.answering(self, r, reply))
    }

    fn respond(&self, r: &SiteRequest<'_>, reply: Reply) -> Flow<Reply> {
        Flow::Respond(self.answering(r, reply))
    }

    /// The verified identity of a request (see [`SiteAuth::identify`]), refreshed or
    /// revalidated when due.
    pub async fn identify(&self, headers: &http::HeaderMap) -> Result<Option<Identity>, StoreError> {
        match self.core.identify(headers).await? {
            Some(found) => Ok(self.refresh_if_due(found).await),
            None => Ok(None),
        }
    }

    /// Stores a sign-in on this site: every feature may add to it first (cross-site
    /// sign-on starts the SSO session), then hears of it once stored. Returns its id,
    /// its `Set-Cookie`, and whether the browser should now go through the auth host.
    pub async fn sign_in(&self, mut data: SessionData) -> Result<NewSession, StoreError> {
        for feature in self.features.iter() {
            feature.signing_in(self, &mut data).await;
        }
        let (login, customer_id, expires_at, sso) = (
            data.login.clone(),
            data.customer.id.clone(),
            data.expires_at,
            data.sso.clone(),
        );
        let holds_grant = data.refresh.token().is_some();
        let id = self.core.stores.sessions.create(data).await?;
        let signed_in = SignIn {
            sid: Sid::of(&id),
            login,
            customer_id,
            expires_at,
            sso,
            holds_grant,
        };
        let note = self.announce_sign_in(&signed_in).await;
        Ok(NewSession {
            cookie: self.core.cookies.set_session(&id),
            id,
            sso_pending: note.through_auth_host,
        })
    }

    /// Tells every feature of a stored sign-in.
    pub async fn announce_sign_in(&self, signed_in: &SignIn) -> SignInNote {
        let mut note = SignInNote::default();
        for feature in self.features.iter() {
            feature.signed_in(self, signed_in, &mut note).await;
        }
        note
    }

    /// The shopper signs out of `identity`'s session (already removed): what every
    /// feature ends with it, and the cookies to set.
    pub async fn signing_out(&self, identity: &Identity, from_elsewhere: bool) -> Result<Vec<String>, StoreError> {
        let mut cookies = Vec::new();
        for feature in self.features.iter() {
            cookies.extend(feature.signing_out(self, identity, from_elsewhere).await?);
        }
        Ok(cookies)
    }

    /// The source of `session` was revoked: every feature ends what it derived from
    /// it. How many sessions ended.
    pub async fn revoked(&self, session: &SessionData) -> Result<usize, StoreError> {
        let mut ended = 0;
        for feature in self.features.iter() {
            ended += feature.revoked(self, session).await?;
        }
        Ok(ended)
    }

    /// True when some feature hands shoppers signed in by `method` on to another
    /// platform.
    pub fn hands_off(&self, method: crate::sessions::LoginMethod) -> bool {
        self.features.iter().any(|f| f.hands_off(method))
    }

    /// Where a signed-in shopper lands: the first feature's hand-off (a 303 to the
    /// platform's sign-in URL, which carries a token: never stored, no `Referer` on
    /// from it; or the feature's page), else a 303 to `return_to` as it is.
    pub fn landing(&self, landing: &super::Landing<'_>) -> Reply {
        match self.features.iter().find_map(|f| f.hand_off(self, landing)) {
            Some(super::Handoff::To(target)) => Reply::redirect(303, target)
                .set_header("cache-control", "no-store")
                .set_header("referrer-policy", "no-referrer"),
            Some(super::Handoff::Page(page)) => page,
            None => Reply::redirect(303, landing.return_to),
        }
    }

    /// `path` as logged on this site: whatever follows the customer-login,
    /// platform-login or Multipass path (in any case, with any `;parameters`) is
    /// replaced, and so is every JWT-shaped segment
    /// ([`crate::path_folding::loggable_path`]). The Multipass path is the store's,
    /// redacted on every site: the store may be this site's own origin, or another
    /// site of this gateway.
    pub fn loggable_path<'a>(&self, path: &'a str) -> std::borrow::Cow<'a, str> {
        let site = &self.core.site;
        let prefixes = [
            site.customer_login.as_ref().map(|c| c.path.as_str()),
            site.platform_login.as_ref().map(|c| c.path.as_str()),
            // On every site: the store a Multipass site hands off to may be another
            // site of this gateway, without `[sites.multipass]` of its own.
            Some(crate::connectors::multipass::MULTIPASS_PATH),
        ];
        for prefix in prefixes.into_iter().flatten() {
            if crate::path_folding::starts_with_folded(path, prefix) {
                return format!("{prefix}[redacted]").into();
            }
        }
        crate::path_folding::loggable_path(path)
    }

    /// After a configuration reload: see [`SiteAuth::carry_over`].
    pub fn carry_over(&mut self, previous: &SitePipeline) {
        self.core.carry_over(&previous.core);
    }
}
