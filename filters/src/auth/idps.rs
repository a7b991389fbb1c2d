//! The IdPs of a site: none, the single `[sites.oidc]`, or several `[[sites.idps]]`
//! chosen by organisation name. One place answers "which IdP?" for every step —
//! starting a login (`?org=`), a callback (by its path: each IdP has its own redirect
//! URI), a refresh and a logout (the IdP that signed the session in).

use crate::oidc::LoginFlow;
use crate::sessions::{LoginMethod, SessionData};

/// One IdP of a site and its login flow.
pub struct Idp {
    /// What the chooser page shows (escaped there); the name when unset, and the
    /// issuer's host for the single `[sites.oidc]`.
    pub display_name: String,
    pub flow: LoginFlow,
}

impl Idp {
    /// The `[[sites.idps]]` name; `None` for the site's single `[sites.oidc]`.
    pub fn name(&self) -> Option<&str> {
        self.flow.provider.idp.as_deref()
    }
}

/// The IdPs of a site, in configuration order.
#[derive(Default)]
pub struct Idps {
    list: Vec<Idp>,
}

impl Idps {
    pub fn new(list: Vec<Idp>) -> Self {
        Idps { list }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Idp> {
        self.list.iter()
    }

    /// The named IdPs as the chooser page lists them: (name, display name).
    pub fn choices(&self) -> Vec<(&str, &str)> {
        self.list
            .iter()
            .filter_map(|i| Some((i.name()?, i.display_name.as_str())))
            .collect()
    }

    /// The IdP when the site has exactly one (no choice to make).
    pub fn only(&self) -> Option<&Idp> {
        match self.list.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// The IdP named `org` as a shopper typed it: surrounding spaces and case do not
    /// matter (names are lower-case by configuration). Only named IdPs are found.
    pub fn by_name(&self, org: &str) -> Option<&Idp> {
        let org = org.trim();
        self.list
            .iter()
            .find(|i| i.name().is_some_and(|n| n.eq_ignore_ascii_case(org)))
    }

    /// The IdP whose callback is `path` (the request's canonical path).
    pub fn by_callback(&self, path: &str) -> Option<&Idp> {
        self.list.iter().find(|i| i.flow.provider.config.callback_path == path)
    }

    /// The IdP that signed `session` in: refresh and logout go to it and to no other.
    /// `None` for a session signed in another way, or by an IdP the site no longer
    /// has (a reload removed or renamed it).
    pub fn of_session(&self, session: &SessionData) -> Option<&Idp> {
        if session.login.method != LoginMethod::Oidc {
            return None;
        }
        let wanted = session.login.idp.as_deref();
        let idp = self.list.iter().find(|i| i.name() == wanted)?;
        // Another issuer behind the same name (a reload repointed it) is another IdP:
        // the session's refresh token and logout must not go there.
        match &session.login.issuer {
            Some(issuer) if *issuer != idp.flow.provider.config.issuer.as_str() => None,
            _ => Some(idp),
        }
    }

    /// Where a logout goes: the IdP that signed the session in; for a visitor without
    /// an IdP session, the site's only IdP when it has one (as before several IdPs
    /// existed), else none (the site's own page).
    pub fn for_logout(&self, session: Option<&SessionData>) -> Option<&Idp> {
        match session {
            Some(s) if s.login.method == LoginMethod::Oidc => self.of_session(s),
            _ => self.only(),
        }
    }
}
