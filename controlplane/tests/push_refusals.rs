//! What the control plane and proxies do when something is wrong:
//! - a snapshot the proxy cannot apply (its outbound address is taken) is NACKED with the
//!   error in `/debug/proxies`, while traffic through the other proxy keeps flowing; the
//!   proxy's admin port says NOT READY until a config is applied, and the next push that it
//!   can apply makes it SYNCED;
//! - a proxy with a bad bootstrap token gets no config and a clear error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod push_support;

use mesh_controlplane::ca::{Identity, TokenAuthority};
use mesh_proxy::testing::eventually;
use push_support::{
    free_addr, reviews_to, reviews_via, revision, sidecar, sidecar_with, ControlPlane, WAIT,
};

async fn ready_status(admin: std::net::SocketAddr) -> Option<(u16, String)> {
    tokio::net::TcpStream::connect(admin).await.ok()?;
    let req = http::Request::get("/healthz/ready")
        .header("host", "admin")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let got = mesh_proxy::testing::send(admin, req).await.ok()?;
    Some((got.status.as_u16(), got.text()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unappliable_snapshot_is_nacked_while_traffic_flows() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(dir.path()).await;
    let good = sidecar(&cp, "reviews", "v1").await;
    // Traffic goes to reviews-v1 (the bad proxy's endpoint would refuse connections).
    cp.apply("r.yaml", &reviews_to("v1")).await;
    cp.wait_synced(&[&good.id()], revision(&cp).await).await;

    // reviews-v2's outbound address is held by someone else.
    let squatter = std::net::TcpListener::bind(free_addr()).unwrap();
    let taken = squatter.local_addr().unwrap();
    let admin = free_addr();
    let bad = sidecar_with(&cp, "reviews", "v2", |o| {
        o.node.outbound = taken;
        o.proxy.admin_addr = Some(admin);
    })
    .await;
    let p = eventually(WAIT, "reviews-v2 NACKED", || async {
        cp.proxy(&bad.id()).await.filter(|p| p["state"] == "NACKED")
    })
    .await;
    let error = p["error"].as_str().unwrap();
    assert!(error.contains(&taken.to_string()), "{error}");
    let (status, text) = ready_status(admin).await.expect("not-ready admin port");
    assert_eq!(status, 503);
    assert!(text.contains("NOT READY"), "{text}");
    // The other proxy still routes.
    for _ in 0..4 {
        assert_eq!(
            reviews_via(good.outbound()).await.as_deref(),
            Some("reviews-v1")
        );
    }

    // The port frees up; the next push is applied and the proxy becomes ready.
    drop(squatter);
    cp.apply("r.yaml", &reviews_to("v2")).await;
    let rev = revision(&cp).await;
    cp.wait_synced(&[&bad.id(), &good.id()], rev).await;
    let (status, _) = eventually(WAIT, "reviews-v2 ready", || async {
        ready_status(admin).await.filter(|(s, _)| *s == 200)
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        reviews_via(bad.outbound()).await.as_deref(),
        Some("reviews-v2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_gets_no_config() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(dir.path()).await;
    let foreign = TokenAuthority::from_secret(&[7; 32]);
    let id = Identity::new("cluster.local", "default", "reviews").unwrap();
    let forged = sidecar_with(&cp, "reviews", "v1", |o| {
        o.token = foreign.issue(&id, std::time::Duration::from_secs(60));
    })
    .await;
    // A real token, but for another service account.
    let other = sidecar_with(&cp, "reviews", "v2", |o| {
        o.token = cp.token("default", "someone-else");
    })
    .await;
    for (s, why) in [(&forged, "signature"), (&other, "someone-else")] {
        let err = eventually(WAIT, "the refusal", || async {
            s.client.status().last_error
        })
        .await;
        assert!(err.contains("refused") && err.contains(why), "{err}");
        assert!(s.client.proxy().is_none());
    }
    assert_eq!(cp.json("/debug/proxies").await, serde_json::json!([]));
}
