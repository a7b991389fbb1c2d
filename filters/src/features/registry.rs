//! The registry: the one place that builds a site's features from its configuration.
//! Adding a feature is a new file in this folder, its `pub mod` line in `mod.rs`, and
//! one line here (docs/architecture.md, "How to add a feature").

use super::{Feature, GatewayPath};
use crate::auth::{AuthSetupError, SiteAuth};
use crate::path_folding::first_segment;
use sso_config::Config;
use std::sync::Arc;

/// A feature the site's configuration may ask for, as the list holds it.
fn boxed<F: Feature + 'static>(feature: Option<F>) -> Option<Arc<dyn Feature>> {
    feature.map(|f| Arc::new(f) as Arc<dyn Feature>)
}

/// A site's features, in the order they are asked, and the handles of those another
/// feature's flow consults.
pub struct Features {
    list: Vec<Arc<dyn Feature>>,
    /// `(path, index in list)` for paths under `sso_prefix`, and for others.
    under_prefix: Vec<(&'static str, usize)>,
    elsewhere: Vec<(GatewayPath, usize)>,
    /// The first segment of each `elsewhere` path (`None` for a root path), so that a
    /// request path is compared in full only with paths it can match.
    elsewhere_first: Vec<Option<String>>,
    /// The features that gate requests, and those that edit upstream requests, in order.
    gating: Vec<Arc<dyn Feature>>,
    editing: Vec<Arc<dyn Feature>>,
    pub provisioning: Option<Arc<super::provisioning::Provisioning>>,
    pub cross_site: Option<Arc<super::cross_site::CrossSite>>,
}

impl Features {
    /// Builds the features `site` configures.
    pub fn from_config(config: &Config, core: &SiteAuth) -> Result<Self, AuthSetupError> {
        let (site, stores, events) = (&core.site, &core.stores, &core.events);
        let provisioning = super::provisioning::Provisioning::from_config(config, site, stores, events)?.map(Arc::new);
        let cross_site = super::cross_site::CrossSite::from_config(config, site, stores).map(Arc::new);
        // The order is the order of dispatch, gates and upstream edits: one line each.
        let list: Vec<Arc<dyn Feature>> = [
            Some(Arc::new(super::oidc_login::OidcLogin::from_core(core)) as Arc<dyn Feature>),
            Some(Arc::new(super::logout::Logout)),
            Some(Arc::new(super::session_info::SessionInfo)),
            boxed(super::customer_login::CustomerLogin::from_config(site)),
            boxed(super::platform_handoff::PlatformHandoff::from_config(site)),
            boxed(super::multipass::MultipassHandoff::from_config(config, site)),
            boxed(super::handoff_return::HandoffReturn::from_config(site)),
            Some(Arc::new(super::cors::Cors::from_config(site))),
            cross_site.clone().map(|f| f as Arc<dyn Feature>),
            boxed(super::sso_data::SsoData::from_config(site)),
            boxed(super::ecwid_profile::EcwidProfile::from_config(site)),
            boxed(super::backchannel_logout::BackchannelLogout::from_config(site)),
            boxed(super::forward_auth::ForwardAuth::from_config(site)),
            Some(Arc::new(super::route_access::RouteAccess)),
            boxed(super::route_requirements::RouteRequirements::from_config(site)),
            boxed(super::step_up::StepUp::from_config(site)),
            boxed(super::idp_token_forwarding::IdpTokenForwarding::from_config(site)),
            boxed(super::origin_credentials::OriginCredentials::from_config(site)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let (mut under_prefix, mut elsewhere) = (Vec::new(), Vec::new());
        for (i, feature) in list.iter().enumerate() {
            for path in feature.paths() {
                let taken = under_prefix.iter().any(|&(p, _)| GatewayPath::UnderPrefix(p) == path)
                    || elsewhere.iter().any(|(p, _)| *p == path);
                if taken {
                    return Err(AuthSetupError::PathTaken(format!(
                        "{path:?} is answered by {} and by another feature",
                        feature.name()
                    )));
                }
                match path {
                    GatewayPath::UnderPrefix(p) => under_prefix.push((p, i)),
                    other => elsewhere.push((other, i)),
                }
            }
        }
        let elsewhere_first = elsewhere.iter().map(|(p, _)| first_of(p)).collect();
        let gating = list.iter().filter(|f| f.roles().gate).cloned().collect();
        let editing = list.iter().filter(|f| f.roles().upstream).cloned().collect();
        Ok(Features {
            list,
            under_prefix,
            elsewhere,
            elsewhere_first,
            gating,
            editing,
            provisioning,
            cross_site,
        })
    }

    /// Every feature, in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Feature> {
        self.list.iter().map(|f| &**f)
    }

    /// True when some feature answers paths outside `sso_prefix` (callbacks, the
    /// customer-login path).
    pub fn has_paths_elsewhere(&self) -> bool {
        !self.elsewhere.is_empty()
    }

    /// The features that gate requests, in order.
    pub fn gating(&self) -> impl Iterator<Item = &dyn Feature> {
        self.gating.iter().map(|f| &**f)
    }

    /// The features that edit upstream requests, in order.
    pub fn editing(&self) -> impl Iterator<Item = &dyn Feature> {
        self.editing.iter().map(|f| &**f)
    }

    /// The feature that answers `path`: `under_prefix` is the path after
    /// `sso_prefix` when it is under it.
    pub fn for_path(&self, path: &str, under_prefix: Option<&str>) -> Option<&dyn Feature> {
        if let Some(rest) = under_prefix {
            if let Some((_, i)) = self.under_prefix.iter().find(|(p, _)| *p == rest) {
                return self.list.get(*i).map(|f| &**f);
            }
        }
        // Every comparison below is segment by segment, in any case: a path whose first
        // segment differs cannot match (this runs on every request).
        let first = first_segment(path);
        let (_, i) = self
            .elsewhere
            .iter()
            .zip(&self.elsewhere_first)
            .filter(|(_, want_first)| want_first.as_deref().is_none_or(|w| w.eq_ignore_ascii_case(first)))
            .map(|(entry, _)| entry)
            .find(|(p, _)| answers(p, path))?;
        self.list.get(*i).map(|f| &**f)
    }
}

/// True when the gateway path `p` (outside `sso_prefix`) answers `path`.
fn answers(p: &GatewayPath, path: &str) -> bool {
    match p {
        GatewayPath::Folded(want) => crate::path_folding::same_path_folded(path, want),
        GatewayPath::FoldedPrefix(want) => {
            path.starts_with(want.as_str()) || crate::path_folding::starts_with_folded(path, want)
        }
        GatewayPath::UnderPrefix(_) => false,
    }
}

/// The first segment every path `p` answers must have (in any case), if any.
fn first_of(p: &GatewayPath) -> Option<String> {
    match p {
        GatewayPath::Folded(want) | GatewayPath::FoldedPrefix(want) => {
            Some(first_segment(want)).filter(|s| !s.is_empty()).map(str::to_string)
        }
        GatewayPath::UnderPrefix(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first-segment test never turns away a path a gateway path answers.
    #[test]
    fn the_first_segment_never_hides_a_match() {
        let gateway_paths = [
            GatewayPath::Folded("/login/sso/callback".into()),
            GatewayPath::Folded("/Account/Logout".into()),
            GatewayPath::Folded("/".into()),
            GatewayPath::Folded("/a".into()),
            GatewayPath::FoldedPrefix("/login/token/".into()),
            GatewayPath::FoldedPrefix("/x/".into()),
            GatewayPath::FoldedPrefix("/".into()),
        ];
        let paths = [
            "/",
            "",
            "//",
            "/login/sso/callback",
            "/LOGIN/SSO/CALLBACK",
            "/login/sso/callback/",
            "/login;x=1/sso/callback",
            "/login/sso;a/callback;b",
            "//login/sso/callback",
            "/login/token/eyJ.x.y",
            "/Login/Token/abc",
            "/login;p/token/abc",
            "/login/token/",
            "/account/logout",
            "/account;v=2/logout",
            "/a",
            "/A/",
            "/a;b",
            "/ab",
            "/x/y",
            "/X;1/y",
            "/public",
            "/loginx/sso/callback",
            ";/a",
            "/%61",
            "a/login/sso/callback",
        ];
        for p in &gateway_paths {
            for path in paths {
                if answers(p, path) {
                    let first = first_segment(path);
                    assert!(
                        first_of(p).is_none_or(|w| w.eq_ignore_ascii_case(first)),
                        "{p:?} answers {path:?} but its first segment {first:?} was turned away"
                    );
                }
            }
        }
        assert!(answers(&gateway_paths[0], "/LOGIN/SSO/CALLBACK"));
        assert_eq!(first_segment("/login;x=1/sso"), "login");
        assert_eq!(first_segment("/"), "");
    }
}
