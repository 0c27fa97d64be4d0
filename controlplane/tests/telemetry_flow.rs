//! Telemetry of the running control plane: the `mesh-controlplane` binary scrapes the
//! in-process sidecars that registered with it, and its monitoring port answers
//! `/api/v1/topology` with exactly the traffic sent, and `/api/v1/mesh` with every proxy's
//! sync state and memory, every resource's ACK count, and the outlier ejections a sidecar
//! made per cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod push_support;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh_proxy::testing::{eventually, scrape, send, Backend};
use push_support::{revision, sidecar, sidecar_for, ControlPlane, WAIT};
use serde_json::{json, Value};

/// `GET http://reviews:9080{path}` through `outbound`; the status.
async fn reviews(outbound: std::net::SocketAddr, path: &str) -> u16 {
    let req = Request::get(format!("http://reviews:9080{path}"))
        .header("host", "reviews:9080")
        .body(Full::new(Bytes::new()))
        .unwrap();
    send(outbound, req).await.unwrap().status.as_u16()
}

fn edge<'a>(topology: &'a Value, source: &str, destination: &str) -> Option<&'a Value> {
    topology["edges"]
        .as_array()?
        .iter()
        .find(|e| e["source"] == source && e["destination"] == destination)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_through_a_sidecar_shows_as_an_exact_edge_and_proxies_in_the_mesh_view() {
    const OK: u64 = 37;
    const FAILED: u64 = 5;
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(dir.path()).await;
    let pp = sidecar(&cp, "productpage", "v1").await;
    let rv = sidecar(&cp, "reviews", "v1").await;
    let rule = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
                metadata: {name: reviews}\nspec:\n  host: reviews\n  subsets:\n    \
                - {name: v1, labels: {version: v1}}\n";
    assert_eq!(cp.apply("dr.yaml", rule).await.status, 200);
    let ids = [pp.id(), rv.id()];
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    cp.wait_synced(&ids, revision(&cp).await).await;
    // Traffic before a target's first scrape would be its baseline, not a delta.
    for id in &ids {
        cp.wait_scraped(id).await;
    }

    for _ in 0..OK {
        assert_eq!(reviews(pp.outbound(), "/").await, 200);
    }
    for _ in 0..FAILED {
        assert_eq!(reviews(pp.outbound(), "/status/503").await, 503);
    }

    let e = eventually(WAIT, "the productpage -> reviews edge", || async {
        let topology = cp.json("/api/v1/topology?window=1m").await;
        edge(&topology, "productpage-v1", "reviews-v1")
            .filter(|e| e["requests"].as_u64() >= Some(OK + FAILED))
            .cloned()
    })
    .await;
    assert_eq!(e["requests"], OK + FAILED, "{e}");
    assert_eq!(e["errors"], FAILED, "{e}");
    let rate = e["success_rate"].as_f64().unwrap();
    assert!(
        (rate - OK as f64 / (OK + FAILED) as f64).abs() < 1e-9,
        "{e}"
    );
    assert_eq!(e["reporter"], "source", "{e}");
    assert_eq!(e["protocol"], "http", "{e}");
    assert_eq!(e["mtls"], false, "plaintext: {e}");
    assert_eq!(
        e["destination_service"],
        "reviews.default.svc.cluster.local"
    );
    let (p50, p99) = (e["p50_ms"].as_f64().unwrap(), e["p99_ms"].as_f64().unwrap());
    assert!(p50 > 0.0 && p50 <= p99 && p99 < 5_000.0, "{e}");
    assert!(e["rps"].as_f64().unwrap() > 0.0, "{e}");

    // The counts stay exact over later scrapes (the server's own report of the same
    // requests, retries included, is not added to the client's).
    let targets = cp.json("/api/v1/targets").await;
    let scrapes = |t: &Value| t["targets"].as_array().map(Vec::len);
    assert_eq!(scrapes(&targets), Some(2), "{targets}");
    let before = cp.wait_scraped(&rv.id()).await["scrapes"].as_u64().unwrap();
    eventually(WAIT, "two more scrapes", || async {
        let t = cp.wait_scraped(&rv.id()).await;
        (t["scrapes"].as_u64()? >= before + 2).then_some(())
    })
    .await;
    let topology = cp.json("/api/v1/topology?window=1m").await;
    let edges = topology["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1, "one edge, no phantom ones: {topology}");
    assert_eq!(edges[0]["requests"], OK + FAILED, "{topology}");
    let nodes: Vec<&str> = topology["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(nodes, ["productpage-v1.default", "reviews-v1.default"]);

    // The mesh view: the same topology plus the proxies and the resources.
    let mesh = cp.json("/api/v1/mesh?window=1m").await;
    assert_eq!(mesh["edges"], topology["edges"]);
    let proxies = mesh["proxies"].as_array().unwrap();
    assert_eq!(proxies.len(), 2, "{mesh}");
    for p in proxies {
        assert_eq!(p["state"], "SYNCED", "{p}");
        assert_eq!(p["proxy_type"], "sidecar", "{p}");
        assert!(p["rss_bytes"].as_u64().is_some_and(|b| b > 0), "{p}");
        assert!(p["uptime_s"].as_f64().is_some_and(|s| s >= 0.0), "{p}");
        assert!(p["version_acked"].is_string(), "{p}");
        assert_eq!(p["version_acked"], p["version_sent"], "{p}");
        assert!(p["connected_since"].as_u64().is_some_and(|s| s > 0), "{p}");
        assert_eq!(p["scrape_up"], true, "{p}");
        assert_eq!(p["last_nack_error"], Value::Null, "{p}");
    }
    let reviews = proxies.iter().find(|p| p["id"] == rv.id()).unwrap();
    assert_eq!(reviews["service"], "reviews");
    assert_eq!(reviews["workload"], "reviews-v1");
    assert_eq!(reviews["version"], "v1");
    let resources = mesh["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 1, "{mesh}");
    assert_eq!(resources[0]["kind"], "DestinationRule");
    assert_eq!(resources[0]["proxies_acked"], 2, "{mesh}");
    assert_eq!(resources[0]["proxies_connected"], 2, "{mesh}");
    for t in mesh["targets"].as_array().unwrap() {
        assert_eq!(t["up"], true, "{t}");
    }
    // The readers' types (mesh-api's, which `meshctl stat` and the dashboard decode with)
    // hold every field served: decoded and encoded again, nothing is lost or renamed.
    let typed: mesh_api::telemetry::Mesh = serde_json::from_value(mesh.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), mesh);
    assert_eq!(typed.proxies[0].namespace, "default");
    assert_eq!(
        reviews["labels"]["app"], "reviews",
        "labels in the proxies section: {reviews}"
    );

    // Unknown windows and paths are explained.
    let bad = cp.get("/api/v1/topology?window=2h").await;
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("10s, 1m or 10m"), "{}", bad.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_leaves_is_no_longer_scraped() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(dir.path()).await;
    let pp = sidecar(&cp, "productpage", "v1").await;
    cp.wait_scraped(&pp.id()).await;
    drop(pp);
    // `--grace 1s` in the test control plane: then the proxy is withdrawn, target and all.
    eventually(WAIT, "the target withdrawn", || async {
        let t = cp.json("/api/v1/targets").await;
        t["targets"].as_array()?.is_empty().then_some(())
    })
    .await;
    let mesh = cp.json("/api/v1/mesh").await;
    assert_eq!(mesh["proxies"], serde_json::json!([]), "{mesh}");
}

/// reviews v2 only, through a DestinationRule that ejects an endpoint at its first 5xx.
const EJECT_AT_FIRST_5XX: &str = r#"apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 60s, maxEjectionPercent: 100}
  subsets:
    - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
    - route:
        - destination: {host: reviews, subset: v2}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outlier_ejection_shows_per_cluster_in_the_mesh_view() {
    const CLUSTER: &str = "outbound|9080|v2|reviews.default.svc.cluster.local";
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(dir.path()).await;
    let pp = sidecar(&cp, "productpage", "v1").await;
    let unhealthy = Backend::always("reviews-v2", 503).await;
    let rv = sidecar_for(&cp, unhealthy, "reviews", "v2", |_| {});
    assert_eq!(cp.apply("dr.yaml", EJECT_AT_FIRST_5XX).await.status, 200);
    let ids = [pp.id(), rv.id()];
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    cp.wait_synced(&ids, revision(&cp).await).await;
    // Nothing ejected yet: an empty object, not null.
    assert_eq!(
        cp.wait_scraped(&pp.id()).await["outlier_ejections"],
        json!({})
    );

    // The first request gets the backend's 503 and ejects the only endpoint; then the
    // sidecar has no healthy upstream.
    eventually(
        WAIT,
        "reviews v2 ejected by productpage's sidecar",
        || async {
            let req = Request::get("http://reviews:9080/")
                .header("host", "reviews:9080")
                .body(Full::new(Bytes::new()))
                .unwrap();
            let got = send(pp.outbound(), req).await.ok()?;
            (got.status == 503 && got.text() == "no healthy upstream").then_some(())
        },
    )
    .await;
    assert!(
        rv.app.hits() >= 1,
        "the unhealthy backend was reached first"
    );
    let proxy = pp.client.proxy().unwrap();
    let line = format!(
        "envoy_cluster_outlier_detection_ejections_enforced_total{{cluster_name=\"{CLUSTER}\"}} 1\n"
    );
    let text = scrape(&proxy).await;
    assert!(text.contains(&line), "{text}");

    let seen = eventually(WAIT, "productpage's ejection in /api/v1/mesh", || async {
        let p = cp.mesh_proxy(&pp.id()).await?;
        (p["outlier_ejections"][CLUSTER].as_u64()? >= 1).then_some(p)
    })
    .await;
    assert_eq!(seen["outlier_ejections"], json!({ CLUSTER: 1 }), "{seen}");
    let target = cp.wait_scraped(&pp.id()).await;
    assert_eq!(
        target["outlier_ejections"],
        json!({ CLUSTER: 1 }),
        "{target}"
    );
    // The server's sidecar ejected nothing: its inbound cluster has no outlier detection.
    let server = cp.mesh_proxy(&rv.id()).await.unwrap();
    assert_eq!(server["outlier_ejections"], json!({}), "{server}");
}
