//! The certificate authority: who a workload is, and the certificates that prove it.
//!
//! Data flow (DESIGN.md step 1): a proxy generates its key locally ([`workload`]), proves who
//! it is with a bootstrap token ([`token`]), and sends a CSR; the CA ([`authority`]) signs a
//! short-lived certificate whose only name is the SPIFFE ID it derived from the *proof*, never
//! from the CSR ([`sign`], [`service`]). Proxies then talk mTLS with the rustls configs from
//! [`tls`], which check the peer's SPIFFE ID instead of a DNS name.
//!
//! - [`identity`]: `spiffe://<trust-domain>/ns/<ns>/sa/<sa>` and its strict parser.
//! - [`authority`]: the root (created at install time) or the user's own CA files.
//! - [`files`]: reading and writing key material with safe permissions.
//! - [`sign`]: CSR -> leaf certificate.
//! - [`token`]: the local platform's per-workload bootstrap tokens.
//! - [`service`]: proof + CSR -> certificate (a bootstrap token, or a renewal the TLS port
//!   authenticated by client certificate): the entry point of `server::certs`.
//! - [`workload`]: the proxy's side: key, CSR, rotation timing.
//! - [`tls`]: rustls client/server configs for sidecar-to-sidecar mTLS.
//! - [`rotation`]: swapping a workload's certificate under live configs.
//! - [`x509`]: read-only views of certificates (SPIFFE ID, validity).

pub mod authority;
pub mod files;
pub mod service;
pub mod sign;
pub mod token;

// The workload-side modules live in `mesh-identity` (the proxy links them without the
// control plane); re-exported here so `ca::tls`, `ca::identity`, ... keep their paths.
pub use mesh_identity::{identity, rotation, tls, trust, workload, x509};

pub use authority::{Ca, CaError};
pub use identity::{Identity, IdentityError};
pub use mesh_identity::TrustBundle;
pub use rotation::WorkloadCerts;
pub use service::{CertificateService, IssueError, MIN_CERT_TTL};
pub use sign::{IssuedCert, SignError, DEFAULT_CERT_TTL};
pub use token::{BootstrapVerifier, TokenAuthority, TokenError};
pub use workload::{needs_rotation, rotation_time, WorkloadKey};
