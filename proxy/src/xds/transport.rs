//! Connections to the control plane: plaintext h2c (15010), or TLS 1.3 (15012) verified
//! against the mesh root (`--ca-root`) for the DNS name `mesh-controlplane`, presenting the
//! proxy's certificate once it has a valid one.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use mesh_api::xds::CONTROL_PLANE_NAME;
use mesh_identity::tls::{provider, ALPN_H2};
use mesh_identity::{x509, WorkloadCerts};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How long connecting (TCP and TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A byte stream to the control plane, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
pub type BoxIo = TokioIo<Box<dyn Io>>;

/// Why the control plane could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "cannot reach the control plane at {addr}: {source} (is mesh-controlplane running there?)"
    )]
    Tcp {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS handshake with the control plane at {addr} failed: {source} (is --ca-root the mesh's root certificate, and {addr} its TLS port?)")]
    Tls {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("connecting to the control plane at {addr} timed out after {CONNECT_TIMEOUT:?}")]
    Timeout { addr: SocketAddr },
}

/// The `--ca-root` file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    #[error("cannot read the CA root {path}: {source} (pass the mesh's root certificate, e.g. STATE/ca/root-cert.pem)")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message} (pass the mesh's root certificate, e.g. STATE/ca/root-cert.pem)")]
    Bad {
        path: std::path::PathBuf,
        message: String,
    },
}

/// The TLS side of control-plane connections.
#[derive(Clone)]
pub struct ControlPlaneTls {
    roots: Arc<RootCertStore>,
    bootstrap: TlsConnector,
}

impl std::fmt::Debug for ControlPlaneTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlaneTls")
            .field("roots", &self.roots.len())
            .finish_non_exhaustive()
    }
}

impl ControlPlaneTls {
    /// Trusting the PEM root certificates in `path`.
    pub fn from_file(path: &Path) -> Result<ControlPlaneTls, RootError> {
        let text = std::fs::read_to_string(path).map_err(|source| RootError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |message: String| RootError::Bad {
            path: path.to_path_buf(),
            message,
        };
        let certs = x509::certs_from_pem(&text).map_err(|e| bad(e.to_string()))?;
        let mut roots = RootCertStore::empty();
        for c in certs {
            roots
                .add(c)
                .map_err(|e| bad(format!("not a usable root certificate: {e}")))?;
        }
        let roots = Arc::new(roots);
        let config = builder(&roots).with_no_client_auth();
        Ok(ControlPlaneTls {
            roots,
            bootstrap: connector(config),
        })
    }

    /// A connector presenting `certs` (read at each handshake, so rotation applies).
    pub fn mutual(&self, certs: Arc<WorkloadCerts>) -> TlsConnector {
        connector(builder(&self.roots).with_client_cert_resolver(certs))
    }

    /// A connector presenting no certificate (first issuance, or an expired certificate).
    pub fn bootstrap(&self) -> TlsConnector {
        self.bootstrap.clone()
    }
}

/// The name the control plane's certificate carries.
fn server_name() -> ServerName<'static> {
    // A constant, valid DNS name.
    ServerName::try_from(CONTROL_PLANE_NAME).expect("a valid DNS name")
}

fn builder(
    roots: &Arc<RootCertStore>,
) -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
    // TLS 1.3 with ring's provider: a fixed, valid combination.
    ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("ring supports TLS 1.3")
        .with_root_certificates(roots.clone())
}

fn connector(mut config: ClientConfig) -> TlsConnector {
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// Connects to `addr`, over TLS with `tls` when given.
pub async fn connect(addr: SocketAddr, tls: Option<&TlsConnector>) -> Result<BoxIo, ConnectError> {
    let attempt = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|source| ConnectError::Tcp { addr, source })?;
        let _ = tcp.set_nodelay(true);
        let Some(tls) = tls else {
            return Ok(TokioIo::new(Box::new(tcp) as Box<dyn Io>));
        };
        let stream = tls
            .connect(server_name(), tcp)
            .await
            .map_err(|source| ConnectError::Tls { addr, source })?;
        Ok(TokioIo::new(Box::new(stream) as Box<dyn Io>))
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .map_err(|_| ConnectError::Timeout { addr })?
}
