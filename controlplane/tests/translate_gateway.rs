//! Bookinfo's ingress: `bookinfo-gateway.yaml` translated for the ingress gateway.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod translate_support;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use mesh_api::StringMatch;
use mesh_controlplane::translate::{gateway, Input};
use translate_support::{bookinfo, bookinfo_files, ingress, yaml};

#[test]
fn bookinfo_gateway_routes_the_five_paths_to_productpage() {
    let reg = bookinfo();
    let res = bookinfo_files(&["bookinfo-gateway.yaml", "destination-rule-all.yaml"]);
    let port_map = BTreeMap::from([(8080, 18080)]);
    let input = Input {
        resources: &res.iter().collect::<Vec<_>>(),
        registry: &reg,
    };
    let t = gateway(
        &input,
        &ingress(),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        &port_map,
        "1",
    );
    t.snapshot.validate().expect("valid gateway snapshot");
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    let s = &t.snapshot;
    assert_eq!(s.node.workload, "istio-ingressgateway-v1");
    let [l] = s.listeners.as_slice() else {
        panic!("one listener: {:?}", s.listeners)
    };
    assert_eq!(l.address.to_string(), "127.0.0.1:18080", "port mapped");
    let vh = &s.routes[0].virtual_hosts[0];
    assert_eq!(vh.domains, ["*"]);
    let [route] = vh.routes.as_slice() else {
        panic!("one route")
    };
    let uris: Vec<&StringMatch> = route
        .matches
        .iter()
        .filter_map(|m| m.uri.as_ref())
        .collect();
    assert_eq!(
        uris,
        [
            &StringMatch::Exact("/productpage".into()),
            &StringMatch::Prefix("/static".into()),
            &StringMatch::Exact("/login".into()),
            &StringMatch::Exact("/logout".into()),
            &StringMatch::Prefix("/api/v1/products".into()),
        ]
    );
    let pp = "outbound|9080||productpage.default.svc.cluster.local";
    assert_eq!(route.route[0].cluster, pp);
    let c = s.clusters.iter().find(|c| c.name == pp).expect("cluster");
    assert_eq!(c.endpoints[0].address.to_string(), "127.0.1.1:15006");
    // Only what the gateway routes to: no cluster per service as sidecars have.
    assert_eq!(s.clusters.len(), 1);
}

#[test]
fn gateways_select_by_labels_and_virtual_services_by_gateway_name() {
    let reg = bookinfo();
    let res = yaml(
        "gw.yaml",
        r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other, namespace: default}
spec:
  selector: {istio: egressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["default/bookinfo.example.com"]
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: site, namespace: default}
spec:
  hosts: [bookinfo.example.com, other.example.com]
  gateways: [web]
  http:
  - route: [{destination: {host: productpage}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mesh-only, namespace: default}
spec:
  hosts: ["bookinfo.example.com"]
  http:
  - route: [{destination: {host: reviews}}]
"#,
    );
    let input = Input {
        resources: &res.iter().collect::<Vec<_>>(),
        registry: &reg,
    };
    let port_map = BTreeMap::from([(80, 8080)]);
    let t = gateway(
        &input,
        &ingress(),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        &port_map,
        "1",
    );
    t.snapshot.validate().expect("valid");
    let s = &t.snapshot;
    assert_eq!(s.listeners.len(), 1, "the HTTPS server is skipped");
    assert_eq!(s.listeners[0].address.to_string(), "127.0.0.1:8080");
    let vhs = &s.routes[0].virtual_hosts;
    assert_eq!(vhs.len(), 1, "{vhs:?}");
    assert_eq!(
        vhs[0].domains,
        ["bookinfo.example.com", "bookinfo.example.com:80"]
    );
    assert!(vhs[0].routes[0].route[0].cluster.contains("productpage"));
    assert!(t
        .warnings
        .iter()
        .any(|w| w.path == "spec.servers[1].port.protocol"));
}
