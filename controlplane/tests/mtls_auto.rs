//! Automatic mTLS follows who holds a mesh certificate (the registry's `principal`, set when
//! a sidecar connects over TLS with one), as Istio's auto mTLS follows which endpoints have a
//! sidecar: a sidecar with a certificate dials ISTIO_MUTUAL only clusters whose endpoints
//! all hold one; a sidecar without one never does; DestinationRule `tls` still overrides.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod translate_support;

use mesh_api::snapshot::{ClusterTlsMode, Snapshot};
use mesh_controlplane::registry::Registry;
use translate_support::{bookinfo, sidecar_with, yaml};

const REVIEWS: &str = "outbound|9080||reviews.default.svc.cluster.local";
const REVIEWS_V1: &str = "outbound|9080|v1|reviews.default.svc.cluster.local";
const REVIEWS_V2: &str = "outbound|9080|v2|reviews.default.svc.cluster.local";
const DETAILS: &str = "outbound|9080||details.default.svc.cluster.local";

const SUBSETS: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
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

fn tls(s: &Snapshot, name: &str) -> Option<ClusterTlsMode> {
    let c = s.clusters.iter().find(|c| c.name == name).expect(name);
    c.tls.as_ref().map(|t| t.mode)
}

/// Bookinfo where reviews-v2's sidecar holds no certificate (it connected in plain text).
fn registry() -> Registry {
    let mut reg = bookinfo();
    for w in &mut reg.workloads {
        if w.workload == "reviews-v2" {
            w.principal = None;
        }
    }
    reg
}

#[test]
fn auto_mtls_only_toward_sidecars_with_certificates() {
    let reg = registry();
    let res = yaml("reviews.yaml", SUBSETS);
    let s = sidecar_with(&res, &reg, "productpage-v1", true).snapshot;
    assert_eq!(tls(&s, DETAILS), Some(ClusterTlsMode::IstioMutual));
    assert_eq!(tls(&s, REVIEWS_V1), Some(ClusterTlsMode::IstioMutual));
    assert_eq!(tls(&s, REVIEWS_V2), None, "v2 cannot accept mTLS");
    // TLS is decided per cluster: one endpoint without a certificate keeps it plain text.
    assert_eq!(tls(&s, REVIEWS), None);
    // A sidecar without a certificate dials nobody over mTLS.
    let s = sidecar_with(&res, &reg, "productpage-v1", false).snapshot;
    assert!(s.clusters.iter().all(|c| c.tls.is_none()));
}

#[test]
fn destination_rule_tls_overrides_auto_mtls() {
    let reg = registry();
    let res = yaml(
        "dr.yaml",
        r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details}
spec: {host: details, trafficPolicy: {tls: {mode: DISABLE}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec: {host: reviews, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}
"#,
    );
    let s = sidecar_with(&res, &reg, "productpage-v1", true).snapshot;
    assert_eq!(tls(&s, DETAILS), None, "DISABLE wins over auto mTLS");
    assert_eq!(
        tls(&s, REVIEWS),
        Some(ClusterTlsMode::IstioMutual),
        "an explicit ISTIO_MUTUAL is the user's call"
    );
}

#[test]
fn endpoint_principals_come_from_the_certificates() {
    let mut reg = bookinfo();
    let other = "spiffe://example.org/ns/default/sa/bookinfo-details";
    for w in &mut reg.workloads {
        if w.workload == "details-v1" {
            w.principal = Some(other.into());
        }
    }
    let s = sidecar_with(&[], &reg, "productpage-v1", true).snapshot;
    let details = s.clusters.iter().find(|c| c.name == DETAILS).unwrap();
    assert_eq!(details.endpoints[0].principal, other);
}
