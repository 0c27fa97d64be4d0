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
