//! The CA itself: a root created at install time (`Ca::create`), reloaded on every start
//! (`Ca::load`), or the user's own CA files (`Ca::load_user`, which may be an intermediate
//! whose chain goes into the trust bundle).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData,
};
use rustls_pki_types::CertificateDer;

use super::files::{self, FileError, PRIVATE_MODE, PUBLIC_MODE};
use super::identity::{check_trust_domain, IdentityError};
use super::sign::random_serial;
use super::x509;

/// File names inside the CA directory.
pub const ROOT_CERT_FILE: &str = "root-cert.pem";
pub const ROOT_KEY_FILE: &str = "root-key.pem";
/// How long a root made by `Ca::create` lives: long, because replacing it means re-issuing
/// every workload certificate and redistributing the bundle.
pub const ROOT_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
const ROOT_COMMON_NAME: &str = "meshctl root CA";

/// A loaded certificate authority, ready to sign workload certificates.
pub struct Ca {
    trust_domain: String,
    pub(crate) issuer: Issuer<'static, KeyPair>,
    /// What follows a leaf in its chain: the issuing certificate and any intermediates
    /// above it, or nothing when the issuer is itself the root.
    pub(crate) chain: Vec<CertificateDer<'static>>,
    trust_bundle: Vec<CertificateDer<'static>>,
    not_after: SystemTime,
}

impl fmt::Debug for Ca {
    // Hand-written so that the signing key can never end up in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca")
            .field("trust_domain", &self.trust_domain)
            .field("chain_len", &self.chain.len())
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Creating or loading the CA failed.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("invalid trust domain: {0}")]
    TrustDomain(#[from] IdentityError),
    #[error("could not generate the root CA: {0}")]
    Generate(#[source] rcgen::Error),
    #[error("{path} is not a usable PEM certificate: {reason}; check that the file holds the CA's certificate")]
    BadCert { path: PathBuf, reason: String },
    #[error("{path} is not a usable private key ({reason}); give an unencrypted PKCS#8 PEM ECDSA P-256/P-384 or Ed25519 key")]
    BadKey { path: PathBuf, reason: String },
    #[error("{path} is not a CA certificate (basicConstraints CA:TRUE is missing); give the CA's certificate, not a workload's")]
    NotCa { path: PathBuf },
    #[error(
        "the key in {key} does not belong to the certificate in {cert}; pass the matching pair"
    )]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("{path} has no Organization (O=) naming the trust domain; load it with Ca::load_user and an explicit trust domain")]
    NoTrustDomain { path: PathBuf },
    #[error("{path} expired; create a new CA or renew the certificate")]
    Expired { path: PathBuf },
    #[error("chain {path} is broken: {reason}; list the certificates above your CA in order, ending with the root")]
    BadChain { path: PathBuf, reason: String },
}

impl Ca {
    /// Makes a new ECDSA P-256 root in `dir` (created 0700 if missing); refuses to overwrite one.
    pub fn create(dir: &Path, trust_domain: &str) -> Result<Self, CaError> {
        let (cert_path, key_path) = (dir.join(ROOT_CERT_FILE), dir.join(ROOT_KEY_FILE));
        for path in [&cert_path, &key_path] {
            if path.exists() {
                return Err(FileError::AlreadyExists { path: path.clone() }.into());
            }
        }
        files::create_private_dir(dir)?;
        let (cert_pem, key_pem) = generate_root(trust_domain, SystemTime::now())?;
        files::write_new(&key_path, key_pem.as_bytes(), PRIVATE_MODE)?;
        files::write_new(&cert_path, cert_pem.as_bytes(), PUBLIC_MODE)?;
        Self::load(dir)
    }

    /// An in-memory root that is never written anywhere: for tests and throwaway meshes.
    pub fn ephemeral(trust_domain: &str) -> Result<Self, CaError> {
        let (cert_pem, key_pem) = generate_root(trust_domain, SystemTime::now())?;
        let here = Path::new("<memory>");
        Self::from_pem(&cert_pem, here, &key_pem, here, None, None)
    }

    /// Loads the root made by [`Ca::create`]; the trust domain is read from its O= field.
    pub fn load(dir: &Path) -> Result<Self, CaError> {
        let (cert_path, key_path) = (dir.join(ROOT_CERT_FILE), dir.join(ROOT_KEY_FILE));
        let cert_pem = files::read_public(&cert_path)?;
        let key_pem = files::read_private(&key_path)?;
        Self::from_pem(&cert_pem, &cert_path, &key_pem, &key_path, None, None)
    }

    /// Loads the user's own CA. `chain_path` lists the certificates above `cert_path`, ending
    /// with the root; without it, `cert_path` must itself be the root.
    pub fn load_user(
        cert_path: &Path,
        key_path: &Path,
        chain_path: Option<&Path>,
        trust_domain: &str,
    ) -> Result<Self, CaError> {
        check_trust_domain(trust_domain)?;
        let cert_pem = files::read_public(cert_path)?;
        let key_pem = files::read_private(key_path)?;
        let chain = match chain_path {
            Some(path) => Some((files::read_public(path)?, path)),
            None => None,
        };
        let chain = chain.as_ref().map(|(pem, path)| (pem.as_str(), *path));
        Self::from_pem(
            &cert_pem,
            cert_path,
            &key_pem,
            key_path,
            chain,
            Some(trust_domain),
        )
    }

