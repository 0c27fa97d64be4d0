//! One test per rule, each with a clean case beside the broken one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use super::*;

fn items(yaml: &str) -> Vec<Item> {
    mesh_api::istio::load("rules.yaml", yaml)
        .expect("valid YAML")
        .into_iter()
        .map(|p| Item::from_file(p.resource, &p.file, p.source_map))
        .collect()
}

fn workload(service: &str, version: &str) -> Workload {
    Workload {
        id: format!("{service}-{version}-0.default"),
        service: service.into(),
        namespace: "default".into(),
        labels: BTreeMap::from([
            ("app".to_string(), service.to_string()),
            ("version".to_string(), version.to_string()),
        ]),
        gateway: false,
    }
}

fn run(yaml: &str, workloads: Vec<Workload>) -> Vec<Finding> {
    analyze(&Input {
        items: items(yaml),
        workloads,
    })
}

fn lines(found: &[Finding]) -> Vec<String> {
    found.iter().map(ToString::to_string).collect()
}

const REVIEWS_DR: &str = "\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
";

fn reviews_vs(name: &str, subset: &str) -> String {
    format!(
        "---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}}}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
        subset: {subset}
"
    )
}

fn reviews_v1_v2() -> Vec<Workload> {
    vec![workload("reviews", "v1"), workload("reviews", "v2")]
}

#[test]
fn clean_rules_find_nothing() {
    let yaml = format!("{REVIEWS_DR}{}", reviews_vs("reviews", "v2"));
    assert_eq!(lines(&run(&yaml, reviews_v1_v2())), Vec::<String>::new());
}

#[test]
fn route_to_an_undefined_subset_is_ist0101_at_its_line() {
    let yaml = format!("{REVIEWS_DR}{}", reviews_vs("reviews", "v4"));
    let found = run(&yaml, reviews_v1_v2());
    assert_eq!(
        lines(&found),
        [
            "Error [IST0101] (VirtualService default/reviews rules.yaml:21) Referenced \
             host+subset in destinationrule not found: \"reviews+v4\""
        ]
    );
    assert_eq!(found[0].field, "spec.http[0].route[0].destination.subset");
    assert_eq!(found[0].level(), Level::Error);
}

#[test]
fn a_subset_defined_for_another_namespace_only_does_not_count() {
    let yaml = format!(
        "{}{}",
        REVIEWS_DR.replace("{name: reviews}", "{name: reviews, namespace: prod}"),
        reviews_vs("reviews", "v1")
    );
    // reviews in prod is another host than reviews in default.
    let found = run(&yaml, reviews_v1_v2());
    assert_eq!(found.len(), 1, "{:?}", lines(&found));
    assert!(found[0].message.contains("\"reviews+v1\""));
}

#[test]
fn unknown_host_is_ist0101_unless_a_workload_or_service_entry_provides_it() {
    let vs = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api}
spec:
  hosts: [api]
  http:
  - route:
    - destination: {host: ratings2}
  - route:
    - destination: {host: api.example.com}
";
    let found = run(vs, reviews_v1_v2());
    assert_eq!(
        lines(&found),
        [
            "Error [IST0101] (VirtualService default/api rules.yaml:8) Referenced host not \
             found: \"ratings2\"",
            "Error [IST0101] (VirtualService default/api rules.yaml:10) Referenced host not \
             found: \"api.example.com\"",
        ]
    );
    let with_entry = format!(
        "{vs}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: ext}}
spec:
  hosts: ['*.example.com']
  ports: [{{number: 443, name: https, protocol: HTTPS}}]
  resolution: DNS
"
    );
    let mut workloads = reviews_v1_v2();
    workloads.push(workload("ratings2", "v1"));
    assert_eq!(lines(&run(&with_entry, workloads)), Vec::<String>::new());
}

#[test]
fn missing_gateway_is_ist0101_and_mesh_or_an_existing_one_is_fine() {
    let yaml = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo}
spec:
  hosts: ['*']
  gateways: [bookinfo-gateway, mesh, istio-system/shared]
  http:
  - route:
    - destination: {host: reviews}
";
    let found = run(yaml, reviews_v1_v2());
    assert_eq!(
        lines(&found),
        [
            "Error [IST0101] (VirtualService default/bookinfo rules.yaml:6) Referenced gateway \
             not found: \"bookinfo-gateway\"",
            "Error [IST0101] (VirtualService default/bookinfo rules.yaml:6) Referenced gateway \
             not found: \"istio-system/shared\"",
        ]
    );
    let gateways = "---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shared, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]
";
    let found = run(&format!("{yaml}{gateways}"), reviews_v1_v2());
    assert_eq!(lines(&found), Vec::<String>::new());
}

