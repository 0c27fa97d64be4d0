//! rustls configs for sidecar-to-sidecar mTLS: TLS 1.3 only, ALPN `h2`, ring as the one
//! crypto provider, and peers identified by SPIFFE ID rather than DNS name.
//!
//! webpki only matches DNS names and IP addresses against a `ServerName`, never URI SANs, so
//! the client side cannot use `WebPkiServerVerifier` as is: [`SpiffeServerVerifier`] runs the
//! same chain validation (`verify_server_cert_signed_by_trust_anchor`) and then compares the
//! URI SAN with the expected identity, ignoring the `ServerName` (which is only the SNI sent).
//!
//! Both verifiers read a [`TrustBundle`] at every handshake, so the configs built with
//! [`server_config_trusting`] / [`client_config_trusting`] follow bundle replacements. TLS
//! session resumption is off: a resumed session is not verified again, so it would keep
//! trusting a root the bundle no longer has.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, CommonState, DigitallySignedStruct, DistinguishedName,
    OtherError, ServerConfig, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::identity::Identity;
use crate::rotation::{RotationError, WorkloadCerts};
use crate::trust::TrustBundle;
use crate::x509;

/// The ALPN protocol sidecars speak to each other.
pub const ALPN_H2: &[u8] = b"h2";

/// A TLS config could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("the trust bundle is empty; pass the CA's trust bundle from the config stream")]
    EmptyTrustBundle,
    #[error(
        "a trust bundle certificate is unusable ({0}); re-fetch the bundle from the control plane"
    )]
    BadTrustAnchor(#[source] rustls::Error),
    #[error("the trust bundle is not PEM certificates ({0}); re-fetch it from the control plane")]
    BadBundlePem(String),
    #[error("cannot build the client-certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    #[error(transparent)]
    Certificate(#[from] RotationError),
}

/// The peer presented a valid chain but is not who we expected.
#[derive(thiserror::Error)]
pub enum PeerIdentityError {
    #[error(
        "peer certificate has no single SPIFFE URI SAN; it is not a mesh workload certificate"
    )]
    NoSpiffeId,
    #[error("peer is {got}, expected {expected}")]
    Unexpected { got: String, expected: String },
}

// rustls prints `OtherError` with `{:?}`; make that the readable sentence operators need.
impl std::fmt::Debug for PeerIdentityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The crypto provider of the whole mesh. One provider, chosen explicitly, so no code path
/// depends on a process-wide default being installed.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server config that requires a client certificate chaining to `trust_bundle`, and, when
/// `expected_client_ids` is given, one of those identities.
pub fn server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    trust_bundle: &[CertificateDer<'_>],
    expected_client_ids: Option<Vec<Identity>>,
) -> Result<ServerConfig, TlsConfigError> {
    let certs = Arc::new(WorkloadCerts::new(cert_chain, key)?);
    server_config_rotating(certs, trust_bundle, expected_client_ids)
}

