//! `meshctl apply / get / delete` against a control plane installed by meshctl: Istio's own
//! Bookinfo files apply unchanged, one invocation is all or nothing, problems name
//! `file:line:column` and the field path, and with nothing installed meshctl says to install.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{fixtures, Mesh};

fn path(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

#[test]
fn apply_get_delete_round_trip_with_istio_files() {
    let mesh = Mesh::new();
    mesh.install("minimal", &[]).expect_code(0);
    let vs = path("virtual-service-all-v1.yaml");
    let dr = path("destination-rule-all.yaml");

    let run = mesh.run(&["apply", "-f", &vs, "-f", &dr]);
    run.expect_code(0);
    for line in [
        "virtualservice.networking.istio.io/reviews created",
        "destinationrule.networking.istio.io/ratings created",
    ] {
        assert!(run.stdout.contains(line), "{}", run.stdout);
    }
    // Again: nothing changes.
    let again = mesh.run(&["apply", "-f", &vs]);
    again.expect_code(0);
    assert!(
        again
            .stdout
            .contains("virtualservice.networking.istio.io/reviews unchanged"),
        "{}",
        again.stdout
    );

    let table = mesh.run(&["get", "virtualservices"]);
    table.expect_code(0);
    assert!(table.stdout.starts_with("NAMESPACE"), "{}", table.stdout);
    for name in ["productpage", "reviews", "ratings", "details"] {
        assert!(table.stdout.contains(name), "{}", table.stdout);
    }

    // What get prints applies back unchanged, through stdin.
    let yaml = mesh.run(&["get", "vs", "reviews", "-o", "yaml"]);
    yaml.expect_code(0);
    assert!(yaml.stdout.contains("subset: v1"), "{}", yaml.stdout);
    let back = mesh.run_stdin(&["apply", "-f", "-"], &yaml.stdout);
    back.expect_code(0);
    assert!(back.stdout.contains("reviews unchanged"), "{}", back.stdout);

    let json = mesh.run(&["get", "dr", "reviews", "-o", "json"]);
    json.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(v["spec"]["host"], "reviews");
    assert_eq!(v["spec"]["subsets"].as_array().map(Vec::len), Some(3));

    let missing = mesh.run(&["get", "vs", "nope"]);
    missing.expect_code(1);
    assert!(
        missing.stderr.contains("VirtualService nope not found"),
        "{}",
        missing.stderr
    );

    let del = mesh.run(&["delete", "-f", &vs]);
    del.expect_code(0);
    assert!(
        del.stdout
            .contains("virtualservice.networking.istio.io/details deleted"),
        "{}",
        del.stdout
    );
    let empty = mesh.run(&["get", "vs"]);
    empty.expect_code(0);
    assert!(
        empty.stderr.contains("No VirtualService resources found"),
        "{}",
        empty.stderr
    );
    // Deleting again: every missing resource named, nothing deleted.
    let del = mesh.run(&["delete", "-f", &vs, "-f", &dr]);
    del.expect_code(1);
    assert!(
        del.stderr
            .contains(":13:1: VirtualService default/reviews is not stored"),
        "{}",
        del.stderr
    );
    assert_eq!(
        mesh.run(&["get", "dr"]).stdout.matches("default").count(),
        4,
        "the DestinationRules stay"
    );
    mesh.run(&["delete", "-f", &vs, "-f", &dr, "--ignore-not-found"])
        .expect_code(0);
}

#[test]
fn every_bookinfo_networking_file_applies_unchanged() {
    let mesh = Mesh::new();
    mesh.install("minimal", &[]).expect_code(0);
    let mut files: Vec<_> = std::fs::read_dir(fixtures())
        .expect("fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "found {files:?}");
    // One file per invocation: several of them define the same resource (variants of one rule).
    for f in &files {
        let run = mesh.run(&["apply", "-f", &f.display().to_string()]);
        run.expect_code(0);
        assert!(!run.stdout.is_empty(), "{}", f.display());
    }
    let gw = mesh.run(&["get", "gateway", "bookinfo-gateway"]);
    gw.expect_code(0);
    let se = mesh.run(&["get", "se", "-o", "json"]);
    se.expect_code(0);
    assert!(se.stdout.contains("googleapis"), "{}", se.stdout);
}

#[test]
fn one_bad_file_applies_nothing_and_names_file_line_and_field() {
    let mesh = Mesh::new();
    mesh.install("minimal", &[]).expect_code(0);
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bad}\n\
         spec:\n  hosts: [x]\n  http:\n  - route:\n    - destination: {host: x}\n      weight: 300\n",
    )
    .expect("write");
    let good = path("virtual-service-all-v1.yaml");
    let run = mesh.run(&["apply", "-f", &good, "-f", &bad.display().to_string()]);
    run.expect_code(1);
    let want = format!("{}:9:7: spec.http[0].route[0].weight", bad.display());
    assert!(run.stderr.contains(&want), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was applied"), "{}", run.stderr);
    let get = mesh.run(&["get", "vs"]);
    get.expect_code(0);
    assert!(
        get.stdout.is_empty(),
        "the good file was not applied either: {}",
        get.stdout
    );

    // A directory with the same two files: the same verdict.
    std::fs::copy(
        fixtures().join("virtual-service-all-v1.yaml"),
        dir.path().join("good.yaml"),
    )
    .expect("copy");
    let run = mesh.run(&["apply", "-f", &dir.path().display().to_string()]);
    run.expect_code(1);
    assert!(run.stderr.contains(&want), "{}", run.stderr);
}

#[test]
fn apply_with_nothing_installed_says_to_install() {
    let mesh = Mesh::new();
    let run = mesh.run(&["apply", "-f", &path("virtual-service-all-v1.yaml")]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("nothing is installed in"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("run `meshctl install`"),
        "{}",
        run.stderr
    );
    let version = mesh.run(&["version"]);
    version.expect_code(0);
    assert!(
        version
            .stdout
            .contains("control plane: nothing is installed"),
        "{}",
        version.stdout
    );
}
