//! Istio's own Bookinfo routing files, translated for Bookinfo's sidecars: what each proxy
//! would route where, checked on the snapshots (no sockets; see translate_e2e.rs for that).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod translate_support;

use mesh_api::snapshot::{Cluster, Route, SimpleLb, Snapshot, UpstreamProtocol, VirtualHost};
use mesh_api::StringMatch;
use translate_support::{bookinfo, bookinfo_files, sidecar, yaml};

const REVIEWS: &str = "reviews.default.svc.cluster.local";

fn vhost<'a>(s: &'a Snapshot, name: &str) -> &'a VirtualHost {
    s.routes
        .iter()
        .flat_map(|r| &r.virtual_hosts)
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no virtual host {name}"))
}

fn cluster<'a>(s: &'a Snapshot, name: &str) -> &'a Cluster {
    s.clusters
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no cluster {name}"))
}

fn reviews_routes(s: &Snapshot) -> &[Route] {
    &vhost(s, &format!("{REVIEWS}:9080")).routes
}

fn targets(r: &Route) -> Vec<(String, Option<u32>)> {
    r.route
        .iter()
        .map(|d| (d.cluster.clone(), d.weight))
        .collect()
}

fn subset(v: &str) -> String {
    format!("outbound|9080|{v}|{REVIEWS}")
}

#[test]
fn no_rules_reach_every_service_with_defaults() {
    let reg = bookinfo();
    let t = sidecar(&[], &reg, "productpage-v1");
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    let s = &t.snapshot;
    assert_eq!(s.node.workload, "productpage-v1");
    assert_eq!(s.node.app, "productpage");
    assert_eq!(s.node.version, "v1");
    assert_eq!(s.node.service, "productpage.default.svc.cluster.local");
    for svc in ["productpage", "details", "reviews", "ratings"] {
        let vh = vhost(s, &format!("{svc}.default.svc.cluster.local:9080"));
        for d in [
            svc.to_string(),
            format!("{svc}:9080"),
            format!("{svc}.default"),
        ] {
            assert!(vh.domains.contains(&d), "{svc}: {:?}", vh.domains);
        }
        let [route] = vh.routes.as_slice() else {
            panic!("one default route")
        };
        let retries = route.retries.as_ref().expect("Istio's default retries");
        assert_eq!(retries.attempts, 2);
        assert!(retries
            .retry_on
            .starts_with("connect-failure,refused-stream"));
    }
    let all = cluster(s, &format!("outbound|9080||{REVIEWS}"));
    assert_eq!(all.endpoints.len(), 3, "every reviews instance");
    assert_eq!(
        all.load_balancer.simple.unwrap_or_default(),
        SimpleLb::LeastRequest
    );
    assert_eq!(
        all.protocol,
        UpstreamProtocol::Http2,
        "sidecar to sidecar is h2c"
    );
    let e = &all.endpoints[0];
    assert_eq!(
        e.address.to_string(),
        "127.0.3.1:15006",
        "the destination sidecar"
    );
    assert_eq!(
        e.principal,
        "spiffe://cluster.local/ns/default/sa/bookinfo-reviews"
    );
    // The inbound side forwards to the app.
    let inbound = cluster(s, "inbound|9080||");
    assert_eq!(inbound.endpoints[0].address.to_string(), "127.0.1.1:9080");
    assert!(s
        .listeners
        .iter()
        .any(|l| l.name == "inbound" && l.address.to_string() == "127.0.1.1:15006"));
}

#[test]
fn all_v1_sends_reviews_to_v1_only() {
    let reg = bookinfo();
    let res = bookinfo_files(&["destination-rule-all.yaml", "virtual-service-all-v1.yaml"]);
    let t = sidecar(&res, &reg, "productpage-v1");
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    let routes = reviews_routes(&t.snapshot);
    assert_eq!(routes.len(), 1);
    assert_eq!(targets(&routes[0]), [(subset("v1"), None)]);
    let v1 = cluster(&t.snapshot, &subset("v1"));
    let addrs: Vec<String> = v1.endpoints.iter().map(|e| e.address.to_string()).collect();
    assert_eq!(addrs, ["127.0.3.1:15006"]);
    assert_eq!(v1.endpoints[0].version, "v1");
}