/// [`server_config`] reading the certificate from `certs` at each handshake, so that
/// [`WorkloadCerts::rotate`] takes effect without rebuilding the config or the listener.
pub fn server_config_rotating(
    certs: Arc<WorkloadCerts>,
    trust_bundle: &[CertificateDer<'_>],
    expected_client_ids: Option<Vec<Identity>>,
) -> Result<ServerConfig, TlsConfigError> {
    let trust = Arc::new(fixed(trust_bundle)?);
    server_config_trusting(certs, trust, expected_client_ids)
}

/// [`server_config_rotating`] verifying clients against `trust` as it is at each handshake,
/// so [`TrustBundle::replace`] takes effect too.
pub fn server_config_trusting(
    certs: Arc<WorkloadCerts>,
    trust: Arc<TrustBundle>,
    expected_client_ids: Option<Vec<Identity>>,
) -> Result<ServerConfig, TlsConfigError> {
    let provider = provider();
    let verifier = Arc::new(SpiffeClientVerifier {
        trust,
        algs: provider.signature_verification_algorithms,
        allowed: expected_client_ids.map(|ids| ids.iter().map(Identity::spiffe_id).collect()),
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(certs);
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    // No resumption: a resumed session skips certificate verification, so it would outlive
    // a trust bundle replacement. Mesh peers keep one long-lived connection each, so full
    // handshakes are rare anyway.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// A client config that presents `cert_chain` and accepts only a server whose certificate
/// chains to `trust_bundle` and carries `expected_server_id`.
pub fn client_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    trust_bundle: &[CertificateDer<'_>],
    expected_server_id: &Identity,
) -> Result<ClientConfig, TlsConfigError> {
    let certs = Arc::new(WorkloadCerts::new(cert_chain, key)?);
    client_config_rotating(certs, trust_bundle, expected_server_id)
}

/// [`client_config`] reading the certificate from `certs` at each handshake.
pub fn client_config_rotating(
    certs: Arc<WorkloadCerts>,
    trust_bundle: &[CertificateDer<'_>],
    expected_server_id: &Identity,
) -> Result<ClientConfig, TlsConfigError> {
    client_config_for_ids(certs, trust_bundle, vec![expected_server_id.spiffe_id()])
}

/// [`client_config_rotating`] accepting a server that proves any one of `expected_server_ids`
/// (SPIFFE ID strings, as a DestinationRule's `subjectAltNames` lists them).
pub fn client_config_for_ids(
    certs: Arc<WorkloadCerts>,
    trust_bundle: &[CertificateDer<'_>],
    expected_server_ids: Vec<String>,
) -> Result<ClientConfig, TlsConfigError> {
    let trust = Arc::new(fixed(trust_bundle)?);
    client_config_trusting(certs, trust, expected_server_ids)
}

/// [`client_config_for_ids`] verifying servers against `trust` as it is at each handshake.
pub fn client_config_trusting(
    certs: Arc<WorkloadCerts>,
    trust: Arc<TrustBundle>,
    expected_server_ids: Vec<String>,
) -> Result<ClientConfig, TlsConfigError> {
    let provider = provider();
    let verifier = Arc::new(SpiffeServerVerifier {
        trust,
        algs: provider.signature_verification_algorithms,
        expected: expected_server_ids,
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(certs);
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    // See `server_config_trusting`: resumption would bypass a replaced trust bundle.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}

/// The SPIFFE ID of the peer of a completed handshake (either side), for authorization
/// policies and metric labels.
pub fn peer_spiffe_id(conn: &CommonState) -> Option<Identity> {
    let leaf = conn.peer_certificates()?.first()?;
    Identity::from_spiffe_id(&x509::spiffe_id_of(leaf)?).ok()
}

/// A bundle that nobody replaces, for the slice-taking constructors.
fn fixed(trust_bundle: &[CertificateDer<'_>]) -> Result<TrustBundle, TlsConfigError> {
    TrustBundle::new(
        trust_bundle
            .iter()
            .map(|c| c.clone().into_owned())
            .collect(),
    )
}

/// Accepts the leaf only if its single SPIFFE ID is in `allowed` (any, when `None`).
fn check_identity(
    leaf: &CertificateDer<'_>,
    allowed: Option<&[String]>,
) -> Result<(), rustls::Error> {
    let reject = |e: PeerIdentityError| {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
    };
    let got = x509::spiffe_id_of(leaf).ok_or_else(|| reject(PeerIdentityError::NoSpiffeId))?;
    match allowed {
        Some(ids) if !ids.contains(&got) => Err(reject(PeerIdentityError::Unexpected {
            got,
            expected: ids.join(" or "),
        })),
        _ => Ok(()),
    }
}

/// Server-certificate verifier that checks the URI SAN instead of a DNS name.
#[derive(Debug)]
pub struct SpiffeServerVerifier {
    trust: Arc<TrustBundle>,
    algs: WebPkiSupportedAlgorithms,
    expected: Vec<String>,
}

impl ServerCertVerifier for SpiffeServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.trust.load().roots,
            intermediates,
            now,
            self.algs.all,
        )?;
        check_identity(end_entity, Some(&self.expected))?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Client-certificate verifier: webpki's chain checks against the bundle in force, then the
/// SPIFFE ID allow-list.
#[derive(Debug)]
pub struct SpiffeClientVerifier {
    trust: Arc<TrustBundle>,
    algs: WebPkiSupportedAlgorithms,
    allowed: Option<Vec<String>>,
}

impl ClientCertVerifier for SpiffeClientVerifier {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // The hints would have to follow bundle replacements; they are optional, and mesh
        // clients have exactly one certificate to offer anyway.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified =
            self.trust
                .load()
                .client_verifier
                .verify_client_cert(end_entity, intermediates, now)?;
        check_identity(end_entity, self.allowed.as_deref())?;
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}
