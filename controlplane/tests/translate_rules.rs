//! Translation rules beyond Bookinfo's files: per-proxy source conditions, DestinationRule
//! precedence, visibility, multi-port services, route features.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod translate_support;

use mesh_api::snapshot::{SimpleLb, Snapshot};
use mesh_api::Duration;
use mesh_controlplane::registry::{PortProtocol, ServicePort};
use translate_support::{bookinfo, sidecar, yaml};

fn cluster<'a>(s: &'a Snapshot, name: &str) -> &'a mesh_api::snapshot::Cluster {
    s.clusters
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

fn vhost<'a>(s: &'a Snapshot, name: &str) -> &'a mesh_api::snapshot::VirtualHost {
    s.routes[0]
        .virtual_hosts
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn source_labels_are_evaluated_per_proxy() {
    let reg = bookinfo();
    let res = yaml(
        "vs.yaml",
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match: [{sourceLabels: {app: reviews, version: v2}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
    route: [{destination: {host: ratings}}]
  - route: [{destination: {host: ratings}}]
    retries: {attempts: 0}
    timeout: 2s
"#,
    );
    let v2 = sidecar(&res, &reg, "reviews-v2").snapshot;
    let routes = &vhost(&v2, "ratings.default.svc.cluster.local:9080").routes;
    assert_eq!(routes.len(), 2);
    assert_eq!(
        routes[0]
            .fault
            .as_ref()
            .unwrap()
            .abort
            .as_ref()
            .unwrap()
            .percentage,
        50.0
    );
    assert!(
        routes[0].matches.iter().all(|m| *m == Default::default()),
        "source-only match matches all"
    );
    assert!(routes[1].retries.is_none(), "attempts: 0 disables retries");
    assert_eq!(routes[1].timeout, Some(Duration::from_secs(2)));
    let v3 = sidecar(&res, &reg, "reviews-v3").snapshot;
    let routes = &vhost(&v3, "ratings.default.svc.cluster.local:9080").routes;
    assert_eq!(
        routes.len(),
        1,
        "the sourceLabels route is not for reviews-v3"
    );
}

#[test]
fn destination_rule_precedence_top_port_subset() {
    let reg = bookinfo();
    let res = yaml(
        "dr.yaml",
        r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    connectionPool: {tcp: {maxConnections: 10}}
    portLevelSettings:
    - port: {number: 9080}
      connectionPool: {http: {http1MaxPendingRequests: 1}}
      outlierDetection: {consecutive5xxErrors: 3}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {consistentHash: {httpHeaderName: x-user}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews.default.svc.cluster.local]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 50}
    - {destination: {host: reviews, subset: v2}, weight: 50}
    mirror: {host: reviews, subset: v1}
"#,
    );
    let t = sidecar(&res, &reg, "productpage-v1");
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    let s = &t.snapshot;
    let v1 = cluster(s, "outbound|9080|v1|reviews.default.svc.cluster.local");
    assert_eq!(v1.load_balancer.simple, Some(SimpleLb::Random), "top level");
    assert_eq!(
        v1.connection_pool.http.http1_max_pending_requests,
        Some(1),
        "port level"
    );
    assert_eq!(
        v1.outlier_detection.as_ref().unwrap().consecutive5xx_errors,
        3
    );
    let v2 = cluster(s, "outbound|9080|v2|reviews.default.svc.cluster.local");
    assert!(v2.load_balancer.simple.is_none());
    assert_eq!(
        v2.load_balancer
            .consistent_hash
            .as_ref()
            .unwrap()
            .http_header_name
            .as_deref(),
        Some("x-user"),
        "subset policy wins"
    );
    // Istio replaces whole sub-messages: the port-level pool replaces the top-level one.
    assert_eq!(
        v2.connection_pool.http.http1_max_pending_requests,
        Some(1),
        "inherited"
    );
    assert_eq!(
        v2.connection_pool.tcp.max_connections, None,
        "replaced, not merged"
    );
    let route = &vhost(s, "reviews.default.svc.cluster.local:9080").routes[0];
    let mirror = route.mirror.as_ref().unwrap();
    assert_eq!(
        mirror.cluster,
        "outbound|9080|v1|reviews.default.svc.cluster.local"
    );
    assert_eq!(mirror.percentage, 100.0);
}

#[test]
fn export_to_hides_rules_from_other_namespaces() {
    let mut reg = bookinfo();
    let mut other = translate_support::workload("client", "v1", [127, 0, 7, 1]);
    other.namespace = "other".into();
    reg.workloads.push(other);
    let res = yaml(
        "vs.yaml",
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  exportTo: ["."]
  http:
  - route: [{destination: {host: reviews, port: {number: 9080}}}]
    timeout: 1s
"#,
    );
    let mine = sidecar(&res, &reg, "productpage-v1").snapshot;
    assert!(
        vhost(&mine, "reviews.default.svc.cluster.local:9080").routes[0]
            .timeout
            .is_some()
    );
    let theirs = sidecar(&res, &reg, "client-v1").snapshot;
    let vh = vhost(&theirs, "reviews.default.svc.cluster.local:9080");
    assert!(
        vh.routes[0].timeout.is_none(),
        "default route in another namespace"
    );
    assert!(
        !vh.domains.contains(&"reviews".to_string()),
        "short names are for the same namespace"
    );
}

#[test]
fn multi_port_services_use_ports_in_domains() {
    let mut reg = bookinfo();
    for w in reg.workloads.iter_mut().filter(|w| w.service == "details") {
        w.ports.push(ServicePort {
            name: "http-admin".into(),
            port: 9090,
            protocol: PortProtocol::Http,
            target_port: 9091,
        });
        w.ports.push(ServicePort {
            name: "tcp-db".into(),
            port: 5432,
            protocol: PortProtocol::Tcp,
            target_port: 5432,
        });
    }
    let t = sidecar(&[], &reg, "productpage-v1");
    let vh = vhost(&t.snapshot, "details.default.svc.cluster.local:9090");
    assert!(
        vh.domains.iter().all(|d| d.ends_with(":9090")),
        "{:?}",
        vh.domains
    );
    assert!(
        t.snapshot.routes[0]
            .virtual_hosts
            .iter()
            .all(|v| !v.name.ends_with(":5432")),
        "TCP ports skipped"
    );
    cluster(
        &t.snapshot,
        "outbound|5432||details.default.svc.cluster.local",
    );
    let d = sidecar(&[], &reg, "details-v1").snapshot;
    let admin = cluster(&d, "inbound|9090||");
    assert_eq!(admin.endpoints[0].address.to_string(), "127.0.2.1:9091");
    let inbound = d.routes.iter().find(|r| r.name == "inbound").unwrap();
    assert_eq!(inbound.virtual_hosts[1].domains, ["*:9090"]);
}

#[test]
fn redirect_direct_response_rewrite_headers() {
    let reg = bookinfo();
    let res = yaml(
        "vs.yaml",
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details}
spec:
  hosts: [details]
  http:
  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, redirectCode: 302}
  - match: [{uri: {exact: /health}, ignoreUriCase: true}]
    directResponse: {status: 204, body: {string: ok}}
  - match: [{queryParams: {debug: {exact: "1"}}, withoutHeaders: {x-skip: {}}}]
    rewrite: {uri: /v2, authority: details-v2}
    headers: {request: {set: {x-a: "1"}}, response: {remove: [server]}}
    route:
    - destination: {host: details}
      headers: {request: {add: {x-b: "2"}}}
"#,
    );
    let t = sidecar(&res, &reg, "productpage-v1");
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    let r = &vhost(&t.snapshot, "details.default.svc.cluster.local:9080").routes;
    assert_eq!(r[0].redirect.as_ref().unwrap().redirect_code, 302);
    assert_eq!(r[1].direct_response.as_ref().unwrap().status, 204);
    assert!(r[1].matches[0].ignore_uri_case);
    assert_eq!(
        r[2].rewrite.as_ref().unwrap().authority.as_deref(),
        Some("details-v2")
    );
    assert!(r[2].matches[0].without_headers.contains_key("x-skip"));
    assert_eq!(
        r[2].headers
            .as_ref()
            .unwrap()
            .response
            .as_ref()
            .unwrap()
            .remove,
        ["server"]
    );
    assert!(r[2].route[0].headers.is_some());
}

