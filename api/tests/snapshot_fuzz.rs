//! The proxy snapshot parser and validator never panic, whatever the input: random text,
//! and mutations of a valid snapshot (dropped, duplicated and corrupted lines).

use mesh_api::snapshot::Snapshot;
use proptest::prelude::*;

const VALID: &str = r#"
version: "1"
node: {workload: w, app: a, version: v1}
listeners:
  - {name: out, address: "127.0.0.1:15001", direction: outbound, routeConfig: out}
  - {name: tcp, address: "127.0.0.1:15002", direction: inbound, protocol: tcp, cluster: c1}
routes:
  - name: out
    virtualHosts:
      - name: h
        domains: [h, "h:80", "*.x.com"]
        routes:
          - match: [{uri: {regex: "/a[0-9]+"}, headers: {u: {prefix: j}}, queryParams: {q: {exact: "1"}}}]
            route: [{cluster: c1, weight: 30}, {cluster: c2, weight: 70}]
            timeout: 1.5s
            retries: {attempts: 2, perTryTimeout: 100ms, retryOn: "5xx,reset"}
            fault: {delay: {fixedDelay: 1s, percentage: 10}, abort: {httpStatus: 503, percentage: 1.5}}
            mirror: {cluster: c2, percentage: 50}
          - redirect: {uri: /new, redirectCode: 307}
clusters:
  - name: c1
    endpoints: [{address: "127.0.0.1:9080", weight: 2}]
    loadBalancer: {consistentHash: {httpCookie: {name: s, ttl: 10s}}}
    connectionPool: {tcp: {maxConnections: 10}, http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 5}}
    outlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 5s, maxEjectionPercent: 50}
  - {name: c2, protocol: http2, endpoints: [{address: "[::1]:9080"}]}
"#;

#[test]
fn the_reference_snapshot_is_valid() {
    let s = Snapshot::from_yaml(VALID).expect("parses");
    s.validate().expect("valid");
    assert_eq!(s.clusters.len(), 2);
}

fn check(text: &str) {
    if let Ok(s) = Snapshot::from_yaml(text) {
        let _ = s.validate();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,400}") {
        check(&text);
    }

    #[test]
    fn mutated_snapshots_never_panic(
        ops in proptest::collection::vec((0usize..40, 0u8..4, "[ -~]{0,12}"), 1..6)
    ) {
        let mut lines: Vec<String> = VALID.lines().map(str::to_string).collect();
        for (at, op, junk) in ops {
            if lines.is_empty() { break; }
            let i = at % lines.len();
            match op {
                0 => { lines.remove(i); }
                1 => { let l = lines[i].clone(); lines.insert(i, l); }
                2 => { let cut = lines[i].len() / 2; lines[i].truncate(cut); lines[i].push_str(&junk); }
                _ => { lines[i] = junk; }
            }
        }
        check(&lines.join("\n"));
    }
}
