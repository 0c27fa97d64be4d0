//! mesh-identity: the workload side of the mesh's identity, shared by the proxy and the
//! control plane (which re-exports it from `mesh_controlplane::ca`). No IO, no storage: the
//! proxy links this crate, not the control plane.
//!
//! - [`identity`]: `spiffe://<trust-domain>/ns/<ns>/sa/<sa>` and its strict parser.
//! - [`workload`]: the proxy's side of issuance: key, CSR, rotation timing.
//! - [`tls`]: rustls client/server configs for sidecar-to-sidecar mTLS (TLS 1.3, ALPN h2)
//!   whose verifiers check the peer's SPIFFE ID instead of a DNS name.
//! - [`rotation`]: swapping a workload's certificate under live configs.
//! - [`trust`]: the trust bundle, replaceable under live configs.
//! - [`x509`]: read-only views of certificates (SPIFFE ID, validity).

pub mod identity;
pub mod rotation;
pub mod tls;
pub mod trust;
pub mod workload;
pub mod x509;

pub use identity::{Identity, IdentityError};
pub use rotation::WorkloadCerts;
pub use trust::TrustBundle;
pub use workload::{needs_rotation, rotation_time, WorkloadKey};