    fn from_pem(
        cert_pem: &str,
        cert_path: &Path,
        key_pem: &str,
        key_path: &Path,
        chain: Option<(&str, &Path)>,
        trust_domain: Option<&str>,
    ) -> Result<Self, CaError> {
        let bad_cert = |reason: String| CaError::BadCert {
            path: cert_path.to_path_buf(),
            reason,
        };
        let ca_der = x509::certs_from_pem(cert_pem)
            .map_err(|e| bad_cert(e.to_string()))?
            .swap_remove(0);
        let key = KeyPair::from_pem(key_pem).map_err(|e| CaError::BadKey {
            path: key_path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let parsed = x509::parse(&ca_der).map_err(|e| bad_cert(e.to_string()))?;
        if !parsed.is_ca() {
            return Err(CaError::NotCa {
                path: cert_path.to_path_buf(),
            });
        }
        if parsed.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
            return Err(CaError::KeyMismatch {
                cert: cert_path.to_path_buf(),
                key: key_path.to_path_buf(),
            });
        }
        let (_, not_after) = x509::validity(&parsed);
        if not_after <= SystemTime::now() {
            return Err(CaError::Expired {
                path: cert_path.to_path_buf(),
            });
        }
        let trust_domain = match trust_domain {
            Some(td) => td.to_string(),
            None => organization(&parsed).ok_or_else(|| CaError::NoTrustDomain {
                path: cert_path.to_path_buf(),
            })?,
        };
        check_trust_domain(&trust_domain)?;
        let self_signed = is_self_signed(&parsed);
        let (above, trust_bundle) = match chain {
            None if self_signed => (Vec::new(), vec![ca_der.clone()]),
            None => {
                return Err(CaError::BadChain {
                    path: cert_path.to_path_buf(),
                    reason: "the certificate is not self-signed and no chain was given".into(),
                })
            }
            Some((pem, path)) => split_chain(&ca_der, pem, path)?,
        };
        let issuer = Issuer::from_ca_cert_der(&ca_der, key).map_err(|e| bad_cert(e.to_string()))?;
        // Peers already hold the root (trust bundle), so a root CA sends only the leaf.
        let mut chain = if self_signed {
            Vec::new()
        } else {
            vec![ca_der]
        };
        chain.extend(above);
        Ok(Self {
            trust_domain,
            issuer,
            chain,
            trust_bundle,
            not_after,
        })
    }

    /// The trust domain every identity this CA signs must belong to.
    pub fn trust_domain(&self) -> &str {
        &self.trust_domain
    }

    /// The roots peers must trust (distributed with the config).
    pub fn trust_bundle(&self) -> &[CertificateDer<'static>] {
        &self.trust_bundle
    }

    /// The trust bundle as PEM.
    pub fn trust_bundle_pem(&self) -> String {
        x509::certs_to_pem(&self.trust_bundle)
    }

    /// When the issuing certificate expires; no leaf may outlive it.
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }
}

fn generate_root(trust_domain: &str, now: SystemTime) -> Result<(String, String), CaError> {
    check_trust_domain(trust_domain)?;
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(CaError::Generate)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, ROOT_COMMON_NAME);
    // Like Istio, the root names its trust domain in O=, so `load` needs no side file.
    dn.push(DnType::OrganizationName, trust_domain);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = (now - Duration::from_secs(60)).into();
    params.not_after = (now + ROOT_TTL).into();
    params.serial_number = Some(random_serial().map_err(CaError::Generate)?);
    let cert = params.self_signed(&key).map_err(CaError::Generate)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn organization(cert: &x509_parser::certificate::X509Certificate<'_>) -> Option<String> {
    let attr = cert.subject().iter_organization().next()?;
    attr.as_str().ok().map(str::to_string)
}

fn is_self_signed(cert: &x509_parser::certificate::X509Certificate<'_>) -> bool {
    cert.subject().as_raw() == cert.issuer().as_raw()
}

type Chain = (Vec<CertificateDer<'static>>, Vec<CertificateDer<'static>>);

/// Splits a user chain into (intermediates sent with leaves, roots for the bundle), checking
/// that each certificate is signed by the next, so a wrong file fails now rather than at the
/// first handshake.
fn split_chain(ca_der: &CertificateDer<'_>, pem: &str, path: &Path) -> Result<Chain, CaError> {
    let bad = |reason: String| CaError::BadChain {
        path: path.to_path_buf(),
        reason,
    };
    let mut certs = x509::certs_from_pem(pem).map_err(|e| bad(e.to_string()))?;
    let mut child = ca_der.clone().into_owned();
    for parent in &certs {
        let (c, p) = (
            x509::parse(&child).map_err(|e| bad(e.to_string()))?,
            x509::parse(parent).map_err(|e| bad(e.to_string()))?,
        );
        c.verify_signature(Some(p.public_key())).map_err(|_| {
            bad(format!(
                "{} is not signed by the next certificate",
                subject(&c)
            ))
        })?;
        child = parent.clone();
    }
    let root = x509::parse(&child).map_err(|e| bad(e.to_string()))?;
    if !is_self_signed(&root) {
        return Err(bad("the last certificate is not a self-signed root".into()));
    }
    let root = certs.pop().map(|r| vec![r]).unwrap_or_default();
    Ok((certs, root))
}

fn subject(cert: &x509_parser::certificate::X509Certificate<'_>) -> String {
    cert.subject().to_string()
}
