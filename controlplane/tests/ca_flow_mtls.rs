//! Certificates through the control plane, end to end: the real `mesh-controlplane` binary
//! and in-process sidecars that get their certificates from its CA over the TLS port.
//!
//! - two sidecars with certificates talk mTLS without any DestinationRule (auto mTLS): the
//!   server side's `istio_requests_total` says `mutual_tls` with both SPIFFE IDs; a sidecar
//!   on the plaintext port has no certificate and is reached (and reaches others) in plain
//!   text;
//! - the monitoring API reports each sidecar's certificate expiry (`cert_not_after`, from
//!   its `istio_agent_cert_expiry_seconds`) as the certificate it serves says, and `null` for
//!   the plaintext one;
//! - PeerAuthentication STRICT applied through the config API makes the server sidecar
//!   refuse a plaintext client on its inbound port, while sidecar-to-sidecar mTLS still works.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod push_support;

use std::time::Duration;

use mesh_proxy::testing::{eventually, metric_sum, raw_exchange, scrape};
use push_support::{revision, service_via, sidecar, tls_sidecar, ControlPlane, Sidecar, WAIT};

const PRODUCTPAGE: &str = "spiffe://cluster.local/ns/default/sa/productpage";
const REVIEWS: &str = "spiffe://cluster.local/ns/default/sa/reviews";

/// Requests `to` received with `security` from `principal` (`unknown` in plain text), as
/// the server side counted them.
async fn inbound_requests(to: &Sidecar, principal: &str, security: &str) -> f64 {
    let proxy = to.client.proxy().expect("started");
    let text = scrape(&proxy).await;
    metric_sum(
        &text,
        "istio_requests_total",
        &[
            ("reporter", "destination"),
            ("source_principal", principal),
            ("connection_security_policy", security),
        ],
    )
}

async fn reaches(from: &Sidecar, service: &str, backend: &str) {
    eventually(
        WAIT,
        &format!("{} reaches {service}", from.id()),
        || async {
            (service_via(from.outbound(), service).await.as_deref() == Some(backend)).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecars_with_certificates_talk_mtls_and_plaintext_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(dir.path()).await;
    let pp = tls_sidecar(&cp, "productpage", "v1").await;
    let reviews = tls_sidecar(&cp, "reviews", "v1").await;
    let ratings = sidecar(&cp, "ratings", "v1").await; // plaintext port: no certificate
    cp.wait_synced(&[&pp.id(), &reviews.id(), &ratings.id()], 0)
        .await;

    let cert = pp.client.status().certificate.expect("a certificate");
    assert_eq!(cert.spiffe_id, PRODUCTPAGE);
    assert!(cert.not_after > std::time::SystemTime::now() + Duration::from_secs(23 * 3600));
    assert!(ratings.client.status().certificate.is_none());
    let tls = reviews.client.proxy().unwrap().shared.tls.clone();
    assert_eq!(tls.expect("reviews serves mTLS").spiffe_id, REVIEWS);

    // The mesh API knows when each certificate expires (24 h certificates: no rotation in
    // between), and that ratings has none.
    for s in [&pp, &reviews] {
        let served = s.served_not_after().await.expect("a certificate");
        let reported = cp.reported_cert_not_after(&s.id()).await;
        assert!(
            reported.abs_diff(served) <= 1,
            "{}: reported {reported}, serves {served}",
            s.id()
        );
    }
    assert_eq!(ratings.served_not_after().await, None);
    let plain = eventually(WAIT, "ratings scraped", || async {
        cp.mesh_proxy(&ratings.id())
            .await
            .filter(|p| p["scrape_up"] == true)
    })
    .await;
    assert!(plain["cert_not_after"].is_null(), "{plain}");
    let target = cp.wait_scraped(&ratings.id()).await;
    assert!(target["cert_not_after"].is_null(), "{target}");

    // productpage -> reviews: both hold certificates, so mTLS with no DestinationRule.
    reaches(&pp, "reviews", "reviews-v1").await;
    let proxy = reviews.client.proxy().unwrap();
    let text = scrape(&proxy).await;
    let mtls = metric_sum(
        &text,
        "istio_requests_total",
        &[
            ("reporter", "destination"),
            ("connection_security_policy", "mutual_tls"),
            ("source_principal", PRODUCTPAGE),
            ("destination_principal", REVIEWS),
        ],
    );
    assert!(mtls >= 1.0, "no mutual_tls request on reviews:\n{text}");
    assert_eq!(inbound_requests(&reviews, "unknown", "none").await, 0.0);

    // productpage -> ratings: ratings cannot accept mTLS, so plain text.
    reaches(&pp, "ratings", "ratings-v1").await;
    assert!(inbound_requests(&ratings, "unknown", "none").await >= 1.0);
    assert_eq!(
        inbound_requests(&ratings, PRODUCTPAGE, "mutual_tls").await,
        0.0
    );
    // ratings -> reviews: ratings has no certificate to present, so plain text (PERMISSIVE).
    reaches(&ratings, "reviews", "reviews-v1").await;
    assert!(inbound_requests(&reviews, "unknown", "none").await >= 1.0);
}

const STRICT: &str = r#"apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec: {mtls: {mode: STRICT}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_peer_authentication_refuses_plaintext_but_not_the_mesh() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(dir.path()).await;
    let pp = tls_sidecar(&cp, "productpage", "v1").await;
    let reviews = tls_sidecar(&cp, "reviews", "v1").await;
    reaches(&pp, "reviews", "reviews-v1").await;
    let request = b"GET / HTTP/1.1\r\nhost: reviews:9080\r\n\r\n";
    let plain = raw_exchange(reviews.node.inbound, request, WAIT).await;
    assert!(plain.starts_with("HTTP/1.1 200"), "PERMISSIVE: {plain}");

    let got = cp.apply("strict.yaml", STRICT).await;
    assert_eq!(got.status, 200, "{}", got.text());
    let rev = revision(&cp).await;
    cp.wait_synced(&[&pp.id(), &reviews.id()], rev).await;

    // A plaintext client straight to the inbound port: closed without an answer.
    let plain = raw_exchange(reviews.node.inbound, request, WAIT).await;
    assert_eq!(plain, "", "STRICT must refuse plain text");
    let proxy = reviews.client.proxy().unwrap();
    let text = scrape(&proxy).await;
    assert!(metric_sum(&text, "mesh_proxy_inbound_plaintext_rejected_total", &[]) >= 1.0);
    // The mesh still works: productpage dials reviews over mTLS.
    for _ in 0..3 {
        assert_eq!(
            service_via(pp.outbound(), "reviews").await.as_deref(),
            Some("reviews-v1")
        );
    }
    assert!(inbound_requests(&reviews, PRODUCTPAGE, "mutual_tls").await >= 3.0);
}
