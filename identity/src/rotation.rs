//! Certificate rotation without dropping connections. A rustls config reads the workload's
//! certificate through [`WorkloadCerts`] at each handshake; `rotate` swaps it atomically, so
//! new handshakes present the new certificate while established connections (whose keys were
//! agreed at their own handshake) carry on untouched.

use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::client::ResolvesClientCert;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::tls::provider;
use crate::x509;

/// The workload's current certificate and key, shared by its client and server configs.
#[derive(Debug)]
pub struct WorkloadCerts {
    current: ArcSwap<CertifiedKey>,
    spiffe_id: String,
}

/// A certificate could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(
        "the certificate has no single SPIFFE URI SAN; install a certificate issued by the mesh CA"
    )]
    NoSpiffeId,
    #[error("the new certificate is for {new}, but this workload is {current}; rotation renews a certificate, it does not change identity")]
    IdentityChanged { current: String, new: String },
    #[error("the key does not match the certificate or is unsupported ({0}); install the key the CSR was made with")]
    Key(#[from] rustls::Error),
}

impl WorkloadCerts {
    /// Holds `chain` (leaf first) and its `key`.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, RotationError> {
        let (certified, spiffe_id) = certified(chain, key)?;
        Ok(Self {
            current: ArcSwap::from_pointee(certified),
            spiffe_id,
        })
    }

    /// Replaces the certificate for every later handshake.
    pub fn rotate(
        &self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<(), RotationError> {
        let (certified, new) = certified(chain, key)?;
        if new != self.spiffe_id {
            return Err(RotationError::IdentityChanged {
                current: self.spiffe_id.clone(),
                new,
            });
        }
        self.current.store(Arc::new(certified));
        Ok(())
    }

    /// The identity these certificates prove.
    pub fn spiffe_id(&self) -> &str {
        &self.spiffe_id
    }

    /// The leaf certificate handshakes present now.
    pub fn leaf(&self) -> Option<CertificateDer<'static>> {
        self.current.load().cert.first().cloned()
    }
}

fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<(CertifiedKey, String), RotationError> {
    let leaf = chain.first().ok_or(RotationError::NoSpiffeId)?;
    let spiffe_id = x509::spiffe_id_of(leaf).ok_or(RotationError::NoSpiffeId)?;
    Ok((CertifiedKey::from_der(chain, key, &provider())?, spiffe_id))
}

impl ResolvesServerCert for WorkloadCerts {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

impl ResolvesClientCert for WorkloadCerts {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
