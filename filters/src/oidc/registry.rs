//! The identity providers of the running configuration, kept across reloads.
//!
//! A provider holds what discovery fetched (metadata, signing keys) and its HTTP
//! client. A reload that leaves a site's IdP settings alone must keep that provider,
//! so logins and ID-token checks go on without a new discovery; a reload that changes
//! anything the provider was built from (issuer, client id or secret, scopes, paths,
//! timeouts, the site's name or public URL) gets a new one.
//!
//! Building a configuration *stages* its providers ([`ProviderRegistry::stage`]):
//! staging reuses running providers by key and creates the missing ones without
//! touching the registry. Only [`ProviderRegistry::commit`] makes the staged set the
//! running one, so a reload that fails half-way leaves no provider behind, and a
//! provider whose site went away is forgotten. Reloads are expected to be serialised
//! by the caller (one stage → commit at a time).

use super::provider::{OidcProvider, ProviderError};
use sso_config::{OidcConfig, SiteConfig};
use std::sync::{Arc, Mutex, PoisonError};
use url::Url;

/// Everything a provider is built from: equal keys may share a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderKey {
    site: String,
    /// The `[[sites.idps]]` name (`None` for `[sites.oidc]`): two IdPs of one site
    /// never share a provider, even with equal settings.
    idp: Option<String>,
    public_url: Url,
    oidc: OidcConfig,
}

impl ProviderKey {
    pub fn of(site: &SiteConfig, oidc: &OidcConfig) -> Self {
        Self::of_idp(site, None, oidc)
    }

    pub fn of_idp(site: &SiteConfig, idp: Option<&str>, oidc: &OidcConfig) -> Self {
        ProviderKey {
            site: site.name.clone(),
            idp: idp.map(str::to_string),
            public_url: site.public_url.clone(),
            oidc: oidc.clone(),
        }
    }
}

type Entries = Vec<(ProviderKey, Arc<OidcProvider>)>;

/// The running providers, by key. A handful of sites: a list is enough.
#[derive(Default)]
pub struct ProviderRegistry {
    running: Mutex<Entries>,
}

