//! Bootstrap tokens and the proof-gated issuance path.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mesh_controlplane::ca::token::{BootstrapError, TOKEN_KEY_FILE};
use mesh_controlplane::ca::{
    x509, Ca, CertificateService, Identity, IssueError, TokenAuthority, TokenError, WorkloadKey,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn ident(sa: &str) -> Result<Identity, Box<dyn std::error::Error>> {
    Ok(Identity::new("cluster.local", "default", sa)?)
}

fn authority() -> TokenAuthority {
    TokenAuthority::from_secret(&[7u8; 32])
}

#[test]
fn a_token_proves_its_identity_until_it_expires() -> TestResult {
    let tokens = authority();
    let now = SystemTime::now();
    let token = tokens.issue_at(&ident("reviews")?, Duration::from_secs(600), now);
    assert_eq!(tokens.verify_at(&token, now)?, ident("reviews")?);
    let later = now + Duration::from_secs(601);
    assert!(matches!(
        tokens.verify_at(&token, later),
        Err(TokenError::Expired { .. })
    ));
    Ok(())
}

#[test]
fn tampered_foreign_and_malformed_tokens_are_rejected_distinctly() -> TestResult {
    let tokens = authority();
    let token = tokens.issue(&ident("reviews")?, Duration::from_secs(600));

    // Swap the payload for another identity's, keeping the MAC: the MAC no longer matches.
    let other = tokens.issue(&ident("admin")?, Duration::from_secs(600));
    let mut forged: Vec<&str> = other.split('.').take(2).collect();
    forged.push(token.rsplit('.').next().unwrap_or_default());
    let forged = forged.join(".");
    assert!(matches!(
        tokens.verify(&forged),
        Err(TokenError::BadSignature)
    ));

    // A flipped MAC digit.
    let mut flipped = token.clone().into_bytes();
    if let Some(last) = flipped.last_mut() {
        *last = if *last == b'0' { b'1' } else { b'0' };
    }
    let flipped = String::from_utf8(flipped)?;
    assert!(matches!(
        tokens.verify(&flipped),
        Err(TokenError::BadSignature)
    ));

    // Issued by another control plane's secret.
    let foreign =
        TokenAuthority::from_secret(&[8u8; 32]).issue(&ident("reviews")?, Duration::from_secs(600));
    assert!(matches!(
        tokens.verify(&foreign),
        Err(TokenError::BadSignature)
    ));

    for junk in [
        "",
        "mtk1",
        "mtk1.abc",
        "mtk2.00.00",
        "mtk1.zz.00",
        "a.b.c.d",
    ] {
        let err = tokens.verify(junk).err();
        assert!(
            matches!(
                err,
                Some(TokenError::Malformed { .. } | TokenError::BadSignature)
            ),
            "{junk:?}: {err:?}"
        );
    }
    assert!(matches!(
        tokens.verify("no-dots"),
        Err(TokenError::Malformed { .. })
    ));
    Ok(())
}

#[test]
fn the_secret_is_created_0600_and_reused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let first = TokenAuthority::load_or_create(dir.path())?;
    let path = dir.path().join(TOKEN_KEY_FILE);
    assert_eq!(
        std::fs::metadata(&path)?.permissions().mode() & 0o777,
        0o600
    );
    let token = first.issue(&ident("reviews")?, Duration::from_secs(60));
    let second = TokenAuthority::load_or_create(dir.path())?;
    assert_eq!(second.verify(&token)?, ident("reviews")?);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640))?;
    assert!(matches!(
        TokenAuthority::load_or_create(dir.path()),
        Err(TokenError::File(_))
    ));
    Ok(())
}

#[tokio::test]
async fn a_token_for_a_cannot_get_a_certificate_for_b() -> TestResult {
    let tokens = Arc::new(authority());
    let service =
        CertificateService::new(Arc::new(Ca::ephemeral("cluster.local")?), tokens.clone())
            .with_ttl(Duration::from_secs(3600));
    let token_a = tokens.issue(&ident("reviews")?, Duration::from_secs(600));
    // The CSR asks for B; the certificate says A, because identity comes from the proof.
    let csr_for_b = WorkloadKey::generate()?.csr_pem(&ident("admin")?)?;
    let issued = service.issue(&token_a, &csr_for_b).await?;
    assert_eq!(issued.spiffe_id, ident("reviews")?.spiffe_id());
    assert_eq!(
        x509::spiffe_id_of(&issued.chain[0]),
        Some(issued.spiffe_id.clone())
    );

    let err = service.issue("mtk1.00.00", &csr_for_b).await.err();
    assert!(
        matches!(err, Some(IssueError::Proof(BootstrapError::Token(_)))),
        "{err:?}"
    );
    Ok(())
}
