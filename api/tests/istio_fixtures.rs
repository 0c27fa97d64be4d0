//! Istio's own Bookinfo routing files (shared fixtures, not copied into the repo) must all
//! parse and validate, and we must read the number of resources of each kind they hold.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mesh_api::istio::{load, Kind};

/// `shared/` sits next to the checkout in CI and next to the worktrees locally.
fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/istio-bookinfo/networking")
}

fn load_file(name: &str) -> BTreeMap<Kind, usize> {
    let path = fixtures_dir().join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let parsed = load(name, &text).unwrap_or_else(|d| panic!("{name} should be valid:\n{d}"));
    let mut counts = BTreeMap::new();
    for p in &parsed {
        *counts.entry(p.resource.kind()).or_insert(0) += 1;
        assert!(
            !p.resource.name().is_empty(),
            "{name}: every resource has a name"
        );
    }
    counts
}

#[test]
fn every_bookinfo_file_parses_and_validates_with_expected_counts() {
    use Kind::*;
    let expected: &[(&str, &[(Kind, usize)])] = &[
        (
            "bookinfo-gateway.yaml",
            &[(Gateway, 1), (VirtualService, 1)],
        ),
        (
            "certmanager-gateway.yaml",
            &[(Gateway, 1), (VirtualService, 1)],
        ),
        ("destination-rule-all-mtls.yaml", &[(DestinationRule, 4)]),
        ("destination-rule-all.yaml", &[(DestinationRule, 4)]),
        ("destination-rule-reviews.yaml", &[(DestinationRule, 1)]),
        (
            "egress-rule-google-apis.yaml",
            &[(VirtualService, 1), (DestinationRule, 1), (ServiceEntry, 1)],
        ),
        (
            "fault-injection-details-v1.yaml",
            &[(VirtualService, 1), (DestinationRule, 1)],
        ),
        ("virtual-service-all-v1.yaml", &[(VirtualService, 4)]),
        ("virtual-service-details-v2.yaml", &[(VirtualService, 1)]),
        ("virtual-service-ratings-db.yaml", &[(VirtualService, 2)]),
        (
            "virtual-service-ratings-mysql-vm.yaml",
            &[(VirtualService, 2)],
        ),
        ("virtual-service-ratings-mysql.yaml", &[(VirtualService, 2)]),
        (
            "virtual-service-ratings-test-abort.yaml",
            &[(VirtualService, 1)],
        ),
        (
            "virtual-service-ratings-test-delay.yaml",
            &[(VirtualService, 1)],
        ),
        ("virtual-service-reviews-50-v3.yaml", &[(VirtualService, 1)]),
        ("virtual-service-reviews-80-20.yaml", &[(VirtualService, 1)]),
        ("virtual-service-reviews-90-10.yaml", &[(VirtualService, 1)]),
        (
            "virtual-service-reviews-jason-v2-v3.yaml",
            &[(VirtualService, 1)],
        ),
        (
            "virtual-service-reviews-test-v2.yaml",
            &[(VirtualService, 1)],
        ),
        ("virtual-service-reviews-v2-v3.yaml", &[(VirtualService, 1)]),
        ("virtual-service-reviews-v3.yaml", &[(VirtualService, 1)]),
    ];
    for (file, kinds) in expected {
        let want: BTreeMap<Kind, usize> = kinds.iter().copied().collect();
        assert_eq!(load_file(file), want, "{file}");
    }
    // Every fixture on disk is covered above, so a new fixture cannot be silently skipped.
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    on_disk.sort();
    let listed: Vec<String> = expected.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(on_disk, listed);
}

#[test]
fn fixture_values_are_read_into_the_right_fields() {
    use mesh_api::istio::Resource;
    let text =
        std::fs::read_to_string(fixtures_dir().join("virtual-service-ratings-test-delay.yaml"))
            .expect("read");
    let parsed = load("delay.yaml", &text).expect("valid");
    let Resource::VirtualService(vs) = &parsed[0].resource else {
        panic!("expected a VirtualService")
    };
    let delay = vs.spec.http[0]
        .fault
        .as_ref()
        .and_then(|f| f.delay.as_ref())
        .expect("delay");
    assert_eq!(delay.fixed_delay, Some(mesh_api::Duration::from_secs(7)));
    assert_eq!(delay.percentage.map(|p| p.value), Some(100.0));
    assert_eq!(parsed[0].pos.line, 1);

    let text =
        std::fs::read_to_string(fixtures_dir().join("destination-rule-all.yaml")).expect("read");
    let parsed = load("dr.yaml", &text).expect("valid");
    // Documents remember where they start: the second one's `---` is on line 11.
    assert_eq!(parsed[1].pos.line, 11);
    assert_eq!(parsed[1].resource.name(), "reviews");
    assert_eq!(parsed[1].locate("spec.subsets[2].name").line, 25);
}
