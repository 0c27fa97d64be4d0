//! Small read-only views into X.509 certificates (x509-parser), shared by the CA, the TLS
//! verifiers and the tests, so that "what is this certificate's SPIFFE ID" has one answer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

/// Why certificate bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertParseError {
    #[error("no PEM \"CERTIFICATE\" block found")]
    NoCertificate,
    #[error("invalid PEM: {0}")]
    Pem(String),
    #[error("invalid X.509 DER: {0}")]
    Der(String),
}

/// Every certificate in a PEM text, in order.
pub fn certs_from_pem(pem: &str) -> Result<Vec<CertificateDer<'static>>, CertParseError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertParseError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(CertParseError::NoCertificate);
    }
    Ok(certs)
}

/// Certificates back to PEM text, one block each.
pub fn certs_to_pem(certs: &[CertificateDer<'_>]) -> String {
    let blocks: Vec<pem::Pem> = certs
        .iter()
        .map(|c| pem::Pem::new("CERTIFICATE", c.as_ref().to_vec()))
        .collect();
    pem::encode_many_config(
        &blocks,
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// Parses one DER certificate.
pub fn parse(der: &[u8]) -> Result<X509Certificate<'_>, CertParseError> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, cert)| cert)
        .map_err(|e| CertParseError::Der(e.to_string()))
}

/// The URI SANs of a certificate (a SPIFFE certificate has exactly one).
pub fn uri_sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) => Some((*uri).to_string()),
            _ => None,
        })
        .collect()
}

/// The single SPIFFE ID of a DER certificate, or `None` if it has zero or several URI SANs
/// (SPIFFE X509-SVIDs carry exactly one; anything else is not a workload certificate).
pub fn spiffe_id_of(der: &[u8]) -> Option<String> {
    let cert = parse(der).ok()?;
    match uri_sans(&cert).as_slice() {
        [one] if one.starts_with("spiffe://") => Some(one.clone()),
        _ => None,
    }
}

/// notBefore and notAfter as `SystemTime`s.
pub fn validity(cert: &X509Certificate<'_>) -> (SystemTime, SystemTime) {
    let v = cert.validity();
    (
        to_system_time(v.not_before.timestamp()),
        to_system_time(v.not_after.timestamp()),
    )
}

fn to_system_time(unix: i64) -> SystemTime {
    match u64::try_from(unix) {
        Ok(secs) => UNIX_EPOCH + Duration::from_secs(secs),
        Err(_) => UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs()),
    }
}

/// What people ask of a certificate (`meshctl proxy-config secrets`, `verify-install`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The subject's distinguished name, `O=cluster.local`.
    pub subject: String,
    /// Lower-case hex of the serial's bytes, as the CA reports it.
    pub serial: String,
    /// The SPIFFE ID, for workload certificates.
    pub spiffe_id: Option<String>,
    /// Validity, Unix seconds (0 before the epoch).
    pub not_before: u64,
    pub not_after: u64,
}

/// The [`Summary`] of one DER certificate.
pub fn summary(der: &[u8]) -> Result<Summary, CertParseError> {
    let cert = parse(der)?;
    let v = cert.validity();
    let unix = |t: i64| u64::try_from(t).unwrap_or(0);
    Ok(Summary {
        subject: cert.subject().to_string(),
        serial: cert
            .raw_serial()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        spiffe_id: spiffe_id_of(der),
        not_before: unix(v.not_before.timestamp()),
        not_after: unix(v.not_after.timestamp()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn summarises_a_workload_certificate() {
        let id = "spiffe://cluster.local/ns/default/sa/reviews";
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![rcgen::SanType::URI(id.try_into().unwrap())];
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x40, 0x01, 0xab]));
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let s = super::summary(cert.der()).unwrap();
        assert_eq!(s.serial, "4001ab");
        assert_eq!(s.spiffe_id.as_deref(), Some(id));
        assert!(s.not_after > s.not_before && s.not_before > 0, "{s:?}");
        assert!(super::summary(b"junk").is_err());
    }
}
