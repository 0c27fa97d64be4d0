//! A [`TrustBundle`] replaced under live rustls configs (what a proxy does when the control
//! plane pushes a new bundle): the next handshakes, on both the server and the client side,
//! trust exactly the new roots, and a connection opened before the replacement keeps working.
//! Real TLS 1.3 over 127.0.0.1 with two throwaway CAs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mesh_controlplane::ca::tls::{client_config_trusting, server_config_trusting};
use mesh_controlplane::ca::{Ca, Identity, TrustBundle, WorkloadCerts, WorkloadKey};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

fn certs(ca: &Ca, sa: &str) -> Arc<WorkloadCerts> {
    let id = Identity::new(ca.trust_domain(), "default", sa).unwrap();
    let key = WorkloadKey::generate().unwrap();
    let issued = ca
        .sign_csr(&key.csr_pem(&id).unwrap(), &id, Duration::from_secs(3600))
        .unwrap();
    Arc::new(WorkloadCerts::new(issued.chain, key.private_key_der()).unwrap())
}

/// An echo server over TLS with `acceptor`; handshake failures just close the connection.
async fn echo_server(acceptor: TlsAcceptor) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 64];
                while let Ok(n) = tls.read(&mut buf).await {
                    if n == 0 || tls.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Sends `ping` and expects it back: true when the whole exchange works.
async fn ping(tls: &mut TlsStream<TcpStream>) -> bool {
    let mut buf = [0u8; 4];
    tls.write_all(b"ping").await.is_ok()
        && tokio::time::timeout(Duration::from_secs(5), tls.read_exact(&mut buf))
            .await
            .is_ok_and(|r| r.is_ok())
        && &buf == b"ping"
}

async fn connect(addr: SocketAddr, connector: &TlsConnector) -> Option<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("server").unwrap(), tcp)
        .await
        .ok()?;
    ping(&mut tls).await.then_some(tls)
}

#[tokio::test]
async fn replaced_bundles_apply_to_the_next_handshakes_on_both_sides() {
    let (a, b) = (
        Ca::ephemeral("cluster.local").unwrap(),
        Ca::ephemeral("cluster.local").unwrap(),
    );
    // The server's certificate is from A, the client's from B.
    let server_trust = Arc::new(TrustBundle::new(a.trust_bundle().to_vec()).unwrap());
    let client_trust = Arc::new(TrustBundle::new(a.trust_bundle().to_vec()).unwrap());
    let server = server_config_trusting(certs(&a, "server"), server_trust.clone(), None).unwrap();
    let addr = echo_server(TlsAcceptor::from(Arc::new(server))).await;
    let server_id = Identity::new("cluster.local", "default", "server")
        .unwrap()
        .spiffe_id();
    let client =
        client_config_trusting(certs(&b, "client"), client_trust.clone(), vec![server_id]).unwrap();
    let connector = TlsConnector::from(Arc::new(client));

    assert!(
        connect(addr, &connector).await.is_none(),
        "the server does not trust B yet"
    );
    let both = [a.trust_bundle(), b.trust_bundle()].concat();
    assert!(server_trust.replace(both.clone()).unwrap());
    assert!(
        !server_trust.replace(both).unwrap(),
        "same bundle: no change"
    );
    let mut open = connect(addr, &connector)
        .await
        .expect("the server trusts B now");

    // The client stops trusting A: new handshakes fail, the open connection carries on.
    assert!(client_trust.replace(b.trust_bundle().to_vec()).unwrap());
    assert!(connect(addr, &connector).await.is_none());
    assert!(ping(&mut open).await);
    assert!(
        client_trust.replace(Vec::new()).is_err(),
        "an empty bundle is refused and the current one kept"
    );
    assert_eq!(client_trust.certs(), b.trust_bundle().to_vec());
}
