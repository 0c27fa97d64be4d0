//! The CA's files: creation, permissions, reloading, refusing to overwrite, and the user's own
//! CA with an intermediate.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use mesh_controlplane::ca::authority::{ROOT_CERT_FILE, ROOT_KEY_FILE};
use mesh_controlplane::ca::files::FileError;
use mesh_controlplane::ca::{x509, Ca, CaError, Identity, WorkloadKey, DEFAULT_CERT_TTL};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn mode(path: &Path) -> std::io::Result<u32> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

#[test]
fn create_then_load_round_trips() -> TestResult {
    let parent = tempfile::tempdir()?;
    let dir = parent.path().join("ca");
    let created = Ca::create(&dir, "cluster.local")?;
    assert_eq!(mode(&dir.join(ROOT_KEY_FILE))?, 0o600);
    assert_eq!(mode(&dir)?, 0o700);
    let loaded = Ca::load(&dir)?;
    assert_eq!(loaded.trust_domain(), "cluster.local");
    assert_eq!(loaded.trust_bundle(), created.trust_bundle());
    let root = &x509::certs_from_pem(&loaded.trust_bundle_pem())?[0];
    let parsed = x509::parse(root)?;
    assert!(parsed.is_ca());
    assert!(parsed.subject().to_string().contains("meshctl root CA"));
    // Ten years, give or take the backdating minute.
    let (nb, na) = x509::validity(&parsed);
    let years = na.duration_since(nb)?.as_secs() / (365 * 24 * 3600);
    assert_eq!(years, 10);
    Ok(())
}

#[test]
fn refuses_to_overwrite_an_existing_ca() -> TestResult {
    let dir = tempfile::tempdir()?;
    Ca::create(dir.path(), "cluster.local")?;
    let before = std::fs::read(dir.path().join(ROOT_KEY_FILE))?;
    let err = Ca::create(dir.path(), "cluster.local").err();
    assert!(
        matches!(err, Some(CaError::File(FileError::AlreadyExists { .. }))),
        "{err:?}"
    );
    assert_eq!(std::fs::read(dir.path().join(ROOT_KEY_FILE))?, before);
    Ok(())
}

#[test]
fn load_errors_name_the_file_and_the_fix() -> TestResult {
    let dir = tempfile::tempdir()?;
    let err = Ca::load(dir.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains(ROOT_CERT_FILE) && err.contains("does not exist"),
        "{err}"
    );

    Ca::create(dir.path(), "cluster.local")?;
    let key = dir.path().join(ROOT_KEY_FILE);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644))?;
    let err = Ca::load(dir.path()).err();
    assert!(
        matches!(err, Some(CaError::File(FileError::TooOpen { .. }))),
        "{err:?}"
    );
    assert!(err
        .map(|e| e.to_string())
        .unwrap_or_default()
        .contains("chmod 600"));

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
    std::fs::write(&key, "not a key")?;
    assert!(matches!(Ca::load(dir.path()), Err(CaError::BadKey { .. })));
    Ok(())
}

#[test]
fn key_that_does_not_match_the_cert_is_refused() -> TestResult {
    let (a, b) = (tempfile::tempdir()?, tempfile::tempdir()?);
    Ca::create(a.path(), "cluster.local")?;
    Ca::create(b.path(), "cluster.local")?;
    let err = Ca::load_user(
        &a.path().join(ROOT_CERT_FILE),
        &b.path().join(ROOT_KEY_FILE),
        None,
        "cluster.local",
    )
    .err();
    assert!(matches!(err, Some(CaError::KeyMismatch { .. })), "{err:?}");
    Ok(())
}

#[test]
fn workload_certificate_is_not_accepted_as_a_ca() -> TestResult {
    let dir = tempfile::tempdir()?;
    let ca = Ca::ephemeral("cluster.local")?;
    let key = WorkloadKey::generate()?;
    let id = Identity::new("cluster.local", "default", "web")?;
    let cert = ca.sign_csr(&key.csr_pem(&id)?, &id, DEFAULT_CERT_TTL)?;
    let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_path, &cert.chain_pem)?;
    write_private(&key_path, &key.private_key_pem())?;
    let err = Ca::load_user(&cert_path, &key_path, None, "cluster.local").err();
    assert!(matches!(err, Some(CaError::NotCa { .. })), "{err:?}");
    Ok(())
}

#[test]
fn user_intermediate_ca_puts_its_root_in_the_bundle() -> TestResult {
    let dir = tempfile::tempdir()?;
    // The user's own hierarchy: root -> intermediate; the mesh gets the intermediate's key.
    let root_key = KeyPair::generate()?;
    let mut root_params = CertificateParams::default();
    root_params
        .distinguished_name
        .push(DnType::CommonName, "corp root");
    root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root = root_params.self_signed(&root_key)?;
    let root_issuer = Issuer::new(root_params, root_key);
    let int_key = KeyPair::generate()?;
    let mut int_params = CertificateParams::default();
    int_params
        .distinguished_name
        .push(DnType::CommonName, "corp mesh intermediate");
    int_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let int = int_params.signed_by(&int_key, &root_issuer)?;

    let (c, k, ch) = (
        dir.path().join("ca.pem"),
        dir.path().join("ca-key.pem"),
        dir.path().join("chain.pem"),
    );
    std::fs::write(&c, int.pem())?;
    write_private(&k, &int_key.serialize_pem())?;
    std::fs::write(&ch, root.pem())?;
    let ca = Ca::load_user(&c, &k, Some(&ch), "corp.example")?;
    assert_eq!(ca.trust_bundle(), &[root.der().clone()]);

    let key = WorkloadKey::generate()?;
    let id = Identity::new("corp.example", "shop", "cart")?;
    let issued = ca.sign_csr(&key.csr_pem(&id)?, &id, DEFAULT_CERT_TTL)?;
    // Leaf, then the intermediate; the root travels in the bundle only.
    assert_eq!(issued.chain.len(), 2);
    assert_eq!(&issued.chain[1], int.der());

    // A chain that does not sign the CA certificate is refused when loading, not at handshake.
    let other_root = CertificateParams::default().self_signed(&KeyPair::generate()?)?;
    std::fs::write(&ch, other_root.pem())?;
    let err = Ca::load_user(&c, &k, Some(&ch), "corp.example").err();
    assert!(matches!(err, Some(CaError::BadChain { .. })), "{err:?}");
    Ok(())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}
