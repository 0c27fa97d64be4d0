//! Real TLS 1.3 mTLS handshakes over 127.0.0.1 with tokio-rustls between workload
//! certificates, checking SPIFFE identities in both directions.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mesh_controlplane::ca::tls::{client_config, peer_spiffe_id, server_config};
use mesh_controlplane::ca::{Ca, Identity, WorkloadKey, DEFAULT_CERT_TTL};
use rustls::{ClientConfig, ProtocolVersion, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type TestResult = Result<(), BoxError>;

struct Workload {
    id: Identity,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    bundle: Vec<CertificateDer<'static>>,
}

/// A workload of `ca` whose certificate starts at `now` (inject the past to get an expired one).
fn workload(ca: &Ca, sa: &str, ttl: Duration, now: SystemTime) -> Result<Workload, BoxError> {
    let id = Identity::new(ca.trust_domain(), "default", sa)?;
    let key = WorkloadKey::generate()?;
    let issued = ca.sign_csr_at(&key.csr_pem(&id)?, &id, ttl, now)?;
    Ok(Workload {
        id,
        chain: issued.chain,
        key: key.private_key_der(),
        bundle: ca.trust_bundle().to_vec(),
    })
}

fn fresh(ca: &Ca, sa: &str) -> Result<Workload, BoxError> {
    workload(ca, sa, DEFAULT_CERT_TTL, SystemTime::now())
}

fn server(w: &Workload, allowed: Option<Vec<Identity>>) -> Result<ServerConfig, BoxError> {
    Ok(server_config(
        w.chain.clone(),
        w.key.clone_key(),
        &w.bundle,
        allowed,
    )?)
}

fn client(w: &Workload, expect: &Identity) -> Result<ClientConfig, BoxError> {
    Ok(client_config(
        w.chain.clone(),
        w.key.clone_key(),
        &w.bundle,
        expect,
    )?)
}

/// What each side saw: the peer's identity, ALPN and version, or the error.
#[derive(Debug)]
struct Seen {
    peer: Option<Identity>,
    alpn: Option<Vec<u8>>,
    version: Option<ProtocolVersion>,
}

/// Connects, handshakes, and exchanges one message each way (in TLS 1.3 a client learns that
/// the server rejected its certificate only when it next reads).
async fn exchange(
    server: ServerConfig,
    client: ClientConfig,
) -> (Result<Seen, BoxError>, Result<Seen, BoxError>) {
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => return (Err(e.into()), Err("no listener".into())),
    };
    let addr = listener.local_addr();
    let acceptor = TlsAcceptor::from(Arc::new(server));
    let server_side = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = acceptor.accept(tcp).await?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await?;
        tls.write_all(b"pong").await?;
        tls.shutdown().await?;
        let conn = tls.get_ref().1;
        Ok::<_, BoxError>(Seen {
            peer: peer_spiffe_id(conn),
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            version: conn.protocol_version(),
        })
    });
    let client_side = async move {
        let tcp = TcpStream::connect(addr?).await?;
        // The SNI is informational: the verifier checks the SPIFFE ID, not this name.
        let name = ServerName::try_from("reviews.default.svc.cluster.local")?;
        let mut tls = TlsConnector::from(Arc::new(client))
            .connect(name, tcp)
            .await?;
        tls.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await?;
        let conn = tls.get_ref().1;
        Ok::<_, BoxError>(Seen {
            peer: peer_spiffe_id(conn),
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            version: conn.protocol_version(),
        })
    };
    let deadline = Duration::from_secs(10);
    let client_seen = match tokio::time::timeout(deadline, client_side).await {
        Ok(r) => r,
        Err(_) => Err("client timed out".into()),
    };
    let server_seen = match tokio::time::timeout(deadline, server_side).await {
        Ok(Ok(r)) => r,
        Ok(Err(join)) => Err(join.into()),
        Err(_) => Err("server timed out".into()),
    };
    (server_seen, client_seen)
}

