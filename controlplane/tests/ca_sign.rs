//! CSR signing: the certificate's contents come from the CA's decisions and the authenticated
//! identity, never from the request.

use std::time::{Duration, SystemTime};

use mesh_controlplane::ca::{x509, Ca, Identity, SignError, WorkloadKey, DEFAULT_CERT_TTL};
use x509_parser::extensions::GeneralName;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn reviews() -> Result<Identity, Box<dyn std::error::Error>> {
    Ok(Identity::new("cluster.local", "default", "reviews")?)
}

#[test]
fn leaf_has_the_spiffe_san_usages_validity_and_issuer() -> TestResult {
    let ca = Ca::ephemeral("cluster.local")?;
    let key = WorkloadKey::generate()?;
    let id = reviews()?;
    let now = SystemTime::now();
    let issued = ca.sign_csr_at(&key.csr_pem(&id)?, &id, DEFAULT_CERT_TTL, now)?;
    assert_eq!(
        issued.spiffe_id,
        "spiffe://cluster.local/ns/default/sa/reviews"
    );
    assert_eq!(issued.chain.len(), 1, "a root-signed leaf is sent alone");

    let leaf = x509::parse(&issued.chain[0])?;
    assert_eq!(x509::uri_sans(&leaf), vec![issued.spiffe_id.clone()]);
    let san = leaf.subject_alternative_name()?.ok_or("no SAN")?;
    assert!(
        san.value
            .general_names
            .iter()
            .all(|n| matches!(n, GeneralName::URI(_))),
        "only a URI SAN"
    );
    assert!(san.critical, "SAN is critical because the subject is empty");
    assert!(!leaf.is_ca());
    let eku = leaf.extended_key_usage()?.ok_or("no EKU")?.value;
    assert!(eku.server_auth && eku.client_auth && !eku.any);
    let ku = leaf.key_usage()?.ok_or("no KU")?.value;
    assert!(ku.digital_signature() && ku.key_encipherment() && !ku.key_cert_sign());

    let root = x509::parse(&ca.trust_bundle()[0])?;
    assert_eq!(leaf.issuer(), root.subject());
    leaf.verify_signature(Some(root.public_key()))?;

    let (nb, na) = x509::validity(&leaf);
    assert_eq!(truncate(now).duration_since(nb)?.as_secs(), 60);
    assert_eq!(na.duration_since(truncate(now))?.as_secs(), 24 * 3600);
    assert_eq!(
        (issued.not_before, issued.not_after),
        (truncate(nb), truncate(na))
    );
    assert_eq!(issued.serial, hex(leaf.raw_serial()));
    Ok(())
}

#[test]
fn the_san_comes_from_the_identity_not_the_csr() -> TestResult {
    let ca = Ca::ephemeral("cluster.local")?;
    let key = WorkloadKey::generate()?;
    let asked = Identity::new("cluster.local", "kube-system", "admin")?;
    let issued = ca.sign_csr(&key.csr_pem(&asked)?, &reviews()?, DEFAULT_CERT_TTL)?;
    let leaf = x509::parse(&issued.chain[0])?;
    assert_eq!(x509::uri_sans(&leaf), vec![reviews()?.spiffe_id()]);
    Ok(())
}

#[test]
fn csr_with_a_bad_signature_is_rejected() -> TestResult {
    let ca = Ca::ephemeral("cluster.local")?;
    let csr = WorkloadKey::generate()?.csr_pem(&reviews()?)?;
    let block = pem::parse(&csr)?;
    let mut der = block.contents().to_vec();
    // The signature BIT STRING ends the CSR: flipping its last byte breaks only the signature.
    if let Some(last) = der.last_mut() {
        *last ^= 0x01;
    }
    let tampered = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der));
    let err = ca.sign_csr(&tampered, &reviews()?, DEFAULT_CERT_TTL).err();
    assert!(matches!(err, Some(SignError::BadCsr(_))), "{err:?}");
    assert!(matches!(
        ca.sign_csr("garbage", &reviews()?, DEFAULT_CERT_TTL),
        Err(SignError::BadCsr(_))
    ));
    Ok(())
}

#[test]
fn identity_from_another_trust_domain_is_refused() -> TestResult {
    let ca = Ca::ephemeral("cluster.local")?;
    let key = WorkloadKey::generate()?;
    let foreign = Identity::new("evil.example", "default", "reviews")?;
    let err = ca
        .sign_csr(&key.csr_pem(&foreign)?, &foreign, DEFAULT_CERT_TTL)
        .err();
    assert!(
        matches!(err, Some(SignError::WrongTrustDomain { .. })),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn ttl_is_configurable_and_capped_at_the_ca_expiry() -> TestResult {
    let ca = Ca::ephemeral("cluster.local")?;
    let key = WorkloadKey::generate()?;
    let id = reviews()?;
    let csr = key.csr_pem(&id)?;
    let now = SystemTime::now();
    let short = ca.sign_csr_at(&csr, &id, Duration::from_secs(3600), now)?;
    assert_eq!(short.not_after, truncate(now + Duration::from_secs(3600)));
    let huge = ca.sign_csr_at(&csr, &id, Duration::from_secs(100 * 365 * 24 * 3600), now)?;
    assert_eq!(huge.not_after, truncate(ca.not_after()));
    assert!(matches!(
        ca.sign_csr(&csr, &id, Duration::ZERO),
        Err(SignError::ZeroTtl)
    ));
    Ok(())
}

#[test]
fn serials_are_random() -> TestResult {
    let ca = Ca::ephemeral("cluster.local")?;
    let id = reviews()?;
    let csr = WorkloadKey::generate()?.csr_pem(&id)?;
    let a = ca.sign_csr(&csr, &id, DEFAULT_CERT_TTL)?;
    let b = ca.sign_csr(&csr, &id, DEFAULT_CERT_TTL)?;
    assert_ne!(a.serial, b.serial);
    assert_eq!(a.serial.len(), 32);
    Ok(())
}

/// X.509 times have whole seconds.
fn truncate(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
