//! The one entry point the config server calls for a certificate: bootstrap proof + CSR ->
//! certificate. The identity comes *only* from the verified proof, so a workload holding a
//! token for A can never obtain a certificate for B, whatever its CSR asks for.

use std::sync::Arc;
use std::time::Duration;

use super::authority::Ca;
use super::identity::Identity;
use super::sign::{IssuedCert, SignError, DEFAULT_CERT_TTL};
use super::token::{BootstrapError, BootstrapVerifier};

/// The shortest certificate lifetime `--cert-ttl` accepts: enough for a proxy to rotate at
/// half-life over loopback (tests use it); real meshes use hours.
pub const MIN_CERT_TTL: Duration = Duration::from_secs(2);

/// Signs workload certificates for callers that prove who they are.
pub struct CertificateService {
    ca: Arc<Ca>,
    verifier: Arc<dyn BootstrapVerifier>,
    ttl: Duration,
}

impl std::fmt::Debug for CertificateService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateService")
            .field("ca", &self.ca)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A certificate request was refused.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Proof(#[from] BootstrapError),
    #[error(transparent)]
    Sign(#[from] SignError),
}

impl CertificateService {
    /// A service issuing certificates of [`DEFAULT_CERT_TTL`].
    pub fn new(ca: Arc<Ca>, verifier: Arc<dyn BootstrapVerifier>) -> Self {
        Self {
            ca,
            verifier,
            ttl: DEFAULT_CERT_TTL,
        }
    }

    /// Changes the lifetime of issued certificates (still capped at the CA's expiry).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Verifies `proof`, then signs `csr_pem` for the identity the proof establishes.
    pub async fn issue(&self, proof: &str, csr_pem: &str) -> Result<IssuedCert, IssueError> {
        let identity = self.verifier.verify_proof(proof).await?;
        let cert = self.ca.sign_csr(csr_pem, &identity, self.ttl)?;
        tracing::info!(spiffe_id = %cert.spiffe_id, serial = %cert.serial, "issued workload certificate");
        Ok(cert)
    }

    /// Signs `csr_pem` for `identity`, which the caller has already authenticated (the
    /// verified client certificate of a renewal). The identity is never taken from the CSR.
    pub fn renew(&self, identity: &Identity, csr_pem: &str) -> Result<IssuedCert, IssueError> {
        let cert = self.ca.sign_csr(csr_pem, identity, self.ttl)?;
        tracing::info!(spiffe_id = %cert.spiffe_id, serial = %cert.serial, "renewed workload certificate");
        Ok(cert)
    }

    /// The lifetime of issued certificates.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The CA behind the service.
    pub fn ca(&self) -> &Arc<Ca> {
        &self.ca
    }

    /// The roots to distribute with the config.
    pub fn trust_bundle_pem(&self) -> String {
        self.ca.trust_bundle_pem()
    }
}