#[test]
fn static_service_entry_endpoints() {
    let reg = bookinfo();
    let res = yaml(
        "se.yaml",
        r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: billing}
spec:
  hosts: [billing.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports:
  - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
  - {number: 443, name: tls, protocol: TLS}
  endpoints:
  - {address: 10.1.2.3}
  - {address: 10.1.2.4, ports: {http: 9999}, labels: {version: v2}}
  - {address: billing-3.example.com}
"#,
    );
    let t = sidecar(&res, &reg, "productpage-v1");
    let s = &t.snapshot;
    let vh = vhost(s, "billing.example.com:80");
    assert_eq!(
        vh.domains,
        ["billing.example.com", "billing.example.com:80"],
        "one HTTP port (TLS is not): the port-less name is unambiguous"
    );
    let c = cluster(s, "outbound|80||billing.example.com");
    let addrs: Vec<String> = c.endpoints.iter().map(|e| e.address.to_string()).collect();
    assert_eq!(addrs, ["10.1.2.3:8080", "10.1.2.4:9999"]);
    assert_eq!(
        c.protocol,
        mesh_api::snapshot::UpstreamProtocol::Http1,
        "no sidecar there"
    );
    assert!(c.endpoints[0].principal.is_empty());
    assert!(
        t.warnings
            .iter()
            .any(|w| w.path == "spec.endpoints[2].address"),
        "{:?}",
        t.warnings
    );
}
