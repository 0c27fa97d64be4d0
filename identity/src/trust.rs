//! The trust bundle: the CA certificates peers' certificates must chain to, replaceable while
//! configs built on it stay in use.
//!
//! The verifiers of [`crate::tls`] read the bundle at every handshake, so
//! [`TrustBundle::replace`] (a new bundle pushed by the control plane) applies to the next
//! handshake without rebuilding configs, listeners or connection pools; established
//! connections are not touched.

use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;

use crate::tls::{provider, TlsConfigError};
use crate::x509;

/// The roots in force, and what is derived from them once per bundle rather than per
/// handshake.
#[derive(Debug)]
pub(crate) struct Anchors {
    pub certs: Vec<CertificateDer<'static>>,
    pub roots: Arc<RootCertStore>,
    /// webpki's client-certificate verifier over `roots`.
    pub client_verifier: Arc<dyn ClientCertVerifier>,
}

/// A replaceable set of trust anchors shared by client and server configs.
#[derive(Debug)]
pub struct TrustBundle {
    current: ArcSwap<Anchors>,
}

impl TrustBundle {
    /// A bundle of `certs` (at least one).
    pub fn new(certs: Vec<CertificateDer<'static>>) -> Result<Self, TlsConfigError> {
        Ok(Self {
            current: ArcSwap::from_pointee(anchors(certs)?),
        })
    }

    /// A bundle from PEM text.
    pub fn from_pem(pem: &str) -> Result<Self, TlsConfigError> {
        Self::new(parse_pem(pem)?)
    }

    /// Replaces the roots for every later handshake; `Ok(false)` when they are unchanged.
    /// A bad bundle is refused and the current one kept.
    pub fn replace(&self, certs: Vec<CertificateDer<'static>>) -> Result<bool, TlsConfigError> {
        if self.current.load().certs == certs {
            return Ok(false);
        }
        self.current.store(Arc::new(anchors(certs)?));
        Ok(true)
    }

    /// [`TrustBundle::replace`] from PEM text.
    pub fn replace_pem(&self, pem: &str) -> Result<bool, TlsConfigError> {
        self.replace(parse_pem(pem)?)
    }

    /// The roots in force.
    pub fn certs(&self) -> Vec<CertificateDer<'static>> {
        self.current.load().certs.clone()
    }

    pub(crate) fn load(&self) -> Arc<Anchors> {
        self.current.load_full()
    }
}

fn parse_pem(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    x509::certs_from_pem(pem).map_err(|e| TlsConfigError::BadBundlePem(e.to_string()))
}

fn anchors(certs: Vec<CertificateDer<'static>>) -> Result<Anchors, TlsConfigError> {
    if certs.is_empty() {
        return Err(TlsConfigError::EmptyTrustBundle);
    }
    let mut store = RootCertStore::empty();
    for cert in &certs {
        store
            .add(cert.clone())
            .map_err(TlsConfigError::BadTrustAnchor)?;
    }
    let roots = Arc::new(store);
    let client_verifier =
        WebPkiClientVerifier::builder_with_provider(roots.clone(), provider()).build()?;
    Ok(Anchors {
        certs,
        roots,
        client_verifier,
    })
}