#[test]
fn jason_goes_to_v2_others_to_v1() {
    let reg = bookinfo();
    let res = bookinfo_files(&[
        "destination-rule-all.yaml",
        "virtual-service-reviews-test-v2.yaml",
    ]);
    let t = sidecar(&res, &reg, "productpage-v1");
    let routes = reviews_routes(&t.snapshot);
    assert_eq!(routes.len(), 2);
    assert_eq!(
        routes[0].matches[0].headers["end-user"],
        StringMatch::Exact("jason".into())
    );
    assert_eq!(targets(&routes[0]), [(subset("v2"), None)]);
    assert!(routes[1].matches.is_empty());
    assert_eq!(targets(&routes[1]), [(subset("v1"), None)]);
    let v2 = cluster(&t.snapshot, &subset("v2"));
    assert_eq!(v2.endpoints.len(), 1);
    assert_eq!(v2.endpoints[0].workload, "reviews-v2");
}

#[test]
fn weighted_splits() {
    let reg = bookinfo();
    for (file, want) in [
        (
            "virtual-service-reviews-50-v3.yaml",
            [("v1", 50), ("v3", 50)],
        ),
        (
            "virtual-service-reviews-90-10.yaml",
            [("v1", 90), ("v2", 10)],
        ),
    ] {
        let res = bookinfo_files(&["destination-rule-all.yaml", file]);
        let t = sidecar(&res, &reg, "productpage-v1");
        let got = targets(&reviews_routes(&t.snapshot)[0]);
        let want: Vec<_> = want.iter().map(|(v, w)| (subset(v), Some(*w))).collect();
        assert_eq!(got, want, "{file}");
    }
}

#[test]
fn ratings_faults_only_for_jason() {
    let reg = bookinfo();
    for file in [
        "virtual-service-ratings-test-delay.yaml",
        "virtual-service-ratings-test-abort.yaml",
    ] {
        let res = bookinfo_files(&["destination-rule-all.yaml", file]);
        // Reviews calls ratings: its sidecar carries the fault.
        let t = sidecar(&res, &reg, "reviews-v2");
        let routes = &vhost(&t.snapshot, "ratings.default.svc.cluster.local:9080").routes;
        assert_eq!(routes.len(), 2, "{file}");
        let fault = routes[0].fault.as_ref().expect("fault on the jason route");
        assert_eq!(
            routes[0].matches[0].headers["end-user"],
            StringMatch::Exact("jason".into())
        );
        match (&fault.delay, &fault.abort) {
            (Some(d), None) => {
                assert_eq!(d.fixed_delay.as_std().as_secs(), 7);
                assert_eq!(d.percentage, 100.0);
            }
            (None, Some(a)) => {
                assert_eq!(a.http_status, 500);
                assert_eq!(a.percentage, 100.0);
            }
            other => panic!("{file}: unexpected fault {other:?}"),
        }
        assert!(routes[1].fault.is_none(), "{file}: others are not faulted");
    }
}

#[test]
fn missing_subsets_and_hosts_warn_without_failing() {
    let reg = bookinfo();
    // No DestinationRule: details v2 and ratings v2 are undefined subsets.
    let mut res = bookinfo_files(&[
        "virtual-service-details-v2.yaml",
        "virtual-service-ratings-db.yaml",
    ]);
    res.extend(yaml(
        "ghost.yaml",
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ghost}\n\
         spec:\n  hosts: [details]\n  http:\n  - match: [{uri: {prefix: /ghost}}]\n    route:\n    - destination: {host: ghost}\n",
    ));
    let t = sidecar(&res, &reg, "productpage-v1");
    let paths: Vec<String> = t
        .warnings
        .iter()
        .map(|w| format!("{} {}", w.resource, w.path))
        .collect();
    assert!(
        paths.contains(
            &"VirtualService default/details spec.http[0].route[0].destination.subset".to_string()
        ),
        "{paths:?}"
    );
    assert!(
        paths.contains(
            &"VirtualService default/ratings spec.http[0].route[0].destination.subset".to_string()
        ),
        "{paths:?}"
    );
    let empty = cluster(
        &t.snapshot,
        "outbound|9080|v2|details.default.svc.cluster.local",
    );
    assert!(empty.endpoints.is_empty(), "503 UH, as Istio");
    // details has two VirtualServices: the first in input order wins for sidecars.
    let details = &vhost(&t.snapshot, "details.default.svc.cluster.local:9080").routes;
    assert_eq!(details.len(), 1);
    // A host nobody serves: used directly, it warns too.
    let ghost = yaml(
        "ghost.yaml",
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ghost}\n\
         spec:\n  hosts: [details]\n  http:\n  - route:\n    - destination: {host: ghost}\n",
    );
    let t = sidecar(&ghost, &reg, "productpage-v1");
    assert!(
        t.warnings[0]
            .message
            .contains("ghost.default.svc.cluster.local"),
        "{:?}",
        t.warnings
    );
    assert!(cluster(
        &t.snapshot,
        "outbound|9080||ghost.default.svc.cluster.local"
    )
    .endpoints
    .is_empty());
}

