//! Sidecar-to-sidecar mTLS: the proxy's identity ([`IdentitySource`] -> [`TlsContext`]), the
//! inbound side ([`inbound`]: PeerAuthentication, TLS termination, peer identity) and the
//! client configs the upstream pools dial with ([`TlsContext::connector`]).
//!
//! The certificate is read at every handshake from a [`WorkloadCerts`], and the trust roots
//! from a [`TrustBundle`], so a control-plane client can rotate either without rebuilding
//! configs or dropping connections.

pub mod inbound;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use mesh_identity::tls::{client_config_trusting, server_config_trusting, TlsConfigError};
use mesh_identity::x509;
use mesh_identity::{TrustBundle, WorkloadCerts};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Where the proxy's certificate, key and trust bundle come from.
#[derive(Clone)]
pub enum IdentitySource {
    /// PEM files (`--cert-chain`, `--key`, `--trust-bundle`), read once at start.
    Files {
        cert_chain: PathBuf,
        key: PathBuf,
        trust_bundle: PathBuf,
    },
    /// Certificates and trust bundle held in process (rotated or replaced by their owner:
    /// the control-plane client).
    InProcess {
        certs: Arc<WorkloadCerts>,
        trust_bundle: Arc<TrustBundle>,
    },
}

impl std::fmt::Debug for IdentitySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdentitySource::Files {
                cert_chain,
                key,
                trust_bundle,
            } => f
                .debug_struct("Files")
                .field("cert_chain", cert_chain)
                .field("key", key)
                .field("trust_bundle", trust_bundle)
                .finish(),
            IdentitySource::InProcess { certs, .. } => f
                .debug_struct("InProcess")
                .field("spiffe_id", &certs.spiffe_id())
                .finish(),
        }
    }
}

/// Why the identity could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read {path}: {source} (check the --cert-chain/--key/--trust-bundle paths)")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error(transparent)]
    Certs(#[from] mesh_identity::rotation::RotationError),
    #[error("cannot build the mTLS configs: {0}")]
    Config(#[from] TlsConfigError),
}

/// The proxy's loaded identity: its server config and what client configs are built from.
pub struct TlsContext {
    pub certs: Arc<WorkloadCerts>,
    pub trust_bundle: Arc<TrustBundle>,
    pub acceptor: TlsAcceptor,
    /// This proxy's SPIFFE ID (`destination_principal` inbound, `source_principal` outbound).
    pub spiffe_id: String,
}

impl std::fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsContext")
            .field("spiffe_id", &self.spiffe_id)
            .finish()
    }
}

impl TlsContext {
    /// Loads `source` and builds the server config (any peer of the trust domain may connect;
    /// AuthorizationPolicy decides what it may do).
    pub fn load(source: &IdentitySource) -> Result<Arc<TlsContext>, IdentityError> {
        let (certs, trust_bundle) = match source {
            IdentitySource::InProcess {
                certs,
                trust_bundle,
            } => (certs.clone(), trust_bundle.clone()),
            IdentitySource::Files {
                cert_chain,
                key,
                trust_bundle,
            } => {
                let chain = read_certs(cert_chain)?;
                let key = PrivateKeyDer::from_pem_slice(read(key)?.as_bytes()).map_err(|e| {
                    IdentityError::Pem {
                        path: key.clone(),
                        message: format!("no usable private key: {e}"),
                    }
                })?;
                let certs = Arc::new(WorkloadCerts::new(chain, key)?);
                (
                    certs,
                    Arc::new(TrustBundle::new(read_certs(trust_bundle)?)?),
                )
            }
        };
        let server: ServerConfig =
            server_config_trusting(certs.clone(), trust_bundle.clone(), None)?;
        Ok(Arc::new(TlsContext {
            spiffe_id: certs.spiffe_id().to_string(),
            certs,
            trust_bundle,
            acceptor: TlsAcceptor::from(Arc::new(server)),
        }))
    }

    /// The certificate handshakes present now and the trust bundle, for `/config_dump`:
    /// `{spiffe_id, serial, not_before, not_after, trust_bundle: [{subject, serial,
    /// not_before, not_after}]}` (Unix seconds). Null when the leaf cannot be read.
    pub fn dump(&self) -> serde_json::Value {
        let Some(leaf) = self.certs.leaf().and_then(|d| x509::summary(&d).ok()) else {
            return serde_json::Value::Null;
        };
        let roots: Vec<serde_json::Value> = self
            .trust_bundle
            .certs()
            .iter()
            .filter_map(|d| x509::summary(d).ok())
            .map(|r| {
                serde_json::json!({
                    "subject": r.subject, "serial": r.serial,
                    "not_before": r.not_before, "not_after": r.not_after,
                })
            })
            .collect();
        serde_json::json!({
            "spiffe_id": leaf.spiffe_id.unwrap_or_else(|| self.spiffe_id.clone()),
            "serial": leaf.serial,
            "not_before": leaf.not_before,
            "not_after": leaf.not_after,
            "trust_bundle": roots,
        })
    }

    /// The notAfter of the leaf handshakes present now (so it follows a rotation); None when
    /// the leaf cannot be read.
    pub fn not_after(&self) -> Option<SystemTime> {
        let leaf = self.certs.leaf()?;
        let cert = x509::parse(&leaf).ok()?;
        Some(x509::validity(&cert).1)
    }

    /// A connector that presents our certificate and accepts only a server proving one of
    /// `expected` (SPIFFE IDs).
    pub fn connector(&self, expected: Vec<String>) -> Result<TlsConnector, TlsConfigError> {
        let config =
            client_config_trusting(self.certs.clone(), self.trust_bundle.clone(), expected)?;
        Ok(TlsConnector::from(Arc::new(config)))
    }
}

fn read(path: &PathBuf) -> Result<String, IdentityError> {
    std::fs::read_to_string(path).map_err(|source| IdentityError::Read {
        path: path.clone(),
        source,
    })
}

fn read_certs(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, IdentityError> {
    x509::certs_from_pem(&read(path)?).map_err(|e| IdentityError::Pem {
        path: path.clone(),
        message: e.to_string(),
    })
}

/// The identity flags of `mesh-proxy run` (all three, or none).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct IdentityArgs {
    /// PEM certificate chain (leaf first) proving this workload's SPIFFE ID; turns on mTLS.
    #[arg(long, requires_all = ["key", "trust_bundle"])]
    pub cert_chain: Option<PathBuf>,
    /// PEM private key of --cert-chain.
    #[arg(long, requires_all = ["cert_chain", "trust_bundle"])]
    pub key: Option<PathBuf>,
    /// PEM CA certificates peers must chain to.
    #[arg(long, requires_all = ["cert_chain", "key"])]
    pub trust_bundle: Option<PathBuf>,
}

impl IdentityArgs {
    /// The identity source the flags name, if any.
    pub fn source(&self) -> Option<IdentitySource> {
        match (&self.cert_chain, &self.key, &self.trust_bundle) {
            (Some(c), Some(k), Some(t)) => Some(IdentitySource::Files {
                cert_chain: c.clone(),
                key: k.clone(),
                trust_bundle: t.clone(),
            }),
            _ => None,
        }
    }
}
