//! A throwaway certificate authority for TLS tests (rcgen), writing PEM files the
//! gateway and the origin read.

use anyhow::Result;
use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair};
use std::path::PathBuf;

pub struct TestCa {
    cert: Certificate,
    key: KeyPair,
    pub pem: String,
    pub pem_path: PathBuf,
    dir: PathBuf,
}

/// A certificate issued by a [`TestCa`].
pub struct Issued {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub der: Vec<u8>,
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCa {
    pub fn new(name: &str) -> Result<TestCa> {
        let dir = std::env::temp_dir().join(format!("sso-tls-{name}-{}-{}", std::process::id(), crate::free_port()));
        std::fs::create_dir_all(&dir)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let pem = cert.pem();
        let pem_path = dir.join("ca.pem");
        std::fs::write(&pem_path, &pem)?;
        Ok(TestCa {
            cert,
            key,
            pem,
            pem_path,
            dir,
        })
    }

    /// Issues a certificate for `names` and writes `<stem>.pem` / `<stem>.key`.
    pub fn issue(&self, stem: &str, names: &[&str]) -> Result<Issued> {
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or(stem));
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        let issued = Issued {
            cert_path: self.dir.join(format!("{stem}.pem")),
            key_path: self.dir.join(format!("{stem}.key")),
            der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        issued.write()?;
        Ok(issued)
    }

    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }
}

impl Issued {
    /// (Re)writes the PEM files.
    pub fn write(&self) -> Result<()> {
        std::fs::write(&self.cert_path, &self.cert_pem)?;
        std::fs::write(&self.key_path, &self.key_pem)?;
        Ok(())
    }

    /// Writes this certificate's PEM files under another certificate's paths.
    pub fn write_to(&self, target: &Issued) -> Result<()> {
        std::fs::write(&target.cert_path, &self.cert_pem)?;
        std::fs::write(&target.key_path, &self.key_pem)?;
        Ok(())
    }
}
