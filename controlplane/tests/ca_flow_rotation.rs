//! Certificate lifetimes, with the real control plane and `--cert-ttl 2s` (its minimum):
//!
//! - sidecars renew at half-life: the leaf changes, an mTLS connection opened before the
//!   rotation keeps working after it, and new handshakes get the new certificate;
//! - the monitoring API's `cert_not_after` for a sidecar is its served certificate's
//!   notAfter, and moves later as the certificate rotates;
//! - a certificate that expired while the control plane was down is replaced (proven by the
//!   token again) once it is back, and mTLS between the sidecars resumes;
//! - a proxy whose bootstrap token expired keeps its config stream across a control-plane
//!   restart, because on the TLS port its certificate is the proof.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod push_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh_controlplane::ca::tls::client_config;
use mesh_controlplane::ca::{x509, Ca, Identity, TokenAuthority, WorkloadKey};
use mesh_proxy::testing::{eventually, free_addr, metric_sum, scrape};
use mesh_proxy::xds::certs::{CaClient, CertError};
use push_support::{
    node, over_tls, service_via, sidecar_with, tls_sidecar, ControlPlane, Sidecar, WAIT,
};
use rustls_pki_types::{CertificateDer, ServerName};

const SHORT: [&str; 2] = ["--cert-ttl", "2s"];

fn id(sa: &str) -> Identity {
    Identity::new("cluster.local", "default", sa).unwrap()
}

/// An HTTP/2 connection over mTLS straight to a sidecar's inbound listener, as another
/// workload (`tester`, certificate from the same CA) would open it; and the server's leaf.
async fn mtls_connection(
    cp: &ControlPlane,
    to: SocketAddr,
    server_sa: &str,
) -> (
    hyper::client::conn::http2::SendRequest<Full<Bytes>>,
    CertificateDer<'static>,
) {
    let ca = Ca::load(&cp.state.join("ca")).unwrap();
    let key = WorkloadKey::generate().unwrap();
    let me = id("tester");
    let issued = ca
        .sign_csr(&key.csr_pem(&me).unwrap(), &me, Duration::from_secs(3600))
        .unwrap();
    let config = client_config(
        issued.chain,
        key.private_key_der(),
        ca.trust_bundle(),
        &id(server_sa),
    )
    .unwrap();
    let tcp = tokio::net::TcpStream::connect(to).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("reviews").unwrap(), tcp)
        .await
        .unwrap();
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    (sender, leaf)
}