#[test]
fn mtls_rules_translate_too() {
    let reg = bookinfo();
    let res = bookinfo_files(&[
        "destination-rule-all-mtls.yaml",
        "virtual-service-reviews-v3.yaml",
    ]);
    let t = sidecar(&res, &reg, "productpage-v1");
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    assert_eq!(
        targets(&reviews_routes(&t.snapshot)[0]),
        [(subset("v3"), None)]
    );
}

#[test]
fn translation_is_deterministic() {
    let res = bookinfo_files(&[
        "destination-rule-all.yaml",
        "virtual-service-reviews-jason-v2-v3.yaml",
        "egress-rule-google-apis.yaml",
    ]);
    let reg = bookinfo();
    let a = serde_json::to_string(&sidecar(&res, &reg, "productpage-v1").snapshot).unwrap();
    let b = serde_json::to_string(&sidecar(&res, &reg, "productpage-v1").snapshot).unwrap();
    assert_eq!(a, b);
    // Registry arrival order does not matter either.
    let mut shuffled = reg.clone();
    shuffled.workloads.reverse();
    let c = serde_json::to_string(&sidecar(&res, &shuffled, "productpage-v1").snapshot).unwrap();
    assert_eq!(a, c);
}

#[test]
fn service_entry_gives_external_hosts_a_virtual_host() {
    let reg = bookinfo();
    let res = bookinfo_files(&["egress-rule-google-apis.yaml"]);
    let t = sidecar(&res, &reg, "productpage-v1");
    let vh = vhost(&t.snapshot, "www.googleapis.com:80");
    assert_eq!(vh.domains, ["www.googleapis.com", "www.googleapis.com:80"]);
    // The VirtualService sends port 80 to port 443 (TLS origination, not done yet).
    assert_eq!(
        targets(&vh.routes[0]),
        [("outbound|443||www.googleapis.com".to_string(), None)]
    );
    let c = cluster(&t.snapshot, "outbound|443||www.googleapis.com");
    assert!(
        c.endpoints.is_empty(),
        "DNS resolution is not done by the proxy yet"
    );
    assert_eq!(c.load_balancer.simple, Some(SimpleLb::RoundRobin));
    assert!(
        t.warnings.iter().any(|w| w.path == "spec.resolution"),
        "{:?}",
        t.warnings
    );
}

#[test]
fn every_bookinfo_file_translates_to_valid_snapshots() {
    let reg = bookinfo();
    let mut names: Vec<String> = std::fs::read_dir(translate_support::fixtures_dir())
        .expect("fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 20, "{names:?}");
    for name in &names {
        let res = bookinfo_files(&["destination-rule-all.yaml", name.as_str()]);
        for w in ["productpage-v1", "reviews-v2", "ratings-v1"] {
            // `sidecar` checks the proxy's validator; warnings are allowed.
            sidecar(&res, &reg, w);
        }
        let input = mesh_controlplane::translate::Input {
            resources: &res.iter().collect::<Vec<_>>(),
            registry: &reg,
        };
        let t = mesh_controlplane::translate::gateway(
            &input,
            &translate_support::ingress(),
            std::net::Ipv4Addr::LOCALHOST.into(),
            &Default::default(),
            "1",
        );
        if let Err(e) = t.snapshot.validate() {
            panic!("{name}: gateway snapshot invalid: {e}");
        }
    }
}

#[test]
fn rules_for_unknown_hosts_warn() {
    let reg = bookinfo();
    let res = yaml(
        "typo.yaml",
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: revews}\n\
         spec: {host: revews}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n\
         metadata: {name: revews}\nspec:\n  hosts: [revews]\n  http:\n  - route: [{destination: {host: reviews}}]\n",
    );
    let t = sidecar(&res, &reg, "productpage-v1");
    let got: Vec<String> = t
        .warnings
        .iter()
        .map(|w| format!("{} {}", w.resource, w.path))
        .collect();
    assert_eq!(
        got,
        [
            "DestinationRule default/revews spec.host",
            "VirtualService default/revews spec.hosts[0]"
        ]
    );
}
