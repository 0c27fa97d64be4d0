//! Rotation at half-life without dropping connections: after `WorkloadCerts::rotate`, an
//! established mTLS connection keeps working and the next handshake presents the new leaf.

use std::sync::Arc;
use std::time::Duration;

use mesh_controlplane::ca::rotation::RotationError;
use mesh_controlplane::ca::tls::{client_config, server_config_rotating};
use mesh_controlplane::ca::{Ca, Identity, WorkloadCerts, WorkloadKey, DEFAULT_CERT_TTL};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Issued = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn issue(ca: &Ca, id: &Identity) -> Result<Issued, BoxError> {
    let key = WorkloadKey::generate()?;
    let cert = ca.sign_csr(&key.csr_pem(id)?, id, DEFAULT_CERT_TTL)?;
    Ok((cert.chain, key.private_key_der()))
}

async fn ping(tls: &mut TlsStream<TcpStream>) -> Result<(), BoxError> {
    tls.write_all(b"ping").await?;
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await?;
    Ok(())
}

fn server_leaf(tls: &TlsStream<TcpStream>) -> Option<CertificateDer<'static>> {
    let certs = tls.get_ref().1.peer_certificates()?;
    certs.first().map(|c| c.clone().into_owned())
}

#[tokio::test]
async fn rotation_keeps_live_connections_and_changes_new_handshakes() -> Result<(), BoxError> {
    let ca = Ca::ephemeral("cluster.local")?;
    let server_id = Identity::new("cluster.local", "default", "reviews")?;
    let client_id = Identity::new("cluster.local", "default", "productpage")?;
    let (chain, key) = issue(&ca, &server_id)?;
    let certs = Arc::new(WorkloadCerts::new(chain, key)?);
    let acceptor = TlsAcceptor::from(Arc::new(server_config_rotating(
        certs.clone(),
        ca.trust_bundle(),
        None,
    )?));

    // An echo server: one task per connection, each echoing 4-byte messages until EOF.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let mut tls = acceptor.accept(tcp).await?;
                let mut buf = [0u8; 4];
                while tls.read_exact(&mut buf).await.is_ok() {
                    tls.write_all(&buf).await?;
                }
                Ok::<_, std::io::Error>(())
            });
        }
    });

    let (chain, key) = issue(&ca, &client_id)?;
    // A fresh config per connection: a shared one (or a clone, which shares the session
    // cache) would resume the TLS session, and a resumed session reports the certificate of
    // the original handshake.
    let connect = || async {
        let client = client_config(
            chain.clone(),
            key.clone_key(),
            ca.trust_bundle(),
            &server_id,
        )?;
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("reviews")?;
        let connector = TlsConnector::from(Arc::new(client));
        Ok::<_, BoxError>(connector.connect(name, tcp).await?)
    };
    let deadline = Duration::from_secs(10);
    tokio::time::timeout(deadline, async {
        let mut first = connect().await?;
        ping(&mut first).await?;
        let old_leaf = server_leaf(&first);

        let (chain, key) = issue(&ca, &server_id)?;
        certs.rotate(chain, key)?;

        ping(&mut first).await?; // the established connection is untouched
        let mut second = connect().await?;
        ping(&mut second).await?;
        let new_leaf = server_leaf(&second);
        assert_ne!(old_leaf, new_leaf);
        assert_eq!(new_leaf, certs.leaf());
        Ok::<_, BoxError>(())
    })
    .await??;

    // Rotation renews; it cannot turn the workload into someone else.
    let (chain, key) = issue(&ca, &client_id)?;
    let err = certs.rotate(chain, key).err();
    assert!(
        matches!(err, Some(RotationError::IdentityChanged { .. })),
        "{err:?}"
    );
    // Nor install a key that does not match the certificate.
    let (chain, _) = issue(&ca, &server_id)?;
    let other_key = WorkloadKey::generate()?.private_key_der();
    assert!(matches!(
        certs.rotate(chain, other_key),
        Err(RotationError::Key(_))
    ));
    Ok(())
}
