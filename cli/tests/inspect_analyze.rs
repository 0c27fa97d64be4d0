//! `meshctl analyze` against a real install with in-process workloads in the registry: each
//! rule's problem in a crafted file (exit 79), stored resources analysed without files, the
//! warning threshold, invalid files (exit 1), and Istio's Bookinfo rules clean (exit 0)
//! once every subset's workload runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;

use serde_json::Value;
use support::workloads::{meshctl, wait_synced, workload, Workload};
use support::{fixtures, Mesh};

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const REVIEWS_DR: &str = "apiVersion: networking.istio.io/v1
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
    - destination: {{host: reviews, subset: {subset}}}
"
    )
}

async fn reviews_v1_v2(mesh: &Mesh) -> Vec<Workload> {
    let w = vec![
        workload(mesh, "reviews", "v1").await,
        workload(mesh, "reviews", "v2").await,
    ];
    wait_synced(mesh, &w.iter().map(Workload::id).collect::<Vec<_>>()).await;
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_rule_is_found_in_files_with_istios_codes_and_exit_79() {
    let mesh = Mesh::new();
    tokio::task::block_in_place(|| mesh.install("minimal", &[])).expect_code(0);
    let _workloads = reviews_v1_v2(&mesh).await;
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| write(&dir, name, text).display().to_string();

    let cases = [
        (
            file("subset.yaml", &format!("{REVIEWS_DR}{}", reviews_vs("reviews", "v4"))),
            "Error [IST0101] (VirtualService default/reviews {FILE}:19) Referenced host+subset \
             in destinationrule not found: \"reviews+v4\"",
        ),
        (
            file(
                "host.yaml",
                "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r2}\n\
                 spec:\n  hosts: [ratings]\n  http:\n  - route:\n    - destination: {host: ratings2}\n",
            ),
            "Error [IST0101] (VirtualService default/r2 {FILE}:8) Referenced host not found: \
             \"ratings2\"",
        ),
        (
            file(
                "gateway.yaml",
                "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bookinfo}\n\
                 spec:\n  hosts: ['*']\n  gateways: [bookinfo-gateway]\n  http:\n  - route:\n    \
                 - destination: {host: reviews}\n",
            ),
            "Error [IST0101] (VirtualService default/bookinfo {FILE}:6) Referenced gateway not \
             found: \"bookinfo-gateway\"",
        ),
        (
            file(
                "conflict.yaml",
                &format!(
                    "{REVIEWS_DR}{}{}",
                    reviews_vs("reviews", "v1"),
                    reviews_vs("reviews-canary", "v2")
                ),
            ),
            "Error [IST0109] (VirtualService default/reviews {FILE}:16) The VirtualServices \
             default/reviews,default/reviews-canary associated with mesh gateway define the same \
             host reviews.default.svc.cluster.local which can lead to undefined behavior. This \
             can be fixed by merging the conflicting VirtualServices into a single resource.",
        ),
    ];
    for (path, expected) in &cases {
        let run = meshctl(&mesh, &["analyze", "-f", path]);
        run.expect_code(79);
        let expected = expected.replace("{FILE}", path);
        assert!(
            run.stdout.lines().any(|l| l == expected),
            "expected line:\n{expected}\nstdout:\n{}",
            run.stdout
        );
        assert!(
            run.stderr
                .contains("Analyzers found issues when analyzing all namespaces."),
            "{}",
            run.stderr
        );
    }

    // A subset no workload carries: a warning, under the default failure threshold (Error).
    let v4 = file(
        "subset-v4.yaml",
        &format!("{REVIEWS_DR}  - name: v4\n    labels: {{version: v4}}\n"),
    );
    let run = meshctl(&mesh, &["analyze", "-f", &v4]);
    run.expect_code(0);
    let line = format!(
        "Warning [IST0173] (DestinationRule default/reviews {v4}:11) The Subset v4 defined in \
         the DestinationRule does not select any pods (none of the 2 workload(s) of \
         reviews.default.svc.cluster.local has version=v4), which may lead to 503 UH \
         (NoHealthyUpstream)."
    );
    assert_eq!(run.stdout.trim_end(), line, "{}", run.all());
    let strict = meshctl(
        &mesh,
        &["analyze", "-f", &v4, "--failure-threshold", "Warning"],
    );
    strict.expect_code(79);
    let quiet = meshctl(
        &mesh,
        &["analyze", "-f", &v4, "--output-threshold", "error"],
    );
    quiet.expect_code(0);
    assert!(
        quiet.stdout.contains("No validation issues found"),
        "{}",
        quiet.all()
    );

    // JSON: istioctl's fields.
    let json = meshctl(&mesh, &["analyze", "-f", &cases[0].0, "-o", "json"]);
    json.expect_code(79);
    let found: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let f = &found[0];
    assert_eq!(f["code"], "IST0101");
    assert_eq!(f["name"], "ReferencedResourceNotFound");
    assert_eq!(f["level"], "Error");
    assert_eq!(f["origin"], "VirtualService default/reviews");
    assert_eq!(f["reference"], format!("{}:19", cases[0].0));
    assert_eq!(f["field"], "spec.http[0].route[0].destination.subset");
    assert_eq!(
        f["documentationUrl"],
        "https://istio.io/latest/docs/reference/config/analysis/ist0101/"
    );

    // Stored resources are analysed too, without a file reference; a file fixing one
    // replaces it, as if applied.
    meshctl(&mesh, &["apply", "-f", &cases[0].0]).expect_code(0);
    let stored = meshctl(&mesh, &["analyze"]);
    stored.expect_code(79);
    assert!(
        stored.stdout.lines().any(|l| l
            == "Error [IST0101] (VirtualService default/reviews) Referenced host+subset in \
                destinationrule not found: \"reviews+v4\""),
        "{}",
        stored.stdout
    );
    let fixed = file(
        "fixed.yaml",
        &format!("{REVIEWS_DR}{}", reviews_vs("reviews", "v2")),
    );
    let run = meshctl(&mesh, &["analyze", "-f", &fixed]);
    run.expect_code(0);
    assert_eq!(
        run.stdout.trim_end(),
        "✔ No validation issues found when analyzing all namespaces."
    );

    // Invalid files are reported like `apply` reports them, and nothing is analysed.
    let bad = file(
        "bad.yaml",
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\n\
         spec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n      weight: 300\n",
    );
    let run = meshctl(&mesh, &["analyze", "-f", &bad]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(&format!("{bad}:9:")) && run.stderr.contains("weight"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("nothing was analyzed"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istios_bookinfo_rules_are_clean_with_every_subset_deployed() {
    let mesh = Mesh::new();
    tokio::task::block_in_place(|| mesh.install("minimal", &[])).expect_code(0);
    let dr = fixtures().join("destination-rule-all.yaml");
    let vs = fixtures().join("virtual-service-all-v1.yaml");
    let (dr, vs) = (dr.to_str().unwrap(), vs.to_str().unwrap());

    // Nothing deployed: every destination host is unknown.
    let run = meshctl(&mesh, &["analyze", "-f", dr, "-f", vs]);
    run.expect_code(79);
    assert!(
        run.stdout
            .contains("Referenced host not found: \"productpage\""),
        "{}",
        run.stdout
    );

    let mut workloads = vec![workload(&mesh, "productpage", "v1").await];
    for v in ["v1", "v2", "v3"] {
        workloads.push(workload(&mesh, "reviews", v).await);
    }
    for v in ["v1", "v2", "v2-mysql", "v2-mysql-vm"] {
        workloads.push(workload(&mesh, "ratings", v).await);
    }
    for v in ["v1", "v2"] {
        workloads.push(workload(&mesh, "details", v).await);
    }
    let ids: Vec<String> = workloads.iter().map(Workload::id).collect();
    wait_synced(&mesh, &ids).await;
    let run = meshctl(&mesh, &["analyze", "-f", dr, "-f", vs]);
    run.expect_code(0);
    assert_eq!(
        run.stdout.trim_end(),
        "✔ No validation issues found when analyzing all namespaces.",
        "{}",
        run.all()
    );

    // Applied, they stay clean; without ratings v2-mysql-vm, exactly that subset is named.
    meshctl(&mesh, &["apply", "-f", dr, "-f", vs]).expect_code(0);
    meshctl(&mesh, &["analyze"]).expect_code(0);
    workloads.retain(|w| w.node.name != "ratings-v2-mysql-vm-0");
    let gone = "ratings-v2-mysql-vm-0.default";
    mesh_proxy::testing::eventually(
        support::WAIT,
        "the proxy gone from the registry",
        || async {
            let all = support::workloads::monitoring_json(&mesh, "/debug/proxies")?;
            (!all.as_array()?.iter().any(|p| p["id"] == gone)).then_some(())
        },
    )
    .await;
    let run = meshctl(&mesh, &["analyze", "--failure-threshold", "Warning"]);
    run.expect_code(79);
    assert!(
        run.stdout.starts_with(
            "Warning [IST0173] (DestinationRule default/ratings) The Subset v2-mysql-vm defined \
             in the DestinationRule does not select any pods"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
}