async fn get_app(sender: &mut hyper::client::conn::http2::SendRequest<Full<Bytes>>) -> String {
    let req = Request::get("http://reviews:9080/")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = sender
        .send_request(req)
        .await
        .expect("request on the open connection");
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

fn not_after(leaf: &CertificateDer<'_>) -> SystemTime {
    x509::validity(&x509::parse(leaf).unwrap()).1
}

fn issued(s: &Sidecar) -> u64 {
    s.client.status().certificate.map_or(0, |c| c.issued)
}

async fn mtls_requests(to: &Sidecar) -> f64 {
    let text = scrape(&to.client.proxy().unwrap()).await;
    metric_sum(
        &text,
        "istio_requests_total",
        &[
            ("reporter", "destination"),
            ("connection_security_policy", "mutual_tls"),
        ],
    )
}

async fn reaches_reviews(from: &Sidecar) {
    eventually(WAIT, "productpage reaches reviews", || async {
        (service_via(from.outbound(), "reviews").await.as_deref() == Some("reviews-v1"))
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_certificates_rotate_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start_with(dir.path(), &SHORT).await;
    let pp = tls_sidecar(&cp, "productpage", "v1").await;
    let reviews = tls_sidecar(&cp, "reviews", "v1").await;
    reaches_reviews(&pp).await;
    let first = reviews.client.status().certificate.unwrap();
    let lifetime = first.not_after.duration_since(first.received).unwrap();
    assert!(lifetime <= Duration::from_secs(2), "{lifetime:?}");

    let (mut open, old_leaf) = mtls_connection(&cp, reviews.node.inbound, "reviews").await;
    assert!(get_app(&mut open).await.contains("reviews-v1"));
    let before = issued(&reviews);
    eventually(WAIT, "two rotations of reviews' certificate", || async {
        (issued(&reviews) >= before + 2).then_some(())
    })
    .await;
    let now = reviews.client.status().certificate.unwrap();
    assert_ne!(now.serial, first.serial);
    assert!(now.not_after > SystemTime::now());
    // Renewals are proven by the current certificate, not the token.
    eventually(WAIT, "a renewal proven by the certificate", || async {
        let c = reviews.client.status().certificate?;
        c.renewed_by_certificate.then_some(())
    })
    .await;

    // The connection opened before the rotations still works (its keys were agreed then)...
    assert!(get_app(&mut open).await.contains("reviews-v1"));
    // ...and a new handshake gets a newer certificate.
    let (mut fresh, new_leaf) = mtls_connection(&cp, reviews.node.inbound, "reviews").await;
    assert_ne!(new_leaf, old_leaf);
    assert!(not_after(&new_leaf) > not_after(&old_leaf));
    assert!(get_app(&mut fresh).await.contains("reviews-v1"));
    // The mesh keeps talking mTLS across rotations.
    let counted = mtls_requests(&reviews).await;
    reaches_reviews(&pp).await;
    assert!(mtls_requests(&reviews).await > counted);
}

/// The `cert_not_after` the mesh API reports for `s` once it is the notAfter of the
/// certificate `s` serves (they differ for up to a scrape interval after each rotation) and
/// later than `after`.
async fn reported_matches_served(cp: &ControlPlane, s: &Sidecar, after: u64) -> u64 {
    eventually(
        WAIT,
        "cert_not_after matching the served certificate",
        || async {
            let before = s.served_not_after().await?;
            let reported = cp.reported_cert_not_after(&s.id()).await;
            let served = s.served_not_after().await?;
            // Served certificate unchanged around the read: a fair comparison.
            (before == served && reported.abs_diff(served) <= 1 && reported > after)
                .then_some(reported)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mesh_api_reports_certificate_expiry_across_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start_with(dir.path(), &SHORT).await;
    let reviews = tls_sidecar(&cp, "reviews", "v1").await;
    let first = reported_matches_served(&cp, &reviews, 0).await;
    let unix_now = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        first + 1 >= unix_now && first <= unix_now + 3,
        "a 2 s certificate: {first} vs now {unix_now}"
    );
    // Renewed at half-life: the reported expiry follows the new certificates.
    let later = reported_matches_served(&cp, &reviews, first).await;
    assert!(later > first, "{later} after {first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_is_replaced_when_the_control_plane_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = ControlPlane::start_with(dir.path(), &SHORT).await;
    let pp = tls_sidecar(&cp, "productpage", "v1").await;
    let reviews = tls_sidecar(&cp, "reviews", "v1").await;
    reaches_reviews(&pp).await;

    cp.kill();
    eventually(WAIT, "reviews' certificate expired", || async {
        let c = reviews.client.status().certificate?;
        (c.not_after <= SystemTime::now()).then_some(())
    })
    .await;
    let expired = issued(&reviews);
    assert!(reviews
        .client
        .status()
        .last_error
        .unwrap_or_default()
        .contains("cannot reach the control plane"));

    cp.restart().await;
    eventually(WAIT, "reviews holds a valid certificate again", || async {
        let c = reviews.client.status().certificate?;
        (c.issued > expired && c.not_after > SystemTime::now()).then_some(())
    })
    .await;
    // Both sidecars present certificates again, so their traffic is mTLS once more.
    let counted = mtls_requests(&reviews).await;
    eventually(WAIT, "mTLS from productpage to reviews again", || async {
        service_via(pp.outbound(), "reviews").await?;
        (mtls_requests(&reviews).await > counted).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_does_not_cut_off_a_proxy_with_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = ControlPlane::start(dir.path()).await; // certificates live 24 h
    let tokens = TokenAuthority::load_or_create(&dir.path().join("ca")).unwrap();
    let token = tokens.issue(&id("reviews"), Duration::from_secs(2));
    let expires = SystemTime::now() + Duration::from_secs(2);
    let reviews = sidecar_with(&cp, "reviews", "v1", |o| {
        over_tls(&cp, o);
        o.token = token.clone();
    })
    .await;
    cp.wait_synced(&[&reviews.id()], 0).await;
    eventually(WAIT, "the token expired", || async {
        (SystemTime::now() > expires + Duration::from_secs(1)).then_some(())
    })
    .await;
    let n = node("reviews", "v1", free_addr());
    let refused = CaClient::new(cp.xds_tls, cp.tls(), &token, &n)
        .issue()
        .await;
    assert!(
        matches!(&refused, Err(CertError::Refused { reason, .. }) if reason.contains("expired")),
        "{refused:?}"
    );

    // A restart drops the stream; the proxy comes back with its certificate as the proof.
    cp.kill();
    eventually(WAIT, "the stream is gone", || async {
        (!reviews.client.status().connected).then_some(())
    })
    .await;
    cp.restart().await;
    eventually(WAIT, "reviews SYNCED again", || async {
        let p = cp.proxy(&reviews.id()).await?;
        (p["state"] == "SYNCED" && reviews.client.status().connected).then_some(())
    })
    .await;
}
