//! Config push over real sockets: the `mesh-controlplane` binary and two in-process sidecars
//! in control-plane mode (reviews-v1 and reviews-v2, each in front of a test backend).
//!
//! - a VirtualService applied through the config API reaches both proxies and changes
//!   routing, and `/debug/proxies` / `/debug/resources` say so;
//! - `kill -9` of the control plane leaves traffic flowing; a restart on the same state
//!   directory brings the proxies back (reconnect, resync, same versions) with every applied
//!   resource still stored, and the remembered registry keeps cross-proxy traffic intact
//!   while they reconnect;
//! - a proxy gone for longer than the grace period has its endpoints withdrawn;
//! - the config API is all-or-nothing, deletes by kind/namespace/name; SIGTERM exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod push_support;

use mesh_proxy::testing::eventually;
use push_support::{reviews_to, reviews_via, revision, sidecar, ControlPlane, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applied_routing_reaches_every_proxy_and_survives_a_control_plane_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = ControlPlane::start(dir.path()).await;
    let v1 = sidecar(&cp, "reviews", "v1").await;
    let v2 = sidecar(&cp, "reviews", "v2").await;
    let ids = [v1.id(), v2.id()];
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    cp.wait_synced(&ids, 0).await;
    assert!(v1.client.proxy().is_some() && v1.client.status().connected);

    // Everything to v2, from reviews-v1's outbound listener.
    let got = cp.apply("reviews.yaml", &reviews_to("v2")).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert!(got.text().contains("created"), "{}", got.text());
    let rev = revision(&cp).await;
    cp.wait_synced(&ids, rev).await;
    // The change went as a delta on the open streams: one full snapshot each, then deltas.
    for p in [&v1, &v2] {
        let st = p.client.status();
        assert_eq!(st.snapshots_applied, 1, "{st:?}");
        assert!(st.deltas_applied >= 1, "{st:?}");
    }
    for _ in 0..5 {
        assert_eq!(
            reviews_via(v1.outbound()).await.as_deref(),
            Some("reviews-v2")
        );
    }
    let resources = cp.json("/debug/resources").await;
    for r in resources.as_array().unwrap() {
        assert_eq!(r["proxiesAcked"], 2, "{r}");
    }

    // A change reaches every proxy: now everything to v1, from both sidecars.
    let got = cp.apply("reviews.yaml", &reviews_to("v1")).await;
    assert!(got.text().contains("configured"), "{}", got.text());
    let rev = revision(&cp).await;
    cp.wait_synced(&ids, rev).await;
    for s in [&v1, &v2] {
        assert_eq!(
            reviews_via(s.outbound()).await.as_deref(),
            Some("reviews-v1")
        );
    }
    let before = cp.proxy(ids[0]).await.unwrap()["versionAcked"].clone();

    // kill -9: the proxies keep serving their last config.
    cp.kill();
    eventually(
        WAIT,
        "the sidecars notice the control plane is gone",
        || async { (!v1.client.status().connected).then_some(()) },
    )
    .await;
    for _ in 0..5 {
        assert_eq!(
            reviews_via(v1.outbound()).await.as_deref(),
            Some("reviews-v1")
        );
    }

    // Restart on the same state dir: reconnect, resync, the resources are still there.
    cp.restart().await;
    let stored = cp.json("/apis/resources").await;
    assert_eq!(stored.as_array().unwrap().len(), 2, "{stored}");
    // The registry is remembered: both proxies are known at once (DISCONNECTED, in grace)
    // so whichever reconnects first still gets the other's endpoints, and traffic across
    // proxies never fails during the resync.
    assert!(cp.proxy(ids[1]).await.is_some(), "reviews-v2 remembered");
    eventually(WAIT, "both proxies resynced", || async {
        assert_eq!(
            reviews_via(v2.outbound()).await.as_deref(),
            Some("reviews-v1"),
            "traffic from reviews-v2 to reviews-v1 during the resync"
        );
        for id in &ids {
            let p = cp.proxy(id).await?;
            (p["state"] == "SYNCED").then_some(())?;
        }
        Some(())
    })
    .await;
    cp.wait_synced(&ids, rev).await;
    let after = cp.proxy(ids[0]).await.unwrap()["versionAcked"].clone();
    assert_eq!(
        before, after,
        "the same config gets the same version after a restart"
    );
    assert_eq!(
        reviews_via(v2.outbound()).await.as_deref(),
        Some("reviews-v1")
    );

    // And it is live again: a change after the restart is pushed.
    cp.apply("reviews.yaml", &reviews_to("v2")).await;
    let rev = revision(&cp).await;
    cp.wait_synced(&ids, rev).await;
    assert_eq!(
        reviews_via(v2.outbound()).await.as_deref(),
        Some("reviews-v2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_api_rejects_bad_yaml_whole_and_deletes_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(dir.path()).await;
    let bad = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: []\n";
    let got = cp.apply("bad.yaml", bad).await;
    assert_eq!(got.status, 400, "{}", got.text());
    assert!(got.text().contains("bad.yaml"), "{}", got.text());
    assert_eq!(cp.json("/apis/resources").await, serde_json::json!([]));

    assert_eq!(cp.apply("r.yaml", &reviews_to("v1")).await.status, 200);
    let del = |path: &'static str| {
        let mon = cp.monitoring;
        async move {
            let req = http::Request::delete(path)
                .header("host", "cp")
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap();
            mesh_proxy::testing::send(mon, req).await.unwrap()
        }
    };
    assert_eq!(
        del("/apis/resources/VirtualService/default/reviews")
            .await
            .status,
        200
    );
    assert_eq!(
        del("/apis/resources/VirtualService/default/reviews")
            .await
            .status,
        404
    );
    assert_eq!(
        cp.json("/apis/resources").await.as_array().unwrap().len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gone_proxy_is_disconnected_then_withdrawn_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(dir.path()).await; // --grace 1s
    let v1 = sidecar(&cp, "reviews", "v1").await;
    let v2 = sidecar(&cp, "reviews", "v2").await;
    cp.apply("reviews.yaml", &reviews_to("v2")).await;
    let rev = revision(&cp).await;
    cp.wait_synced(&[&v1.id(), &v2.id()], rev).await;
    assert_eq!(
        reviews_via(v1.outbound()).await.as_deref(),
        Some("reviews-v2")
    );

    // v2's sidecar loses its stream (its proxy keeps serving, but the control plane cannot
    // know that): DISCONNECTED first, endpoints still in place...
    let id = v2.id();
    drop(v2.client);
    eventually(WAIT, "reviews-v2 DISCONNECTED", || async {
        cp.proxy(&id).await.filter(|p| p["state"] == "DISCONNECTED")
    })
    .await;
    // ...then, after the grace period, withdrawn: v1 has no reviews-v2 endpoint left.
    eventually(WAIT, "reviews-v2 withdrawn", || async {
        cp.proxy(&id).await.is_none().then_some(())
    })
    .await;
    eventually(WAIT, "v1 routes to an empty subset", || async {
        reviews_via(v1.outbound()).await.is_none().then_some(())
    })
    .await;
}
