//! CSR -> workload certificate. The CSR contributes only its public key (and proves, by its
//! signature, that the requester holds the private key); every name and usage in the
//! certificate is decided here from the *authenticated* identity.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    CertificateParams, CertificateSigningRequestParams, DistinguishedName, ExtendedKeyUsagePurpose,
    IsCa, KeyUsagePurpose, SanType, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use rustls_pki_types::CertificateDer;

use super::authority::Ca;
use super::identity::Identity;
use super::x509;

/// Default lifetime of a workload certificate; proxies rotate at half of it.
pub const DEFAULT_CERT_TTL: Duration = Duration::from_secs(24 * 3600);
/// Leaves start a minute in the past so that a peer whose clock lags slightly accepts them.
const BACKDATE: Duration = Duration::from_secs(60);
/// Key algorithms a workload may use: the ones every mesh peer (ring) can verify.
const ALLOWED_KEY_ALGS: [&rcgen::SignatureAlgorithm; 3] = [
    &rcgen::PKCS_ECDSA_P256_SHA256,
    &rcgen::PKCS_ECDSA_P384_SHA384,
    &rcgen::PKCS_ED25519,
];

/// A signed workload certificate.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// Leaf first, then the CA's certificates up to (not including) the root.
    pub chain_pem: String,
    pub chain: Vec<CertificateDer<'static>>,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// Hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    pub spiffe_id: String,
}

/// The CA would not sign.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(
        "the CSR is invalid or its signature does not verify ({0}); generate a fresh key and CSR"
    )]
    BadCsr(#[source] rcgen::Error),
    #[error(
        "the CSR's key algorithm is not allowed; use ECDSA P-256 (recommended), P-384 or Ed25519"
    )]
    UnsupportedKey,
    #[error("identity {identity} is outside this CA's trust domain {ca:?}")]
    WrongTrustDomain { identity: String, ca: String },
    #[error("certificate lifetime must be positive; use at least a few minutes")]
    ZeroTtl,
    #[error("the CA certificate has expired (or expires before the certificate would start); renew the CA")]
    CaExpired,
    #[error("signing failed: {0}")]
    Sign(#[source] rcgen::Error),
}

impl Ca {
    /// Signs `csr_pem` for `identity`, valid from now for `ttl` (capped at the CA's expiry).
    pub fn sign_csr(
        &self,
        csr_pem: &str,
        identity: &Identity,
        ttl: Duration,
    ) -> Result<IssuedCert, SignError> {
        self.sign_csr_at(csr_pem, identity, ttl, SystemTime::now())
    }

    /// [`Ca::sign_csr`] with the clock injected, so rotation and expiry are testable.
    pub fn sign_csr_at(
        &self,
        csr_pem: &str,
        identity: &Identity,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<IssuedCert, SignError> {
        self.sign(csr_pem, identity, &[], ttl, now)
    }

    /// A serving certificate: the SPIFFE ID plus `dns_names`, so clients that know the
    /// server by name (proxies dialling the control plane) can verify it with plain webpki.
    /// Only for the control plane's own certificates, never on a workload's request.
    pub fn sign_server_csr(
        &self,
        csr_pem: &str,
        identity: &Identity,
        dns_names: &[&str],
        ttl: Duration,
    ) -> Result<IssuedCert, SignError> {
        self.sign(csr_pem, identity, dns_names, ttl, SystemTime::now())
    }

    fn sign(
        &self,
        csr_pem: &str,
        identity: &Identity,
        dns_names: &[&str],
        ttl: Duration,
        now: SystemTime,
    ) -> Result<IssuedCert, SignError> {
        if identity.trust_domain != self.trust_domain() {
            return Err(SignError::WrongTrustDomain {
                identity: identity.spiffe_id(),
                ca: self.trust_domain().to_string(),
            });
        }
        if ttl.is_zero() {
            return Err(SignError::ZeroTtl);
        }
        // `from_pem` verifies the CSR's self-signature (rcgen uses x509-parser's verifier).
        let csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(SignError::BadCsr)?;
        if !ALLOWED_KEY_ALGS.contains(&csr.public_key.algorithm()) {
            return Err(SignError::UnsupportedKey);
        }
        // X.509 times have whole seconds; truncate so `IssuedCert` states the real validity.
        let now = whole_seconds(now);
        let not_before = now - BACKDATE;
        let not_after = (now + ttl).min(self.not_after());
        if not_after <= now {
            return Err(SignError::CaExpired);
        }
        let spiffe_id = identity.spiffe_id();
        let uri = spiffe_id.clone().try_into().map_err(SignError::Sign)?;
        let serial = random_serial().map_err(SignError::Sign)?;
        let mut params = CertificateParams::default();
        // Empty subject, as SPIFFE recommends: the identity lives in the (then critical) SAN.
        params.distinguished_name = DistinguishedName::new();
        params.subject_alt_names = vec![SanType::URI(uri)];
        for name in dns_names {
            let name = (*name).to_string().try_into().map_err(SignError::Sign)?;
            params.subject_alt_names.push(SanType::DnsName(name));
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.not_before = not_before.into();
        params.not_after = not_after.into();
        params.serial_number = Some(serial.clone());
        params.use_authority_key_identifier_extension = true;
        let leaf = params
            .signed_by(&csr.public_key, &self.issuer)
            .map_err(SignError::Sign)?;
        let mut chain = vec![leaf.der().clone()];
        chain.extend(self.chain.iter().cloned());
        Ok(IssuedCert {
            chain_pem: x509::certs_to_pem(&chain),
            chain,
            not_before,
            not_after,
            serial: hex(&serial.to_bytes()),
            spiffe_id,
        })
    }
}

/// A random positive 128-bit serial (RFC 5280 allows up to 20 octets).
pub(crate) fn random_serial() -> Result<SerialNumber, rcgen::Error> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| rcgen::Error::RingUnspecified)?;
    // Top bit clear keeps the DER INTEGER positive; the next bit set keeps it 16 bytes long.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => t,
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
