//! Snapshot parsing and validation.

use super::*;

const SAMPLE: &str = r#"
version: "1"
node: {workload: productpage-v1, app: productpage, version: v1}
listeners:
  - {name: outbound, address: "127.0.0.1:15001", direction: outbound, routeConfig: out}
routes:
  - name: out
    virtualHosts:
      - name: reviews
        domains: [reviews, "reviews:9080"]
        routes:
          - match: [{headers: {end-user: {exact: jason}}}]
            route: [{cluster: reviews-v2}]
          - route:
              - {cluster: reviews-v1, weight: 50}
              - {cluster: reviews-v2, weight: 50}
            timeout: 3s
            retries: {attempts: 1, perTryTimeout: 1s}
clusters:
  - name: reviews-v1
    endpoints: [{address: "127.0.0.1:9081"}]
  - name: reviews-v2
    endpoints: [{address: "127.0.0.1:9082", version: v2}]
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool: {http: {http1MaxPendingRequests: 1}}
    outlierDetection: {consecutive5xxErrors: 3}
"#;

#[test]
fn sample_parses_and_validates() {
    let s = Snapshot::from_yaml(SAMPLE).expect("parse");
    s.validate().expect("valid");
    assert_eq!(
        s.routes[0].virtual_hosts[0].routes[1].timeout,
        Some(Duration::from_secs(3))
    );
    assert_eq!(
        s.clusters[1].load_balancer.simple,
        Some(SimpleLb::RoundRobin)
    );
    let od = s.clusters[1].outlier_detection.as_ref().expect("od");
    assert_eq!(od.base_ejection_time, Duration::from_secs(30));
}

#[test]
fn reports_every_problem_with_paths() {
    let bad = SAMPLE
        .replace(
            "{cluster: reviews-v1, weight: 50}",
            "{cluster: nope, weight: 60}",
        )
        .replace("routeConfig: out", "routeConfig: missing");
    let s = Snapshot::from_yaml(&bad).expect("parse");
    let err = s.validate().expect_err("invalid").to_string();
    assert!(
        err.contains("listeners[0].routeConfig: no route table named \"missing\""),
        "{err}"
    );
    assert!(
        err.contains("routes[0].virtualHosts[0].routes[1].route[0].cluster"),
        "{err}"
    );
    assert!(
        err.contains("weights must sum to 100, they sum to 110"),
        "{err}"
    );
}

#[test]
fn unknown_fields_are_rejected() {
    let bad = SAMPLE.replace("timeout: 3s", "timeoutt: 3s");
    assert!(Snapshot::from_yaml(&bad).is_err());
}

const SECURE: &str = r#"
listeners:
  - name: inbound
    address: "127.0.0.1:15006"
    direction: inbound
    routeConfig: in
    peerAuthentication: {mode: STRICT, portLevelMtls: {9080: PERMISSIVE}}
    authorization:
      - name: default/deny-admin
        action: DENY
        rules: [{to: [{operation: {paths: ["/admin*"], notMethods: [GET]}}]}]
      - name: default/allow-pp
        rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/productpage"]}}]}]
routes: [{name: in, virtualHosts: [{name: app, domains: ["*"], routes: [{route: [{cluster: app}]}]}]}]
clusters:
  - name: app
    endpoints: [{address: "127.0.0.1:9080", principal: "spiffe://cluster.local/ns/default/sa/app"}]
    tls: {mode: ISTIO_MUTUAL}
"#;

#[test]
fn security_fields_parse_validate_and_resolve_modes() {
    let s = Snapshot::from_yaml(SECURE).expect("parse");
    s.validate().expect("valid");
    let pa = s.listeners[0].peer_authentication.as_ref().expect("pa");
    assert_eq!(pa.mode_for(9080), MtlsMode::Permissive);
    assert_eq!(pa.mode_for(8080), MtlsMode::Strict);
    assert_eq!(
        PeerAuthentication::default().mode_for(1),
        MtlsMode::Permissive
    );
    assert_eq!(s.listeners[0].authorization[0].action, AuthzAction::Deny);
    assert_eq!(s.listeners[0].authorization[1].action, AuthzAction::Allow);
    let tls = s.clusters[0].tls.as_ref().expect("tls");
    assert_eq!(tls.mode, ClusterTlsMode::IstioMutual);
    // Round trip keeps everything.
    let again = Snapshot::from_yaml(&serde_json::to_string(&s).expect("json")).expect("reparse");
    assert_eq!(again, s);
}

#[test]
fn security_mistakes_are_reported_with_paths() {
    let bad = SECURE
        .replace("direction: inbound", "direction: outbound")
        .replace("\"/admin*\"", "\"/a*b\"")
        .replace(
            ", principal: \"spiffe://cluster.local/ns/default/sa/app\"",
            "",
        );
    let s = Snapshot::from_yaml(&bad).expect("parse");
    let errs = s.validate().expect_err("invalid").0;
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert!(
        paths.contains(&"listeners[0].peerAuthentication"),
        "{paths:?}"
    );
    assert!(paths.contains(&"listeners[0].authorization"), "{paths:?}");
    assert!(
        paths.contains(&"listeners[0].authorization[0].rules[0].to[0].operation.paths"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"clusters[0].endpoints[0].principal"),
        "{paths:?}"
    );
    let ports = SECURE.replace("notMethods: [GET]", "ports: [\"http\"]");
    let errs = Snapshot::from_yaml(&ports)
        .expect("parse")
        .validate()
        .expect_err("bad port")
        .0;
    assert_eq!(
        errs[0].path,
        "listeners[0].authorization[0].rules[0].to[0].operation.ports"
    );
}
