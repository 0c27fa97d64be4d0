//! The workload's side of issuance: the private key is generated where it is used and never
//! leaves the proxy; only a CSR travels. Rotation happens at half-life, so a proxy whose
//! renewal fails still has half a lifetime of retries before its certificate expires.

use std::fmt;
use std::time::SystemTime;

use rcgen::{CertificateParams, DistinguishedName, KeyPair, SanType};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::identity::Identity;

/// A workload's private key (ECDSA P-256).
pub struct WorkloadKey {
    key: KeyPair,
}

impl fmt::Debug for WorkloadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WorkloadKey { <redacted> }")
    }
}

impl WorkloadKey {
    /// A fresh P-256 key.
    pub fn generate() -> Result<Self, rcgen::Error> {
        Ok(Self {
            key: KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?,
        })
    }

    /// A CSR for `identity`. The SAN is a courtesy for humans reading the CSR: the CA
    /// ignores it and uses the identity proven by the bootstrap token.
    pub fn csr_pem(&self, identity: &Identity) -> Result<String, rcgen::Error> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.subject_alt_names = vec![SanType::URI(identity.spiffe_id().try_into()?)];
        params.serialize_request(&self.key)?.pem()
    }

    /// A CSR naming nothing, for a proxy that leaves its identity to the proof it sends
    /// along (its bootstrap token, or its current certificate).
    pub fn anonymous_csr_pem(&self) -> Result<String, rcgen::Error> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.serialize_request(&self.key)?.pem()
    }

    /// The key in the form rustls takes.
    pub fn private_key_der(&self) -> PrivateKeyDer<'static> {
        PrivatePkcs8KeyDer::from(self.key.serialize_der()).into()
    }

    /// PKCS#8 PEM, for writing to a 0600 file.
    pub fn private_key_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

/// When a certificate valid over `[not_before, not_after]` should be replaced: its half-life.
pub fn rotation_time(not_before: SystemTime, not_after: SystemTime) -> SystemTime {
    let lifetime = not_after.duration_since(not_before).unwrap_or_default();
    not_before + lifetime / 2
}

/// Whether `now` is past the certificate's half-life (or the validity is nonsensical).
pub fn needs_rotation(not_before: SystemTime, not_after: SystemTime, now: SystemTime) -> bool {
    not_after <= not_before || now >= rotation_time(not_before, not_after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rotates_at_half_life() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let end = start + Duration::from_secs(24 * 3600);
        assert!(!needs_rotation(start, end, start));
        assert!(!needs_rotation(
            start,
            end,
            start + Duration::from_secs(12 * 3600 - 1)
        ));
        assert!(needs_rotation(
            start,
            end,
            start + Duration::from_secs(12 * 3600)
        ));
        assert!(needs_rotation(start, end, end + Duration::from_secs(1)));
        // An inverted validity is already unusable: rotate now.
        assert!(needs_rotation(end, start, start));
    }
}
