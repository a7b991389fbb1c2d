//! TLS termination: a certificate per site chosen by SNI, a default certificate per
//! TLS listener, TLS 1.2+ with rustls' modern suites, ALPN h2 and http/1.1.
//! Certificates are re-read on SIGHUP and when their files change; a file that does
//! not load is refused with a clear error and the certificate in use is kept.

use arc_swap::ArcSwap;
use pingora::listeners::tls::TlsSettings;
use pingora::tls::sign::CertifiedKey;
use pingora::tls::{load_certs_and_key_files, ClientHello, CryptoProvider, ResolvesServerCert};
use sso_config::Config;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// One certificate/key pair from the configuration.
struct CertSource {
    /// The config key it came from (`sites[0].tls`, `server.tls[1]`), for errors.
    label: String,
    cert: PathBuf,
    key: PathBuf,
    current: ArcSwap<CertifiedKey>,
    modified: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

/// Every certificate the gateway serves.
pub struct CertStore {
    sources: Vec<CertSource>,
    /// Host name → index into `sources`.
    by_host: HashMap<String, usize>,
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
        let mut by_host = HashMap::new();
        let mut defaults = Vec::new();
        let mut add = |label: String, cert: &Path, key: &Path, errors: &mut Vec<String>| match load(cert, key) {
            Ok(k) => {
                sources.push(CertSource {
                    label,
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
            if let Some(idx) = add(format!("server.tls[{i}]"), &l.cert, &l.key, &mut errors) {
                defaults.push(idx);
            }
        }
        for (i, site) in config.sites.iter().enumerate() {
            if let Some(tls) = &site.tls {
                if let Some(idx) = add(format!("sites[{i}].tls"), &tls.cert, &tls.key, &mut errors) {
                    for host in &site.hosts {
                        by_host.insert(host.clone(), idx);
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(Some(Arc::new(CertStore {
                sources,
                by_host,
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

    /// TLS settings for listener `index`: SNI resolver, TLS 1.2+, ALPN h2 + http/1.1.
    pub fn listener_settings(self: &Arc<Self>, index: usize) -> Result<TlsSettings, String> {
        let default = *self
            .defaults
            .get(index)
            .ok_or("no default certificate for this listener")?;
        let mut settings = TlsSettings::intermediate("", "").map_err(|e| e.to_string())?;
        settings.set_cert_resolver(Arc::new(ListenerCerts {
            store: self.clone(),
            default,
        }));
        settings.enable_h2();
        Ok(settings)
    }
}

/// Chooses the certificate for one listener's handshakes.
struct ListenerCerts {
    store: Arc<CertStore>,
    default: usize,
}

impl std::fmt::Debug for ListenerCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerCerts").field("default", &self.default).finish()
    }
}

impl ResolvesServerCert for ListenerCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let by_sni = hello.server_name().and_then(|name| {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            self.store.by_host.get(&name).copied()
        });
        let source = self.store.sources.get(by_sni.unwrap_or(self.default))?;
        Some(source.current.load_full())
    }
}
