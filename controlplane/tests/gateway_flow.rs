//! An ingress gateway through the running control plane: a proxy that registers as a
//! `router` with the labels `istio: ingressgateway` gets the listeners of the Gateway that
//! selects it and the routes of the VirtualService bound to that Gateway, and routes a
//! request arriving at its listener to a sidecar'd backend. Its traffic shows in the
//! topology as the gateway's edge.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod push_support;

use std::net::SocketAddr;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh_proxy::testing::{eventually, send, Got};
use push_support::{gateway, revision, sidecar, ControlPlane, WAIT};

const INGRESS: &str = r#"apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
    - port: {number: 80, name: http, protocol: HTTP}
      hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: default}
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http:
    - match: [{uri: {exact: /productpage}}, {uri: {prefix: /static}}]
      route: [{destination: {host: productpage, port: {number: 9080}}}]
"#;

/// `GET path` as a browser would send it to the gateway (origin-form, any Host).
async fn get(listener: SocketAddr, path: &str) -> Option<Got> {
    let req = Request::get(path)
        .header("host", "bookinfo.example.com")
        .body(Full::new(Bytes::new()))
        .unwrap();
    send(listener, req).await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingress_gateway_routes_to_a_sidecar_backend() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(dir.path()).await;
    let pp = sidecar(&cp, "productpage", "v1").await;
    let gw = gateway(&cp);
    let gw_id = gw.node.id();
    cp.wait_synced(&[&pp.id(), &gw_id], 0).await;
    let status = cp.proxy(&gw_id).await.unwrap();
    assert_eq!(status["proxyType"], "router", "{status}");
    // No Gateway selects it yet: nothing listens on its port.
    assert!(tokio::net::TcpStream::connect(gw.listener).await.is_err());

    let applied = cp.apply("ingress.yaml", INGRESS).await;
    assert_eq!(applied.status, 200, "{}", applied.text());
    cp.wait_synced(&[&pp.id(), &gw_id], revision(&cp).await)
        .await;
    let got = eventually(WAIT, "the gateway's listener", || {
        get(gw.listener, "/productpage")
    })
    .await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.backend(), Some("productpage-v1"));
    let seen = pp.app.seen();
    assert_eq!(seen.last().unwrap().uri, "/productpage");
    assert_eq!(
        get(gw.listener, "/static/app.css").await.unwrap().status,
        200
    );
    // A path no route matches: Envoy's 404 for no route, not the backend.
    let hits = pp.app.hits();
    assert_eq!(get(gw.listener, "/admin").await.unwrap().status, 404);
    assert_eq!(pp.app.hits(), hits);

    // The gateway is not a service endpoint: the sidecar has no cluster with its address.
    let proxy = pp.client.proxy().unwrap();
    let config = proxy.shared.config.load();
    let endpoints: Vec<SocketAddr> = config
        .snapshot
        .clusters
        .iter()
        .flat_map(|c| c.endpoints.iter().map(|e| e.address))
        .collect();
    assert!(!endpoints.contains(&gw.listener), "{endpoints:?}");

    // Its traffic is the gateway's edge in the topology.
    let e = eventually(WAIT, "the gateway -> productpage edge", || async {
        let t = cp.json("/api/v1/topology?window=1m").await;
        t["edges"]
            .as_array()?
            .iter()
            .find(|e| e["source"] == "istio-ingressgateway" && e["destination"] == "productpage-v1")
            .filter(|e| e["requests"].as_u64() >= Some(2))
            .cloned()
    })
    .await;
    assert_eq!(e["source_id"], "istio-ingressgateway.istio-system", "{e}");
    let mesh = cp.json("/api/v1/mesh").await;
    let gw_line = mesh["proxies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == gw_id)
        .cloned()
        .unwrap();
    assert_eq!(gw_line["proxy_type"], "router", "{gw_line}");
    assert_eq!(gw_line["state"], "SYNCED", "{gw_line}");
}
