//! The init container's arguments, taken from a pod injected by `mesh-inject`, so the tests
//! run exactly what an injected pod runs.

#![allow(dead_code)]

use mesh_inject::yaml::parse::parse_document;
use mesh_inject::yaml::Node;

/// `mesh-proxy` arguments of the `istio-init` container injected into a pod carrying these
/// annotations.
pub fn injected_init_args(annotations: &[(&str, &str)]) -> Vec<String> {
    let mut pod =
        String::from("apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\n  annotations:\n");
    for (k, v) in annotations {
        pod.push_str(&format!("    {k}: {v:?}\n"));
    }
    pod.push_str("spec:\n  containers:\n  - name: app\n    image: app\n");
    let out = mesh_inject::inject("pod.yaml", &pod, &mesh_inject::InjectOptions::default())
        .expect("the test pod injects");
    let doc = parse_document(&out.yaml)
        .expect("output parses")
        .expect("not empty");
    let init = doc
        .at(&["spec", "initContainers"])
        .and_then(Node::as_seq)
        .and_then(|s| s.first())
        .expect("an init container");
    assert_eq!(
        init.at(&["name"]).and_then(Node::as_str),
        Some("istio-init")
    );
    init.at(&["args"])
        .and_then(Node::as_seq)
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_string())
        .collect()
}