#[tokio::test]
async fn mtls_handshake_shows_each_side_the_others_spiffe_id() -> TestResult {
    let ca = Ca::ephemeral("cluster.local")?;
    let (a, b) = (fresh(&ca, "reviews")?, fresh(&ca, "productpage")?);
    let (srv, cli) = exchange(server(&a, Some(vec![b.id.clone()]))?, client(&b, &a.id)?).await;
    let (srv, cli) = (srv?, cli?);
    assert_eq!(srv.peer.as_ref(), Some(&b.id));
    assert_eq!(cli.peer.as_ref(), Some(&a.id));
    for seen in [&srv, &cli] {
        assert_eq!(seen.alpn.as_deref(), Some(&b"h2"[..]));
        assert_eq!(seen.version, Some(ProtocolVersion::TLSv1_3));
    }
    Ok(())
}

#[tokio::test]
async fn client_expecting_b_refuses_server_a() -> TestResult {
    let ca = Ca::ephemeral("cluster.local")?;
    let (a, b, c) = (
        fresh(&ca, "reviews")?,
        fresh(&ca, "ratings")?,
        fresh(&ca, "web")?,
    );
    let (_, cli) = exchange(server(&a, None)?, client(&c, &b.id)?).await;
    let err = cli.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        err.contains("expected spiffe://cluster.local/ns/default/sa/ratings"),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn server_refuses_a_client_not_on_its_list() -> TestResult {
    let ca = Ca::ephemeral("cluster.local")?;
    let (a, b, c) = (
        fresh(&ca, "reviews")?,
        fresh(&ca, "productpage")?,
        fresh(&ca, "intruder")?,
    );
    let (srv, cli) = exchange(server(&a, Some(vec![b.id.clone()]))?, client(&c, &a.id)?).await;
    let err = srv.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        err.contains("peer is spiffe://cluster.local/ns/default/sa/intruder"),
        "{err}"
    );
    assert!(cli.is_err());
    Ok(())
}

#[tokio::test]
async fn certificates_from_another_ca_are_rejected_both_ways() -> TestResult {
    let (ours, theirs) = (
        Ca::ephemeral("cluster.local")?,
        Ca::ephemeral("cluster.local")?,
    );
    let (a, b) = (fresh(&ours, "reviews")?, fresh(&ours, "productpage")?);
    let mut impostor = fresh(&theirs, "reviews")?;
    // It even trusts our root, so the only thing wrong is who signed its own certificate.
    impostor.bundle.extend(ours.trust_bundle().iter().cloned());
    // A server with a foreign certificate (same SPIFFE ID!) is not trusted by the client.
    let (_, cli) = exchange(server(&impostor, None)?, client(&b, &a.id)?).await;
    let err = cli.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(untrusted(&err), "{err}");
    // A client with a foreign certificate is not trusted by the server.
    let (srv, _) = exchange(server(&a, None)?, client(&impostor, &a.id)?).await;
    let err = srv.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(untrusted(&err), "{err}");
    Ok(())
}

#[tokio::test]
async fn expired_certificates_are_rejected() -> TestResult {
    let ca = Ca::ephemeral("cluster.local")?;
    let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 24 * 3600);
    let expired = workload(&ca, "reviews", Duration::from_secs(3600), two_days_ago)?;
    let b = fresh(&ca, "productpage")?;
    let (_, cli) = exchange(server(&expired, None)?, client(&b, &expired.id)?).await;
    let err = cli.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("expired"), "{err}");
    let (srv, _) = exchange(server(&b, None)?, client(&expired, &b.id)?).await;
    let err = srv.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("expired"), "{err}");
    Ok(())
}

/// Both CAs are named "meshctl root CA", so webpki may find the name and then fail the
/// signature (BadSignature) rather than find no issuer at all (UnknownIssuer).
fn untrusted(err: &str) -> bool {
    err.contains("invalid peer certificate")
        && (err.contains("UnknownIssuer") || err.contains("BadSignature"))
}
