//! Security translation: DestinationRule `tls` and auto-mTLS -> `Cluster.tls`,
//! PeerAuthentication precedence -> the inbound listener, AuthorizationPolicy selection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod translate_support;

use mesh_api::istio::Resource;
use mesh_api::snapshot::{AuthzAction, ClusterTlsMode, Listener, MtlsMode, Snapshot};
use translate_support::{bookinfo, sidecar, sidecar_with, yaml};

const REVIEWS_V1: &str = "outbound|9080|v1|reviews.default.svc.cluster.local";
const REVIEWS: &str = "outbound|9080||reviews.default.svc.cluster.local";

fn tls_mode(s: &Snapshot, name: &str) -> Option<ClusterTlsMode> {
    let c = s
        .clusters
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name}"));
    c.tls.as_ref().map(|t| t.mode)
}

fn inbound(s: &Snapshot) -> &Listener {
    s.listeners
        .iter()
        .find(|l| l.direction == mesh_api::snapshot::Direction::Inbound)
        .expect("inbound")
}

const DR_SUBSETS: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
  subsets:
  - {name: v1, labels: {version: v1}, trafficPolicy: {tls: {mode: DISABLE}}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 50}
    - {destination: {host: reviews, subset: v2}, weight: 50}
"#;

#[test]
fn destination_rule_tls_and_auto_mtls() {
    let reg = bookinfo();
    let none: Vec<Resource> = Vec::new();
    // No DestinationRule: plain text without auto-mTLS, ISTIO_MUTUAL with it.
    assert_eq!(
        tls_mode(&sidecar(&none, &reg, "productpage-v1").snapshot, REVIEWS),
        None
    );
    let auto = sidecar_with(&none, &reg, "productpage-v1", true).snapshot;
    assert_eq!(tls_mode(&auto, REVIEWS), Some(ClusterTlsMode::IstioMutual));
    // Explicit rule: ISTIO_MUTUAL at the top, DISABLE in subset v1 wins there (even with auto).
    let res = yaml("dr.yaml", DR_SUBSETS);
    let s = sidecar(&res, &reg, "productpage-v1").snapshot;
    assert_eq!(tls_mode(&s, REVIEWS), Some(ClusterTlsMode::IstioMutual));
    assert_eq!(tls_mode(&s, REVIEWS_V1), None);
    assert_eq!(
        tls_mode(&s, "outbound|9080|v2|reviews.default.svc.cluster.local"),
        Some(ClusterTlsMode::IstioMutual)
    );
    let auto = sidecar_with(&res, &reg, "productpage-v1", true).snapshot;
    assert_eq!(tls_mode(&auto, REVIEWS_V1), None);
    // The inbound cluster (to the local app) is never TLS.
    assert!(auto
        .clusters
        .iter()
        .filter(|c| c.name.starts_with("inbound"))
        .all(|c| c.tls.is_none()));
}

const PA: &str = r#"
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ns, namespace: default}
spec: {mtls: {mode: UNSET}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: reviews, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  mtls: {mode: PERMISSIVE}
  portLevelMtls: {9080: {mode: DISABLE}}
"#;

#[test]
fn peer_authentication_precedence() {
    let reg = bookinfo();
    let res = yaml("pa.yaml", PA);
    // Namespace UNSET inherits the mesh-wide STRICT.
    let pp = sidecar(&res, &reg, "productpage-v1").snapshot;
    let pa = inbound(&pp).peer_authentication.clone().expect("pa");
    assert_eq!(pa.mode, MtlsMode::Strict);
    assert!(pa.port_level_mtls.is_empty());
    // The workload selector wins, with its port-level override.
    let rv = sidecar(&res, &reg, "reviews-v1").snapshot;
    let pa = inbound(&rv).peer_authentication.clone().expect("pa");
    assert_eq!(pa.mode, MtlsMode::Permissive);
    assert_eq!(pa.port_level_mtls.get(&9080), Some(&MtlsMode::Disable));
    // Also keyed by the inbound listener's port (15006), which the proxy decides on.
    assert_eq!(pa.mode_for(15006), MtlsMode::Disable);
    // Nothing applied: UNSET (the proxy treats it as PERMISSIVE).
    let none = sidecar(&[], &reg, "productpage-v1").snapshot;
    assert_eq!(
        inbound(&none).peer_authentication.as_ref().map(|p| p.mode),
        Some(MtlsMode::Unset)
    );
}

const AP: &str = r#"
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: istio-system}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-from-pp, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/default/sa/bookinfo-productpage"]}}]
    to: [{operation: {methods: [GET]}}]
  - from: [{source: {ipBlocks: ["10.0.0.0/8"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-ns, namespace: other}
spec: {}
"#;

#[test]
fn authorization_policies_selected_per_workload() {
    let reg = bookinfo();
    let res = yaml("ap.yaml", AP);
    let t = sidecar(&res, &reg, "reviews-v2");
    let authz = &inbound(&t.snapshot).authorization;
    let names: Vec<&str> = authz.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["istio-system/deny-admin", "default/reviews-from-pp"]
    );
    assert_eq!(authz[0].action, AuthzAction::Deny);
    // The ALLOW rule using ipBlocks is dropped (allows less), with a warning.
    assert_eq!(authz[1].rules.len(), 1);
    assert_eq!(authz[1].rules[0].to[0].operation.methods, ["GET"]);
    assert!(
        t.warnings
            .iter()
            .any(|w| w.path == "spec.rules[1]" && w.message.contains("ipBlocks")),
        "{:?}",
        t.warnings
    );
    // productpage gets only the mesh-wide one.
    let pp = sidecar(&res, &reg, "productpage-v1").snapshot;
    let names: Vec<&str> = inbound(&pp)
        .authorization
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["istio-system/deny-admin"]);
}