#[test]
fn two_mesh_virtual_services_for_one_host_are_ist0109_on_both() {
    let yaml = format!(
        "{REVIEWS_DR}{}{}",
        reviews_vs("reviews", "v1"),
        reviews_vs("reviews-canary", "v2")
    );
    let found = run(&yaml, reviews_v1_v2());
    assert_eq!(found.len(), 2, "{:?}", lines(&found));
    for f in &found {
        assert_eq!(f.code, Code::ConflictingMeshGatewayVirtualServiceHosts);
        assert!(
            f.message.starts_with(
                "The VirtualServices default/reviews,default/reviews-canary associated with \
                 mesh gateway define the same host reviews.default.svc.cluster.local"
            ),
            "{}",
            f.message
        );
        assert_eq!(f.field, "spec.hosts[0]");
    }
    assert_eq!(found[0].name, "reviews");
    assert_eq!(found[1].name, "reviews-canary");
    // Bound to a gateway only, the second one is not in the mesh's way.
    let gateway_only = reviews_vs("reviews-canary", "v2").replace(
        "  hosts: [reviews]",
        "  hosts: [reviews]\n  gateways: [istio-system/ingress]",
    );
    let yaml = format!("{REVIEWS_DR}{}{gateway_only}", reviews_vs("reviews", "v1"));
    let found = run(&yaml, reviews_v1_v2());
    assert!(
        found
            .iter()
            .all(|f| f.code != Code::ConflictingMeshGatewayVirtualServiceHosts),
        "{:?}",
        lines(&found)
    );
}

#[test]
fn subset_without_workloads_is_an_ist0173_warning() {
    let yaml = format!("{REVIEWS_DR}  - name: v4\n    labels: {{version: v4}}\n");
    let found = run(&yaml, reviews_v1_v2());
    assert_eq!(found.len(), 1, "{:?}", lines(&found));
    assert_eq!(found[0].level(), Level::Warning);
    assert_eq!(
        found[0].to_string(),
        "Warning [IST0173] (DestinationRule default/reviews rules.yaml:11) The Subset v4 \
         defined in the DestinationRule does not select any pods (none of the 2 workload(s) \
         of reviews.default.svc.cluster.local has version=v4), which may lead to 503 UH \
         (NoHealthyUpstream)."
    );
    // A host with no workloads at all is not this rule's business, nor are gateways.
    let mut gateway = workload("reviews", "v4");
    gateway.gateway = true;
    let found = run(&yaml, vec![gateway]);
    assert_eq!(lines(&found), Vec::<String>::new());
}

#[test]
fn stored_resources_have_no_file_and_files_replace_them() {
    let stored: Vec<Item> = items(&reviews_vs("reviews", "v4"))
        .into_iter()
        .map(|i| Item::stored(i.resource))
        .collect();
    let input = Input {
        items: merge(stored.clone(), Vec::new()),
        workloads: reviews_v1_v2(),
    };
    let found = analyze(&input);
    let subset: Vec<&Finding> = found
        .iter()
        .filter(|f| f.message.contains("host+subset"))
        .collect();
    assert_eq!(subset.len(), 1);
    assert_eq!(subset[0].reference(), None);
    assert!(subset[0]
        .to_string()
        .starts_with("Error [IST0101] (VirtualService default/reviews) "));
    // The same VirtualService from a file, fixed, as if applied over the stored one.
    let fixed = items(&format!("{REVIEWS_DR}{}", reviews_vs("reviews", "v1")));
    let input = Input {
        items: merge(stored, fixed),
        workloads: reviews_v1_v2(),
    };
    assert_eq!(lines(&analyze(&input)), Vec::<String>::new());
}

#[test]
fn istio_bookinfo_rules_are_clean_with_every_subset_deployed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/istio-bookinfo/networking");
    let mut all = Vec::new();
    for f in ["destination-rule-all.yaml", "virtual-service-all-v1.yaml"] {
        let text = std::fs::read_to_string(dir.join(f)).expect("fixture");
        all.extend(
            mesh_api::istio::load(f, &text)
                .expect("valid")
                .into_iter()
                .map(|p| Item::from_file(p.resource, &p.file, p.source_map)),
        );
    }
    let mut workloads = vec![workload("productpage", "v1")];
    for v in ["v1", "v2", "v3"] {
        workloads.push(workload("reviews", v));
    }
    for v in ["v1", "v2", "v2-mysql", "v2-mysql-vm"] {
        workloads.push(workload("ratings", v));
    }
    for v in ["v1", "v2"] {
        workloads.push(workload("details", v));
    }
    let input = Input {
        items: all.clone(),
        workloads: workloads.clone(),
    };
    assert_eq!(lines(&analyze(&input)), Vec::<String>::new());
    // Without ratings v2-mysql-vm, exactly that subset is reported.
    workloads.retain(|w| w.labels.get("version").map(String::as_str) != Some("v2-mysql-vm"));
    let found = analyze(&Input {
        items: all,
        workloads,
    });
    assert_eq!(found.len(), 1, "{:?}", lines(&found));
    assert!(found[0].to_string().starts_with(
        "Warning [IST0173] (DestinationRule default/ratings destination-rule-all.yaml:"
    ));
}
