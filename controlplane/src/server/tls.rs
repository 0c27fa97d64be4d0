//! The TLS port's own certificate and rustls config.
//!
//! The control plane is a client of its own CA: it generates a key, has the CA sign it for
//! `spiffe://<td>/ns/mesh-system/sa/mesh-controlplane` plus the DNS name
//! [`CONTROL_PLANE_NAME`] (which proxies verify against the mesh root), and renews it at
//! half-life under the live config ([`WorkloadCerts`]). Client certificates are optional:
//! a proxy asking for its first certificate has none; when one is presented, it must chain
//! to the trust bundle.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mesh_api::xds::CONTROL_PLANE_NAME;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::ca::tls::{provider, ALPN_H2};
use crate::ca::{Ca, Identity, IssuedCert, SignError, WorkloadCerts, WorkloadKey};

/// The control plane's own identity: namespace and service account.
pub const CONTROL_PLANE_NAMESPACE: &str = "mesh-system";
pub const CONTROL_PLANE_SERVICE_ACCOUNT: &str = "mesh-controlplane";
/// Lifetime of the serving certificate (renewed at half-life).
const SERVING_TTL: Duration = Duration::from_secs(24 * 3600);
/// Retry delay when renewing the serving certificate fails.
const RETRY: Duration = Duration::from_secs(5);

/// The TLS port could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ServingError {
    #[error("the CA's trust domain cannot name the control plane: {0}")]
    Identity(#[from] crate::ca::IdentityError),
    #[error("cannot generate the control plane's key: {0}")]
    Key(#[source] rcgen::Error),
    #[error("the CA would not sign the control plane's serving certificate: {0}")]
    Sign(#[from] SignError),
    #[error("the serving certificate is unusable: {0}")]
    Certs(#[from] crate::ca::rotation::RotationError),
    #[error("cannot build the TLS config of the control plane: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("cannot build the client-certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// The TLS port's acceptor and the certificate it serves.
pub struct Serving {
    pub acceptor: TlsAcceptor,
    certs: Arc<WorkloadCerts>,
    ca: Arc<Ca>,
    issued: IssuedCert,
    /// The DNS names the certificate carries besides the SPIFFE ID.
    names: Vec<String>,
}

impl std::fmt::Debug for Serving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serving")
            .field("spiffe_id", &self.certs.spiffe_id())
            .field("serial", &self.issued.serial)
            .finish_non_exhaustive()
    }
}

impl Serving {
    /// Issues the serving certificate and builds the config.
    pub fn new(ca: Arc<Ca>) -> Result<Serving, ServingError> {
        let names = vec![CONTROL_PLANE_NAME.to_string()];
        let (issued, key) = issue(&ca, &names)?;
        let certs = Arc::new(WorkloadCerts::new(
            issued.chain.clone(),
            key.private_key_der(),
        )?);
        let mut roots = RootCertStore::empty();
        for root in ca.trust_bundle() {
            roots.add(root.clone())?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()?;
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(certs.clone());
        config.alpn_protocols = vec![ALPN_H2.to_vec()];
        Ok(Serving {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            certs,
            ca,
            issued,
            names,
        })
    }

    /// The admission webhooks' certificate: the mesh CA signs it for `dns_names` (the
    /// Service's name as the API server dials it, `mesh-controlplane.mesh-system.svc`); no
    /// client certificate is asked for (the API server presents none by default); TLS 1.3
    /// (the mesh's only version; the API server's Go client speaks it), HTTP/2 or HTTP/1.1.
    pub fn webhook(ca: Arc<Ca>, dns_names: Vec<String>) -> Result<Serving, ServingError> {
        let (issued, key) = issue(&ca, &dns_names)?;
        let certs = Arc::new(WorkloadCerts::new(
            issued.chain.clone(),
            key.private_key_der(),
        )?);
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_cert_resolver(certs.clone());
        config.alpn_protocols = vec![ALPN_H2.to_vec(), b"http/1.1".to_vec()];
        Ok(Serving {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            certs,
            ca,
            issued,
            names: dns_names,
        })
    }

    /// Renews the serving certificate at half-life until `shutdown` flips.
    pub async fn renew(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut valid = (self.issued.not_before, self.issued.not_after);
        loop {
            let at = crate::ca::rotation_time(valid.0, valid.1);
            let wait = at
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
            let renewed = issue(&self.ca, &self.names).and_then(|(issued, key)| {
                self.certs
                    .rotate(issued.chain.clone(), key.private_key_der())?;
                Ok(issued)
            });
            match renewed {
                Ok(issued) => {
                    tracing::info!(serial = %issued.serial, "renewed the control plane's serving certificate");
                    valid = (issued.not_before, issued.not_after);
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot renew the control plane's serving certificate; retrying");
                    valid = (SystemTime::now(), SystemTime::now() + 2 * RETRY);
                }
            }
        }
    }
}

/// The control plane's SPIFFE identity in `ca`'s trust domain.
pub fn identity(ca: &Ca) -> Result<Identity, crate::ca::IdentityError> {
    Identity::new(
        ca.trust_domain(),
        CONTROL_PLANE_NAMESPACE,
        CONTROL_PLANE_SERVICE_ACCOUNT,
    )
}

fn issue(ca: &Ca, names: &[String]) -> Result<(IssuedCert, WorkloadKey), ServingError> {
    let id = identity(ca)?;
    let key = WorkloadKey::generate().map_err(ServingError::Key)?;
    let csr = key.anonymous_csr_pem().map_err(ServingError::Key)?;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let issued = ca.sign_server_csr(&csr, &id, &names, SERVING_TTL)?;
    Ok((issued, key))
}