impl ProviderRegistry {
    /// Starts choosing the providers of a new configuration.
    pub fn stage(&self) -> StagedProviders {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner).clone();
        StagedProviders {
            running,
            chosen: Vec::new(),
        }
    }

    /// Makes the staged providers the running ones; the others are forgotten (they
    /// live on only in the snapshots still serving requests).
    pub fn commit(&self, staged: StagedProviders) {
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) = staged.chosen;
    }

    /// How many providers are running.
    pub fn len(&self) -> usize {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The providers chosen for a configuration being built; nothing is registered until
/// it is committed.
pub struct StagedProviders {
    running: Entries,
    chosen: Entries,
}

impl StagedProviders {
    /// The provider for `site`: the running one when it was built from the same
    /// settings, else a new one (without metadata until discovered).
    pub fn get_or_create(&mut self, site: &SiteConfig, oidc: &OidcConfig) -> Result<Arc<OidcProvider>, ProviderError> {
        self.get_or_create_idp(site, None, oidc)
    }

    /// [`Self::get_or_create`] for the site's IdP named `idp` (`None`: `[sites.oidc]`).
    pub fn get_or_create_idp(
        &mut self,
        site: &SiteConfig,
        idp: Option<&str>,
        oidc: &OidcConfig,
    ) -> Result<Arc<OidcProvider>, ProviderError> {
        let key = ProviderKey::of_idp(site, idp, oidc);
        if let Some((_, p)) = self.chosen.iter().find(|(k, _)| *k == key) {
            return Ok(p.clone());
        }
        let provider = match self.running.iter().find(|(k, _)| *k == key) {
            Some((_, p)) => p.clone(),
            None => Arc::new(OidcProvider::for_idp(site, idp, oidc)?),
        };
        self.chosen.push((key, provider.clone()));
        Ok(provider)
    }

    /// True when `provider` was created by this stage (not taken over from the
    /// running configuration).
    pub fn is_new(&self, provider: &Arc<OidcProvider>) -> bool {
        !self.running.iter().any(|(_, p)| Arc::ptr_eq(p, provider))
    }

    /// The providers created by this stage.
    pub fn created(&self) -> Vec<Arc<OidcProvider>> {
        self.chosen
            .iter()
            .filter(|(_, p)| self.is_new(p))
            .map(|(_, p)| p.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(sites: &str) -> sso_config::Config {
        sso_config::parse(
            &format!("[server]\n[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n{sites}"),
            &|_| None,
        )
        .expect("config")
    }

    fn site(name: &str, secret: &str) -> String {
        format!(
            "[[sites]]\nname = \"{name}\"\nhosts = [\"{name}.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\n\
             public_url = \"http://{name}.localhost\"\n[sites.oidc]\nissuer = \"http://127.0.0.1:9\"\n\
             client_id = \"c\"\nclient_secret = \"{secret}\"\n"
        )
    }

    fn stage_all(
        registry: &ProviderRegistry,
        config: &sso_config::Config,
    ) -> (StagedProviders, Vec<Arc<OidcProvider>>) {
        let mut staged = registry.stage();
        let providers = config
            .sites
            .iter()
            .map(|s| {
                staged
                    .get_or_create(s, s.oidc.as_ref().expect("oidc"))
                    .expect("provider")
            })
            .collect();
        (staged, providers)
    }

    #[test]
    fn unchanged_settings_keep_their_provider_and_changed_ones_get_a_new_one() {
        let registry = ProviderRegistry::default();
        let first = config(&(site("a", "secret-a") + &site("b", "secret-b")));
        let (staged, before) = stage_all(&registry, &first);
        assert_eq!(staged.created().len(), 2);
        registry.commit(staged);
        assert_eq!(registry.len(), 2);

        // b's client secret changes, c is added.
        let second = config(&(site("a", "secret-a") + &site("b", "rotated") + &site("c", "secret-c")));
        let (staged, after) = stage_all(&registry, &second);
        assert!(Arc::ptr_eq(&before[0], &after[0]), "a is reused");
        assert!(!Arc::ptr_eq(&before[1], &after[1]), "b is new");
        assert!(!staged.is_new(&after[0]));
        assert!(staged.is_new(&after[1]) && staged.is_new(&after[2]));
        assert_eq!(staged.created().len(), 2);
        registry.commit(staged);
        assert_eq!(registry.len(), 3, "the old b is forgotten");
    }

    #[test]
    fn a_stage_that_is_not_committed_registers_nothing() {
        let registry = ProviderRegistry::default();
        let (staged, _) = stage_all(&registry, &config(&site("a", "secret-a")));
        drop(staged);
        assert!(registry.is_empty());

        let (staged, kept) = stage_all(&registry, &config(&site("a", "secret-a")));
        registry.commit(staged);
        let (abandoned, _) = stage_all(&registry, &config(&site("z", "secret-z")));
        drop(abandoned);
        let (staged, again) = stage_all(&registry, &config(&site("a", "secret-a")));
        assert!(Arc::ptr_eq(&kept[0], &again[0]), "the failed stage changed nothing");
        assert!(staged.created().is_empty());
    }

    #[test]
    fn each_idp_of_a_site_has_its_own_provider_kept_across_reloads() {
        let idp = |name: &str, extra: &str| {
            format!(
                "[[sites.idps]]\nname = \"{name}\"\nissuer = \"http://127.0.0.1:9\"\nclient_id = \"c\"\n\
                 client_secret = \"s\"\ncallback_path = \"/cb/{name}\"\n{extra}"
            )
        };
        let site = |idps: &str| {
            format!(
                "[[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\n\
                 public_url = \"http://shop.localhost\"\n{idps}"
            )
        };
        let stage = |registry: &ProviderRegistry, config: &sso_config::Config| {
            let mut staged = registry.stage();
            let site = &config.sites[0];
            let providers: Vec<_> = site
                .identity_providers()
                .into_iter()
                .map(|(name, oidc)| staged.get_or_create_idp(site, name, oidc).expect("provider"))
                .collect();
            (staged, providers)
        };
        let registry = ProviderRegistry::default();
        let first = config(&site(&(idp("acme", "") + &idp("globex", ""))));
        let (staged, before) = stage(&registry, &first);
        assert!(!Arc::ptr_eq(&before[0], &before[1]));
        assert_eq!(before[0].idp.as_deref(), Some("acme"));
        assert_eq!(before[1].label(), "oidc:shop/globex");
        registry.commit(staged);

        // globex's display name changes (not a provider setting), acme's scopes do.
        let second = config(&site(
            &(idp("acme", "scopes = [\"openid\"]\n") + &idp("globex", "display_name = \"Globex\"\n")),
        ));
        let (staged, after) = stage(&registry, &second);
        assert!(!Arc::ptr_eq(&before[0], &after[0]), "acme changed");
        assert!(Arc::ptr_eq(&before[1], &after[1]), "globex is kept");
        registry.commit(staged);
        assert_eq!(registry.len(), 2);
    }

    #[test]
    fn a_site_renamed_or_moved_gets_its_own_provider() {
        let registry = ProviderRegistry::default();
        let (staged, before) = stage_all(&registry, &config(&site("a", "s")));
        registry.commit(staged);
        let moved = config(&site("a", "s").replace("http://a.localhost", "http://a.localhost:8443"));
        let (_, after) = stage_all(&registry, &moved);
        assert!(
            !Arc::ptr_eq(&before[0], &after[0]),
            "redirect_uri depends on public_url"
        );
    }
}
