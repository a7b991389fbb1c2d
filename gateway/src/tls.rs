//! TLS termination: a certificate per site chosen by SNI, a default certificate per
//! TLS listener, TLS 1.2+ with rustls' modern suites, ALPN h2 and http/1.1.
//! The certificates belong to the configuration snapshot: SNI goes through the
//! snapshot's site router (the one host map), and a reload brings new certificates.
//! Certificate files are also re-read when they change; a file that does not load
//! is refused with a clear error and the certificate in use is kept.

use crate::snapshot::CurrentSnapshot;
use arc_swap::ArcSwap;
use pingora::listeners::tls::TlsSettings;
use pingora::tls::sign::CertifiedKey;
use pingora::tls::{load_certs_and_key_files, ClientHello, CryptoProvider, ResolvesServerCert};
use sso_config::Config;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// One certificate/key pair from the configuration.
struct CertSource {
    /// The config key it came from (`sites[0].tls`, `server.tls[1]`), for errors.
    label: String,
    /// What the expiry metric calls it: the site's name, or `server.tls[i]`.
    name: String,
    cert: PathBuf,
    key: PathBuf,
    current: ArcSwap<CertifiedKey>,
    modified: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

/// Every certificate the gateway serves.
pub struct CertStore {
    sources: Vec<CertSource>,
    /// Site index → index into `sources` of the site's own certificate.
    by_site: Vec<Option<usize>>,
    /// Listener index → index into `sources` of its default certificate.
    defaults: Vec<usize>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Reads and checks a certificate chain and its private key.
fn load(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    pingora::tls::install_default_crypto_provider();
    let provider = CryptoProvider::get_default().ok_or("no TLS crypto provider installed")?;
    let (cert_s, key_s) = (cert.to_string_lossy(), key.to_string_lossy());
    // Pingora's own error does not say which of the two it could not read.
    for (what, path) in [("certificate", cert), ("key", key)] {
        if let Err(e) = std::fs::File::open(path) {
            return Err(format!("the {what} file {} cannot be read: {e}", path.display()));
        }
    }
    match load_certs_and_key_files(&cert_s, &key_s) {
        Ok(Some((certs, private_key))) => CertifiedKey::from_der(certs, private_key, provider)
            .map_err(|e| format!("{cert_s} / {key_s}: {e} (does the key belong to the certificate?)")),
        Ok(None) => Err(format!(
            "{cert_s} / {key_s}: no PEM certificate or no PEM private key found"
        )),
        Err(e) => Err(format!("{cert_s} / {key_s}: {e}")),
    }
}

impl CertStore {
    /// Loads every certificate of the configuration; `None` without TLS listeners.
    pub fn from_config(config: &Config) -> Result<Option<Arc<Self>>, Vec<String>> {
        if config.server.tls.is_empty() {
            return Ok(None);
        }
        let mut errors = Vec::new();
        let mut sources = Vec::new();
        let mut by_site = Vec::with_capacity(config.sites.len());
        let mut defaults = Vec::new();
        let mut add =
            |label: String, name: String, cert: &Path, key: &Path, errors: &mut Vec<String>| match load(cert, key) {
                Ok(k) => {
                    sources.push(CertSource {
                        label,
                        name,
                        cert: cert.to_path_buf(),
                        key: key.to_path_buf(),
                        current: ArcSwap::from_pointee(k),
                        modified: Mutex::new((modified(cert), modified(key))),
                    });
                    Some(sources.len() - 1)
                }
                Err(e) => {
                    errors.push(format!("{label}: {e}"));
                    None
                }
            };
        for (i, l) in config.server.tls.iter().enumerate() {
            if let Some(idx) = add(
                format!("server.tls[{i}]"),
                format!("server.tls[{i}]"),
                &l.cert,
                &l.key,
                &mut errors,
            ) {
                defaults.push(idx);
            }
        }
        for (i, site) in config.sites.iter().enumerate() {
            let own = site.tls.as_ref().and_then(|tls| {
                add(
                    format!("sites[{i}].tls"),
                    site.name.clone(),
                    &tls.cert,
                    &tls.key,
                    &mut errors,
                )
            });
            by_site.push(own);
        }
        if errors.is_empty() {
            Ok(Some(Arc::new(CertStore {
                sources,
                by_site,
                defaults,
            })))
        } else {
            Err(errors)
        }
    }

    /// Re-reads every certificate (`force`) or those whose files changed. Returns
    /// how many were replaced and the errors of those kept because the new files
    /// did not load.
    pub fn reload(&self, force: bool) -> (usize, Vec<String>) {
        let mut replaced = 0;
        let mut errors = Vec::new();
        for s in &self.sources {
            let now = (modified(&s.cert), modified(&s.key));
            let Ok(mut seen) = s.modified.lock() else { continue };
            if !force && *seen == now {
                continue;
            }
            *seen = now;
            match load(&s.cert, &s.key) {
                Ok(k) => {
                    s.current.store(Arc::new(k));
                    replaced += 1;
                }
                Err(e) => errors.push(format!("{}: {e}; keeping the certificate in use", s.label)),
            }
        }
        (replaced, errors)
    }

    /// When each certificate in use expires: its name and the `notAfter` of its leaf,
    /// in Unix seconds (a leaf that does not parse is left out).
    pub fn expiries(&self) -> Vec<(String, i64)> {
        self.sources
            .iter()
            .filter_map(|s| {
                let key = s.current.load();
                let leaf = key.cert.first()?;
                let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
                Some((s.name.clone(), cert.validity().not_after.timestamp()))
            })
            .collect()
    }

    /// The certificate of site `site` (the router's index), else the default of
    /// TLS listener `listener`.
    pub fn resolve(&self, site: Option<usize>, listener: usize) -> Option<Arc<CertifiedKey>> {
        let own = site.and_then(|i| self.by_site.get(i).copied().flatten());
        let source = own.or_else(|| self.defaults.get(listener).copied())?;
        Some(self.sources.get(source)?.current.load_full())
    }

    /// TLS settings for listener `index`: SNI resolved against the current
    /// snapshot, TLS 1.2+, ALPN h2 + http/1.1. `self` (the start-up certificates)
    /// answers when a reloaded configuration has no certificate for this listener
    /// (its `[[server.tls]]` entry was removed without a restart).
    pub fn listener_settings(self: &Arc<Self>, index: usize, current: CurrentSnapshot) -> Result<TlsSettings, String> {
        if self.defaults.get(index).is_none() {
            return Err("no default certificate for this listener".into());
        }
        let mut settings = TlsSettings::intermediate("", "").map_err(|e| e.to_string())?;
        settings.set_cert_resolver(Arc::new(ListenerCerts {
            current,
            start_up: self.clone(),
            index,
        }));
        settings.enable_h2();
        Ok(settings)
    }
}

/// Chooses the certificate for one listener's handshakes.
struct ListenerCerts {
    current: CurrentSnapshot,
    start_up: Arc<CertStore>,
    index: usize,
}

impl std::fmt::Debug for ListenerCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerCerts").field("listener", &self.index).finish()
    }
}

impl ResolvesServerCert for ListenerCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name();
        let snapshot = self.current.load();
        snapshot
            .certificate(name, self.index)
            .or_else(|| self.start_up.resolve(None, self.index))
    }
}
